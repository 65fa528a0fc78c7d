import { hostname } from 'node:os';
import type { Redis } from 'ioredis';

/**
 * Whether the request holding an Idempotency-Key claim is still running (issue 15).
 *
 * A running request keeps a sign of life for its claim token in Redis (a key with a short TTL it
 * renews), and renews the claim's `heartbeat_at` in PostgreSQL. A retry reads, in this order:
 * - a claim of this very process: the process's own set of running claims, exact and instant;
 * - a claim of another process: the Redis sign, removed at once when the request ends and gone
 *   within LIVENESS_TTL_MS when its process dies; Redis is independent of PostgreSQL, so a
 *   database outage does not make running requests look dead, nor dead ones look alive;
 * - only when Redis cannot answer: whether the PostgreSQL heartbeat is younger than LIVENESS_TTL_MS.
 */

/** This process, as recorded on the claims it holds. A restarted process is another one: its claims' tokens are unknown to it. */
export const PROCESS_ID = `${hostname()}:${process.pid}`;
export const HEARTBEAT_MS = 2000;
/** A sign not renewed for this long belongs to a request that can no longer finish. */
export const LIVENESS_TTL_MS = 3 * HEARTBEAT_MS;

/** Claim tokens held by requests of this process that are still running. */
const running = new Set<string>();
const signKey = (token: string) => `idempotency:live:${token}`;

export interface ClaimHolder {
  holder: string | null;
  claimToken: string | null;
  /** heartbeat_at is younger than LIVENESS_TTL_MS (by PostgreSQL's clock). */
  heartbeatFresh: boolean;
}

/**
 * The decision, apart from I/O. `signInRedis` is undefined when Redis was not asked (own process)
 * or could not answer.
 */
export function holderIsRunning(claim: ClaimHolder, here: { processId: string; running: ReadonlySet<string> }, signInRedis: boolean | undefined): boolean {
  if (claim.holder === here.processId) return claim.claimToken !== null && here.running.has(claim.claimToken);
  if (claim.claimToken !== null && signInRedis !== undefined) return signInRedis;
  return claim.heartbeatFresh;
}

export async function isHolderRunning(redis: Redis, claim: ClaimHolder): Promise<boolean> {
  let signInRedis: boolean | undefined;
  if (claim.holder !== PROCESS_ID && claim.claimToken !== null) {
    signInRedis = await redis.exists(signKey(claim.claimToken)).then((n) => n === 1, () => undefined);
  }
  return holderIsRunning(claim, { processId: PROCESS_ID, running }, signInRedis);
}

export interface Lease {
  /** Ends the sign of life: the claim, if still open, is then seen as left by a request that ended. */
  release(): void;
}

/**
 * Shows `token` as held by a running request of this process until `release`: at once in the
 * process and in Redis (awaited, so that a claim written after this is never seen without its
 * sign), then renewed every HEARTBEAT_MS in Redis and through `beat` (the PostgreSQL heartbeat).
 * Renewal failures are ignored: the other sign, or the claim's expiry, covers them.
 */
export async function holdLease(redis: Redis, token: string, beat: () => Promise<unknown>): Promise<Lease> {
  running.add(token);
  const sign = () => redis.set(signKey(token), PROCESS_ID, 'PX', LIVENESS_TTL_MS).catch(() => undefined);
  await sign();
  let beating = false;
  const timer = setInterval(() => {
    void sign();
    if (beating) return;
    beating = true;
    void beat().catch(() => undefined).finally(() => { beating = false; });
  }, HEARTBEAT_MS);
  timer.unref();
  return {
    release() {
      clearInterval(timer);
      running.delete(token);
      void redis.del(signKey(token)).catch(() => undefined);
    },
  };
}
