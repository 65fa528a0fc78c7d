import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { freePort } from '../../test/support/temporal-server';
import { freshDatabase, note, onCleanup } from './harness';

/**
 * The system the way `npm start` runs it, for benchmarks: a Temporal dev server persisted to a
 * SQLite file with the flags of scripts/temporal-dev-server.args, a fresh migrated database, the
 * built API (dist/api/main.js, role clinic_app under row-level security) and one worker process
 * serving every task queue (dist/workers/main.js with the pre-built workflow bundle), each its own
 * process. Needs `npm run build && node dist/scripts/build-workflow-bundle.js` first.
 */
export interface BenchStack {
  baseUrl: string;
  temporalAddress: string;
  admin: { email: string; password: string };
  env: Record<string, string>;
  /** Process ids whose CPU (with their children) is read from /proc. */
  pids: { temporal: number; api: number; worker: number };
  root: string;
  /** Logs and the SQLite file (removed at cleanup). */
  dir: string;
}

export function projectRoot(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'scripts', 'temporal-dev-server.args')) && fs.existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error('cannot find the project root (scripts/temporal-dev-server.args)');
  }
}

/** The dev server's flags as scripts/start.sh passes them. */
export function devServerFlags(root: string): string[] {
  return fs.readFileSync(path.join(root, 'scripts', 'temporal-dev-server.args'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
}

function stopOnCleanup(what: string, child: ChildProcess, group = false): void {
  onCleanup(what, async () => {
    if (!child.pid || child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const kill = (sig: NodeJS.Signals) => { try { process.kill(group ? -child.pid! : child.pid!, sig); } catch { /* gone */ } };
    kill('SIGTERM');
    const timer = setTimeout(() => kill('SIGKILL'), 8000);
    await exited;
    clearTimeout(timer);
  });
}

async function until(what: string, probe: () => Promise<boolean>, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${what} not ready after ${timeoutMs / 1000} s`);
}

/** Starts a node entry point of dist/ with `env`, its output in `<dir>/<name>.log`. */
export function startNode(root: string, dir: string, name: string, script: string, env: Record<string, string>): ChildProcess {
  const log = fs.openSync(path.join(dir, `${name}.log`), 'a');
  const child = spawn(process.execPath, [path.join(root, 'dist', script)], { env: { ...process.env, ...env }, stdio: ['ignore', log, log] });
  stopOnCleanup(`stop ${name}`, child);
  child.once('exit', (code, signal) => { if (code && code !== 0) note(`${name} exited with ${code ?? signal} (see ${dir}/${name}.log)`); });
  return child;
}

export async function startBenchStack(opts: { label: string; redisUrl: string; databaseBase: string }): Promise<BenchStack> {
  const root = projectRoot();
  for (const built of ['dist/api/main.js', 'dist/workers/main.js', 'dist/workflow-bundle.js']) {
    if (!fs.existsSync(path.join(root, built))) throw new Error(`${built} is missing: run npm run build && node dist/scripts/build-workflow-bundle.js`);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `clinic-bench-${opts.label}-`));
  onCleanup(`remove ${dir}`, () => fs.rmSync(dir, { recursive: true, force: true }));
  note(`logs and the Temporal SQLite file in ${dir}`);

  const cli = process.env.TEMPORAL_CLI_PATH || execFileSync('bash', [path.join(root, 'scripts', 'temporal-cli.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
  const port = await freePort();
  const temporalAddress = `127.0.0.1:${port}`;
  const server = spawn(cli, ['server', 'start-dev', '--db-filename', path.join(dir, 'temporal.db'), '--ip', '127.0.0.1', '--port', String(port), '--headless',
    '--log-level', 'warn', ...devServerFlags(root)], { stdio: ['ignore', fs.openSync(path.join(dir, 'temporal.log'), 'a'), 'inherit'], detached: true });
  stopOnCleanup('stop the Temporal dev server', server, true);
  await until('Temporal', async () => {
    const connection = await Connection.connect({ address: temporalAddress, connectTimeout: 1000 });
    try {
      await connection.workflowService.describeNamespace({ namespace: 'default' });
      return true;
    } finally {
      await connection.close();
    }
  });

  const databaseUrl = await freshDatabase(opts.databaseBase, opts.label);
  const admin = { email: `bench-root-${randomUUID().slice(0, 8)}@bench.local`, password: `pw-${randomUUID()}` };
  const apiPort = await freePort();
  const env: Record<string, string> = {
    NODE_ENV: 'production', LOG_LEVEL: 'warn', DATABASE_URL: databaseUrl, REDIS_URL: opts.redisUrl, TEMPORAL_ADDRESS: temporalAddress,
    JWT_SECRET: randomBytes(32).toString('hex'), PHI_ENCRYPTION_KEYS: `bench:${randomBytes(32).toString('base64')}`,
    BLIND_INDEX_KEY: randomBytes(32).toString('base64'), JWT_ACCESS_TTL_SECONDS: '3600', PORT: String(apiPort),
    BOOTSTRAP_ADMIN_EMAIL: admin.email, BOOTSTRAP_ADMIN_PASSWORD: admin.password,
    // One user books thousands of times: the limiter stays on the measured path with limits it never reaches.
    RATE_LIMIT_PER_IP: '1000000000', RATE_LIMIT_PER_USER: '1000000000', RATE_LIMIT_PER_CLINIC: '1000000000',
  };
  const worker = startNode(root, dir, 'worker', 'workers/main.js', env);
  const api = startNode(root, dir, 'api', 'api/main.js', env);
  const baseUrl = `http://127.0.0.1:${apiPort}`;
  await until('the API', async () => (await fetch(`${baseUrl}/health`)).ok);
  note(`stack up: API ${baseUrl}, Temporal ${temporalAddress} (SQLite ${dir}/temporal.db)`);
  return { baseUrl, temporalAddress, admin, env, pids: { temporal: server.pid!, api: api.pid!, worker: worker.pid! }, root, dir };
}
