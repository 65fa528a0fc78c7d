import { randomInt, randomUUID } from 'node:crypto';
import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ApiDeps } from '../../api/http/state';
import { Cache } from '../../shared/cache';
import { loadConfig } from '../../shared/config';
import { createRedis, type Redis } from '../../shared/redis';
import { adminToken, ClinicFixture, createClinic } from '../support/fixtures';
import { Api, client } from '../support/http';
import { Stack, startStack, testApp } from '../support/stack';
import { tcpProxy } from '../support/tcp-proxy';

/**
 * Rate limits and HTTP hardening on the real stack (SPEC §3, §8). The shared stack has the test
 * run's generous limits (global setup) and arranges data; the limits under test run in a second
 * API process built the same way (createApp) over the same PostgreSQL, Redis and Temporal, with
 * small limits. Every request names its own client address (X-Forwarded-For as a proxy sets it;
 * the API trusts one proxy), so counters of one test never touch another's, or another test file's.
 */
const LIMITS = {
  RATE_LIMIT_WINDOW_SECONDS: '60',
  RATE_LIMIT_PER_IP: '30',
  RATE_LIMIT_PER_USER: '8',
  RATE_LIMIT_PER_CLINIC: '15',
  RATE_LIMIT_LOGIN_WINDOW_SECONDS: '900',
  RATE_LIMIT_LOGIN_PER_IP: '5',
  RATE_LIMIT_LOGIN_PER_IDENTIFIER: '3',
  CORS_ORIGINS: 'https://app.clinic.test,http://localhost:5173',
};

let stack: Stack;
let api: Api;
let su: string;

interface Running { api: Api; deps: ApiDeps; close(): Promise<void> }

/** Another API process over the stack's services, with `env` on top of the run's configuration. */
async function startApi(env: Record<string, string>, redis?: Redis): Promise<Running> {
  const config = loadConfig({ ...process.env, ...env });
  const r = redis ?? stack.deps.redis;
  const deps: ApiDeps = { ...stack.deps, dataSource: stack.appDataSource, config, redis: r, cache: new Cache(r, stack.deps.log, stack.deps.metrics) };
  const server: Server = createServer(testApp(stack, deps).callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    api: client(`http://127.0.0.1:${(server.address() as AddressInfo).port}`),
    deps,
    close: async () => {
      await new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections(); });
      await deps.cache.close().catch(() => undefined);
    },
  };
}

const newIp = () => `10.${randomInt(256)}.${randomInt(256)}.${randomInt(1, 255)}`;
const from = (ip: string, extra: Record<string, string> = {}) => ({ 'x-forwarded-for': ip, ...extra });

/** The counters the arranging requests (through the shared stack) left for these users and clinic. */
async function resetCounters(c: ClinicFixture) {
  await stack.deps.redis.del(`rl:api:clinic:${c.clinicId}`, ...Object.values(c.userIds).map((id) => `rl:api:user:${id}`));
}

function expectLimited(res: { status: number; body: any; headers: Headers }, scopeText: RegExp) {
  expect(res.status).toBe(429);
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(res.body).toMatchObject({ type: expect.stringMatching(/\/rate-limited$/), status: 429, title: 'Too many requests' });
  expect(res.body.detail).toMatch(scopeText);
  const retryAfter = Number(res.headers.get('retry-after'));
  expect(Number.isInteger(retryAfter)).toBe(true);
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  return retryAfter;
}

beforeAll(async () => {
  stack = await startStack();
  api = client(stack.baseUrl);
  su = await adminToken(api);
});
afterAll(async () => {
  await stack?.stop();
});

describe('general limits (Redis up)', () => {
  let limited: Running;
  let c: ClinicFixture;

  beforeAll(async () => {
    limited = await startApi(LIMITS);
    c = await createClinic(api, su, ['CLINIC_ADMIN', 'RECEPTIONIST', 'DOCTOR']);
  });
  afterAll(() => limited?.close());
  beforeEach(() => resetCounters(c));

  it('limits each user: the ninth request in the window is 429 with Retry-After; another user goes on', async () => {
    // A new address per request: only the user's counter can trip.
    for (let i = 0; i < 8; i++) expect((await limited.api.get('/api/v1/services', c.tokens.RECEPTIONIST, from(newIp(), c.h))).status).toBe(200);
    const res = await limited.api.get('/api/v1/services', c.tokens.RECEPTIONIST, from(newIp(), c.h));
    const retryAfter = expectLimited(res, /by your account/);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect((await limited.api.get('/api/v1/services', c.tokens.DOCTOR, from(newIp(), c.h))).status).toBe(200);
  });

  it('limits each clinic across its users, and only that clinic', async () => {
    const other = await createClinic(api, su, ['CLINIC_ADMIN']);
    await resetCounters(other);
    const users = ['CLINIC_ADMIN', 'RECEPTIONIST', 'DOCTOR'];
    for (let i = 0; i < 15; i++) {
      expect((await limited.api.get('/api/v1/locations', c.tokens[users[i % 3]], from(newIp(), c.h))).status).toBe(200);
    }
    expectLimited(await limited.api.get('/api/v1/locations', c.tokens.DOCTOR, from(newIp(), c.h)), /for this clinic/);
    expect((await limited.api.get('/api/v1/locations', other.tokens.CLINIC_ADMIN, from(newIp(), other.h))).status).toBe(200);
  });

  it('limits each address, counting requests refused for a bad token too', async () => {
    const ip = newIp();
    for (let i = 0; i < 30; i++) expect((await limited.api.get('/api/v1/auth/me', 'not-a-token', from(ip))).status).toBe(401);
    expectLimited(await limited.api.get('/api/v1/auth/me', 'not-a-token', from(ip)), /from your address/);
    // A valid user from that address is refused as well; from elsewhere they are served.
    expectLimited(await limited.api.get('/api/v1/auth/me', c.tokens.CLINIC_ADMIN, from(ip)), /from your address/);
    expect((await limited.api.get('/api/v1/auth/me', c.tokens.CLINIC_ADMIN, from(newIp()))).status).toBe(200);
  });

  it('counts the address the proxy saw, whatever the client wrote into X-Forwarded-For', async () => {
    const ip = newIp();
    for (let i = 0; i < 30; i++) expect((await limited.api.get('/api/v1/auth/me', undefined, from(`${newIp()}, ${ip}`))).status).toBe(401);
    expectLimited(await limited.api.get('/api/v1/auth/me', undefined, from(`${newIp()}, ${ip}`)), /from your address/);
  });

  it('limits the operations routes by address too, but never the liveness probes', async () => {
    const ip = newIp();
    for (let i = 0; i < 30; i++) expect((await limited.api.get('/openapi.json', undefined, from(ip))).status).toBe(200);
    expectLimited(await limited.api.get('/metrics', undefined, from(ip)), /from your address/);
    for (let i = 0; i < 5; i++) expect((await limited.api.get('/health', undefined, from(ip))).status).toBe(200);
  });

  it('lets a browser frontend read a 429 and its Retry-After (CORS on refusals)', async () => {
    for (let i = 0; i < 8; i++) await limited.api.get('/api/v1/services', c.tokens.CLINIC_ADMIN, from(newIp(), c.h));
    const res = await limited.api.get('/api/v1/services', c.tokens.CLINIC_ADMIN, from(newIp(), { ...c.h, origin: 'https://app.clinic.test' }));
    expectLimited(res, /by your account/);
    expect(res.headers.get('access-control-allow-origin')).toBe('https://app.clinic.test');
    expect(res.headers.get('access-control-expose-headers')).toMatch(/Retry-After/);
  });

  it('costs one Redis script call per request', async () => {
    const calls: string[] = [];
    const counting = new Proxy(stack.deps.redis, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver);
        if ((prop === 'evalsha' || prop === 'eval') && typeof value === 'function') {
          return (...args: unknown[]) => { calls.push(String(prop)); return value.apply(target, args); };
        }
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const counted = await startApi(LIMITS, counting as Redis);
    try {
      await counted.api.get('/api/v1/services', c.tokens.DOCTOR, from(newIp(), c.h));
      calls.length = 0;
      expect((await counted.api.get('/api/v1/services', c.tokens.DOCTOR, from(newIp(), c.h))).status).toBe(200);
      expect(calls).toEqual(['evalsha']);
      // A Redis that lost its scripts (restart, failover) gets the source once, and counting goes on.
      await stack.deps.redis.script('FLUSH');
      calls.length = 0;
      expect((await counted.api.get('/api/v1/services', c.tokens.DOCTOR, from(newIp(), c.h))).status).toBe(200);
      expect(calls).toEqual(['evalsha', 'eval']);
      expect(Number(await stack.deps.redis.get(`rl:api:user:${c.userIds.DOCTOR}`))).toBe(3);
    } finally {
      await counted.close();
    }
  });
});

describe('sign-in limits (Redis up)', () => {
  let limited: Running;
  let c: ClinicFixture;

  beforeAll(async () => {
    limited = await startApi(LIMITS);
    c = await createClinic(api, su, ['CLINIC_ADMIN']);
  });
  afterAll(() => limited?.close());

  async function newUser() {
    const email = `rl-${randomUUID().slice(0, 8)}@rl.test`;
    const password = `pw-${randomUUID()}`;
    expect((await api.post('/api/v1/users', { email, name: 'Limited', role: 'RECEPTIONIST', password }, su, c.h)).status).toBe(201);
    return { email, password };
  }
  const signIn = (via: Api, email: string, password: string, ip: string) => via.post('/api/v1/auth/login', { email, password }, undefined, from(ip));

  it('allows 3 tries per account in the window, from any address, the right password included after that', async () => {
    const user = await newUser();
    for (let i = 0; i < 3; i++) expect((await signIn(limited.api, user.email, 'wrong-password', newIp())).status).toBe(401);
    expectLimited(await signIn(limited.api, user.email, user.password, newIp()), /to sign in to this account/);
    // The account is named case-insensitively, as sign-in matches it.
    expectLimited(await signIn(limited.api, user.email.toUpperCase(), user.password, newIp()), /to sign in to this account/);
  });

  it('allows 5 sign-in attempts per address across accounts, login and one-time codes together', async () => {
    const ip = newIp();
    for (let i = 0; i < 4; i++) expect((await signIn(limited.api, `nobody-${i}-${randomUUID()}@rl.test`, 'x', ip)).status).toBe(401);
    expect((await limited.api.post('/api/v1/auth/otp/verify', { identifier: `n-${randomUUID()}@rl.test`, code: '123456' }, undefined, from(ip))).status).toBe(401);
    const user = await newUser();
    expectLimited(await signIn(limited.api, user.email, user.password, ip), /from your address/);
    expectLimited(await limited.api.post('/api/v1/auth/mfa/verify', { mfaToken: 'x', code: '123456' }, undefined, from(ip)), /from your address/);
    expect((await signIn(limited.api, user.email, user.password, newIp())).status).toBe(200);
  });

  it('is far stricter than the general limit: the same address still reaches the rest of the API', async () => {
    const ip = newIp();
    for (let i = 0; i < 5; i++) expect((await signIn(limited.api, `x-${i}-${randomUUID()}@rl.test`, 'x', ip)).status).toBe(401);
    expectLimited(await signIn(limited.api, `y-${randomUUID()}@rl.test`, 'x', ip), /from your address/);
    for (let i = 0; i < 10; i++) expect((await limited.api.get('/api/v1/auth/me', undefined, from(ip))).status).toBe(401);
  });
});

describe('without Redis', () => {
  let dead: Redis;
  let down: Running;
  let c: ClinicFixture;

  beforeAll(async () => {
    dead = createRedis('redis://127.0.0.1:1/0');
    dead.on('error', () => undefined);
    down = await startApi(LIMITS, dead);
    c = await createClinic(api, su, ['CLINIC_ADMIN', 'RECEPTIONIST']);
  });
  afterAll(async () => {
    await down?.close();
    dead?.disconnect();
  });

  it('general limits fail open: the API keeps serving past every limit', async () => {
    const ip = newIp();
    for (let i = 0; i < 40; i++) {
      const res = await down.api.get('/api/v1/locations', c.tokens.RECEPTIONIST, from(ip, c.h));
      expect([i, res.status]).toEqual([i, 200]);
    }
    const metrics = await stack.deps.metrics.registry.getSingleMetricAsString('rate_limit_events_total');
    expect(metrics).toMatch(/rate_limit_events_total\{policy="api",outcome="fail_open"\} [1-9]/);
  });

  it('password sign-in keeps working, limited per process instead', async () => {
    const email = `rl-down-${randomUUID().slice(0, 8)}@rl.test`;
    const password = `pw-${randomUUID()}`;
    expect((await api.post('/api/v1/users', { email, name: 'Down', role: 'RECEPTIONIST', password }, su, c.h)).status).toBe(201);
    expect((await down.api.post('/api/v1/auth/login', { email, password }, undefined, from(newIp()))).status).toBe(200);
    for (let i = 0; i < 2; i++) expect((await down.api.post('/api/v1/auth/login', { email, password: 'wrong' }, undefined, from(newIp()))).status).toBe(401);
    expectLimited(await down.api.post('/api/v1/auth/login', { email, password }, undefined, from(newIp())), /to sign in to this account/);
  });

  it('one-time codes fail closed: 503 with Retry-After', async () => {
    const res = await down.api.post('/api/v1/auth/otp/verify', { identifier: `x-${randomUUID()}@rl.test`, code: '123456' }, undefined, from(newIp()));
    expect(res.status).toBe(503);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await down.api.post('/api/v1/auth/otp/request', { identifier: `x-${randomUUID()}@rl.test`, channel: 'email' }, undefined, from(newIp()))).status).toBe(503);
  });

  it('limits apply again once Redis is back', async () => {
    const proxy = await tcpProxy(6379);
    const db = new URL(process.env.REDIS_URL!).pathname || '/0';
    const redis = createRedis(`redis://127.0.0.1:${proxy.port}${db}`);
    redis.on('error', () => undefined);
    const flaky = await startApi(LIMITS, redis);
    try {
      await new Promise((r) => setTimeout(r, 200));
      await resetCounters(c);
      await proxy.cut();
      for (let i = 0; i < 10; i++) expect((await flaky.api.get('/api/v1/services', c.tokens.CLINIC_ADMIN, from(newIp(), c.h))).status).toBe(200);
      await proxy.restore();
      const deadline = Date.now() + 10_000;
      while (redis.status !== 'ready' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(redis.status).toBe('ready');
      const statuses: number[] = [];
      for (let i = 0; i < 9; i++) statuses.push((await flaky.api.get('/api/v1/services', c.tokens.CLINIC_ADMIN, from(newIp(), c.h))).status);
      expect(statuses).toEqual([200, 200, 200, 200, 200, 200, 200, 200, 429]);
    } finally {
      await flaky.close();
      redis.disconnect();
      await proxy.cut();
    }
  });
});

describe('CORS, body limits and security headers', () => {
  let app: Running;
  let c: ClinicFixture;

  beforeAll(async () => {
    // Room for every request of these tests: the limits are not what is tested here.
    app = await startApi({ ...LIMITS, RATE_LIMIT_PER_USER: '10000', RATE_LIMIT_PER_CLINIC: '10000' });
    c = await createClinic(api, su, ['CLINIC_ADMIN', 'RECEPTIONIST']);
  });
  afterAll(() => app?.close());

  it('answers a configured origin\'s preflight with the API\'s headers, without credentials', async () => {
    const res = await app.api.call('OPTIONS', '/api/v1/patients', { headers: from(newIp(), {
      origin: 'http://localhost:5173', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type,x-clinic-id,idempotency-key',
    }) });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('http://localhost:5173');
    expect(res.headers.get('access-control-allow-credentials')).toBeNull();
    expect(res.headers.get('access-control-allow-headers')!.toLowerCase().split(/,\s*/))
      .toEqual(expect.arrayContaining(['authorization', 'content-type', 'x-clinic-id', 'idempotency-key']));
    expect(res.headers.get('access-control-allow-methods')).toMatch(/PATCH/);
    expect(res.headers.get('vary')).toMatch(/Origin/);
  });

  it('sends no CORS headers to other origins, look-alikes included, nor the Temporal UI outside /codec', async () => {
    for (const origin of ['https://evil.example', 'https://app.clinic.test.evil.example', 'http://app.clinic.test', 'http://127.0.0.1:8233']) {
      const pre = await app.api.call('OPTIONS', '/api/v1/patients', { headers: from(newIp(), { origin, 'access-control-request-method': 'GET' }) });
      expect([origin, pre.headers.get('access-control-allow-origin')]).toEqual([origin, null]);
      const get = await app.api.get('/api/v1/services', c.tokens.RECEPTIONIST, from(newIp(), { ...c.h, origin }));
      expect(get.status).toBe(200);
      expect([origin, get.headers.get('access-control-allow-origin')]).toEqual([origin, null]);
    }
  });

  it('lets a configured origin read answers, errors included', async () => {
    const ok = await app.api.get('/api/v1/services', c.tokens.RECEPTIONIST, from(newIp(), { ...c.h, origin: 'https://app.clinic.test' }));
    expect(ok.status).toBe(200);
    expect(ok.headers.get('access-control-allow-origin')).toBe('https://app.clinic.test');
    const denied = await app.api.get('/api/v1/audit-logs', c.tokens.RECEPTIONIST, from(newIp(), { ...c.h, origin: 'https://app.clinic.test' }));
    expect(denied.status).toBe(403);
    expect(denied.headers.get('access-control-allow-origin')).toBe('https://app.clinic.test');
  });

  it('refuses a body nested deeper than 20 levels with 400 naming body, and accepts 20', async () => {
    let deep: unknown = 'x';
    for (let i = 0; i < 21; i++) deep = { n: deep };
    const before = (await stack.deps.dataSource.query('SELECT count(*)::int AS n FROM patients WHERE clinic_id = $1', [c.clinicId]))[0].n;
    const res = await app.api.post('/api/v1/patients', { firstName: 'Deep', lastName: 'Body', dateOfBirth: '1990-01-01', sex: 'male', address: deep }, c.tokens.RECEPTIONIST, from(newIp(), c.h));
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(res.body.errors).toEqual([{ field: 'body', message: expect.stringMatching(/20 levels/) }]);
    // A hostile depth far beyond the limit is the same 400, not a crash.
    const hostile = '['.repeat(40_000) + ']'.repeat(40_000);
    const raw = await app.api.call('POST', '/api/v1/patients', { token: c.tokens.RECEPTIONIST, raw: hostile, headers: from(newIp(), c.h) });
    expect(raw.status).toBe(400);
    expect(raw.body.errors[0].field).toBe('body');
    // Exactly 20 levels passes the depth check and reaches validation (address must be a string).
    let twenty: unknown = 'x';
    for (let i = 0; i < 19; i++) twenty = { n: twenty };
    const ok = await app.api.post('/api/v1/patients', { firstName: 'Deep', lastName: 'Body', dateOfBirth: '1990-01-01', sex: 'male', address: twenty }, c.tokens.RECEPTIONIST, from(newIp(), c.h));
    expect(ok.status).toBe(400);
    expect(ok.body.errors.map((e: { field: string }) => e.field)).toEqual(['body.address']);
    expect((await stack.deps.dataSource.query('SELECT count(*)::int AS n FROM patients WHERE clinic_id = $1', [c.clinicId]))[0].n).toBe(before);
  });

  it('keeps the body size limit: 413 problem', async () => {
    const res = await app.api.post('/api/v1/patients', { firstName: 'Big', lastName: 'Body', dateOfBirth: '1990-01-01', sex: 'male', address: 'x'.repeat(200_000) }, c.tokens.RECEPTIONIST, from(newIp(), c.h));
    expect(res.status).toBe(413);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  });

  it.each([
    ['an answer', 'GET', '/api/v1/services'],
    ['a refusal', 'GET', '/api/v1/audit-logs'],
    ['an unknown route', 'GET', '/api/v1/nowhere'],
    ['a preflight', 'OPTIONS', '/api/v1/services'],
  ])('sets the security headers on %s', async (_what, method, path) => {
    // A client asking for a cacheable answer must not get one: answers carry patient data.
    const res = await app.api.call(method, path, { token: c.tokens.RECEPTIONIST, headers: from(newIp(), {
      ...c.h, origin: 'https://app.clinic.test', 'access-control-request-method': 'GET', 'cache-control': 'public, max-age=86400',
    }) });
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    expect(res.headers.get('strict-transport-security')).toMatch(/max-age=\d+/);
    expect(res.headers.get('content-security-policy')).toMatch(/default-src 'none'/);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('x-powered-by')).toBeNull();
  });

  it('never shows stack traces or SQL in a problem', async () => {
    const res = await app.api.call('POST', '/api/v1/patients', { token: c.tokens.RECEPTIONIST, raw: '{"firstName": "broken', headers: from(newIp(), c.h) });
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.body)).not.toMatch(/at .*\.ts:\d+|SELECT|INSERT|SyntaxError/);
  });
});
