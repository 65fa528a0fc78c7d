import type { Redis } from 'ioredis';

/**
 * Fixed-window counter in Redis: one atomic script, so the first hit also sets the window's
 * expiry (a crash between INCR and EXPIRE can never leave a counter that lives forever).
 */
const HIT = `local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return {n, redis.call('TTL', KEYS[1])}`;

export interface RateDecision { allowed: boolean; count: number; retryAfterSeconds: number }

/** Throws when Redis is unreachable; the caller decides whether to fail open or closed. */
export async function hitWindow(redis: Redis, key: string, limit: number, windowSeconds: number): Promise<RateDecision> {
  const [count, ttl] = (await redis.eval(HIT, 1, key, windowSeconds)) as [number, number];
  return { allowed: count <= limit, count, retryAfterSeconds: ttl > 0 ? ttl : windowSeconds };
}
