import { createHash, randomUUID } from 'node:crypto';
import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import jwt from 'jsonwebtoken';
import type { ApiDeps } from '../../api/http/state';
import { base32Decode, totpAt } from '../../shared/auth/totp';
import { Cache } from '../../shared/cache';
import { createRedis } from '../../shared/redis';
import { adminToken, ClinicFixture, createClinic } from '../support/fixtures';
import { Api, client } from '../support/http';
import { Stack, startStack, testApp } from '../support/stack';

let stack: Stack;
let api: Api;
let su: string;
let clinic: ClinicFixture;
const extraServers: Server[] = [];

beforeAll(async () => {
  stack = await startStack();
  api = client(stack.baseUrl);
  su = await adminToken(api);
  clinic = await createClinic(api, su, ['CLINIC_ADMIN']);
});
afterAll(async () => {
  for (const s of extraServers) {
    s.close();
    s.closeAllConnections();
  }
  await stack?.stop();
});

const db = () => stack.deps.dataSource;
const sidOf = (accessToken: string) => (jwt.decode(accessToken) as { sid: string }).sid;
const sessionKey = (sid: string) => `session:v1:${sid}`;

/** A fresh member of the fixture clinic with a known password. */
async function newUser(role = 'RECEPTIONIST') {
  const email = `u-${randomUUID().slice(0, 8)}@sessions.test`;
  const password = `pw-${randomUUID()}`;
  const res = await api.post('/api/v1/users', { email, name: 'Session User', role, password }, su, clinic.h);
  expect(res.status).toBe(201);
  return { id: res.body.id as string, email, password };
}

async function signIn(user: { email: string; password: string }, via: Api = api) {
  const res = await via.post('/api/v1/auth/login', { email: user.email, password: user.password });
  expect(res.status).toBe(200);
  return res.body as { accessToken: string; refreshToken: string; expiresIn: number; tokenType: string; user: { id: string }; mfaEnrollmentRequired?: true };
}

/** The API over the same PostgreSQL and Temporal with other deps (dead Redis, other config). */
async function appWith(overrides: Partial<ApiDeps>): Promise<Api> {
  const server = createServer(testApp(stack, overrides).callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  extraServers.push(server);
  return client(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
}

async function auditCount(action: string, resourceId: string): Promise<number> {
  const [{ n }] = await db().query(`SELECT count(*)::int AS n FROM audit_logs WHERE action = $1 AND resource_id = $2`, [action, resourceId]);
  return n;
}

describe('login and sessions', () => {
  it('returns an access token bound to a new session and an opaque refresh token stored only as a hash', async () => {
    const user = await newUser();
    const t = await signIn(user);
    expect(t).toMatchObject({ tokenType: 'Bearer', expiresIn: 900, user: { id: user.id, email: user.email } });
    expect(t.refreshToken).toMatch(/^[A-Za-z0-9_-]{43,}$/);
    expect(t).not.toHaveProperty('mfaEnrollmentRequired');
    const sid = sidOf(t.accessToken);
    const [session] = await db().query(
      `SELECT user_id, revoked_at, mfa_satisfied, extract(epoch FROM expires_at - created_at)::int AS lifetime FROM sessions WHERE id = $1`, [sid]);
    expect(session).toEqual({ user_id: user.id, revoked_at: null, mfa_satisfied: false, lifetime: 12 * 3600 });
    const tokens = await db().query(`SELECT token_hash, parent_id, used_at FROM refresh_tokens WHERE session_id = $1`, [sid]);
    expect(tokens).toHaveLength(1);
    expect((tokens[0].token_hash as Buffer).equals(createHash('sha256').update(t.refreshToken).digest())).toBe(true);
    expect(JSON.stringify(tokens)).not.toContain(t.refreshToken);
    expect(await auditCount('auth.login', user.id)).toBe(1);
  });

  it('rotates: a refresh gives a new working pair, and the spent token then fails', async () => {
    const user = await newUser();
    const first = await signIn(user);
    const res = await api.post('/api/v1/auth/refresh', { refreshToken: first.refreshToken });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ tokenType: 'Bearer', expiresIn: 900, user: { id: user.id } });
    expect(res.body.refreshToken).not.toBe(first.refreshToken);
    expect(sidOf(res.body.accessToken)).toBe(sidOf(first.accessToken));
    expect((await api.get('/api/v1/auth/me', res.body.accessToken)).status).toBe(200);
    const chain = await db().query(`SELECT id, parent_id, used_at FROM refresh_tokens WHERE session_id = $1 ORDER BY created_at`, [sidOf(first.accessToken)]);
    expect(chain).toHaveLength(2);
    expect(chain[0].used_at).not.toBeNull();
    expect(chain[1]).toMatchObject({ parent_id: chain[0].id, used_at: null });

    const again = await api.post('/api/v1/auth/refresh', { refreshToken: first.refreshToken });
    expect(again.status).toBe(401);
    expect(again.headers.get('content-type')).toMatch(/application\/problem\+json/);
  });

  it('reuse of a spent refresh token revokes the whole session at once (Redis marker beats the warm cache)', async () => {
    const user = await newUser();
    const first = await signIn(user);
    const rotated = (await api.post('/api/v1/auth/refresh', { refreshToken: first.refreshToken })).body;
    // Warm the cached session state (valid for up to a minute)…
    expect((await api.get('/api/v1/auth/me', rotated.accessToken)).status).toBe(200);
    const sid = sidOf(first.accessToken);
    expect(JSON.parse((await stack.deps.redis.get(sessionKey(sid)))!)).toMatchObject({ userId: user.id });

    // …then someone replays the stolen, already spent token.
    expect((await api.post('/api/v1/auth/refresh', { refreshToken: first.refreshToken })).status).toBe(401);
    expect(await stack.deps.redis.get(sessionKey(sid))).toBe('revoked');
    expect((await api.get('/api/v1/auth/me', rotated.accessToken)).status).toBe(401);
    expect((await api.get('/api/v1/auth/me', first.accessToken)).status).toBe(401);
    expect((await api.post('/api/v1/auth/refresh', { refreshToken: rotated.refreshToken })).status).toBe(401);
    const [row] = await db().query(`SELECT revoked_reason FROM sessions WHERE id = $1`, [sid]);
    expect(row.revoked_reason).toBe('refresh-reuse');
    expect(await auditCount('auth.refresh.reuse', sid)).toBe(1);
    expect(await auditCount('auth.refresh', sid)).toBe(1);
    // Other sessions of the same user are not touched.
    expect((await api.get('/api/v1/auth/me', (await signIn(user)).accessToken)).status).toBe(200);
  });

  it('two concurrent refreshes with one token yield at most one new pair and end the session', async () => {
    const user = await newUser();
    const t = await signIn(user);
    const results = await Promise.all([1, 2].map(() => api.post('/api/v1/auth/refresh', { refreshToken: t.refreshToken })));
    expect(results.map((r) => r.status).sort()).toEqual([200, 401]);
    const winner = results.find((r) => r.status === 200)!.body;
    expect((await api.get('/api/v1/auth/me', winner.accessToken)).status).toBe(401);
  });

  it('refuses unknown refresh tokens with 401 and a missing one with 400 naming the field', async () => {
    expect((await api.post('/api/v1/auth/refresh', { refreshToken: 'x'.repeat(43) })).status).toBe(401);
    const bad = await api.post('/api/v1/auth/refresh', {});
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].field).toBe('body.refreshToken');
  });

  it('logout ends the session: refresh and access token stop working; a second logout is still 204', async () => {
    const user = await newUser();
    const t = await signIn(user);
    expect((await api.get('/api/v1/auth/me', t.accessToken)).status).toBe(200);
    const out = await api.post('/api/v1/auth/logout', { refreshToken: t.refreshToken });
    expect(out.status).toBe(204);
    expect((await api.get('/api/v1/auth/me', t.accessToken)).status).toBe(401);
    expect((await api.post('/api/v1/auth/refresh', { refreshToken: t.refreshToken })).status).toBe(401);
    expect((await api.post('/api/v1/auth/logout', { refreshToken: t.refreshToken })).status).toBe(204);
    expect(await auditCount('auth.logout', sidOf(t.accessToken))).toBe(1);
  });

  it('rejects a validly signed token whose session does not exist', async () => {
    const user = await newUser();
    const forged = jwt.sign({ sub: user.id, sid: randomUUID() }, stack.deps.config.JWT_SECRET, { algorithm: 'HS256', issuer: 'clinic-backend', audience: 'clinic-api', expiresIn: 60 });
    expect((await api.get('/api/v1/auth/me', forged)).status).toBe(401);
    const wrongUser = jwt.sign({ sub: randomUUID(), sid: sidOf((await signIn(user)).accessToken) }, stack.deps.config.JWT_SECRET, { algorithm: 'HS256', issuer: 'clinic-backend', audience: 'clinic-api', expiresIn: 60 });
    expect((await api.get('/api/v1/auth/me', wrongUser)).status).toBe(401);
  });
});

describe('idle and absolute expiry', () => {
  it('records use at most once a minute', async () => {
    const user = await newUser();
    const t = await signIn(user);
    const sid = sidOf(t.accessToken);
    const seen = async () => (await db().query(`SELECT last_seen_at FROM sessions WHERE id = $1`, [sid]))[0].last_seen_at as Date;
    const atLogin = await seen();
    await api.get('/api/v1/auth/me', t.accessToken);
    await api.get('/api/v1/auth/me', t.accessToken);
    expect((await seen()).getTime()).toBe(atLogin.getTime());

    // Two minutes later (the cached copy has expired by then) a request moves last_seen_at.
    await db().query(`UPDATE sessions SET last_seen_at = now() - interval '2 minutes' WHERE id = $1`, [sid]);
    await stack.deps.redis.del(sessionKey(sid));
    expect((await api.get('/api/v1/auth/me', t.accessToken)).status).toBe(200);
    expect(Date.now() - (await seen()).getTime()).toBeLessThan(10_000);
  });

  it('ends a session unused for longer than SESSION_IDLE_MINUTES, for access and refresh alike', async () => {
    const user = await newUser();
    const busy = await signIn(user);
    const idle = await signIn(user);
    const minutes = stack.deps.config.SESSION_IDLE_MINUTES;
    await db().query(`UPDATE sessions SET last_seen_at = now() - make_interval(mins => $2) + interval '1 minute' WHERE id = $1`, [sidOf(busy.accessToken), minutes]);
    await db().query(`UPDATE sessions SET last_seen_at = now() - make_interval(mins => $2) - interval '1 minute' WHERE id = $1`, [sidOf(idle.accessToken), minutes]);
    for (const t of [busy, idle]) await stack.deps.redis.del(sessionKey(sidOf(t.accessToken)));

    expect((await api.get('/api/v1/auth/me', busy.accessToken)).status).toBe(200);
    expect((await api.get('/api/v1/auth/me', idle.accessToken)).status).toBe(401);
    expect((await api.post('/api/v1/auth/refresh', { refreshToken: idle.refreshToken })).status).toBe(401);
    expect((await api.post('/api/v1/auth/refresh', { refreshToken: busy.refreshToken })).status).toBe(200);
  });

  it('ends a session SESSION_MAX_HOURS after sign-in however busy it is', async () => {
    const user = await newUser();
    const t = await signIn(user);
    const sid = sidOf(t.accessToken);
    expect((await api.get('/api/v1/auth/me', t.accessToken)).status).toBe(200);
    await db().query(`UPDATE sessions SET created_at = now() - interval '13 hours', expires_at = now() - interval '1 hour', last_seen_at = now() WHERE id = $1`, [sid]);
    await stack.deps.redis.del(sessionKey(sid));
    expect((await api.get('/api/v1/auth/me', t.accessToken)).status).toBe(401);
    expect((await api.post('/api/v1/auth/refresh', { refreshToken: t.refreshToken })).status).toBe(401);
  });

  it('takes its limits from configuration', async () => {
    const other = await appWith({ config: { ...stack.deps.config, SESSION_MAX_HOURS: 2 } });
    const user = await newUser();
    const t = await signIn(user, other);
    const [row] = await db().query(`SELECT extract(epoch FROM expires_at - created_at)::int AS lifetime FROM sessions WHERE id = $1`, [sidOf(t.accessToken)]);
    expect(row.lifetime).toBe(2 * 3600);
  });
});

describe('without Redis', () => {
  it('checks sessions in PostgreSQL: live ones work, revoked ones are refused', async () => {
    const deadRedis = createRedis('redis://127.0.0.1:1/0');
    deadRedis.on('error', () => undefined);
    try {
      const noRedis = await appWith({ redis: deadRedis, cache: new Cache(deadRedis, stack.deps.log, stack.deps.metrics) });
      const user = await newUser();
      const t = await signIn(user, noRedis);
      expect((await noRedis.get('/api/v1/auth/me', t.accessToken)).status).toBe(200);
      const rotated = await noRedis.post('/api/v1/auth/refresh', { refreshToken: t.refreshToken });
      expect(rotated.status).toBe(200);
      expect((await noRedis.get('/api/v1/auth/me', rotated.body.accessToken)).status).toBe(200);

      // Revoked while Redis was unreachable: no marker anywhere, PostgreSQL alone decides.
      expect((await noRedis.post('/api/v1/auth/logout', { refreshToken: rotated.body.refreshToken })).status).toBe(204);
      expect(await stack.deps.redis.get(sessionKey(sidOf(t.accessToken)))).toBeNull();
      expect((await noRedis.get('/api/v1/auth/me', rotated.body.accessToken)).status).toBe(401);
      // The API with Redis back reads PostgreSQL on a cache miss and agrees.
      expect((await api.get('/api/v1/auth/me', rotated.body.accessToken)).status).toBe(401);
    } finally {
      deadRedis.disconnect();
    }
  });
});

describe('password change', () => {
  it('revokes every other session, keeps the current one, and swaps the password', async () => {
    const user = await newUser();
    const here = await signIn(user);
    const elsewhere = await signIn(user);
    expect((await api.get('/api/v1/auth/me', elsewhere.accessToken)).status).toBe(200);
    const newPassword = `new-${randomUUID()}`;
    const res = await api.post('/api/v1/auth/password', { currentPassword: user.password, newPassword }, here.accessToken);
    expect(res.status).toBe(204);
    expect((await api.get('/api/v1/auth/me', elsewhere.accessToken)).status).toBe(401);
    expect((await api.post('/api/v1/auth/refresh', { refreshToken: elsewhere.refreshToken })).status).toBe(401);
    expect((await api.get('/api/v1/auth/me', here.accessToken)).status).toBe(200);
    expect((await api.post('/api/v1/auth/refresh', { refreshToken: here.refreshToken })).status).toBe(200);
    expect((await api.post('/api/v1/auth/login', { email: user.email, password: user.password })).status).toBe(401);
    await signIn({ email: user.email, password: newPassword });
    expect(await auditCount('auth.password.changed', user.id)).toBe(1);
  });

  it('refuses a wrong current password (422) and a short new one (400), naming the field', async () => {
    const user = await newUser();
    const t = await signIn(user);
    const wrong = await api.post('/api/v1/auth/password', { currentPassword: 'not-my-password', newPassword: 'long-enough-password' }, t.accessToken);
    expect(wrong.status).toBe(422);
    expect(wrong.body.errors).toEqual([{ field: 'body.currentPassword', message: 'does not match' }]);
    const short = await api.post('/api/v1/auth/password', { currentPassword: user.password, newPassword: 'short' }, t.accessToken);
    expect(short.status).toBe(400);
    expect(short.body.errors[0].field).toBe('body.newPassword');
    expect((await api.post('/api/v1/auth/password', { currentPassword: user.password, newPassword: 'long-enough-password' })).status).toBe(401);
  });
});

describe('TOTP second factor', () => {
  const code = (secret: string, offsetSteps = 0) => totpAt(base32Decode(secret), Date.now() + offsetSteps * 30_000);

  async function enrolled() {
    const user = await newUser();
    const t = await signIn(user);
    const enroll = await api.post('/api/v1/auth/mfa/totp/enroll', {}, t.accessToken);
    expect(enroll.status).toBe(200);
    const { secret } = enroll.body;
    // The previous step's code: the current one stays unused for the sign-in that follows.
    expect((await api.post('/api/v1/auth/mfa/totp/activate', { code: code(secret, -1) }, t.accessToken)).status).toBe(200);
    return { user, secret, tokens: t };
  }

  it('enrols, activates, then login asks for the second factor and verify completes it', async () => {
    const user = await newUser();
    const t = await signIn(user);
    const enroll = await api.post('/api/v1/auth/mfa/totp/enroll', {}, t.accessToken);
    expect(enroll.status).toBe(200);
    const { secret, otpauthUrl } = enroll.body;
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    expect(otpauthUrl).toContain(`otpauth://totp/clinic-backend:${encodeURIComponent(user.email)}?secret=${secret}`);
    const [stored] = await db().query(`SELECT totp_pending_secret, totp_secret, totp_enabled_at FROM users WHERE id = $1`, [user.id]);
    expect(stored.totp_pending_secret).toMatch(/^test2:/);
    expect(stored.totp_pending_secret).not.toContain(secret);
    expect(stored.totp_enabled_at).toBeNull();

    const wrongCode = String((Number(code(secret)) + 1) % 1_000_000).padStart(6, '0');
    const wrong = await api.post('/api/v1/auth/mfa/totp/activate', { code: wrongCode }, t.accessToken);
    expect(wrong.status).toBe(422);
    expect(wrong.body.errors[0].field).toBe('body.code');
    expect((await api.post('/api/v1/auth/mfa/totp/activate', { code: code(secret, -1) }, t.accessToken)).status).toBe(200);
    expect((await api.post('/api/v1/auth/mfa/totp/enroll', {}, t.accessToken)).status).toBe(409);
    const [active] = await db().query(`SELECT totp_pending_secret, totp_secret, totp_enabled_at FROM users WHERE id = $1`, [user.id]);
    expect(active.totp_pending_secret).toBeNull();
    expect(active.totp_secret).toMatch(/^test2:/);
    expect(active.totp_enabled_at).not.toBeNull();

    const login = await api.post('/api/v1/auth/login', { email: user.email, password: user.password });
    expect(login.status).toBe(200);
    expect(login.body).toEqual({ mfaRequired: true, mfaToken: expect.any(String), expiresIn: 300 });
    // The MFA token is not an access token.
    expect((await api.get('/api/v1/auth/me', login.body.mfaToken)).status).toBe(401);

    const verified = await api.post('/api/v1/auth/mfa/verify', { mfaToken: login.body.mfaToken, code: code(secret) });
    expect(verified.status).toBe(200);
    expect(verified.body).toMatchObject({ tokenType: 'Bearer', user: { id: user.id }, refreshToken: expect.any(String) });
    expect((await api.get('/api/v1/auth/me', verified.body.accessToken)).status).toBe(200);
    const [session] = await db().query(`SELECT mfa_satisfied FROM sessions WHERE id = $1`, [sidOf(verified.body.accessToken)]);
    expect(session.mfa_satisfied).toBe(true);
    // Single use: the same MFA token cannot open a second session.
    expect((await api.post('/api/v1/auth/mfa/verify', { mfaToken: login.body.mfaToken, code: code(secret, 1) })).status).toBe(401);
    for (const action of ['auth.mfa.enroll', 'auth.mfa.activate', 'auth.login.mfa_required', 'auth.mfa.verified']) {
      expect(await auditCount(action, user.id)).toBeGreaterThanOrEqual(1);
    }
  });

  it('refuses a wrong code and a code already used, and accepts the next step', async () => {
    const { user, secret } = await enrolled();
    const mfaToken = async () => (await api.post('/api/v1/auth/login', { email: user.email, password: user.password })).body.mfaToken as string;

    const first = await mfaToken();
    const wrongCode = String((Number(code(secret)) + 500_000) % 1_000_000).padStart(6, '0');
    expect((await api.post('/api/v1/auth/mfa/verify', { mfaToken: first, code: wrongCode })).status).toBe(401);
    const used = code(secret);
    expect((await api.post('/api/v1/auth/mfa/verify', { mfaToken: first, code: used })).status).toBe(200);

    // Replay of the same code within its window, with a fresh MFA token: refused.
    expect((await api.post('/api/v1/auth/mfa/verify', { mfaToken: await mfaToken(), code: used })).status).toBe(401);
    // The activation code's step is spent too.
    expect((await api.post('/api/v1/auth/mfa/verify', { mfaToken: await mfaToken(), code: code(secret, -1) })).status).toBe(401);
    expect((await api.post('/api/v1/auth/mfa/verify', { mfaToken: await mfaToken(), code: code(secret, 1) })).status).toBe(200);
    expect(await auditCount('auth.mfa.failed', user.id)).toBe(3);
  });

  it('burns the MFA token after five wrong codes, even for the right one after', async () => {
    const { user, secret } = await enrolled();
    const login = await api.post('/api/v1/auth/login', { email: user.email, password: user.password });
    const wrongCode = String((Number(code(secret)) + 123_457) % 1_000_000).padStart(6, '0');
    for (let i = 0; i < 5; i++) {
      expect((await api.post('/api/v1/auth/mfa/verify', { mfaToken: login.body.mfaToken, code: wrongCode })).status).toBe(401);
    }
    expect((await api.post('/api/v1/auth/mfa/verify', { mfaToken: login.body.mfaToken, code: code(secret) })).status).toBe(401);
  });

  it('refuses tampered or foreign MFA tokens and bad input', async () => {
    const { secret } = await enrolled();
    const accessAsMfa = (await signIn(await newUser())).accessToken;
    expect((await api.post('/api/v1/auth/mfa/verify', { mfaToken: accessAsMfa, code: code(secret) })).status).toBe(401);
    const bad = await api.post('/api/v1/auth/mfa/verify', { mfaToken: 'x', code: '12a456' });
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].field).toBe('body.code');
  });
});

describe('MFA_REQUIRED_ROLES', () => {
  it('gives a role that requires TOTP an enrolment-only token until TOTP is active', async () => {
    const strict = await appWith({ config: { ...stack.deps.config, MFA_REQUIRED_ROLES: ['CLINIC_ADMIN'] } });
    const admin = await newUser('CLINIC_ADMIN');
    const receptionist = await newUser('RECEPTIONIST');

    expect((await signIn(receptionist, strict)).mfaEnrollmentRequired).toBeUndefined();
    const t = await signIn(admin, strict);
    expect(t.mfaEnrollmentRequired).toBe(true);
    expect(jwt.decode(t.accessToken)).toMatchObject({ scope: 'mfa-enrollment' });

    const denied = await strict.get('/api/v1/services', t.accessToken, clinic.h);
    expect(denied.status).toBe(403);
    expect(denied.body.type).toMatch(/\/mfa-enrollment-required$/);
    expect((await strict.post('/api/v1/auth/password', { currentPassword: admin.password, newPassword: 'long-enough-password' }, t.accessToken)).status).toBe(403);
    expect((await strict.get('/health/detailed', t.accessToken)).status).toBe(403);
    expect((await strict.get('/api/v1/auth/me', t.accessToken)).status).toBe(200);

    const { secret } = (await strict.post('/api/v1/auth/mfa/totp/enroll', {}, t.accessToken)).body;
    expect((await strict.post('/api/v1/auth/mfa/totp/activate', { code: code(secret) }, t.accessToken)).status).toBe(200);
    // The restriction is a claim of that token: it stays until the next refresh.
    expect((await strict.get('/api/v1/services', t.accessToken, clinic.h)).status).toBe(403);
    const full = await strict.post('/api/v1/auth/refresh', { refreshToken: t.refreshToken });
    expect(full.status).toBe(200);
    expect(full.body.mfaEnrollmentRequired).toBeUndefined();
    expect((await strict.get('/api/v1/services', full.body.accessToken, clinic.h)).status).toBe(200);
    // From now on the password alone is not enough.
    expect((await strict.post('/api/v1/auth/login', { email: admin.email, password: admin.password })).body.mfaRequired).toBe(true);
  });

  function code(secret: string) {
    return totpAt(base32Decode(secret), Date.now());
  }
});
