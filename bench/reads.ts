/**
 * Read benchmark (SPEC §10): availability and the day view through the full API, with a cold and
 * a warm cache, next to the same SQL served raw (Koa + pg, no auth, no cache), in one run.
 *
 *   npm run build && node dist/bench/reads.js [--n 3000] [--c 50] [--warmup 400]
 *   (same as: npm run build && npm run bench:reads -- --n 3000)
 *
 * Self-contained and bounded: creates and migrates its own database clinic_bench_reads_<ts> on
 * PostgreSQL 127.0.0.1:5432 (dropped at the end), uses Redis db 12 (flushed at the end), and runs in
 * this process, on free loopback ports:
 *
 *   api      createApp as api/main.ts builds it (app role + row-level security, JWT + session check,
 *            rate limiter (limits raised so one bench user is never refused), clinic context, CASL,
 *            two-level cache: L1 in process + Redis, invalidation subscriber;
 *            request log at info into a discarding sink, as a production API logs every request)
 *   api-l2   the same app with the L1 off (Redis only): diagnostic
 *   raw      Koa + pg pool (owner login, no auth, no cache) running the same SQL and slot computation
 *
 * No Temporal server: reads never reach Temporal, so the API gets a stub client.
 * Seeded scale data: one clinic with P practitioners (08:00–20:00 every day, Asia/Kolkata) and
 * PER_DAY appointments per practitioner-day over DAYS days, plus OTHER clinics of 10 practitioners
 * with the same density (rows the clinic filter must skip). Appointments are bulk-inserted with SQL
 * (setup, not measured); clinics, users, practitioners, schedules and patients go through the API.
 *
 * For each endpoint (day view: one practitioner-day of 20 rows; availability: a practitioner's
 * week for a 30-minute service), after a warm-up, N requests at C connections (closed loop):
 *   raw    the raw server;
 *   cold   every request a different key (practitioner × day × a variant that does not change the
 *          answer: `limit`, or minutes past the working day), every generation bumped first, so each
 *          request misses L1 and Redis, loads from PostgreSQL and writes Redis;
 *   warm   P × 7 keys read over and over (L1 hits, Redis behind it when an L1 entry ages out);
 *   warm-l2 the same through the app without L1;
 *   floor  (diagnostic, once) GET /api/v1/services: what the API costs around any handler (JWT and
 *          session check, clinic context, actor + CASL, request log) with a Redis-cached answer.
 * Prints p50/p95/p99, throughput, hit ratio (from the app's cache_events_total), ratios to raw and
 * PASS/MISS per SPEC §10 target, and machine CPU use per phase (other load on the machine shows
 * there). Checks that cached answers equal raw answers. Exit 0 with figures (MISS is a finding);
 * non-zero on non-200 answers, a mismatch or an infrastructure failure. Loopback only.
 *
 * Options (argv wins over env): --n/BENCH_N (3000), --c/BENCH_C (50), --warmup/BENCH_WARMUP (400),
 * --practitioners/BENCH_PRACTITIONERS (50), --days/BENCH_DAYS (28), --per-day/BENCH_PER_DAY (20),
 * --other-clinics/BENCH_OTHER_CLINICS (3), --avail-days/BENCH_AVAIL_DAYS (7), --phases/BENCH_PHASES
 * ("raw,cold,warm,warm-l2,floor"), --endpoints/BENCH_ENDPOINTS ("day-view,availability"),
 * BENCH_DATABASE_BASE_URL (postgres://postgres@127.0.0.1:5432), BENCH_REDIS_URL (redis://127.0.0.1:6379/12),
 * --rounds/BENCH_ROUNDS (2: every phase runs once per round, rounds interleave the arms and are pooled),
 * BENCH_TIMEOUT_SECONDS (900). Service settings pass through the environment (DATABASE_POOL_SIZE,
 * CACHE_L1_TTL_MS, CACHE_L1_MAX_ENTRIES, ...).
 */
import 'reflect-metadata';
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { Writable } from 'node:stream';
import { performance } from 'node:perf_hooks';
import Koa from 'koa';
import { Pool } from 'pg';
import pino from 'pino';
import type { Client } from '@temporalio/client';
import { appointmentViewFromRow } from '../activities/appointment-view';
import { createApp } from '../api/app';
import { ensureBootstrapAdmin } from '../api/bootstrap';
import { phiKeysFor } from '../shared/crypto/patient-phi';
import { createMetrics, Metrics } from '../api/http/metrics';
import { page } from '../api/http/pagination';
import type { ApiDeps } from '../api/http/state';
import { availableSlots, loadSlotFacts, referenceProblem } from '../shared/booking';
import { Cache, cacheTags, localCacheOptions } from '../shared/cache';
import { Config, loadConfig } from '../shared/config';
import { createAppDataSource } from '../shared/db/data-source';
import { createRedis } from '../shared/redis';
import { client as jsonClient } from '../test/support/http';
import { cleanUp, freshDatabase, intOption, isInterrupted, note, onCleanup, option, say } from './support/harness';

// ───────────────────────────── options ─────────────────────────────

function listOption<T extends string>(name: string, envName: string, fallback: string, allowed: readonly T[]): T[] {
  const values = option(name, envName, fallback).split(',').map((s) => s.trim()).filter(Boolean);
  const bad = values.filter((v) => !allowed.includes(v as T));
  if (!values.length || bad.length) throw new Error(`--${name}/${envName}: comma-separated from ${allowed.join(', ')}`);
  return values as T[];
}

const N = intOption('n', 'BENCH_N', 3000, 1);
const C = intOption('c', 'BENCH_C', 50, 1, 1000);
const WARMUP = intOption('warmup', 'BENCH_WARMUP', 400, 0);
const PRACTITIONERS = intOption('practitioners', 'BENCH_PRACTITIONERS', 50, 1, 500);
const DAYS = intOption('days', 'BENCH_DAYS', 28, 8, 120);
const PER_DAY = intOption('per-day', 'BENCH_PER_DAY', 20, 1, 24);
const OTHER_CLINICS = intOption('other-clinics', 'BENCH_OTHER_CLINICS', 3, 0, 50);
const AVAIL_DAYS = intOption('avail-days', 'BENCH_AVAIL_DAYS', 7, 1, 31);
const PHASES = listOption('phases', 'BENCH_PHASES', 'raw,cold,warm,warm-l2,floor', ['raw', 'cold', 'warm', 'warm-l2', 'floor'] as const);
const ENDPOINTS = listOption('endpoints', 'BENCH_ENDPOINTS', 'day-view,availability', ['day-view', 'availability'] as const);
const ROUNDS = intOption('rounds', 'BENCH_ROUNDS', 2, 1, 20);
const TIMEOUT_SECONDS = intOption('timeout', 'BENCH_TIMEOUT_SECONDS', 900, 30);
const DB_BASE = process.env.BENCH_DATABASE_BASE_URL ?? 'postgres://postgres@127.0.0.1:5432';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379/12';
const WARM_DAYS = 7;
const OTHER_PRACTITIONERS = 10;
if (DAYS < WARM_DAYS + AVAIL_DAYS) throw new Error(`--days must be at least ${WARM_DAYS + AVAIL_DAYS} (warm days + availability range)`);

const TARGET = { coldRatio: 0.5, warmRatio: 1, p99Ms: 50, hitRatio: 0.9 };

// ───────────────────────────── measurement ─────────────────────────────

interface Summary { count: number; p50: number; p95: number; p99: number; max: number; throughput: number }

function summarize(latencies: number[], wallMs: number): Summary {
  const sorted = Float64Array.from(latencies).sort();
  const n = sorted.length;
  const at = (q: number) => (n ? sorted[Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1))] : NaN);
  return { count: n, p50: at(0.5), p95: at(0.95), p99: at(0.99), max: n ? sorted[n - 1] : NaN, throughput: n / (wallMs / 1000) };
}

interface Answer { status: number; body: string }

function httpGet(agent: http.Agent, port: number, urlPath: string, headers: Record<string, string>): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: urlPath, method: 'GET', agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.setTimeout(30_000, () => req.destroy(new Error('request timed out after 30 s')));
    req.on('error', reject);
    req.end();
  });
}

/** Closed loop: `concurrency` callers, each sending its next request when the previous one answers. */
async function closedLoop(first: number, total: number, concurrency: number, op: (i: number) => Promise<Answer>) {
  const latencies: number[] = [];
  const statuses = new Map<number, number>();
  let firstBad = '';
  let next = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, async () => {
    for (;;) {
      const i = next++;
      if (i >= total || isInterrupted()) return;
      const t0 = performance.now();
      const answer = await op(first + i).catch((err: Error) => ({ status: -1, body: err.message }));
      latencies.push(performance.now() - t0);
      statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
      if (answer.status !== 200 && !firstBad) firstBad = `${answer.status} ${answer.body.slice(0, 300)}`;
    }
  }));
  return { latencies, wallMs: performance.now() - started, statuses, firstBad };
}

/** Machine CPU (all processes: this one, PostgreSQL, Redis, and anyone else's) from /proc/stat. */
function machineTicks(): { busy: number; total: number } | null {
  try {
    const cpu = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const total = cpu.slice(0, 8).reduce((a, b) => a + b, 0);
    return { busy: total - cpu[3] - cpu[4], total };
  } catch {
    return null;
  }
}

/** Hit ratio over a phase from the app's counters: (L1 hits + Redis hits) / lookups. */
async function cacheCounts(metrics: Metrics, cache: string) {
  const text = await metrics.registry.metrics();
  const get = (level: string, outcome: string) => {
    const m = new RegExp(`^cache_events_total\\{cache="${cache}",level="${level}",outcome="${outcome}"\\} (\\S+)$`, 'm').exec(text);
    return m ? Number(m[1]) : 0;
  };
  return { l1Hit: get('l1', 'hit'), l1Miss: get('l1', 'miss'), l2Hit: get('l2', 'hit'), l2Miss: get('l2', 'miss'), l2Error: get('l2', 'error') };
}
type Counts = Awaited<ReturnType<typeof cacheCounts>>;
function hitRatio(a: Counts, b: Counts): { ratio: number; detail: string } {
  const d = (k: keyof Counts) => b[k] - a[k];
  const lookups = d('l1Hit') + d('l1Miss') || d('l2Hit') + d('l2Miss') + d('l2Error');
  const hits = d('l1Hit') + d('l2Hit');
  return {
    ratio: lookups ? hits / lookups : NaN,
    detail: `L1 ${d('l1Hit')} hit / ${d('l1Miss')} miss, Redis ${d('l2Hit')} hit / ${d('l2Miss')} miss${d('l2Error') ? ` / ${d('l2Error')} error` : ''}`,
  };
}

// ───────────────────────────── seeding ─────────────────────────────

interface SeededClinic { clinicId: string; locationId: string; serviceId: string; practitionerIds: string[]; patientIds: string[] }

async function seedClinic(baseUrl: string, su: string, practitioners: number, patients: number, label: string): Promise<SeededClinic> {
  const api = jsonClient(baseUrl);
  const ok = <T extends { status: number; body: any }>(res: T, status: number, what: string): T => {
    if (res.status !== status) throw new Error(`seed ${what}: expected ${status}, got ${res.status} ${JSON.stringify(res.body)}`);
    return res;
  };
  const slug = `bench-${label}-${randomUUID().slice(0, 6)}`;
  const clinicId = ok(await api.post('/api/v1/clinics', { name: `Bench ${slug}`, slug, timezone: 'Asia/Kolkata' }, su), 201, 'clinic').body.id as string;
  const h = { 'x-clinic-id': clinicId };
  const post = (p: string, body: unknown) => api.post(p, body, su, h);
  const locationId = ok(await post('/api/v1/locations', { name: 'Main', timezone: 'Asia/Kolkata' }), 201, 'location').body.id as string;
  const serviceId = ok(await post('/api/v1/services', { code: 'CONS', name: 'Consultation', kind: 'CONSULTATION', durationMinutes: 30 }), 201, 'service').body.id as string;
  const rules = [1, 2, 3, 4, 5, 6, 7].map((weekday) => ({ weekday, start: '08:00', end: '20:00', locationId }));
  const practitionerIds: string[] = [];
  for (let i = 0; i < practitioners; i++) {
    const userId = ok(await post('/api/v1/users', { email: `doctor${i}-${slug}@bench.local`, name: `Doctor ${i}`, role: 'DOCTOR' }), 201, `doctor ${i}`).body.id;
    const id = ok(await post('/api/v1/practitioners', { userId, locationIds: [locationId] }), 201, `practitioner ${i}`).body.id as string;
    ok(await api.put(`/api/v1/practitioners/${id}/schedule`, { rules, exceptions: [] }, su, h), 200, `schedule ${i}`);
    practitionerIds.push(id);
  }
  const patientIds: string[] = [];
  for (let i = 0; i < patients; i++) {
    const body = { firstName: `Patient${i}`, lastName: 'Bench', dateOfBirth: '1985-04-12', sex: 'female', phone: `+9197${String(10000000 + i)}` };
    patientIds.push(ok(await post('/api/v1/patients', body), 201, `patient ${i}`).body.id as string);
  }
  return { clinicId, locationId, serviceId, practitionerIds, patientIds };
}

/**
 * PER_DAY half-hour appointments per practitioner-day from 08:00 local, leaving every sixth slot
 * free; one in ten cancelled and one in ten completed, the rest confirmed.
 */
async function seedAppointments(pool: Pool, clinic: SeededClinic, day0: Date): Promise<number> {
  const { rowCount } = await pool.query(
    `INSERT INTO appointments (id, clinic_id, location_id, patient_id, practitioner_id, service_id, starts_at, ends_at, status, workflow_id)
     SELECT gen_random_uuid(), $1, $2, ($4::uuid[])[1 + (d * 7 + k + p.n::int) % cardinality($4::uuid[])], p.id, $3, t.s, t.s + interval '30 minutes',
            CASE k % 10 WHEN 3 THEN 'CANCELLED' WHEN 7 THEN 'COMPLETED' ELSE 'CONFIRMED' END,
            'bench-seed-' || gen_random_uuid()
       FROM unnest($5::uuid[]) WITH ORDINALITY AS p(id, n)
      CROSS JOIN generate_series(0, $6::int - 1) AS d
      CROSS JOIN generate_series(0, $7::int - 1) AS k
      CROSS JOIN LATERAL (SELECT $8::timestamptz + make_interval(days => d, mins => 480 + (k + k / 5) * 30) AS s) AS t`,
    [clinic.clinicId, clinic.locationId, clinic.serviceId, clinic.patientIds, clinic.practitionerIds, DAYS, PER_DAY, day0.toISOString()],
  );
  return rowCount ?? 0;
}

// ───────────────────────────── raw baseline ─────────────────────────────

/** The day view's SQL, exactly as api/commands/appointments.ts listAppointments sends it. */
const DAY_VIEW_SQL = `SELECT * FROM appointments
       WHERE clinic_id = $1
         AND ($2::timestamptz IS NULL OR starts_at >= $2) AND ($3::timestamptz IS NULL OR starts_at < $3)
         AND ($4::uuid IS NULL OR practitioner_id = $4) AND ($5::uuid IS NULL OR patient_id = $5)
         AND ($6::text IS NULL OR status = $6)
         AND ($7::uuid[] IS NULL OR patient_id = ANY ($7))
         AND ($8::timestamptz IS NULL OR (starts_at, id) > ($8, $9::uuid))
       ORDER BY starts_at, id LIMIT $10`;

/** Koa + pg, no auth, no cache: the same queries and the same slot computation, as JSON. */
function rawApp(pool: Pool, clinicId: string): Koa {
  const app = new Koa();
  const db = { query: async (sql: string, params?: unknown[]) => (await pool.query(sql, params as unknown[])).rows };
  app.use(async (ctx) => {
    const q = ctx.query as Record<string, string>;
    if (ctx.path === '/raw/day-view') {
      const limit = Number(q.limit ?? 25);
      const rows = await db.query(DAY_VIEW_SQL, [clinicId, q.from, q.to, q.practitionerId, null, null, null, null, null, limit + 1]);
      ctx.body = page(rows.map(appointmentViewFromRow), limit, (a) => ({ k: a.startsAt, id: a.id }));
    } else if (ctx.path === '/raw/availability') {
      const from = new Date(q.from);
      const to = new Date(q.to);
      const facts = await loadSlotFacts(db, { clinicId, practitionerId: q.practitionerId, serviceId: q.serviceId, locationId: q.locationId, from, to });
      if (referenceProblem(facts, {})) { ctx.status = 422; return; }
      ctx.body = {
        practitionerId: q.practitionerId, serviceId: q.serviceId, locationId: q.locationId, timezone: facts.timezone, durationMinutes: facts.service!.durationMinutes,
        from: from.toISOString(), to: to.toISOString(),
        items: availableSlots(facts, from, to).map((s) => ({ startsAt: s.startsAt.toISOString(), endsAt: s.endsAt.toISOString() })),
        nextCursor: null,
      };
    } else {
      ctx.status = 404;
    }
  });
  return app;
}

// ───────────────────────────── main ─────────────────────────────

async function listen(handler: http.RequestListener): Promise<number> {
  const server = http.createServer(handler);
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onCleanup('close an HTTP server', async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return (server.address() as AddressInfo).port;
}

type Endpoint = (typeof ENDPOINTS)[number];
type Phase = (typeof PHASES)[number];
interface Row { endpoint: Endpoint; phase: Phase; s: Summary; hit?: { ratio: number; detail: string }; cpu: string; statuses: string }

async function main(): Promise<number> {
  const watchdog = setTimeout(() => {
    note(`still running after ${TIMEOUT_SECONDS} s: giving up`);
    void cleanUp().finally(() => process.exit(2));
  }, TIMEOUT_SECONDS * 1000);
  watchdog.unref();

  const load = os.loadavg().map((l) => l.toFixed(2)).join(' ');
  say(`Read benchmark (SPEC §10) — ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? 'unknown'}), Node ${process.version}, load average before start ${load}`);
  say(`N=${N} per phase and round (${ROUNDS} rounds, pooled) after ${WARMUP} warm-up, C=${C}; ${PRACTITIONERS} practitioners × ${DAYS} days × ${PER_DAY} appointments (+ ${OTHER_CLINICS} other clinics × ${OTHER_PRACTITIONERS} practitioners); availability over ${AVAIL_DAYS} days`);

  const databaseUrl = await freshDatabase(DB_BASE, 'reads');

  const config: Config = loadConfig({
    ...process.env,
    NODE_ENV: 'production',
    LOG_LEVEL: 'info',
    DATABASE_URL: databaseUrl,
    REDIS_URL,
    JWT_SECRET: randomBytes(32).toString('hex'),
    JWT_ACCESS_TTL_SECONDS: '3600',
    PHI_ENCRYPTION_KEYS: `bench:${randomBytes(32).toString('base64')}`,
    BLIND_INDEX_KEY: randomBytes(32).toString('base64'),
    // The limiter runs (its Redis round trip is part of every request) but one bench user must not trip it.
    RATE_LIMIT_PER_IP: process.env.RATE_LIMIT_PER_IP ?? '1000000000',
    RATE_LIMIT_PER_USER: process.env.RATE_LIMIT_PER_USER ?? '1000000000',
    RATE_LIMIT_PER_CLINIC: process.env.RATE_LIMIT_PER_CLINIC ?? '1000000000',
  });
  // Request logs are written (serialised) as in production, then discarded.
  const log = pino({ level: 'info', base: { service: 'bench-api' } }, new Writable({ write(_chunk, _enc, done) { done(); } }));
  const redis = createRedis(config.REDIS_URL);
  redis.on('error', () => undefined);
  onCleanup('flush the Redis db and disconnect', async () => { await redis.flushdb().catch(() => undefined); redis.disconnect(); });
  const temporal = new Proxy({}, { get() { throw new Error('reads do not use Temporal'); } }) as Client;

  const startApi = async (label: string, withL1: boolean) => {
    const dataSource = await createAppDataSource({ url: config.DATABASE_URL, poolSize: config.DATABASE_POOL_SIZE, applicationName: `clinic-api-${label}`, appRole: config.DATABASE_APP_ROLE }).initialize();
    onCleanup(`close the ${label} pool`, () => dataSource.destroy());
    const metrics = createMetrics();
    const cache = new Cache(redis, log, metrics, withL1 ? { local: localCacheOptions(config) } : {});
    onCleanup(`close the ${label} cache subscriber`, () => cache.close());
    const deps: ApiDeps = { config, dataSource, redis, temporal, log, metrics, cache };
    const port = await listen(createApp(deps).callback());
    if (withL1) {
      for (let i = 0; !cache.localActive; i++) {
        if (i > 100) throw new Error('the cache never subscribed to invalidations');
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    return { port, deps, metrics, cache };
  };
  const api = await startApi('api', true);
  const apiL2 = await startApi('api-l2', false);
  const admin = { email: 'bench-root@bench.local', password: `pw-${randomUUID()}` };
  await ensureBootstrapAdmin(api.deps.dataSource, phiKeysFor(config), admin.email, admin.password, log);

  const baseUrl = `http://127.0.0.1:${api.port}`;
  const http0 = jsonClient(baseUrl);
  const su = (await http0.post('/api/v1/auth/login', admin)).body.accessToken as string;
  note(`seeding through the API: 1 clinic × ${PRACTITIONERS} practitioners, ${OTHER_CLINICS} other clinics × ${OTHER_PRACTITIONERS}`);
  const home = await seedClinic(baseUrl, su, PRACTITIONERS, 20, 'main');
  const others: SeededClinic[] = [];
  for (let i = 0; i < OTHER_CLINICS; i++) others.push(await seedClinic(baseUrl, su, OTHER_PRACTITIONERS, 5, `other${i}`));
  const receptionist = { email: `reception-${home.clinicId.slice(0, 8)}@bench.local`, password: `pw-${randomUUID()}` };
  const r = await http0.post('/api/v1/users', { ...receptionist, name: 'Front desk', role: 'RECEPTIONIST' }, su, { 'x-clinic-id': home.clinicId });
  if (r.status !== 201) throw new Error(`seed receptionist: ${r.status}`);
  const token = (await http0.post('/api/v1/auth/login', receptionist)).body.accessToken as string;

  // Day 0 is tomorrow in Kolkata (no DST: plain arithmetic is exact), so every seeded slot is in the future.
  const IST = 330 * 60_000;
  const day0 = new Date(Math.floor((Date.now() + IST) / 86_400_000) * 86_400_000 + 86_400_000 - IST);
  const dayStart = (d: number) => new Date(day0.getTime() + d * 86_400_000);
  const rawPool = new Pool({ connectionString: config.DATABASE_URL, max: config.DATABASE_POOL_SIZE, application_name: 'bench-raw' });
  onCleanup('close the raw pool', () => rawPool.end());
  note('bulk-inserting appointments');
  let seeded = 0;
  for (const clinic of [home, ...others]) seeded += await seedAppointments(rawPool, clinic, day0);
  await rawPool.query('ANALYZE appointments');
  say(`seeded ${seeded} appointments (${PRACTITIONERS * DAYS * PER_DAY} in the measured clinic)`);
  const rawPort = await listen(rawApp(rawPool, home.clinicId).callback());

  const agent = new http.Agent({ keepAlive: true, maxSockets: C });
  onCleanup('http agent', () => agent.destroy());
  const headers = { authorization: `Bearer ${token}`, 'x-clinic-id': home.clinicId };
  const P = PRACTITIONERS;

  /** Request i of an endpoint: the warm set cycles P × WARM_DAYS keys, the cold set never repeats. */
  const target = (endpoint: Endpoint, i: number, cold: boolean) => {
    const practitionerId = home.practitionerIds[i % P];
    if (endpoint === 'day-view') {
      const days = cold ? DAYS : WARM_DAYS;
      const d = Math.floor(i / P) % days;
      // Any limit from 25 to 99 returns the same 20 rows: a new key for the same work.
      const limit = cold ? 25 + (Math.floor(i / (P * days)) % 75) : 25;
      const q = new URLSearchParams({ practitionerId, from: dayStart(d).toISOString(), to: dayStart(d + 1).toISOString(), limit: String(limit) });
      return { api: `/api/v1/appointments?${q}`, raw: `/raw/day-view?${q}` };
    }
    const starts = cold ? DAYS - AVAIL_DAYS + 1 : WARM_DAYS;
    const d = Math.floor(i / P) % starts;
    // Minutes past midnight after the range hold no working hours (08:00–20:00): a new key, the same slots.
    const extra = cold ? Math.floor(i / (P * starts)) % 480 : 0;
    const q = new URLSearchParams({
      practitionerId, serviceId: home.serviceId, locationId: home.locationId,
      from: dayStart(d).toISOString(), to: new Date(dayStart(d + AVAIL_DAYS).getTime() + extra * 60_000).toISOString(),
    });
    return { api: `/api/v1/availability?${q}`, raw: `/raw/availability?${q}` };
  };

  // Cached answers must equal raw ones (a cache that is fast and wrong would pass every timing target).
  let failed = false;
  for (const endpoint of ENDPOINTS) {
    for (const i of [0, 1, P + 3, 5 * P + 7]) {
      const t = target(endpoint, i, false);
      const viaApi = await httpGet(agent, api.port, t.api, headers);
      const again = await httpGet(agent, api.port, t.api, headers);
      const raw = await httpGet(agent, rawPort, t.raw, {});
      const items = (a: Answer) => JSON.stringify(JSON.parse(a.body).items);
      if (viaApi.status !== 200 || raw.status !== 200 || items(viaApi) !== items(raw) || items(again) !== items(raw)) {
        note(`${endpoint} #${i}: API and raw answers differ (${viaApi.status} / ${raw.status})`);
        failed = true;
      }
      const n = JSON.parse(raw.body).items.length;
      if (i === 0) note(`${endpoint}: ${n} items per answer`);
    }
  }

  /** Per endpoint and phase, pooled over the rounds. */
  interface Acc { latencies: number[]; wallMs: number; statuses: Map<number, number>; detail: Counts; machine: number; self: number }
  const acc = new Map<string, Acc>();
  const zero = (): Counts => ({ l1Hit: 0, l1Miss: 0, l2Hit: 0, l2Miss: 0, l2Error: 0 });
  /** Cold keys are never reused, across rounds either. */
  const coldNext: Record<Endpoint, number> = { 'day-view': 0, availability: 0 };

  const measure = async (endpoint: Endpoint, phase: Phase, round: number) => {
    const cold = phase === 'cold';
    const port = phase === 'raw' ? rawPort : phase === 'warm-l2' ? apiL2.port : api.port;
    const metrics = phase === 'warm-l2' ? apiL2.metrics : api.metrics;
    const op = (i: number) => {
      if (phase === 'floor') return httpGet(agent, port, '/api/v1/services', headers);
      const t = target(endpoint, i, cold);
      return phase === 'raw' ? httpGet(agent, rawPort, t.raw, {}) : httpGet(agent, port, t.api, headers);
    };
    if (cold) {
      // Retire everything the earlier phases cached: the realistic path, a generation bump per practitioner.
      for (const id of home.practitionerIds) await api.cache.invalidateTags([cacheTags.practitioner(home.clinicId, id)]);
    }
    const warmupCount = phase === 'warm' || phase === 'warm-l2' ? Math.max(WARMUP, P * WARM_DAYS) : WARMUP;
    note(`round ${round + 1}/${ROUNDS} ${endpoint} ${phase}: ${warmupCount} warm-up, ${N} measured`);
    const warmupFirst = cold ? coldNext[endpoint] : 0;
    const warm = await closedLoop(warmupFirst, warmupCount, C, op);
    if (warm.firstBad) throw new Error(`${endpoint} ${phase} warm-up: ${warm.firstBad}`);
    const cacheName = endpoint === 'day-view' ? 'day-view' : 'availability';
    const before = await cacheCounts(metrics, cacheName);
    const cpu0 = machineTicks();
    const self0 = process.cpuUsage();
    // Cold requests continue after the warm-up's keys, so none repeats.
    const run = await closedLoop(cold ? warmupFirst + warmupCount : 0, N, C, op);
    if (cold) coldNext[endpoint] += warmupCount + N;
    const cpu1 = machineTicks();
    const self = process.cpuUsage(self0);
    if (isInterrupted()) throw new Error('interrupted');
    const after = await cacheCounts(metrics, cacheName);
    if (run.firstBad) { failed = true; note(`${endpoint} ${phase}: first non-200: ${run.firstBad}`); }
    const key = `${endpoint}/${phase}`;
    const a: Acc = acc.get(key) ?? { latencies: [], wallMs: 0, statuses: new Map<number, number>(), detail: zero(), machine: 0, self: 0 };
    acc.set(key, a);
    a.latencies.push(...run.latencies);
    a.wallMs += run.wallMs;
    for (const [status, n] of run.statuses) a.statuses.set(status, (a.statuses.get(status) ?? 0) + n);
    for (const k of Object.keys(a.detail) as (keyof Counts)[]) a.detail[k] += after[k] - before[k];
    const cpus = os.cpus().length;
    a.machine += cpu0 && cpu1 ? ((cpu1.busy - cpu0.busy) / (cpu1.total - cpu0.total)) * cpus * run.wallMs : NaN;
    a.self += (self.user + self.system) / 1000;
  };

  // Rounds interleave the arms, so load from other work on the machine falls on all of them alike.
  for (let round = 0; round < ROUNDS; round++) {
    for (const endpoint of ENDPOINTS) for (const phase of PHASES) if (phase !== 'floor') await measure(endpoint, phase, round);
    if (PHASES.includes('floor')) await measure(ENDPOINTS[0], 'floor', round);
  }
  const rows: Row[] = [];
  for (const [key, a] of acc) {
    const [endpoint, phase] = key.split('/') as [Endpoint, Phase];
    const machine = a.machine / a.wallMs;
    const ours = a.self / a.wallMs;
    rows.push({
      endpoint, phase, s: summarize(a.latencies, a.wallMs),
      cpu: `machine ${machine.toFixed(2)} of ${os.cpus().length} cores busy (this process ${ours.toFixed(2)}, PostgreSQL + Redis + anything else ${(machine - ours).toFixed(2)})`,
      hit: phase === 'raw' || phase === 'floor' ? undefined : hitRatio(zero(), a.detail),
      statuses: [...a.statuses].map(([k, v]) => `${v}×${k}`).join(', '),
    });
  }

  // ─────────────── report ───────────────
  const fmt = (v: number, d = 1) => (Number.isFinite(v) ? v.toFixed(d) : 'n/a');
  say('');
  say(`${'endpoint'.padEnd(14)}${'phase'.padEnd(10)}${'p50 ms'.padStart(8)}${'p95 ms'.padStart(8)}${'p99 ms'.padStart(8)}${'max ms'.padStart(8)}${'req/s'.padStart(8)}${'× raw'.padStart(8)}${'hit %'.padStart(8)}  answers; cache lookups`);
  for (const row of rows) {
    const raw = rows.find((x) => x.endpoint === row.endpoint && x.phase === 'raw');
    if (row.phase === 'floor') {
      say(`${'(API floor)'.padEnd(14)}${'services'.padEnd(10)}${fmt(row.s.p50).padStart(8)}${fmt(row.s.p95).padStart(8)}${fmt(row.s.p99).padStart(8)}${fmt(row.s.max).padStart(8)}${fmt(row.s.throughput, 0).padStart(8)}${''.padStart(16)}  ${row.statuses}; auth + tenancy + CASL + log around a Redis-cached list`);
      continue;
    }
    const ratio = raw && row.phase !== 'raw' ? fmt(row.s.throughput / raw.s.throughput, 2) : '';
    const hit = row.hit ? fmt(row.hit.ratio * 100, 1) : '';
    say(`${row.endpoint.padEnd(14)}${row.phase.padEnd(10)}${fmt(row.s.p50).padStart(8)}${fmt(row.s.p95).padStart(8)}${fmt(row.s.p99).padStart(8)}${fmt(row.s.max).padStart(8)}${fmt(row.s.throughput, 0).padStart(8)}${ratio.padStart(8)}${hit.padStart(8)}  ${row.statuses}${row.hit ? `; ${row.hit.detail}` : ''}`);
  }
  say('');
  for (const row of rows) say(`${row.phase === 'floor' ? 'API floor' : `${row.endpoint} ${row.phase}`}: ${row.cpu}`);

  say('');
  say(`SPEC §10 read targets (full API vs raw Koa + pg at ${C} connections${C === 50 ? '' : '; the targets are defined at 50'}):`);
  const mark = (ok: boolean) => (ok ? 'PASS' : 'MISS');
  for (const endpoint of ENDPOINTS) {
    const get = (phase: Phase) => rows.find((x) => x.endpoint === endpoint && x.phase === phase);
    const raw = get('raw');
    const cold = get('cold');
    const warm = get('warm');
    if (raw && cold) {
      const ratio = cold.s.throughput / raw.s.throughput;
      say(`  ${mark(ratio >= TARGET.coldRatio)}  ${endpoint} cold: throughput ≥ ${TARGET.coldRatio}× raw          ${fmt(ratio, 2)}× (${fmt(cold.s.throughput, 0)} vs ${fmt(raw.s.throughput, 0)} req/s)`);
    }
    if (cold) say(`  ${mark(cold.s.p99 < TARGET.p99Ms)}  ${endpoint} cold: p99 < ${TARGET.p99Ms} ms                   ${fmt(cold.s.p99)} ms`);
    if (raw && warm) {
      const ratio = warm.s.throughput / raw.s.throughput;
      say(`  ${mark(ratio >= TARGET.warmRatio)}  ${endpoint} warm: throughput ≥ ${TARGET.warmRatio}× raw            ${fmt(ratio, 2)}× (${fmt(warm.s.throughput, 0)} vs ${fmt(raw.s.throughput, 0)} req/s)`);
    }
    if (warm) {
      say(`  ${mark(warm.s.p99 < TARGET.p99Ms)}  ${endpoint} warm: p99 < ${TARGET.p99Ms} ms                   ${fmt(warm.s.p99)} ms`);
      say(`  ${mark((warm.hit?.ratio ?? 0) >= TARGET.hitRatio)}  ${endpoint} warm: hit ratio ≥ ${TARGET.hitRatio * 100} %              ${fmt((warm.hit?.ratio ?? NaN) * 100, 1)} %`);
    }
  }
  say('');
  say(failed ? 'RESULT: ERRORS (see above)' : 'RESULT: measured without errors (MISS lines are findings, not failures)');
  return failed ? 1 : 0;
}

main()
  .then(async (code) => { await cleanUp(); process.exit(code); })
  .catch(async (err) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    await cleanUp();
    process.exit(2);
  });
