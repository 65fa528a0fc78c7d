import { randomInt, randomUUID } from 'node:crypto';
import { createServer, request as httpRequest, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ApiDeps } from '../../api/http/state';
import { base32Decode, totpAt } from '../../shared/auth/totp';
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
 * the test run's API trusts one proxy, TRUST_PROXY=1), so counters of one test never touch
 * another's, or another test file's. Without a trusted proxy, a test connects from its own
 * loopback address instead.
 */
const LIMITS = {
  RATE_LIMIT_WINDOW_SECONDS: '60',
  RATE_LIMIT_PER_IP: '30',
  RATE_LIMIT_PER_USER: '8',
  RATE_LIMIT_PER_CLINIC: '15',
  RATE_LIMIT_LOGIN_WINDOW_SECONDS: '900',
  RATE_LIMIT_LOGIN_PER_IP: '5',
  RATE_LIMIT_LOGIN_PER_IDENTIFIER: '3',
  // No waits before the lock: the backoff has its own tests below.
  RATE_LIMIT_LOGIN_BACKOFF_AFTER: '3',
  CORS_ORIGINS: 'https://app.clinic.test,http://localhost:5173',
};

let stack: Stack;
let api: Api;
let su: string;

interface Running { api: Api; port: number; deps: ApiDeps; close(): Promise<void> }

/** Another API process over the stack's services, with `env` on top of the run's configuration. */
async function startApi(env: Record<string, string>, redis?: Redis): Promise<Running> {
  const config = loadConfig({ ...process.env, ...env });
  const r = redis ?? stack.deps.redis;
  const deps: ApiDeps = { ...stack.deps, dataSource: stack.appDataSource, config, redis: r, cache: new Cache(r, stack.deps.log, stack.deps.metrics) };
  const server: Server = createServer(testApp(stack, deps).callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    api: client(`http://127.0.0.1:${port}`),
    port,
    deps,
    close: async () => {
      await new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections(); });
      await deps.cache.close().catch(() => undefined);
    },
  };
}

async function newUser(c: ClinicFixture) {
  const email = `rl-${randomUUID().slice(0, 8)}@rl.test`;
  const password = `pw-${randomUUID()}`;
  const res = await api.post('/api/v1/users', { email, name: 'Limited', role: 'RECEPTIONIST', password }, su, c.h);
  expect(res.status).toBe(201);
  return { id: res.body.id as string, email, password };
}

const newIp = () => `10.${randomInt(256)}.${randomInt(256)}.${randomInt(1, 255)}`;
const from = (ip: string, extra: Record<string, string> = {}) => ({ 'x-forwarded-for': ip, ...extra });

/** The counters the arranging requests (through the shared stack) left for these users and clinic. */
async function resetCounters(c: ClinicFixture) {
  await stack.deps.redis.del(`rl:api:clinic:${c.clinicId}`, ...Object.values(c.userIds).map((id) => `rl:api:user:${id}`));
}

const auditRows = async (userId: string, action: string): Promise<Array<{ ip: string }>> =>
  stack.deps.dataSource.query(`SELECT ip FROM audit_logs WHERE actor_user_id = $1 AND action = $2 ORDER BY id`, [userId, action]);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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
      // Sign-in: the address and the account in the same call.
      calls.length = 0;
      expect((await counted.api.post('/api/v1/auth/login', { email: `nobody-${randomUUID()}@rl.test`, password: 'x' }, undefined, from(newIp()))).status).toBe(401);
      expect(calls).toEqual(['evalsha']);
      // A one-time code request: the address and the identifier in one call too.
      calls.length = 0;
      expect((await counted.api.post('/api/v1/auth/otp/request', { identifier: `nobody-${randomUUID()}@rl.test`, channel: 'email' }, undefined, from(newIp()))).status).toBe(202);
      expect(calls).toEqual(['evalsha']);
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

  const signIn = (via: Api, email: string, password: string, ip: string) => via.post('/api/v1/auth/login', { email, password }, undefined, from(ip));

  it('lets a user sign in 20 times in a row: successes never count against the account', async () => {
    const user = await newUser(c);
    for (let i = 0; i < 20; i++) expect([i, (await signIn(limited.api, user.email, user.password, newIp())).status]).toEqual([i, 200]);
  });

  it('counts consecutive failures only: a success starts over, and the limit-th failure locks the account from any address', async () => {
    const user = await newUser(c);
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 2; i++) expect((await signIn(limited.api, user.email, 'wrong-password', newIp())).status).toBe(401);
      expect((await signIn(limited.api, user.email, user.password, newIp())).status).toBe(200);
    }
    for (let i = 0; i < 3; i++) expect((await signIn(limited.api, user.email, 'wrong-password', newIp())).status).toBe(401);
    const retryAfter = expectLimited(await signIn(limited.api, user.email, user.password, newIp()), /^Too many failed attempts to sign in to this account; retry in \d+ s$/);
    expect(retryAfter).toBeGreaterThan(800);
    expect(retryAfter).toBeLessThanOrEqual(900);
    // The account is named case-insensitively, as sign-in matches it.
    expectLimited(await signIn(limited.api, user.email.toUpperCase(), user.password, newIp()), /to sign in to this account/);
    // Refused attempts are not failures: the lock is audited once, when the third failure set it.
    expect(await auditRows(user.id, 'auth.signin.locked')).toHaveLength(1);
    expect(await auditRows(user.id, 'auth.login.failed')).toHaveLength(9);
  });
  it('allows 5 sign-in attempts per address across accounts, login and one-time codes together', async () => {
    const ip = newIp();
    for (let i = 0; i < 4; i++) expect((await signIn(limited.api, `nobody-${i}-${randomUUID()}@rl.test`, 'x', ip)).status).toBe(401);
    expect((await limited.api.post('/api/v1/auth/otp/verify', { identifier: `n-${randomUUID()}@rl.test`, code: '123456' }, undefined, from(ip))).status).toBe(401);
    const user = await newUser(c);
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

describe('sign-in backoff and lock per account (Redis up)', () => {
  let c: ClinicFixture;
  const signIn = (via: Api, email: string, password: string, ip = newIp()) => via.post('/api/v1/auth/login', { email, password }, undefined, from(ip));

  beforeAll(async () => {
    c = await createClinic(api, su, ['CLINIC_ADMIN']);
  });

  it('10 wrong passwords then the right one: 429 with Retry-After, the lock audited', async () => {
    const locking = await startApi({ ...LIMITS, RATE_LIMIT_LOGIN_PER_IDENTIFIER: '10', RATE_LIMIT_LOGIN_BACKOFF_AFTER: '10' });
    try {
      const user = await newUser(c);
      for (let i = 0; i < 10; i++) expect([i, (await signIn(locking.api, user.email, 'wrong-password')).status]).toEqual([i, 401]);
      const retryAfter = expectLimited(await signIn(locking.api, user.email, user.password), /to sign in to this account/);
      expect(retryAfter).toBeGreaterThan(800);
      expect(await auditRows(user.id, 'auth.signin.locked')).toHaveLength(1);
    } finally {
      await locking.close();
    }
  });

  it('makes the account wait longer after each further failure, and counts no refused try', async () => {
    // Waits after each consecutive failure: none, 1 s, 2 s, 4 s, 8 s, then the lock.
    const backoff = await startApi({ ...LIMITS, RATE_LIMIT_LOGIN_PER_IDENTIFIER: '6', RATE_LIMIT_LOGIN_BACKOFF_AFTER: '1', RATE_LIMIT_LOGIN_BACKOFF_BASE_SECONDS: '1' });
    try {
      const user = await newUser(c);
      let lastSent = Date.now();
      /**
       * A wrong password, retried every 100 ms while refused. Returns the first refusal's Retry-After,
       * and the time from sending the previous failure to this one's answer: the server's wait
       * starts after the former was sent and ends before the latter, so it is a lower bound.
       */
      const failAfterWait = async () => {
        let firstRetryAfter: number | null = null;
        for (;;) {
          const sent = Date.now();
          const res = await signIn(backoff.api, user.email, 'wrong-password');
          if (res.status === 401) {
            const waitedMs = Date.now() - lastSent;
            lastSent = sent;
            return { firstRetryAfter, waitedMs };
          }
          firstRetryAfter ??= expectLimited(res, /^Too many failed attempts to sign in to this account; retry in \d+ s$/);
          await sleep(100);
        }
      };
      expect((await failAfterWait()).firstRetryAfter).toBeNull();
      expect((await failAfterWait()).firstRetryAfter).toBeNull();
      const waits = [await failAfterWait(), await failAfterWait(), await failAfterWait()];
      // The failures before these made the account wait 1, 2, then 4 s: refused until then, and told so.
      expect(waits.map((w, i) => w.waitedMs >= [1000, 2000, 4000][i])).toEqual([true, true, true]);
      expect(waits[0].firstRetryAfter).toBe(1);
      expect(waits[1].firstRetryAfter).toBeGreaterThanOrEqual(1);
      expect(waits[1].firstRetryAfter).toBeLessThanOrEqual(2);
      expect(waits[2].firstRetryAfter).toBeGreaterThanOrEqual(3);
      expect(waits[2].firstRetryAfter).toBeLessThanOrEqual(4);
      // Five failures now (the refused tries did not count): 8 s, even for the right password.
      const waiting = expectLimited(await signIn(backoff.api, user.email, user.password), /to sign in to this account/);
      expect(waiting).toBeGreaterThan(4);
      expect(waiting).toBeLessThanOrEqual(8);
      expect(await auditRows(user.id, 'auth.signin.delayed')).toHaveLength(4);
      expect(await auditRows(user.id, 'auth.login.failed')).toHaveLength(5);
    } finally {
      await backoff.close();
    }
  });

  it('counts second-factor failures per user: the lock holds for a correct TOTP code, and a correct one starts over', async () => {
    const user = await newUser(c);
    const enrol = await api.post('/api/v1/auth/login', { email: user.email, password: user.password });
    const { secret } = (await api.post('/api/v1/auth/mfa/totp/enroll', {}, enrol.body.accessToken)).body;
    const totp = (offset: number) => totpAt(base32Decode(secret), Date.now() + offset * 30_000);
    expect((await api.post('/api/v1/auth/mfa/totp/activate', { code: totp(-1) }, enrol.body.accessToken)).status).toBe(200);
    const wrong = ['000000', '111111', '222222'].find((x) => ![-1, 0, 1].map(totp).includes(x))!;

    const limited = await startApi(LIMITS);
    try {
      const mfaToken = async () => {
        const res = await signIn(limited.api, user.email, user.password);
        expect(res.body).toMatchObject({ mfaRequired: true });
        return res.body.mfaToken as string;
      };
      const verify = async (token: string, code: string) => limited.api.post('/api/v1/auth/mfa/verify', { mfaToken: token, code }, undefined, from(newIp()));
      // Two wrong codes, then the right one: signed in, the count starts over.
      let token = await mfaToken();
      for (let i = 0; i < 2; i++) expect((await verify(token, wrong)).status).toBe(401);
      expect((await verify(token, totp(0))).status).toBe(200);
      // Three wrong codes across fresh first factors (the password is right each time) lock the second factor.
      for (let i = 0; i < 3; i++) expect((await verify(await mfaToken(), wrong)).status).toBe(401);
      token = await mfaToken();
      expectLimited(await verify(token, totp(1)), /to sign in to this account/);
      expect(await auditRows(user.id, 'auth.signin.locked')).toHaveLength(1);
    } finally {
      await limited.close();
    }
  });
});

describe('the client address (TRUST_PROXY)', () => {
  let c: ClinicFixture;

  beforeAll(async () => {
    c = await createClinic(api, su, ['CLINIC_ADMIN']);
  });

  /** A request from `source`, a loopback address of its own, so no other test shares its per-IP counters. */
  function fromLoopback(port: number, source: string, path: string, body: unknown, headers: Record<string, string>) {
    return new Promise<{ status: number; body: any; headers: Headers }>((resolve, reject) => {
      const payload = JSON.stringify(body);
      const req = httpRequest({
        host: '127.0.0.1', port, path, method: 'POST', localAddress: source,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), ...headers },
      }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => { text += chunk; });
        res.on('end', () => {
          const h = new Headers();
          for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') h.set(k, v);
          resolve({ status: res.statusCode!, body: text ? JSON.parse(text) : undefined, headers: h });
        });
      });
      req.on('error', reject);
      req.end(payload);
    });
  }

  it('ignores X-Forwarded-For by default: spoofed addresses change neither the per-IP limit nor the audit log', async () => {
    // The default, as production without a proxy runs it (the test run's API trusts one proxy).
    const direct = await startApi({ ...LIMITS, TRUST_PROXY: '0' });
    expect(loadConfig({ JWT_SECRET: process.env.JWT_SECRET, PHI_ENCRYPTION_KEYS: process.env.PHI_ENCRYPTION_KEYS, BLIND_INDEX_KEY: process.env.BLIND_INDEX_KEY }).TRUST_PROXY).toBe(0);
    try {
      const source = `127.${randomInt(1, 255)}.${randomInt(256)}.${randomInt(1, 255)}`;
      const user = await newUser(c);
      const login = (email: string) => fromLoopback(direct.port, source, '/api/v1/auth/login', { email, password: 'wrong-password' }, { 'x-forwarded-for': newIp() });
      for (let i = 0; i < 2; i++) expect((await login(user.email)).status).toBe(401);
      for (let i = 0; i < 3; i++) expect((await login(`nobody-${randomUUID()}@rl.test`)).status).toBe(401);
      expectLimited(await login(`nobody-${randomUUID()}@rl.test`), /from your address/);
      expect((await auditRows(user.id, 'auth.login.failed')).map((r) => r.ip)).toEqual([source, source]);
    } finally {
      await direct.close();
    }
  });

  it('with TRUST_PROXY=1 takes the address the proxy appended, last in X-Forwarded-For; with 2, the one before it', async () => {
    const user = await newUser(c);
    const [spoofed, client, proxy] = [newIp(), newIp(), newIp()];
    for (const [hops, header, expected] of [['1', `${spoofed}, ${client}`, client], ['2', `${spoofed}, ${client}, ${proxy}`, client]]) {
      const behind = await startApi({ ...LIMITS, TRUST_PROXY: hops });
      try {
        expect((await behind.api.post('/api/v1/auth/login', { email: user.email, password: 'wrong-password' }, undefined, { 'x-forwarded-for': header })).status).toBe(401);
        expect((await auditRows(user.id, 'auth.login.failed')).at(-1)?.ip).toBe(expected);
      } finally {
        await behind.close();
      }
    }
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

  it('password sign-in keeps working, limited per process instead (failures only, a success starts over)', async () => {
    const { email, password } = await newUser(c);
    const login = (pw: string) => down.api.post('/api/v1/auth/login', { email, password: pw }, undefined, from(newIp()));
    for (let i = 0; i < 5; i++) expect((await login(password)).status).toBe(200);
    for (let i = 0; i < 2; i++) expect((await login('wrong')).status).toBe(401);
    expect((await login(password)).status).toBe(200);
    for (let i = 0; i < 3; i++) expect((await login('wrong')).status).toBe(401);
    expectLimited(await login(password), /to sign in to this account/);
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
