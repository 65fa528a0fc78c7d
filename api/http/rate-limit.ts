import { createHash } from 'node:crypto';
import { isIPv6 } from 'node:net';
import type { Context } from 'koa';
import { Counter, type Registry } from 'prom-client';
import type { Redis } from 'ioredis';
import { deriveKey, identifierDigest, normalizeIdentifier } from '../../shared/auth/otp-code';
import type { Config } from '../../shared/config';
import { Problem, problems } from './problem';
import type { ApiDeps, ApiState } from './state';

/**
 * Request rate limits (SPEC §8): fixed windows counted in Redis per IP, per signed-in user and per
 * clinic, with much stricter windows for sign-in. One Redis round trip per request: a single
 * script increments every counter the request touches.
 *
 * Without Redis (SPEC §3: the API keeps serving) each policy degrades its own way:
 * - api: fails open; the API serves unlimited until Redis is back;
 * - login (password and TOTP sign-in): per-process counters with the same limits, so password
 *   sign-in keeps working but is never unlimited;
 * - otp-verify: fails closed (503), like OTP requests (api/commands/otp.ts): codes are the cheap
 *   thing to guess, and password sign-in remains.
 * POST /auth/otp/request is limited by its own command (per identifier and IP, fail closed).
 */
export type PolicyName = 'api' | 'login' | 'otp-verify' | 'own';
type Scope = 'ip' | 'user' | 'clinic' | 'account';

interface SignInRoute { policy: 'login' | 'otp-verify' | 'own'; identifierField?: string }

/** Routes with their own policy, by "METHOD path template"; every other route is 'api'. */
export const SIGN_IN_ROUTES: Readonly<Record<string, SignInRoute>> = {
  'POST /api/v1/auth/login': { policy: 'login', identifierField: 'email' },
  'POST /api/v1/auth/mfa/verify': { policy: 'login' },
  'POST /api/v1/auth/otp/verify': { policy: 'otp-verify', identifierField: 'identifier' },
  'POST /api/v1/auth/otp/request': { policy: 'own' },
};

export const policyOf = (method: string, path: string): PolicyName => SIGN_IN_ROUTES[`${method.toUpperCase()} ${path}`]?.policy ?? 'api';

export interface Counted { scope: Scope; key: string; limit: number; windowMs: number }

export interface Who {
  ip: string;
  userId?: string | null;
  clinicId?: string | null;
  /** Keyed digest of the account named in a sign-in body (never the email or phone itself). */
  account?: string | null;
}

type Limits = Pick<Config,
  'RATE_LIMIT_WINDOW_SECONDS' | 'RATE_LIMIT_PER_IP' | 'RATE_LIMIT_PER_USER' | 'RATE_LIMIT_PER_CLINIC'
  | 'RATE_LIMIT_LOGIN_WINDOW_SECONDS' | 'RATE_LIMIT_LOGIN_PER_IP' | 'RATE_LIMIT_LOGIN_PER_IDENTIFIER'>;

/**
 * IPv6 clients get a whole /64 from their provider, so the address counts by its /64; IPv4 (and
 * IPv4-mapped IPv6) by the address.
 */
export function ipBucket(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return mapped[1];
  if (!isIPv6(ip)) return ip;
  const [head, tail = ''] = ip.toLowerCase().split('::');
  const left = head ? head.split(':') : [];
  const right = ip.includes('::') && tail ? tail.split(':') : [];
  const groups = ip.includes('::') ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right] : left;
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

/** The counters one request increments under its policy (pure). */
export function countersFor(limits: Limits, policy: PolicyName, who: Who): Counted[] {
  if (policy === 'own') return [];
  const ip = ipBucket(who.ip || 'unknown');
  if (policy === 'login' || policy === 'otp-verify') {
    const windowMs = limits.RATE_LIMIT_LOGIN_WINDOW_SECONDS * 1000;
    return [
      { scope: 'ip', key: `rl:signin:ip:${ip}`, limit: limits.RATE_LIMIT_LOGIN_PER_IP, windowMs },
      ...(who.account ? [{ scope: 'account' as const, key: `rl:signin:account:${who.account}`, limit: limits.RATE_LIMIT_LOGIN_PER_IDENTIFIER, windowMs }] : []),
    ];
  }
  const windowMs = limits.RATE_LIMIT_WINDOW_SECONDS * 1000;
  return [
    { scope: 'ip', key: `rl:api:ip:${ip}`, limit: limits.RATE_LIMIT_PER_IP, windowMs },
    ...(who.userId ? [{ scope: 'user' as const, key: `rl:api:user:${who.userId}`, limit: limits.RATE_LIMIT_PER_USER, windowMs }] : []),
    ...(who.clinicId ? [{ scope: 'clinic' as const, key: `rl:api:clinic:${who.clinicId}`, limit: limits.RATE_LIMIT_PER_CLINIC, windowMs }] : []),
  ];
}

export type Decision = { allowed: true } | { allowed: false; scope: Scope; retryAfterSeconds: number };

/** Refused when any counter is over its limit; Retry-After is when the last of those windows ends. */
export function decide(counters: Counted[], hits: Array<[count: number, msLeft: number]>): Decision {
  let refused: Decision = { allowed: true };
  for (const [i, c] of counters.entries()) {
    const [count, msLeft] = hits[i];
    if (count <= c.limit) continue;
    const retryAfterSeconds = Math.max(1, Math.ceil((msLeft > 0 ? msLeft : c.windowMs) / 1000));
    if (refused.allowed || retryAfterSeconds > refused.retryAfterSeconds) refused = { allowed: false, scope: c.scope, retryAfterSeconds };
  }
  return refused;
}

const SCOPE_TEXT: Record<Scope, string> = {
  ip: 'from your address', user: 'by your account', clinic: 'for this clinic', account: 'to sign in to this account',
};

export const rateLimited = (d: { scope: Scope; retryAfterSeconds: number }) =>
  new Problem(429, 'rate-limited', 'Too many requests', `Too many requests ${SCOPE_TEXT[d.scope]}; retry in ${d.retryAfterSeconds} s`, undefined,
    { 'Retry-After': String(d.retryAfterSeconds) });

/**
 * Per-process fixed windows: what sign-in falls back to while Redis is down. Bounded: past
 * `maxKeys` the oldest windows are dropped first.
 */
export class LocalWindows {
  private readonly windows = new Map<string, { count: number; resetAt: number }>();

  constructor(private readonly maxKeys = 50_000) {}

  hit(key: string, windowMs: number, now = Date.now()): [count: number, msLeft: number] {
    let w = this.windows.get(key);
    if (!w || w.resetAt <= now) {
      this.windows.delete(key);
      w = { count: 0, resetAt: now + windowMs };
      this.windows.set(key, w);
      while (this.windows.size > this.maxKeys) this.windows.delete(this.windows.keys().next().value!);
    }
    w.count += 1;
    return [w.count, w.resetAt - now];
  }

  get size(): number {
    return this.windows.size;
  }
}

// INCR each counter; a counter without an expiry (just created) gets its window. Returns count, ms left per key.
const SCRIPT = `local out = {}
for i = 1, #KEYS do
  local n = redis.call('INCR', KEYS[i])
  local ttl = redis.call('PTTL', KEYS[i])
  if ttl < 0 then
    redis.call('PEXPIRE', KEYS[i], ARGV[i])
    ttl = tonumber(ARGV[i])
  end
  out[2 * i - 1] = n
  out[2 * i] = ttl
end
return out`;
const SCRIPT_SHA = createHash('sha1').update(SCRIPT).digest('hex');

/** One round trip: EVALSHA, or EVAL once when this Redis has not seen the script yet. */
async function hitInRedis(redis: Redis, counters: Counted[]): Promise<Array<[number, number]>> {
  const args = [...counters.map((c) => c.key), ...counters.map((c) => String(c.windowMs))];
  let flat: number[];
  try {
    flat = (await redis.evalsha(SCRIPT_SHA, counters.length, ...args)) as number[];
  } catch (err) {
    if (!/NOSCRIPT/.test(String((err as Error)?.message))) throw err;
    flat = (await redis.eval(SCRIPT, counters.length, ...args)) as number[];
  }
  return counters.map((_, i) => [Number(flat[2 * i]), Number(flat[2 * i + 1])]);
}

const WHEN_REDIS_IS_DOWN: Record<PolicyName, 'fail_open' | 'local' | 'fail_closed'> = {
  api: 'fail_open', login: 'local', 'otp-verify': 'fail_closed', own: 'fail_open',
};

export interface RateLimiter {
  /**
   * Counts one request of route `path` (a template, e.g. /api/v1/patients/:id) against its policy;
   * throws 429 when over a limit, 503 for a fail-closed policy without Redis.
   */
  enforce(ctx: Context & { state: ApiState }, path: string, who: Omit<Who, 'ip' | 'account'>): Promise<void>;
}

function outcomeCounter(registry: Registry): Counter<'policy' | 'outcome'> {
  const name = 'rate_limit_events_total';
  return (registry.getSingleMetric(name) as Counter<'policy' | 'outcome'> | undefined) ?? new Counter({
    name, help: 'Requests refused by a rate limit (limited), or counted without Redis (fail_open, local, fail_closed)',
    labelNames: ['policy', 'outcome'] as const, registers: [registry],
  });
}

export function createRateLimiter(deps: Pick<ApiDeps, 'config' | 'redis' | 'metrics'>): RateLimiter {
  const { config, redis } = deps;
  const local = new LocalWindows();
  const events = outcomeCounter(deps.metrics.registry);
  const accountKey = deriveKey(config.JWT_SECRET, 'rate-limit-account-v1');
  let lastWarning = 0;

  /** The account a sign-in body names, as a keyed digest; read before validation, so anything odd is skipped. */
  const accountOf = (ctx: Context, field: string | undefined): string | null => {
    const value = field ? (ctx.request as { body?: Record<string, unknown> }).body?.[field] : undefined;
    if (typeof value !== 'string' || !value.trim() || value.length > 320) return null;
    return identifierDigest(accountKey, normalizeIdentifier(value.trim())).slice(0, 32);
  };

  return {
    async enforce(ctx, path, who) {
      if (!config.RATE_LIMIT_ENABLED) return;
      const route = SIGN_IN_ROUTES[`${ctx.method} ${path}`];
      const policy: PolicyName = route?.policy ?? 'api';
      const counters = countersFor(config, policy, { ...who, ip: ctx.ip, account: accountOf(ctx, route?.identifierField) });
      if (!counters.length) return;
      let hits: Array<[number, number]>;
      try {
        // Not connected: answer at once instead of waiting for a command timeout on every request.
        if (redis.status !== 'ready') throw new Error(`redis ${redis.status}`);
        hits = await hitInRedis(redis, counters);
      } catch (err) {
        const outcome = WHEN_REDIS_IS_DOWN[policy];
        events.inc({ policy, outcome });
        if (Date.now() - lastWarning > 10_000) {
          lastWarning = Date.now();
          ctx.state.log.warn({ err: (err as Error).message, policy, outcome }, 'rate limiter cannot reach Redis');
        }
        if (outcome === 'fail_open') return;
        if (outcome === 'fail_closed') throw problems.unavailable('Sign-in with a one-time code is unavailable right now; retry shortly or sign in with your password');
        hits = counters.map((c) => local.hit(c.key, c.windowMs));
      }
      const decision = decide(counters, hits);
      if (!decision.allowed) {
        events.inc({ policy, outcome: 'limited' });
        throw rateLimited(decision);
      }
    },
  };
}
