import { corsPolicies } from '../../api/http/cors';
import { jsonDepthExceeds } from '../../api/http/json-depth';
import {
  accountGuardFor, attemptOn, countersFor, decide, delayAfter, ipBucket, LocalFailures, LocalWindows, policyOf, rateLimited, signInAccount, SIGN_IN_ROUTES,
} from '../../api/http/rate-limit';
import { apiRoutes } from '../../api/routes';
import { loadConfig } from '../../shared/config';

const config = loadConfig({
  JWT_SECRET: 'x'.repeat(40), PHI_ENCRYPTION_KEYS: `v1:${Buffer.alloc(32, 7).toString('base64')}`, BLIND_INDEX_KEY: Buffer.alloc(32, 8).toString('base64'),
});

describe('rate limit policies', () => {
  it('sign-in routes are stricter and exist; everything else is the general policy', () => {
    const routes = new Set(apiRoutes.map((r) => `${r.method.toUpperCase()} ${r.path}`));
    expect(Object.keys(SIGN_IN_ROUTES).filter((k) => !routes.has(k))).toEqual([]);
    expect(policyOf('post', '/api/v1/auth/login')).toBe('login');
    expect(policyOf('POST', '/api/v1/auth/mfa/verify')).toBe('login');
    expect(policyOf('POST', '/api/v1/auth/otp/verify')).toBe('otp-verify');
    expect(policyOf('POST', '/api/v1/auth/otp/request')).toBe('own');
    expect(policyOf('GET', '/api/v1/auth/login')).toBe('api');
    expect(policyOf('GET', '/api/v1/patients/:id')).toBe('api');
    expect(config.RATE_LIMIT_LOGIN_PER_IP * 60 / config.RATE_LIMIT_LOGIN_WINDOW_SECONDS)
      .toBeLessThan(config.RATE_LIMIT_PER_IP * 60 / config.RATE_LIMIT_WINDOW_SECONDS / 100);
  });

  it('counts an API request per IP, user and clinic, in the general window', () => {
    const counters = countersFor(config, 'api', { ip: '10.1.2.3', userId: 'u1', clinicId: 'c1' });
    expect(counters).toEqual([
      { scope: 'ip', key: 'rl:api:ip:10.1.2.3', limit: 3000, windowMs: 60_000 },
      { scope: 'user', key: 'rl:api:user:u1', limit: 1200, windowMs: 60_000 },
      { scope: 'clinic', key: 'rl:api:clinic:c1', limit: 30000, windowMs: 60_000 },
    ]);
    expect(countersFor(config, 'api', { ip: '10.1.2.3' }).map((c) => c.scope)).toEqual(['ip']);
  });

  it('counts every sign-in attempt per IP in the sign-in window, login and OTP verification alike', () => {
    const login = countersFor(config, 'login', { ip: '10.1.2.3', userId: 'ignored' });
    expect(login).toEqual([{ scope: 'ip', key: 'rl:signin:ip:10.1.2.3', limit: 100, windowMs: 900_000 }]);
    expect(countersFor(config, 'otp-verify', { ip: '10.1.2.3' })).toEqual(login);
    expect(countersFor(config, 'own', { ip: '10.1.2.3' })).toEqual([]);
  });

  it('keeps a failure record per account for sign-in only, shared by login and OTP verification', () => {
    const guard = accountGuardFor(config, 'login', 'digest');
    expect(guard).toEqual({ key: 'rl:signin:fail:digest', limit: 10, free: 3, baseMs: 2000, lockMs: 900_000, forgetMs: 900_000 });
    expect(accountGuardFor(config, 'otp-verify', 'digest')).toEqual(guard);
    expect(accountGuardFor(config, 'login', null)).toBeNull();
    expect(accountGuardFor(config, 'api', 'digest')).toBeNull();
    const account = signInAccount(config);
    expect(account(' Someone@Example.COM ')).toBe(account('someone@example.com'));
    expect(account('someone@example.com')).not.toContain('someone');
  });

  it('groups IPv6 clients by /64 and unwraps IPv4-mapped addresses', () => {
    expect(ipBucket('2001:db8:0:1:aaaa::1')).toBe('2001:db8:0:1::/64');
    expect(ipBucket('2001:0db8:0000:0001:ffff:ffff:ffff:ffff')).toBe('2001:db8:0:1::/64');
    expect(ipBucket('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(ipBucket('::1')).toBe('0:0:0:0::/64');
    expect(ipBucket('::ffff:192.0.2.7')).toBe('192.0.2.7');
    expect(ipBucket('192.0.2.7')).toBe('192.0.2.7');
  });

  it('refuses when any counter is over, with the longest wait among those over', () => {
    const counters = countersFor(config, 'api', { ip: 'i', userId: 'u', clinicId: 'c' });
    expect(decide(counters, [[3000, 10], [1200, 10], [30000, 10]])).toEqual({ allowed: true });
    expect(decide(counters, [[3001, 30_000], [1201, 45_500], [1, 59_000]])).toEqual({ allowed: false, scope: 'user', retryAfterSeconds: 46 });
    expect(decide(counters, [[1, 1], [1, 1], [30001, 0]])).toEqual({ allowed: false, scope: 'clinic', retryAfterSeconds: 60 });
  });
});

describe('consecutive failed sign-ins per account (NIST 800-63B: backoff, then a lock)', () => {
  const limits = { ...config, RATE_LIMIT_LOGIN_PER_IDENTIFIER: 10, RATE_LIMIT_LOGIN_BACKOFF_AFTER: 3, RATE_LIMIT_LOGIN_BACKOFF_BASE_SECONDS: 2, RATE_LIMIT_LOGIN_WINDOW_SECONDS: 900 };

  it('is free for the first failures, then doubles the wait, capped, and locks at the limit', () => {
    const schedule = (l: typeof limits, upTo = 10) => Array.from({ length: upTo }, (_, i) => delayAfter(i + 1, accountGuardFor(l, 'login', 'a')!));
    expect(schedule(limits, 12)).toEqual([0, 0, 0, 2000, 4000, 8000, 16_000, 32_000, 64_000, 900_000, 900_000, 900_000]);
    // The doubling never outgrows the lock.
    expect(schedule({ ...limits, RATE_LIMIT_LOGIN_BACKOFF_AFTER: 0, RATE_LIMIT_LOGIN_BACKOFF_BASE_SECONDS: 300 }))
      .toEqual([300_000, 600_000, 900_000, 900_000, 900_000, 900_000, 900_000, 900_000, 900_000, 900_000]);
    expect(delayAfter(5000, accountGuardFor({ ...limits, RATE_LIMIT_LOGIN_PER_IDENTIFIER: 1_000_000 }, 'login', 'a')!)).toBe(900_000);
    // No backoff at all: only the lock.
    expect(schedule({ ...limits, RATE_LIMIT_LOGIN_PER_IDENTIFIER: 3, RATE_LIMIT_LOGIN_BACKOFF_AFTER: 5 }, 4)).toEqual([0, 0, 900_000, 900_000]);
  });

  it('refuses while the account waits, without counting or extending the wait; counts again after it', () => {
    const guard = accountGuardFor(limits, 'login', 'a')!;
    const failures = new LocalFailures();
    for (let n = 1; n <= 3; n++) expect(failures.attempt(guard, 0)).toEqual({ refused: false, failures: n, delayMs: 0 });
    expect(failures.attempt(guard, 0)).toEqual({ refused: false, failures: 4, delayMs: 2000 });
    expect(failures.attempt(guard, 1500)).toEqual({ refused: true, msLeft: 500 });
    expect(failures.attempt(guard, 1999)).toEqual({ refused: true, msLeft: 1 });
    expect(failures.attempt(guard, 2000)).toEqual({ refused: false, failures: 5, delayMs: 4000 });
    expect(failures.attempt(guard, 6000)).toEqual({ refused: false, failures: 6, delayMs: 8000 });
  });

  it('locks at the limit, holds the lock after it for every further failure, and starts over after a success', () => {
    const guard = accountGuardFor({ ...limits, RATE_LIMIT_LOGIN_PER_IDENTIFIER: 3, RATE_LIMIT_LOGIN_BACKOFF_AFTER: 3 }, 'login', 'a')!;
    const failures = new LocalFailures();
    failures.attempt(guard, 0);
    failures.attempt(guard, 0);
    expect(failures.attempt(guard, 0)).toEqual({ refused: false, failures: 3, delayMs: 900_000 });
    expect(failures.attempt(guard, 899_999)).toEqual({ refused: true, msLeft: 1 });
    expect(failures.attempt(guard, 900_000)).toEqual({ refused: false, failures: 4, delayMs: 900_000 });
    failures.reset(guard.key);
    expect(failures.attempt(guard, 900_001)).toEqual({ refused: false, failures: 1, delayMs: 0 });
  });

  it('forgets failures once the record has outlived its wait by the window', () => {
    const guard = accountGuardFor(limits, 'login', 'a')!;
    const first = attemptOn(undefined, guard, 0);
    expect(first.record).toEqual({ failures: 1, until: 0, expiresAt: 900_000 });
    expect(attemptOn(first.record, guard, 899_999).hit).toEqual({ refused: false, failures: 2, delayMs: 0 });
    expect(attemptOn(first.record, guard, 900_000).hit).toEqual({ refused: false, failures: 1, delayMs: 0 });
  });

  it('refuses a waiting account with its own detail and the wait as Retry-After', () => {
    const counters = countersFor(limits, 'login', { ip: 'i' });
    expect(decide(counters, [[1, 900_000]], { refused: true, msLeft: 1200 })).toEqual({ allowed: false, scope: 'account', retryAfterSeconds: 2 });
    expect(decide(counters, [[1, 900_000]], { refused: false, failures: 9, delayMs: 64_000 })).toEqual({ allowed: true });
    expect(decide(counters, [[101, 30_000]], { refused: true, msLeft: 5000 })).toEqual({ allowed: false, scope: 'ip', retryAfterSeconds: 30 });
    const problem = rateLimited({ scope: 'account', retryAfterSeconds: 64 });
    expect(problem.status).toBe(429);
    expect(problem.detail).toBe('Too many failed attempts to sign in to this account; retry in 64 s');
    expect(problem.headers).toEqual({ 'Retry-After': '64' });
  });
});

describe('per-process windows (sign-in without Redis)', () => {
  it('counts within a window and starts over after it', () => {
    const w = new LocalWindows();
    expect(w.hit('k', 1000, 0)).toEqual([1, 1000]);
    expect(w.hit('k', 1000, 400)).toEqual([2, 600]);
    expect(w.hit('other', 1000, 400)).toEqual([1, 1000]);
    expect(w.hit('k', 1000, 1000)).toEqual([1, 1000]);
  });

  it('stays bounded, dropping the oldest windows first', () => {
    const w = new LocalWindows(3);
    for (const k of ['a', 'b', 'c', 'd']) w.hit(k, 1000, 0);
    expect(w.size).toBe(3);
    expect(w.hit('a', 1000, 1)[0]).toBe(1);
    expect(w.hit('d', 1000, 1)[0]).toBe(2);
  });
});

describe('CORS policies', () => {
  const policyFor = corsPolicies({ CORS_ORIGINS: ['https://app.example.com', 'HTTPS://Admin.Example.com:443'], TEMPORAL_UI_URL: 'http://127.0.0.1:8233/namespaces' });

  it('allows exactly the configured origins on the API, normalised as browsers send them', () => {
    const api = policyFor('/api/v1/patients');
    expect([...api.origins]).toEqual(['https://app.example.com', 'https://admin.example.com']);
    expect(api.credentials).toBe(false);
    expect(api.allowHeaders.split(', ')).toEqual(['Authorization', 'Content-Type', 'X-Clinic-ID', 'Idempotency-Key', 'X-Request-ID']);
    expect(api.exposeHeaders).toContain('Retry-After');
    expect(api.origins.has('https://app.example.com.evil.net')).toBe(false);
  });

  it('allows only the Temporal UI on the codec, with credentials', () => {
    const codec = policyFor('/codec/decode');
    expect([...codec.origins]).toEqual(['http://127.0.0.1:8233']);
    expect(codec.credentials).toBe(true);
    expect(codec.allowHeaders).toContain('X-Namespace');
    expect(policyFor('/api/v1/patients').origins.has('http://127.0.0.1:8233')).toBe(false);
  });

  it('refuses a CORS_ORIGINS entry that is not an origin, naming the variable', () => {
    const base = { JWT_SECRET: 'x'.repeat(40), PHI_ENCRYPTION_KEYS: `v1:${Buffer.alloc(32, 7).toString('base64')}`, BLIND_INDEX_KEY: Buffer.alloc(32, 8).toString('base64') };
    expect(() => loadConfig({ ...base, CORS_ORIGINS: 'https://ok.example, https://bad.example/path' })).toThrow(/CORS_ORIGINS: .*origins/);
    expect(() => loadConfig({ ...base, CORS_ORIGINS: '*' })).toThrow(/CORS_ORIGINS/);
    expect(loadConfig({ ...base, CORS_ORIGINS: ' https://a.example , http://localhost:5173 ,' }).CORS_ORIGINS).toEqual(['https://a.example', 'http://localhost:5173']);
  });
});

describe('JSON depth', () => {
  const nest = (depth: number): unknown => {
    let v: unknown = 'leaf';
    for (let i = 0; i < depth; i++) v = i % 2 ? { k: v } : [v];
    return v;
  };

  it('counts objects and arrays, not scalars', () => {
    expect(jsonDepthExceeds('text', 0)).toBe(false);
    expect(jsonDepthExceeds({}, 0)).toBe(true);
    expect(jsonDepthExceeds({}, 1)).toBe(false);
    expect(jsonDepthExceeds({ a: [1, { b: null }] }, 3)).toBe(false);
    expect(jsonDepthExceeds({ a: [1, { b: {} }] }, 3)).toBe(true);
  });

  it('accepts 20 levels, refuses 21, and survives very deep input without recursion', () => {
    expect(jsonDepthExceeds(nest(20), 20)).toBe(false);
    expect(jsonDepthExceeds(nest(21), 20)).toBe(true);
    expect(jsonDepthExceeds(nest(200_000), 20)).toBe(true);
    // A wide body is not a deep one.
    expect(jsonDepthExceeds({ items: Array.from({ length: 10_000 }, (_, i) => ({ i })) }, 20)).toBe(false);
  });
});
