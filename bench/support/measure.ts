import fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import { isInterrupted } from './harness';

/** Latency and throughput figures of one closed-loop run. */
export interface Summary { count: number; p50: number; p99: number; max: number; mean: number }

export function summarize(values: ArrayLike<number>): Summary {
  const sorted = Float64Array.from(values).sort();
  const n = sorted.length;
  if (!n) return { count: 0, p50: NaN, p99: NaN, max: NaN, mean: NaN };
  const at = (q: number) => sorted[Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1))];
  let sum = 0;
  for (const v of sorted) sum += v;
  return { count: n, p50: at(0.5), p99: at(0.99), max: sorted[n - 1], mean: sum / n };
}

export interface RunResult { latencies: Float64Array; wallMs: number; outcomes: Map<string, number>; firstError?: unknown }

/** `clients` callers in a closed loop, each starting its next operation when the previous one answers. */
export async function closedLoop(total: number, clients: number, op: (i: number) => Promise<string>): Promise<RunResult> {
  const latencies = new Float64Array(total);
  const outcomes = new Map<string, number>();
  let next = 0;
  let firstError: unknown;
  const started = performance.now();
  await Promise.all(Array.from({ length: Math.min(clients, total) }, async () => {
    for (;;) {
      const i = next++;
      if (i >= total || isInterrupted()) return;
      const t0 = performance.now();
      let outcome: string;
      try {
        outcome = await op(i);
      } catch (err) {
        firstError ??= err;
        outcome = `error ${(err as Error).message?.slice(0, 60) ?? 'unknown'}`;
      }
      latencies[i] = performance.now() - t0;
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
    }
  }));
  return { latencies, wallMs: performance.now() - started, outcomes, firstError };
}

const CLK_TCK = 100;

/** CPU seconds (user + system, all threads) of each pid and its descendants, from /proc. */
export function cpuSeconds(roots: Record<string, number>): Record<string, number> {
  const parents = new Map<number, number>();
  const ticks = new Map<number, number>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parents.set(Number(entry), Number(fields[1]));
      ticks.set(Number(entry), Number(fields[11]) + Number(fields[12]));
    } catch { /* exited meanwhile */ }
  }
  const inTree = (pid: number, root: number) => {
    for (let p = pid, hops = 0; p > 1 && hops < 64; p = parents.get(p) ?? 0, hops++) if (p === root) return true;
    return false;
  };
  return Object.fromEntries(Object.entries(roots).map(([name, root]) => {
    let sum = 0;
    for (const [pid, t] of ticks) if (inTree(pid, root)) sum += t;
    return [name, sum / CLK_TCK];
  }));
}

export const diff = (after: Record<string, number>, before: Record<string, number>) =>
  Object.fromEntries(Object.keys(after).map((k) => [k, after[k] - (before[k] ?? 0)]));
