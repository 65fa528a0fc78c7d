import { createHash } from 'node:crypto';
import { isIPv6 } from 'node:net';
import type { Context } from 'koa';
import { Counter, type Registry } from 'prom-client';
import type { Redis } from 'ioredis';
import { deriveKey, identifierDigest, normalizeIdentifier } from '../../shared/auth/otp-code';
import { verifyMfaToken } from '../../shared/auth/tokens';
import type { Config } from '../../shared/config';
import { tokenSettings } from './authenticate';
import { Problem, problems } from './problem';
import type { ApiDeps, ApiState } from './state';

/**
 * Request rate limits (SPEC §8): fixed windows counted in Redis per IP, per signed-in user and per
 * clinic, with much stricter windows per IP for sign-in; and per account, the consecutive FAILED
 * sign-ins (NIST 800-63B §5.2.2): the first few are free, each further one makes the account wait
 * longer before its next try (doubling), and the RATE_LIMIT_LOGIN_PER_IDENTIFIER-th locks it for
 * the sign-in window. A successful sign-in starts the account over. Every counter of a request
 * lives in one Redis script call (one round trip); a successful sign-in costs one more, to reset.
 *
 * A sign-in attempt counts as a failure up front, in that same script, and a success takes it
 * back: counting only after the outcome would let parallel guesses all pass the check before the
 * first failure lands. Attempts refused (429) are not counted and do not extend a wait, so the
 * owner retrying does not lengthen it, and an attacker holds an account only by spending a real
 * guess each lock period.
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

/**
 * How a sign-in route names its account: a body field holding the email or phone (login and OTP
 * verification share the counter of an identifier), or the MFA token of a first factor already
 * passed (the second factor has its own counter per user, reset by a correct TOTP code).
 */
interface SignInRoute { policy: 'login' | 'otp-verify' | 'own'; identifierField?: string; mfaTokenField?: string }

/** Routes with their own policy, by "METHOD path template"; every other route is 'api'. */
export const SIGN_IN_ROUTES: Readonly<Record<string, SignInRoute>> = {
  'POST /api/v1/auth/login': { policy: 'login', identifierField: 'email' },
  'POST /api/v1/auth/mfa/verify': { policy: 'login', mfaTokenField: 'mfaToken' },
  'POST /api/v1/auth/otp/verify': { policy: 'otp-verify', identifierField: 'identifier' },
  'POST /api/v1/auth/otp/request': { policy: 'own' },
};

export const policyOf = (method: string, path: string): PolicyName => SIGN_IN_ROUTES[`${method.toUpperCase()} ${path}`]?.policy ?? 'api';

export interface Counted { scope: Scope; key: string; limit: number; windowMs: number }

export interface Who {
  ip: string;
  userId?: string | null;
  clinicId?: string | null;
}

type Limits = Pick<Config,
  'RATE_LIMIT_WINDOW_SECONDS' | 'RATE_LIMIT_PER_IP' | 'RATE_LIMIT_PER_USER' | 'RATE_LIMIT_PER_CLINIC'
  | 'RATE_LIMIT_LOGIN_WINDOW_SECONDS' | 'RATE_LIMIT_LOGIN_PER_IP' | 'RATE_LIMIT_LOGIN_PER_IDENTIFIER'
  | 'RATE_LIMIT_LOGIN_BACKOFF_AFTER' | 'RATE_LIMIT_LOGIN_BACKOFF_BASE_SECONDS'>;

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

/** The fixed-window counters one request increments under its policy (pure). Sign-in counts every attempt per IP. */
export function countersFor(limits: Limits, policy: PolicyName, who: Who): Counted[] {
  if (policy === 'own') return [];
  const ip = ipBucket(who.ip || 'unknown');
  if (policy === 'login' || policy === 'otp-verify') {
    return [{ scope: 'ip', key: `rl:signin:ip:${ip}`, limit: limits.RATE_LIMIT_LOGIN_PER_IP, windowMs: limits.RATE_LIMIT_LOGIN_WINDOW_SECONDS * 1000 }];
  }
  const windowMs = limits.RATE_LIMIT_WINDOW_SECONDS * 1000;
  return [
    { scope: 'ip', key: `rl:api:ip:${ip}`, limit: limits.RATE_LIMIT_PER_IP, windowMs },
    ...(who.userId ? [{ scope: 'user' as const, key: `rl:api:user:${who.userId}`, limit: limits.RATE_LIMIT_PER_USER, windowMs }] : []),
    ...(who.clinicId ? [{ scope: 'clinic' as const, key: `rl:api:clinic:${who.clinicId}`, limit: limits.RATE_LIMIT_PER_CLINIC, windowMs }] : []),
  ];
}

/**
 * An account's record of consecutive failed sign-ins: the first `free` failures cost nothing, each
 * further one makes the account wait `baseMs`, then twice that, and so on (never beyond the lock),
 * and from the `limit`-th on the account is locked for `lockMs`. The record is forgotten
 * `forgetMs` after its wait ends.
 */
export interface AccountGuard { key: string; limit: number; free: number; baseMs: number; lockMs: number; forgetMs: number }

export function accountGuardFor(limits: Limits, policy: PolicyName, account: string | null | undefined): AccountGuard | null {
  if (!account || (policy !== 'login' && policy !== 'otp-verify')) return null;
  const windowMs = limits.RATE_LIMIT_LOGIN_WINDOW_SECONDS * 1000;
  return {
    key: `rl:signin:fail:${account}`, limit: limits.RATE_LIMIT_LOGIN_PER_IDENTIFIER, free: limits.RATE_LIMIT_LOGIN_BACKOFF_AFTER,
    baseMs: limits.RATE_LIMIT_LOGIN_BACKOFF_BASE_SECONDS * 1000, lockMs: windowMs, forgetMs: windowMs,
  };
}

/** The wait (ms) after the n-th consecutive failure (pure; the script computes the same). */
export function delayAfter(failures: number, g: Omit<AccountGuard, 'key' | 'forgetMs'>): number {
  if (failures >= g.limit) return g.lockMs;
  if (failures <= g.free) return 0;
  return Math.min(g.baseMs * 2 ** (failures - g.free - 1), g.lockMs);
}

/**
 * What the script (or the per-process fallback) did with the account: `refused` with the time
 * left when it is still waiting (the attempt is not counted), else counted as the `failures`-th
 * consecutive failure, which makes it wait `delayMs` unless the attempt succeeds.
 */
export type AccountHit = { refused: true; msLeft: number } | { refused: false; failures: number; delayMs: number };

export interface FailureRecord { failures: number; until: number; expiresAt: number }

/** One attempt against an account's record (pure): the per-process twin of the script's account part. */
export function attemptOn(record: FailureRecord | undefined, guard: AccountGuard, now: number): { record: FailureRecord | undefined; hit: AccountHit } {
  const live = record && record.expiresAt > now ? record : undefined;
  if (live && now < live.until) return { record: live, hit: { refused: true, msLeft: live.until - now } };
  const failures = (live?.failures ?? 0) + 1;
  const delayMs = delayAfter(failures, guard);
  return { record: { failures, until: now + delayMs, expiresAt: now + delayMs + guard.forgetMs }, hit: { refused: false, failures, delayMs } };
}

export type Decision = { allowed: true } | { allowed: false; scope: Scope; retryAfterSeconds: number };

const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));

/**
 * Refused when any counter is over its limit or the account is still waiting; Retry-After is when
 * the last of those ends.
 */
export function decide(counters: Counted[], hits: Array<[count: number, msLeft: number]>, account?: AccountHit | null): Decision {
  let refused: Decision = { allowed: true };
  const refuse = (scope: Scope, retryAfterSeconds: number) => {
    if (refused.allowed || retryAfterSeconds > refused.retryAfterSeconds) refused = { allowed: false, scope, retryAfterSeconds };
  };
  for (const [i, c] of counters.entries()) {
    const [count, msLeft] = hits[i];
    if (count > c.limit) refuse(c.scope, seconds(msLeft > 0 ? msLeft : c.windowMs));
  }
  if (account?.refused) refuse('account', seconds(account.msLeft));
  return refused;
}

const SCOPE_TEXT: Record<Scope, string> = {
  ip: 'Too many requests from your address', user: 'Too many requests by your account', clinic: 'Too many requests for this clinic',
  account: 'Too many failed attempts to sign in to this account',
};

export const rateLimited = (d: { scope: Scope; retryAfterSeconds: number }) =>
  new Problem(429, 'rate-limited', 'Too many requests', `${SCOPE_TEXT[d.scope]}; retry in ${d.retryAfterSeconds} s`, undefined,
    { 'Retry-After': String(d.retryAfterSeconds) });

/** Bounded per-process map: past `maxKeys` the oldest entries are dropped first. */
class BoundedMap<V> extends Map<string, V> {
  constructor(private readonly maxKeys: number) {
    super();
  }

  put(key: string, value: V): void {
    this.delete(key);
    this.set(key, value);
    while (this.size > this.maxKeys) this.delete(this.keys().next().value!);
  }
}

/** Per-process fixed windows: what sign-in falls back to while Redis is down. */
export class LocalWindows {
  private readonly windows: BoundedMap<{ count: number; resetAt: number }>;

  constructor(maxKeys = 50_000) {
    this.windows = new BoundedMap(maxKeys);
  }

  hit(key: string, windowMs: number, now = Date.now()): [count: number, msLeft: number] {
    let w = this.windows.get(key);
    if (!w || w.resetAt <= now) this.windows.put(key, (w = { count: 0, resetAt: now + windowMs }));
    w.count += 1;
    return [w.count, w.resetAt - now];
  }

  get size(): number {
    return this.windows.size;
  }
}

/** Per-process records of consecutive failed sign-ins, while Redis is down (same rules as the script). */
export class LocalFailures {
  private readonly records: BoundedMap<FailureRecord>;

  constructor(maxKeys = 50_000) {
    this.records = new BoundedMap(maxKeys);
  }

  attempt(guard: AccountGuard, now = Date.now()): AccountHit {
    const { record, hit } = attemptOn(this.records.get(guard.key), guard, now);
    if (record) this.records.put(guard.key, record);
    return hit;
  }

  reset(key: string): void {
    this.records.delete(key);
  }
}

/*
 * One call for every counter of a request. KEYS: the window counters, then (sign-in) the
 * account's failure record. ARGV: number of window counters, "1" to stop counting at the first
 * counter over its limit, each window (ms), each limit, then for the account (AccountGuard): limit,
 * free failures, base wait, lock and forget (ms).
 * Returns count and ms left per window counter (0, 0 when not counted), then for the account:
 * 0 0 0 (not looked at: a window refused the request), 1 failures delay (counted), or
 * 2 0 msLeft (still waiting). The account's clock is Redis's, so every API process agrees on when
 * a wait ends.
 */
const SCRIPT = `local n = tonumber(ARGV[1])
local stop = ARGV[2] == '1'
local out = {}
local over = false
for i = 1, n do
  local count, ttl = 0, 0
  if not (stop and over) then
    count = redis.call('INCR', KEYS[i])
    ttl = redis.call('PTTL', KEYS[i])
    if ttl < 0 then
      redis.call('PEXPIRE', KEYS[i], ARGV[2 + i])
      ttl = tonumber(ARGV[2 + i])
    end
    if count > tonumber(ARGV[2 + n + i]) then over = true end
  end
  out[2 * i - 1] = count
  out[2 * i] = ttl
end
if #KEYS > n then
  local key = KEYS[n + 1]
  local a = 2 + 2 * n
  local limit, free, base, lock, forget = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4]), tonumber(ARGV[a + 5])
  if over then
    out[#out + 1] = 0; out[#out + 1] = 0; out[#out + 1] = 0
  else
    local t = redis.call('TIME')
    local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
    local wait = tonumber(redis.call('HGET', key, 'until') or '0') - now
    if wait > 0 then
      out[#out + 1] = 2; out[#out + 1] = 0; out[#out + 1] = wait
    else
      local failures = redis.call('HINCRBY', key, 'n', 1)
      local delay = 0
      if failures >= limit then delay = lock
      elseif failures > free then delay = math.min(base * 2 ^ (failures - free - 1), lock) end
      redis.call('HSET', key, 'until', string.format('%d', now + delay))
      redis.call('PEXPIRE', key, string.format('%d', delay + forget))
      out[#out + 1] = 1; out[#out + 1] = failures; out[#out + 1] = delay
    end
  end
end
return out`;
const SCRIPT_SHA = createHash('sha1').update(SCRIPT).digest('hex');

export interface Hits { windows: Array<[count: number, msLeft: number]>; account: AccountHit | null }

/**
 * One round trip: EVALSHA, or EVAL once when this Redis has not seen the script yet. With
 * `stopAtFirstOver`, counters after the first one over its limit are left alone (0, 0).
 */
export async function hitInRedis(
  redis: Redis, counters: Counted[], account: AccountGuard | null = null, opts: { stopAtFirstOver?: boolean } = {},
): Promise<Hits> {
  const keys = [...counters.map((c) => c.key), ...(account ? [account.key] : [])];
  const args = [
    String(counters.length), opts.stopAtFirstOver ? '1' : '0',
    ...counters.map((c) => String(c.windowMs)), ...counters.map((c) => String(c.limit)),
    ...(account ? [account.limit, account.free, account.baseMs, account.lockMs, account.forgetMs].map(String) : []),
  ];
  let flat: number[];
  try {
    flat = (await redis.evalsha(SCRIPT_SHA, keys.length, ...keys, ...args)) as number[];
  } catch (err) {
    if (!/NOSCRIPT/.test(String((err as Error)?.message))) throw err;
    flat = (await redis.eval(SCRIPT, keys.length, ...keys, ...args)) as number[];
  }
  const windows = counters.map((_, i): [number, number] => [Number(flat[2 * i]), Number(flat[2 * i + 1])]);
  if (!account) return { windows, account: null };
  const [state, failures, ms] = flat.slice(2 * counters.length).map(Number);
  return {
    windows,
    account: state === 2 ? { refused: true, msLeft: ms } : state === 1 ? { refused: false, failures, delayMs: ms } : null,
  };
}

const WHEN_REDIS_IS_DOWN: Record<PolicyName, 'fail_open' | 'local' | 'fail_closed'> = {
  api: 'fail_open', login: 'local', 'otp-verify': 'fail_closed', own: 'fail_open',
};

/**
 * A sign-in attempt that passed the limits. It already counts as the account's `failures`-th
 * consecutive failure, which makes the account wait `delaySeconds` (`locked` at the limit);
 * `succeeded()` takes that back and starts the account over.
 */
export interface SignInAttempt {
  failures: number;
  delaySeconds: number;
  locked: boolean;
  succeeded(): Promise<void>;
}

export interface RateLimiter {
  /**
   * Counts one request of route `path` (a template, e.g. /api/v1/patients/:id) against its policy;
   * throws 429 when over a limit, 503 for a fail-closed policy without Redis. For a sign-in that
   * names an account, returns the attempt, to be marked `succeeded()` when it signs in.
   */
  enforce(ctx: Context & { state: ApiState }, path: string, who: Omit<Who, 'ip'>): Promise<SignInAttempt | null>;
}

function outcomeCounter(registry: Registry): Counter<'policy' | 'outcome'> {
  const name = 'rate_limit_events_total';
  return (registry.getSingleMetric(name) as Counter<'policy' | 'outcome'> | undefined) ?? new Counter({
    name, help: 'Requests refused by a rate limit (limited), or counted without Redis (fail_open, local, fail_closed)',
    labelNames: ['policy', 'outcome'] as const, registers: [registry],
  });
}

/** Opaque, stable name of a sign-in identifier (email or phone) in Redis keys, as OTP verification and login both see it. */
export function signInAccount(config: Pick<Config, 'JWT_SECRET'>): (identifier: string) => string {
  const key = deriveKey(config.JWT_SECRET, 'rate-limit-account-v1');
  return (identifier) => identifierDigest(key, normalizeIdentifier(identifier.trim())).slice(0, 32);
}

export function createRateLimiter(deps: Pick<ApiDeps, 'config' | 'redis' | 'metrics'>): RateLimiter {
  const { config, redis } = deps;
  const localWindows = new LocalWindows();
  const localFailures = new LocalFailures();
  const events = outcomeCounter(deps.metrics.registry);
  const accountName = signInAccount(config);
  let lastWarning = 0;

  /** The account a sign-in names; read before validation, so anything odd is skipped (the handler refuses it). */
  const accountOf = (ctx: Context, route: SignInRoute | undefined): string | null => {
    const body = (ctx.request as { body?: Record<string, unknown> }).body;
    const value = route?.identifierField ? body?.[route.identifierField] : route?.mfaTokenField ? body?.[route.mfaTokenField] : undefined;
    if (typeof value !== 'string' || !value.trim()) return null;
    if (route?.identifierField) return value.length > 320 ? null : accountName(value);
    if (value.length > 2048) return null;
    try {
      // Verified, so a forged token cannot spend another user's second-factor budget.
      return `mfa:${verifyMfaToken(tokenSettings(deps), value).userId}`;
    } catch {
      return null;
    }
  };

  const warn = (ctx: Context & { state: ApiState }, err: unknown, policy: PolicyName, outcome: string) => {
    if (Date.now() - lastWarning < 10_000) return;
    lastWarning = Date.now();
    ctx.state.log.warn({ err: (err as Error).message, policy, outcome }, 'rate limiter cannot reach Redis');
  };

  const attempt = (ctx: Context & { state: ApiState }, guard: AccountGuard, hit: { failures: number; delayMs: number }, local: boolean): SignInAttempt => ({
    failures: hit.failures,
    delaySeconds: Math.ceil(hit.delayMs / 1000),
    locked: hit.failures >= guard.limit,
    async succeeded() {
      localFailures.reset(guard.key);
      if (local) return;
      // Best effort: if Redis went away since, the account keeps one failure too many until it is forgotten.
      await redis.del(guard.key).catch((err: Error) => warn(ctx, err, 'login', 'reset_failed'));
    },
  });

  return {
    async enforce(ctx, path, who) {
      if (!config.RATE_LIMIT_ENABLED) return null;
      const route = SIGN_IN_ROUTES[`${ctx.method} ${path}`];
      const policy: PolicyName = route?.policy ?? 'api';
      const counters = countersFor(config, policy, { ...who, ip: ctx.ip });
      const guard = accountGuardFor(config, policy, accountOf(ctx, route));
      if (!counters.length && !guard) return null;
      let hits: Hits;
      let local = false;
      try {
        // Not connected: answer at once instead of waiting for a command timeout on every request.
        if (redis.status !== 'ready') throw new Error(`redis ${redis.status}`);
        hits = await hitInRedis(redis, counters, guard);
      } catch (err) {
        const outcome = WHEN_REDIS_IS_DOWN[policy];
        events.inc({ policy, outcome });
        warn(ctx, err, policy, outcome);
        if (outcome === 'fail_open') return null;
        if (outcome === 'fail_closed') throw problems.unavailable('Sign-in with a one-time code is unavailable right now; retry shortly or sign in with your password');
        local = true;
        const windows = counters.map((c) => localWindows.hit(c.key, c.windowMs));
        const over = windows.some(([count], i) => count > counters[i].limit);
        hits = { windows, account: guard && !over ? localFailures.attempt(guard) : null };
      }
      const decision = decide(counters, hits.windows, hits.account);
      if (!decision.allowed) {
        events.inc({ policy, outcome: 'limited' });
        throw rateLimited(decision);
      }
      return guard && hits.account && !hits.account.refused ? attempt(ctx, guard, hits.account, local) : null;
    },
  };
}
