/**
 * Booking benchmark (issue 7 targets): POST /appointments against the system as `npm start` runs it,
 * beside a no-op update-with-start measured in the same run on the same Temporal server.
 *
 *   npm run build && node dist/scripts/build-workflow-bundle.js
 *   node dist/bench/booking.js [--count 1000] [--warmup 100] [--clients 20]
 *
 * Starts its own stack (bench/support/stack.ts): a Temporal dev server persisted to SQLite with the
 * flags of scripts/temporal-dev-server.args, a fresh database (dropped at the end), the built API as
 * role clinic_app under row-level security, one worker process serving every task queue, and a
 * no-op worker process. Seeds one clinic through the API. Then, for 1 client and for --clients:
 * the no-op baseline and the booking, each warmed up, then --count operations in a closed loop,
 * with CPU seconds of every process read from /proc. Prints the figures and the ratios to the
 * targets; exits non-zero only on errors (a non-201 booking, a failed no-op), not on a missed target.
 *
 * Options (argv wins over env): --count/BENCH_COUNT (1000), --warmup/BENCH_WARMUP (100),
 * --clients/BENCH_CLIENTS (20), --practitioners/BENCH_PRACTITIONERS (20), --patients/BENCH_PATIENTS (20),
 * BENCH_DATABASE_BASE_URL (postgres://postgres@127.0.0.1:5432), BENCH_REDIS_URL (redis://127.0.0.1:6379/14),
 * --timeout/BENCH_TIMEOUT_SECONDS (1800). Everything talks to 127.0.0.1 only.
 */
import os from 'node:os';
import { seedClinic } from './booking/seed';
import { bookingOp, measure, noopOp, Phase } from './booking/phases';
import { cleanUp, intOption, note, say } from './support/harness';
import { summarize } from './support/measure';
import { startBenchStack, startNode } from './support/stack';

const COUNT = intOption('count', 'BENCH_COUNT', 1000, 1);
const WARMUP = intOption('warmup', 'BENCH_WARMUP', 100, 0);
const CLIENTS = intOption('clients', 'BENCH_CLIENTS', 20, 2);
const PRACTITIONERS = intOption('practitioners', 'BENCH_PRACTITIONERS', 20, 1);
const PATIENTS = intOption('patients', 'BENCH_PATIENTS', 20, 1);
const TIMEOUT_SECONDS = intOption('timeout', 'BENCH_TIMEOUT_SECONDS', 1800, 30);

const fmt = (v: number, d = 1) => (Number.isFinite(v) ? v.toFixed(d) : 'n/a');
const mark = (ok: boolean) => (ok ? 'PASS' : 'MISS');

/** CPU milliseconds per operation of the processes that served it (idle ones are listed apart). */
function cpuPerOp(p: Phase, serving: string[]): { total: number; line: string } {
  const n = p.run.latencies.length;
  const total = serving.reduce((s, k) => s + (p.cpu[k] ?? 0), 0) * 1000 / n;
  const parts = Object.entries(p.cpu).map(([k, v]) => `${k} ${fmt(v * 1000 / n, 2)}${serving.includes(k) ? '' : ' (idle)'}`);
  return { total, line: parts.join(', ') };
}

async function main(): Promise<number> {
  setTimeout(() => { note(`still running after ${TIMEOUT_SECONDS} s: giving up`); void cleanUp().finally(() => process.exit(2)); }, TIMEOUT_SECONDS * 1000).unref();
  say(`Booking benchmark — ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), Node ${process.version}; ${COUNT} per phase after ${WARMUP} warm-up; 1 and ${CLIENTS} clients`);
  const stack = await startBenchStack({
    label: 'booking', redisUrl: process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379/14',
    databaseBase: process.env.BENCH_DATABASE_BASE_URL ?? 'postgres://postgres@127.0.0.1:5432',
  });
  const noopWorker = startNode(stack.root, stack.dir, 'noop-worker', 'bench/noop-worker.js', stack.env);
  const pids = { 'temporal server': stack.pids.temporal, api: stack.pids.api, worker: stack.pids.worker, 'no-op worker': noopWorker.pid! };

  note('seeding a clinic through the API');
  const seed = await seedClinic(stack.baseUrl, stack.admin, { practitioners: PRACTITIONERS, patients: PATIENTS });
  const noop = await noopOp(stack.temporalAddress, stack.env.PHI_ENCRYPTION_KEYS);

  const opts = (clients: number) => ({ count: COUNT, clients, warmup: WARMUP, pids });
  const phases = {
    noop1: await measure('no-op update-with-start, 1 client', noop, opts(1)),
    book1: await measure('booking over HTTP, 1 client', bookingOp(stack.baseUrl, seed, 1), opts(1)),
    noopN: await measure(`no-op update-with-start, ${CLIENTS} clients`, noop, opts(CLIENTS)),
    bookN: await measure(`booking over HTTP, ${CLIENTS} clients`, bookingOp(stack.baseUrl, seed, CLIENTS), opts(CLIENTS)),
  };

  say('');
  say(`${'phase'.padEnd(40)}${'ops/s'.padStart(8)}${'p50 ms'.padStart(9)}${'p99 ms'.padStart(9)}${'max ms'.padStart(9)}${'CPU ms/op'.padStart(11)}  outcomes`);
  const noopServing = ['temporal server', 'no-op worker', 'bench client'];
  const bookServing = ['temporal server', 'api', 'worker', 'bench client'];
  const rows = Object.fromEntries(Object.entries(phases).map(([k, p]) => {
    const s = summarize(p.run.latencies);
    const tput = (p.run.latencies.length / p.run.wallMs) * 1000;
    const cpu = cpuPerOp(p, k.startsWith('noop') ? noopServing : bookServing);
    const outcomes = [...p.run.outcomes].map(([o, n]) => `${n}×${o}`).join(', ');
    say(`${p.label.padEnd(40)}${fmt(tput, 1).padStart(8)}${fmt(s.p50).padStart(9)}${fmt(s.p99).padStart(9)}${fmt(s.max).padStart(9)}${fmt(cpu.total, 2).padStart(11)}  ${outcomes}`);
    return [k, { s, tput, cpu }];
  })) as Record<keyof typeof phases, { s: ReturnType<typeof summarize>; tput: number; cpu: { total: number; line: string } }>;
  say('');
  for (const [k, r] of Object.entries(rows)) say(`CPU ms per operation, ${phases[k as keyof typeof phases].label}: ${r.cpu.line}`);

  const { noop1, book1, noopN, bookN } = rows;
  say('');
  say('targets (booking against the no-op of this run):');
  say(`  ${mark(book1.s.p50 <= 1.3 * noop1.s.p50)}  1 client p50 ≤ 1.3× no-op             ${fmt(book1.s.p50)} ms vs ${fmt(noop1.s.p50)} ms = ${fmt(book1.s.p50 / noop1.s.p50, 2)}×`);
  say(`  ${mark(bookN.tput >= 0.7 * noopN.tput)}  ${CLIENTS} clients throughput ≥ 0.7× no-op   ${fmt(bookN.tput)}/s vs ${fmt(noopN.tput)}/s = ${fmt(bookN.tput / noopN.tput, 2)}×`);
  say(`  ${mark(bookN.s.p99 <= 2 * noopN.s.p99)}  ${CLIENTS} clients p99 ≤ 2× no-op             ${fmt(bookN.s.p99)} ms vs ${fmt(noopN.s.p99)} ms = ${fmt(bookN.s.p99 / noopN.s.p99, 2)}×`);
  say(`  ${mark(bookN.s.max <= 2000)}  ${CLIENTS} clients, nothing over 2 s           max ${fmt(bookN.s.max)} ms`);
  say(`  ${mark(bookN.cpu.total <= 1.5 * noopN.cpu.total)}  CPU per booking ≤ 1.5× no-op          ${fmt(bookN.cpu.total, 2)} ms vs ${fmt(noopN.cpu.total, 2)} ms = ${fmt(bookN.cpu.total / noopN.cpu.total, 2)}× (${CLIENTS} clients; all processes that served it)`);

  let failed = false;
  for (const [k, p] of Object.entries(phases)) {
    const good = k.startsWith('noop') ? 'ok' : '201';
    if (p.run.outcomes.size !== 1 || !p.run.outcomes.has(good)) {
      failed = true;
      note(`${p.label}: not every operation succeeded${p.run.firstError ? ` (first error: ${(p.run.firstError as Error).message})` : ''}`);
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
    process.exit(1);
  });
