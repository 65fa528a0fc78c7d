/**
 * Audit benchmark: what the audit hash chain costs a patient read (SPEC §8 every read audited,
 * §10 reads p99 < 50 ms at 50 connections), measured in one run.
 *
 *   npm run build && node dist/bench/audit.js [--n 3000] [--c 20,50] [--warmup 300] [--patients 200] [--rounds 2]
 *
 * Self-contained and bounded: creates and migrates its own database clinic_bench_audit_<ts> on
 * PostgreSQL 127.0.0.1:5432 (dropped at the end), uses Redis db 13 (flushed at the end), and runs
 * two API instances (createApp, as api/main.ts builds it: app role, row-level security, JWT,
 * sessions, CASL, PHI decryption) in this process on free ports, each with its own pool:
 *
 *   on   AUDIT_READS=true  (production): every read appends a row to the clinic's hash chain
 *   off  AUDIT_READS=false: the same request without the audit row
 *
 * No Temporal server: a patient read never reaches Temporal, so the API gets a stub client.
 * One clinic, so every audit row goes to one chain: the worst case for the chain's lock.
 * Load: GET /api/v1/patients/:id as a DOCTOR (the clinical read), closed loop of C keep-alive
 * connections over P seeded patients; every answer must be 200. For each C the arms alternate
 * (off, on, off, on, … ROUNDS times) after a warm-up of each, and latencies of an arm's rounds are
 * pooled. Logs go at info level to a counting sink (an API logs every request in production),
 * which also counts the `audit.head` lines: one per seal, so rows per seal shows how the
 * background sealing batches under load. Ends by verifying the chain. Exit 0 with figures;
 * non-zero on a non-200 or a broken chain.
 *
 * Rate limiting is off (RATE_LIMIT_ENABLED=false): one user sends thousands of requests a minute.
 *
 * Options (argv wins over env): --n/BENCH_N (3000 per round and arm), --c/BENCH_C ("20,50"),
 * --warmup/BENCH_WARMUP (300), --patients/BENCH_PATIENTS (200), --rounds/BENCH_ROUNDS (2),
 * BENCH_DATABASE_BASE_URL (postgres://postgres@127.0.0.1:5432), BENCH_REDIS_URL (redis://127.0.0.1:6379/13).
 * Service settings pass through the environment (DATABASE_POOL_SIZE, DATABASE_APP_ROLE, ...).
 */
import 'reflect-metadata';
import { randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { Writable } from 'node:stream';
import { performance } from 'node:perf_hooks';
import pino from 'pino';
import type { Client } from '@temporalio/client';
import type { DataSource } from 'typeorm';
import { createApp } from '../api/app';
import { ensureBootstrapAdmin } from '../api/bootstrap';
import { phiKeysFor } from '../shared/crypto/patient-phi';
import { verifyChain } from '../api/commands/audit';
import { createMetrics } from '../api/http/metrics';
import type { ApiDeps } from '../api/http/state';
import { Cache } from '../shared/cache';
import { Config, loadConfig } from '../shared/config';
import { createAppDataSource, createDataSource } from '../shared/db/data-source';
import { dropDatabase, ensureDatabase } from '../shared/db/ensure-database';
import { createRedis } from '../shared/redis';
import { client as jsonClient } from '../test/support/http';
import { cleanUp, intOption, isInterrupted, note, onCleanup, option, say } from './support/harness';

// ───────────────────────────── options ─────────────────────────────

const N = intOption('n', 'BENCH_N', 3000, 1);
const WARMUP = intOption('warmup', 'BENCH_WARMUP', 300, 0);
const PATIENTS = intOption('patients', 'BENCH_PATIENTS', 200, 1);
const ROUNDS = intOption('rounds', 'BENCH_ROUNDS', 2, 1);
const CONCURRENCY = option('c', 'BENCH_C', '20,50').split(',').map((s) => Number(s.trim()));
if (!CONCURRENCY.length || CONCURRENCY.some((c) => !Number.isInteger(c) || c < 1)) throw new Error('--c/BENCH_C: comma-separated positive integers');
const DB_BASE = process.env.BENCH_DATABASE_BASE_URL ?? 'postgres://postgres@127.0.0.1:5432';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379/13';

// ───────────────────────────── measurement ─────────────────────────────

interface Summary { count: number; p50: number; p95: number; p99: number; throughput: number }

function summarize(latencies: number[], wallMs: number): Summary {
  const sorted = Float64Array.from(latencies).sort();
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
  return { count: sorted.length, p50: at(0.5), p95: at(0.95), p99: at(0.99), throughput: sorted.length / (wallMs / 1000) };
}

/** Closed loop: `concurrency` callers, each sending its next request when the previous one answers. */
async function closedLoop(total: number, concurrency: number, op: (i: number) => Promise<number>) {
  const latencies: number[] = [];
  const statuses = new Map<number, number>();
  let next = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, async () => {
    for (;;) {
      const i = next++;
      if (i >= total || isInterrupted()) return;
      const t0 = performance.now();
      const status = await op(i).catch(() => -1);
      latencies.push(performance.now() - t0);
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
    }
  }));
  return { latencies, wallMs: performance.now() - started, statuses };
}

function httpGet(agent: http.Agent, port: number, path: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: 'GET', agent, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.setTimeout(30_000, () => req.destroy(new Error('request timed out after 30 s')));
    req.on('error', reject);
    req.end();
  });
}

/** Log sink: counts lines, and the audit.head lines with the rows each seal chained. */
class CountingSink extends Writable {
  lines = 0;
  heads = 0;
  sealed = 0;
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void) {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (!line) continue;
      this.lines++;
      if (line.includes('"msg":"audit.head"')) {
        this.heads++;
        this.sealed += Number(/"sealed":(\d+)/.exec(line)?.[1] ?? 0);
      }
    }
    done();
  }
}

// ───────────────────────────── setup ─────────────────────────────

async function seed(baseUrl: string, admin: { email: string; password: string }) {
  const api = jsonClient(baseUrl);
  const ok = <T extends { status: number; body: any }>(res: T, status: number, what: string): T => {
    if (res.status !== status) throw new Error(`seed ${what}: expected ${status}, got ${res.status} ${JSON.stringify(res.body)}`);
    return res;
  };
  const login = async (email: string, password: string) => ok(await api.post('/api/v1/auth/login', { email, password }), 200, `login ${email}`).body.accessToken as string;
  const su = await login(admin.email, admin.password);
  const slug = `bench-${randomUUID().slice(0, 8)}`;
  const clinicId = ok(await api.post('/api/v1/clinics', { name: `Bench ${slug}`, slug, timezone: 'Asia/Kolkata' }, su), 201, 'clinic').body.id as string;
  const h = { 'x-clinic-id': clinicId };
  const doctor = { email: `doctor-${slug}@bench.local`, password: `pw-${randomUUID()}` };
  ok(await api.post('/api/v1/users', { ...doctor, name: 'Doctor', role: 'DOCTOR' }, su, h), 201, 'doctor');
  const patientIds: string[] = [];
  for (let i = 0; i < PATIENTS; i++) {
    const body = { firstName: `Patient${i}`, lastName: 'Bench', dateOfBirth: '1985-04-12', sex: 'female', phone: `+9198${String(10000000 + i)}`, clinicalNotes: 'Vata imbalance' };
    patientIds.push(ok(await api.post('/api/v1/patients', body, su, h), 201, `patient ${i}`).body.id as string);
  }
  return { clinicId, token: await login(doctor.email, doctor.password), patientIds };
}

async function main(): Promise<number> {
  say(`Audit benchmark — ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? 'unknown'}), Node ${process.version}`);
  say(`GET /api/v1/patients/:id as DOCTOR, ${PATIENTS} patients in one clinic (one audit chain), N=${N} per round and arm, ${ROUNDS} rounds, warm-up ${WARMUP}, C=${CONCURRENCY.join(',')}`);

  const dbName = `clinic_bench_audit_${Date.now()}_${process.pid}`;
  const databaseUrl = `${DB_BASE}/${dbName}`;
  note(`creating database ${dbName}`);
  await ensureDatabase(databaseUrl);
  onCleanup(`drop database ${dbName}`, () => dropDatabase(databaseUrl));
  const ownerDs = await createDataSource({ url: databaseUrl, poolSize: 2 }).initialize();
  onCleanup('close the owner pool', () => ownerDs.destroy());
  await ownerDs.runMigrations({ transaction: 'each' });

  const env = {
    ...process.env,
    NODE_ENV: 'production',
    LOG_LEVEL: 'info',
    DATABASE_URL: databaseUrl,
    REDIS_URL,
    JWT_SECRET: randomBytes(32).toString('hex'),
    JWT_ACCESS_TTL_SECONDS: '3600',
    // One user sends thousands of requests a minute here: the per-user limit would answer 429.
    RATE_LIMIT_ENABLED: 'false',
    PHI_ENCRYPTION_KEYS: process.env.PHI_ENCRYPTION_KEYS || `bench:${randomBytes(32).toString('base64')}`,
    BLIND_INDEX_KEY: process.env.BLIND_INDEX_KEY || randomBytes(32).toString('base64'),
  };
  const redis = createRedis(REDIS_URL);
  redis.on('error', () => undefined);
  onCleanup('flush Redis db and disconnect', async () => { await redis.flushdb().catch(() => undefined); redis.disconnect(); });
  const temporal = new Proxy({}, { get() { throw new Error('a patient read does not use Temporal'); } }) as Client;
  const sink = new CountingSink();
  const log = pino({ level: 'info', base: { service: 'bench' } }, sink);

  const startApi = async (auditReads: boolean) => {
    const config: Config = loadConfig({ ...env, AUDIT_READS: String(auditReads) });
    const dataSource: DataSource = await createAppDataSource({
      url: config.DATABASE_URL, poolSize: config.DATABASE_POOL_SIZE, applicationName: `clinic-api-audit-${auditReads ? 'on' : 'off'}`, appRole: config.DATABASE_APP_ROLE,
    }).initialize();
    onCleanup(`close the pool (audit ${auditReads ? 'on' : 'off'})`, () => dataSource.destroy());
    const metrics = createMetrics();
    const deps: ApiDeps = { config, dataSource, redis, temporal, log, metrics, cache: new Cache(redis, log, metrics) };
    const server = http.createServer(createApp(deps).callback());
    server.keepAliveTimeout = 65_000;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    onCleanup('close an HTTP server', async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });
    return { port: (server.address() as AddressInfo).port, deps };
  };
  const on = await startApi(true);
  const off = await startApi(false);
  const admin = { email: 'bench-root@bench.local', password: `pw-${randomUUID()}` };
  await ensureBootstrapAdmin(on.deps.dataSource, phiKeysFor(on.deps.config), admin.email, admin.password, log);
  note(`seeding ${PATIENTS} patients through the API`);
  const s = await seed(`http://127.0.0.1:${on.port}`, admin);
  const headers = { authorization: `Bearer ${s.token}`, 'x-clinic-id': s.clinicId };
  const chainRows = async () => (await ownerDs.query('SELECT count(*)::int AS n FROM audit_logs WHERE clinic_id = $1', [s.clinicId]))[0].n as number;

  let failed = false;
  const rows: string[] = [];
  const fmt = (v: number) => v.toFixed(1).padStart(7);
  for (const c of CONCURRENCY) {
    const agent = new http.Agent({ keepAlive: true, maxSockets: c });
    onCleanup(`http agent C=${c}`, () => agent.destroy());
    const op = (port: number) => (i: number) => httpGet(agent, port, `/api/v1/patients/${s.patientIds[i % s.patientIds.length]}`, headers);
    const pooled = { on: { latencies: [] as number[], wallMs: 0 }, off: { latencies: [] as number[], wallMs: 0 } };
    let auditRows = 0;
    let heads = 0;
    for (const api of [off, on]) await closedLoop(WARMUP, c, op(api.port));
    for (let round = 0; round < ROUNDS; round++) {
      for (const [arm, api] of [['off', off], ['on', on]] as const) {
        note(`C=${c} round ${round + 1}/${ROUNDS}: audit ${arm}, ${N} requests`);
        const rowsBefore = await chainRows();
        const headsBefore = sink.heads;
        const run = await closedLoop(N, c, op(api.port));
        if (isInterrupted()) throw new Error('interrupted');
        const bad = [...run.statuses].filter(([status]) => status !== 200);
        if (bad.length) {
          failed = true;
          say(`C=${c} audit ${arm}: non-200 answers ${JSON.stringify(Object.fromEntries(bad))} — figures below are not patient reads`);
        }
        pooled[arm].latencies.push(...run.latencies);
        pooled[arm].wallMs += run.wallMs;
        if (arm === 'on') {
          auditRows += (await chainRows()) - rowsBefore;
          heads += sink.heads - headsBefore;
        }
      }
    }
    const a = summarize(pooled.off.latencies, pooled.off.wallMs);
    const b = summarize(pooled.on.latencies, pooled.on.wallMs);
    rows.push(`${String(c).padStart(3)}  audit off  ${fmt(a.p50)} ${fmt(a.p95)} ${fmt(a.p99)} ${fmt(a.throughput)}`);
    rows.push(`${String(c).padStart(3)}  audit on   ${fmt(b.p50)} ${fmt(b.p95)} ${fmt(b.p99)} ${fmt(b.throughput)}   ${auditRows} rows, chained by ${heads} seals (${(auditRows / Math.max(1, heads)).toFixed(1)} rows each)`);
    rows.push(`${String(c).padStart(3)}  on / off   ${(b.p50 / a.p50).toFixed(2).padStart(6)}× ${(b.p95 / a.p95).toFixed(2).padStart(6)}× ${(b.p99 / a.p99).toFixed(2).padStart(6)}× ${(b.throughput / a.throughput).toFixed(2).padStart(6)}×`);
    if (auditRows !== N * ROUNDS) {
      failed = true;
      say(`C=${c}: expected ${N * ROUNDS} audit rows from the audited arm, found ${auditRows}`);
    }
  }

  say();
  say('  C  arm          p50 ms  p95 ms  p99 ms   req/s');
  for (const line of rows) say(line);
  const report = await verifyChain({ dataSource: ownerDs }, s.clinicId);
  say();
  say(`chain of the clinic: ${report.valid ? 'valid' : `BROKEN at ${report.firstBrokenId} (${report.reason})`}, ${report.checked} rows verified, ${report.unsealed} unsealed; ${sink.lines} log lines, ${sink.heads} audit.head (${sink.sealed} rows sealed)`);
  say(`SPEC §10 read target (p99 < 50 ms at 50 connections, full API with audit): ${(() => {
    const line = rows.find((r) => r.startsWith(' 50  audit on'));
    if (!line) return 'not measured (no C=50)';
    const p99 = Number(line.trim().split(/\s+/)[5]);
    return p99 < 50 ? `PASS (p99 ${p99} ms)` : `MISS (p99 ${p99} ms)`;
  })()}`);
  return failed || !report.valid ? 1 : 0;
}

main()
  .then(async (code) => { await cleanUp(); process.exit(code); })
  .catch(async (err) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    await cleanUp();
    process.exit(2);
  });
