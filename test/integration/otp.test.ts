import { randomInt, randomUUID } from 'node:crypto';
import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { base32Decode, totpAt } from '../../shared/auth/totp';
import { Cache } from '../../shared/cache';
import { createRedis } from '../../shared/redis';
import { OTP_LOCKOUT_SECONDS } from '../../api/commands/otp';
import { deliverMessageWorkflowId } from '../../workflows/notification-api';
import { adminToken, ClinicFixture, createClinic } from '../support/fixtures';
import { readableHistory } from '../support/history-scan';
import { Api, client } from '../support/http';
import { ProviderStub, startTwilioStub } from '../support/provider-stubs';
import { SmtpStandIn, startSmtpServer } from '../support/smtp-server';
import { Stack, startStack, testApp } from '../support/stack';

const TWILIO = { accountSid: 'AC00000000000000000000000000000otp', authToken: 'twilio-otp-token' };

let smtp: SmtpStandIn;
let sms: ProviderStub;
let stack: Stack;
let api: Api;
let su: string;
let clinic: ClinicFixture;

beforeAll(async () => {
  [smtp, sms] = await Promise.all([startSmtpServer(), startTwilioStub(TWILIO)]);
  stack = await startStack({
    queues: ['notifications'],
    env: {
      SMTP_URL: smtp.url, SMTP_FROM: 'Clinic <no-reply@clinic.test>',
      SMS_API_BASE_URL: sms.url, SMS_ACCOUNT_SID: TWILIO.accountSid, SMS_AUTH_TOKEN: TWILIO.authToken, SMS_FROM: '+15005550006',
      NOTIFY_PROVIDER_TIMEOUT_MS: '3000',
    },
  });
  api = client(stack.baseUrl);
  su = await adminToken(api);
  clinic = await createClinic(api, su, ['CLINIC_ADMIN']);
});
afterAll(async () => {
  await stack?.stop();
  await Promise.all([smtp?.stop(), sms?.stop()]);
});

const db = () => stack.deps.dataSource;
/** Each test speaks from its own address, so the per-IP limit of one test never touches another (or a rerun). */
const newIp = () => `10.${randomInt(256)}.${randomInt(256)}.${randomInt(1, 255)}`;
let phoneSeq = 0;

async function newUser() {
  phoneSeq += 1;
  const email = `otp-${randomUUID().slice(0, 8)}@otp.test`;
  const phone = `+9177${String(Date.now() % 1_000_000).padStart(6, '0')}${String(phoneSeq).padStart(2, '0')}`;
  const password = `pw-${randomUUID()}`;
  const res = await api.post('/api/v1/users', { email, phone, name: 'OTP User', role: 'RECEPTIONIST', password }, su, clinic.h);
  expect(res.status).toBe(201);
  return { id: res.body.id as string, email, phone, password };
}

const requestCode = (identifier: string, channel: string, ip: string, via: Api = api) =>
  via.post('/api/v1/auth/otp/request', { identifier, channel }, undefined, { 'x-forwarded-for': ip });
const verifyCode = (identifier: string, code: string, ip: string) =>
  api.post('/api/v1/auth/otp/verify', { identifier, code }, undefined, { 'x-forwarded-for': ip });

async function until<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const codeIn = (text: string) => /\b(\d{6})\b/.exec(text)?.[1];
/** The n-th code mailed to the address (1-based), read from what the SMTP stand-in received. */
const mailedCode = (email: string, n = 1) =>
  until(`mail #${n} to the user`, () => {
    const mails = smtp.messages.filter((m) => m.to.includes(email));
    return mails.length >= n ? codeIn(mails[n - 1].text) : undefined;
  });

const latestChallenge = async (userId: string) =>
  (await db().query(`SELECT * FROM otp_challenges WHERE user_id = $1 AND purpose = 'login' ORDER BY created_at DESC LIMIT 1`, [userId]))[0];

const auditCount = async (action: string, userId: string) =>
  (await db().query(`SELECT count(*)::int AS n FROM audit_logs WHERE action = $1 AND actor_user_id = $2`, [action, userId]))[0].n as number;

describe('requesting a code', () => {
  it('answers 202 with the same body whether or not the identifier has an account', async () => {
    const user = await newUser();
    const ip = newIp();
    const known = await requestCode(user.email, 'email', ip);
    const unknown = await requestCode(`nobody-${randomUUID()}@otp.test`, 'email', ip);
    // A number of its own: a fixed one would spend its three requests per window across reruns.
    const unknownPhone = await requestCode(`+1555${String(randomInt(10_000_000)).padStart(7, '0')}`, 'sms', ip);
    expect(known.status).toBe(202);
    expect(unknown.status).toBe(202);
    expect(unknownPhone.status).toBe(202);
    expect(known.body).toEqual({ accepted: true, expiresIn: 300 });
    expect(unknown.body).toEqual(known.body);
    expect(unknownPhone.body).toEqual(known.body);
    expect(await auditCount('auth.otp.requested', user.id)).toBe(1);
  });

  it('keeps only a keyed hash of the code, and delivers it by email through the deliverMessage workflow', async () => {
    const user = await newUser();
    const ip = newIp();
    expect((await requestCode(user.email.toUpperCase(), 'email', ip)).status).toBe(202);
    const code = await mailedCode(user.email);
    const challenge = await latestChallenge(user.id);
    expect(challenge).toMatchObject({ channel: 'email', attempts: 0, max_attempts: 5, consumed_at: null });
    expect(challenge.code_hash).toHaveLength(32);
    expect(JSON.stringify(challenge)).not.toContain(code);
    expect(challenge.expires_at.getTime() - challenge.created_at.getTime()).toBe(300_000);

    const handle = stack.deps.temporal.workflow.getHandle(deliverMessageWorkflowId(`otp-${challenge.id}`));
    const described = await handle.describe();
    expect(described).toMatchObject({ type: 'deliverMessage', taskQueue: 'notifications' });
    expect(await handle.result()).toMatchObject({ status: 'SENT', channel: 'email' });
    // Sent, then wiped: only the hash is left for verification.
    expect((await latestChallenge(user.id)).code_sealed).toBeNull();

    const res = await verifyCode(user.email, code, ip);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ tokenType: 'Bearer', refreshToken: expect.any(String), user: { id: user.id } });
    expect((await api.get('/api/v1/auth/me', res.body.accessToken)).status).toBe(200);
    expect(await auditCount('auth.otp.verified', user.id)).toBe(1);
    // Single use.
    expect((await verifyCode(user.email, code, ip)).status).toBe(401);
  });

  it('keeps the code out of the workflow history, even for a reader who decodes every payload (/codec)', async () => {
    const user = await newUser();
    const ip = newIp();
    expect((await requestCode(user.email, 'email', ip)).status).toBe(202);
    const code = await mailedCode(user.email);
    const challenge = await latestChallenge(user.id);
    const handle = stack.deps.temporal.workflow.getHandle(deliverMessageWorkflowId(`otp-${challenge.id}`));
    expect(await handle.result()).toMatchObject({ status: 'SENT' });
    expect((await verifyCode(user.email, code, ip)).status).toBe(200);

    const history = await handle.fetchHistory();
    const readable = await readableHistory(history);
    // The scan reads decoded payloads (it finds the request and the outcome in clear)...
    expect(readable).toContain(`"idempotencyKey":"otp-${challenge.id}"`);
    expect(readable).toContain('"status":"SENT"');
    // ...and no code: not in the input, not in the activity's input or result, nowhere.
    expect(readable).not.toContain(code);
    expect(readable).not.toMatch(/"code"\s*:/);
    expect(JSON.stringify(history)).not.toContain(code);
    // What travels instead: the challenge's id.
    expect(readable).toContain(`"secretRef":{"kind":"otp-challenge","id":"${challenge.id}"}`);
  });

  it('sends by SMS when asked, and the phone number signs in', async () => {
    const user = await newUser();
    const ip = newIp();
    expect((await requestCode(user.phone, 'sms', ip)).status).toBe(202);
    const code = await until('the SMS', () => {
      const m = sms.messages.find((x) => x.to === user.phone);
      return m ? codeIn(m.body) : undefined;
    });
    expect(smtp.messages.some((m) => m.to.includes(user.email))).toBe(false);
    const res = await verifyCode(user.phone, code, ip);
    expect(res.status).toBe(200);
    expect(res.body.user.id).toBe(user.id);
  });

  it('refuses bad input with 400 naming the field', async () => {
    const ip = newIp();
    const badId = await requestCode('not-an-email', 'email', ip);
    expect(badId.status).toBe(400);
    expect(badId.body.errors[0].field).toBe('body.identifier');
    const badChannel = await requestCode('a@otp.test', 'pigeon', ip);
    expect(badChannel.status).toBe(400);
    expect(badChannel.body.errors[0].field).toBe('body.channel');
    const badCode = await verifyCode('a@otp.test', '12345', ip);
    expect(badCode.status).toBe(400);
    expect(badCode.body.errors[0].field).toBe('body.code');
  });
});

describe('verifying a code', () => {
  it('locks the challenge after five wrong codes: the sixth try fails even with the right code', async () => {
    const user = await newUser();
    const ip = newIp();
    await requestCode(user.email, 'email', ip);
    const code = await mailedCode(user.email);
    const wrong = String((Number(code) + 1) % 1_000_000).padStart(6, '0');
    for (let i = 0; i < 5; i++) {
      const res = await verifyCode(user.email, wrong, ip);
      expect(res.status).toBe(401);
      expect(res.body.type).toMatch(/\/unauthorized$/);
    }
    expect((await verifyCode(user.email, code, ip)).status).toBe(401);
    expect((await latestChallenge(user.id)).attempts).toBe(5);
    expect(await auditCount('auth.otp.failed', user.id)).toBe(6);
  });

  it('holds the lockout across challenges: after five wrong codes a new code is refused too, until the lockout ends', async () => {
    const user = await newUser();
    const ip = newIp();
    await requestCode(user.email, 'email', ip);
    const first = await mailedCode(user.email, 1);
    const wrong = String((Number(first) + 1) % 1_000_000).padStart(6, '0');
    for (let i = 0; i < 5; i++) expect((await verifyCode(user.email, wrong, ip)).status).toBe(401);
    // Asking again does not buy five more guesses: the right new code is refused.
    expect((await requestCode(user.email, 'email', ip)).status).toBe(202);
    const second = await mailedCode(user.email, 2);
    const fresh = await latestChallenge(user.id);
    expect((await verifyCode(user.email, second, ip)).status).toBe(401);
    expect((await latestChallenge(user.id)).attempts).toBe(0);
    // The lockout ends OTP_LOCKOUT_SECONDS after the failed codes' challenge: age it past that.
    await db().query(`UPDATE otp_challenges SET created_at = created_at - make_interval(secs => $2) WHERE user_id = $1 AND id <> $3`,
      [user.id, OTP_LOCKOUT_SECONDS + 1, fresh.id]);
    expect((await verifyCode(user.email, second, ip)).status).toBe(200);
  });

  it('shares one budget between challenges: three wrong codes, a new code, two more wrong ones, and the right code is refused', async () => {
    const user = await newUser();
    const ip = newIp();
    await requestCode(user.email, 'email', ip);
    const first = await mailedCode(user.email, 1);
    const wrongFor = (code: string) => String((Number(code) + 1) % 1_000_000).padStart(6, '0');
    for (let i = 0; i < 3; i++) expect((await verifyCode(user.email, wrongFor(first), ip)).status).toBe(401);
    await requestCode(user.email, 'email', ip);
    const second = await mailedCode(user.email, 2);
    for (let i = 0; i < 2; i++) expect((await verifyCode(user.email, wrongFor(second), ip)).status).toBe(401);
    expect((await verifyCode(user.email, second, ip)).status).toBe(401);
    expect((await latestChallenge(user.id)).attempts).toBe(2);
  });

  it('starts the budget over after a code signs in', async () => {
    const user = await newUser();
    const ip = newIp();
    await requestCode(user.email, 'email', ip);
    const first = await mailedCode(user.email, 1);
    const wrongFor = (code: string) => String((Number(code) + 1) % 1_000_000).padStart(6, '0');
    for (let i = 0; i < 4; i++) expect((await verifyCode(user.email, wrongFor(first), ip)).status).toBe(401);
    expect((await verifyCode(user.email, first, ip)).status).toBe(200);
    await requestCode(user.email, 'email', ip);
    const second = await mailedCode(user.email, 2);
    for (let i = 0; i < 4; i++) expect((await verifyCode(user.email, wrongFor(second), ip)).status).toBe(401);
    expect((await verifyCode(user.email, second, ip)).status).toBe(200);
  });

  it('refuses an expired code', async () => {
    const user = await newUser();
    const ip = newIp();
    await requestCode(user.email, 'email', ip);
    const code = await mailedCode(user.email);
    const challenge = await latestChallenge(user.id);
    await db().query(`UPDATE otp_challenges SET expires_at = now() - interval '1 second' WHERE id = $1`, [challenge.id]);
    expect((await verifyCode(user.email, code, ip)).status).toBe(401);
  });

  it('a new request retires the earlier code', async () => {
    const user = await newUser();
    const ip = newIp();
    await requestCode(user.email, 'email', ip);
    const first = await mailedCode(user.email, 1);
    await requestCode(user.email, 'email', ip);
    const second = await mailedCode(user.email, 2);
    if (first !== second) expect((await verifyCode(user.email, first, ip)).status).toBe(401);
    expect((await verifyCode(user.email, second, ip)).status).toBe(200);
  });

  it('asks a user with TOTP for the second factor after the code', async () => {
    const user = await newUser();
    const ip = newIp();
    const login = await api.post('/api/v1/auth/login', { email: user.email, password: user.password });
    const { secret } = (await api.post('/api/v1/auth/mfa/totp/enroll', {}, login.body.accessToken)).body;
    const totp = (offset: number) => totpAt(base32Decode(secret), Date.now() + offset * 30_000);
    expect((await api.post('/api/v1/auth/mfa/totp/activate', { code: totp(-1) }, login.body.accessToken)).status).toBe(200);

    await requestCode(user.email, 'email', ip);
    const res = await verifyCode(user.email, await mailedCode(user.email), ip);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ mfaRequired: true, mfaToken: expect.any(String), expiresIn: 300 });
    const done = await api.post('/api/v1/auth/mfa/verify', { mfaToken: res.body.mfaToken, code: totp(0) });
    expect(done.status).toBe(200);
    expect(done.body.user.id).toBe(user.id);
  });
});

describe('rate limits', () => {
  it('allows three requests per identifier per window, then 429 with Retry-After (known or not)', async () => {
    const user = await newUser();
    for (const identifier of [user.email, `ghost-${randomUUID()}@otp.test`]) {
      const ip = newIp();
      for (let i = 0; i < 3; i++) expect((await requestCode(identifier, 'email', ip)).status).toBe(202);
      // Another address does not help: the identifier's own budget is spent.
      const limited = await requestCode(identifier, 'email', newIp());
      expect(limited.status).toBe(429);
      expect(limited.body.type).toMatch(/\/rate-limited$/);
      const retryAfter = Number(limited.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThan(0);
      expect(retryAfter).toBeLessThanOrEqual(600);
    }
    // The limited request created no challenge: three codes, three challenges.
    const [{ n }] = await db().query(`SELECT count(*)::int AS n FROM otp_challenges WHERE user_id = $1`, [user.id]);
    expect(n).toBe(3);
  });

  it('allows twenty requests per IP per window', async () => {
    const ip = newIp();
    for (let i = 0; i < 20; i++) expect((await requestCode(`ip-${i}-${randomUUID()}@otp.test`, 'email', ip)).status).toBe(202);
    const limited = await requestCode(`ip-last-${randomUUID()}@otp.test`, 'email', ip);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('fails closed with 503 when Redis is down, while password sign-in keeps working', async () => {
    const deadRedis = createRedis('redis://127.0.0.1:1/0');
    deadRedis.on('error', () => undefined);
    const server: Server = createServer(testApp(stack, { redis: deadRedis, cache: new Cache(deadRedis, stack.deps.log, stack.deps.metrics) }).callback());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const noRedis = client(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
      const user = await newUser();
      const res = await requestCode(user.email, 'email', newIp(), noRedis);
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBeTruthy();
      expect((await latestChallenge(user.id))).toBeUndefined();
      expect((await noRedis.post('/api/v1/auth/login', { email: user.email, password: user.password })).status).toBe(200);
    } finally {
      server.close();
      server.closeAllConnections();
      deadRedis.disconnect();
    }
  });
});
