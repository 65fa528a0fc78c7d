import { randomUUID } from 'node:crypto';
import { AddressInfo, createServer as createNetServer } from 'node:net';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { createNotificationActivities } from '../../activities/notifications';
import { phiKeysFor } from '../../shared/crypto/patient-phi';
import { sealOtpCode } from '../../shared/notify/message-secrets';
import { createSmtpEmail } from '../../shared/notify/providers/email-smtp';
import { createTwilioSms } from '../../shared/notify/providers/sms-twilio';
import { createWhatsAppCloud } from '../../shared/notify/providers/whatsapp-cloud';
import { ProviderError } from '../../shared/notify/providers';
import type { deliverMessage } from '../../workflows/notification';
import { deliverMessageWorkflowId, MessageRequest, NOTIFICATIONS_TASK_QUEUE } from '../../workflows/notification-api';
import { adminToken, ClinicFixture, createClinic } from '../support/fixtures';
import { Api, client } from '../support/http';
import { ProviderStub, startTwilioStub, startWhatsAppStub } from '../support/provider-stubs';
import { SmtpStandIn, startSmtpServer } from '../support/smtp-server';
import { Stack, startStack } from '../support/stack';

const TWILIO = { accountSid: 'AC0123456789abcdef0123456789abcdef', authToken: 'twilio-test-token' };
const WHATSAPP = { phoneNumberId: '106540352242922', token: 'meta-test-token' };
const SMS_FROM = '+15005550006';

let smtp: SmtpStandIn;
let sms: ProviderStub;
let wa: ProviderStub;
let stack: Stack;
let api: Api;
let c: ClinicFixture;
/** Every phone, email, code and rendered text the tests used: none may appear in the outbox. */
const secrets = new Set<string>();

beforeAll(async () => {
  [smtp, sms, wa] = await Promise.all([startSmtpServer(), startTwilioStub(TWILIO), startWhatsAppStub(WHATSAPP)]);
  stack = await startStack({
    queues: ['notifications'],
    env: {
      SMTP_URL: smtp.url, SMTP_FROM: 'Clinic <no-reply@clinic.test>',
      SMS_API_BASE_URL: sms.url, SMS_ACCOUNT_SID: TWILIO.accountSid, SMS_AUTH_TOKEN: TWILIO.authToken, SMS_FROM,
      WHATSAPP_API_BASE_URL: wa.url, WHATSAPP_PHONE_NUMBER_ID: WHATSAPP.phoneNumberId, WHATSAPP_TOKEN: WHATSAPP.token,
      NOTIFY_PROVIDER_TIMEOUT_MS: '3000',
    },
  });
  api = client(stack.baseUrl);
  c = await createClinic(api, await adminToken(api), ['CLINIC_ADMIN', 'RECEPTIONIST']);
});
afterAll(async () => {
  await stack?.stop();
  await Promise.all([smtp?.stop(), sms?.stop(), wa?.stop()]);
});

let phoneSeq = 0;
const newPhone = () => {
  phoneSeq += 1;
  const p = `+9198${String(Date.now() % 1_000_000).padStart(6, '0')}${String(phoneSeq).padStart(2, '0')}`;
  secrets.add(p);
  secrets.add(p.slice(1));
  return p;
};
const newEmail = () => {
  const e = `patient-${randomUUID().slice(0, 8)}@mail.test`;
  secrets.add(e);
  return e;
};

async function newPatient(contact: { phone?: string | null; email?: string | null }, preferences: Record<string, unknown> = {}): Promise<string> {
  const res = await api.post('/api/v1/patients', { firstName: 'Meera', lastName: 'Iyer', dateOfBirth: '1979-08-02', sex: 'female', ...contact }, c.tokens.CLINIC_ADMIN, c.h);
  if (res.status !== 201) throw new Error(`patient: ${res.status} ${JSON.stringify(res.body)}`);
  await stack.deps.dataSource.query(`UPDATE patients SET preferences = $2 WHERE id = $1`, [res.body.id, JSON.stringify(preferences)]);
  return res.body.id;
}

const visit = { clinicName: 'Dhanvantari Clinic', startsAt: '2026-03-10T04:30:00Z', timezone: 'Asia/Kolkata' };

const request = (patientId: string, extra: Partial<MessageRequest> = {}): MessageRequest => ({
  idempotencyKey: `test-${randomUUID()}`, clinicId: c.clinicId, recipient: { kind: 'patient', id: patientId },
  template: 'appointment-confirmed', params: visit, ...extra,
});

const deliver = (req: MessageRequest) =>
  stack.deps.temporal.workflow.execute<typeof deliverMessage>('deliverMessage', {
    workflowId: deliverMessageWorkflowId(req.idempotencyKey), taskQueue: NOTIFICATIONS_TASK_QUEUE, args: [req],
  });

const outboxRow = async (key: string) =>
  (await stack.deps.dataSource.query(`SELECT * FROM notifications WHERE idempotency_key = $1`, [key]))[0];

const sealedCode = async (challengeId: string): Promise<string | null> =>
  (await stack.deps.dataSource.query(`SELECT code_sealed FROM otp_challenges WHERE id = $1`, [challengeId]))[0].code_sealed;

/** A user with a phone, an OTP challenge holding its sealed code (as POST /auth/otp/request leaves it), and the message for it. */
async function otpMessage(opts: { ttlSeconds?: number } = {}) {
  const phone = newPhone();
  const userRes = await api.post('/api/v1/users', { email: newEmail(), name: 'Portal User', role: 'RECEPTIONIST', phone }, c.tokens.CLINIC_ADMIN, c.h);
  expect(userRes.status).toBe(201);
  const code = String(100000 + Math.floor(Math.random() * 900000));
  remember(code);
  const challengeId = randomUUID();
  await stack.deps.dataSource.query(
    `INSERT INTO otp_challenges (id, user_id, purpose, channel, code_hash, code_sealed, expires_at)
     VALUES ($1, $2, 'login', 'sms', $3, $4, now() + make_interval(secs => $5))`,
    [challengeId, userRes.body.id, Buffer.alloc(32), sealOtpCode(phiKeysFor(stack.deps.config).ring, challengeId, code), opts.ttlSeconds ?? 300]);
  const req: MessageRequest = {
    idempotencyKey: `otp-${challengeId}`, clinicId: null, recipient: { kind: 'user', id: userRes.body.id },
    template: 'otp-code', params: {}, secretRef: { kind: 'otp-challenge', id: challengeId }, channels: ['sms'],
  };
  return { req, code, phone, userId: userRes.body.id as string };
}

const to = (stub: ProviderStub, phone: string) => stub.messages.filter((m) => m.to.replace(/^\+/, '') === phone.replace(/^\+/, ''));
const mailTo = (address: string) => smtp.messages.filter((m) => m.to.includes(address));
const remember = (...texts: string[]) => texts.forEach((t) => secrets.add(t));

describe('delivery on each channel', () => {
  it('sends WhatsApp by default, in the patient\'s language, and records the provider id', async () => {
    const phone = newPhone();
    const patientId = await newPatient({ phone }, { language: 'hi' });
    const req = request(patientId);
    const outcome = await deliver(req);

    const [msg] = to(wa, phone);
    expect(to(wa, phone)).toHaveLength(1);
    expect(msg.body).toContain('Dhanvantari Clinic');
    expect(msg.body).toContain('मार्च'); // Hindi
    remember(msg.body);
    const row = await outboxRow(req.idempotencyKey);
    expect(outcome).toEqual({ notificationId: row.id, status: 'SENT', channel: 'whatsapp' });
    expect(row).toMatchObject({ status: 'SENT', channel: 'whatsapp', provider_message_id: msg.id, attempts: 1, language: 'hi', last_error: null, clinic_id: c.clinicId });
    expect(row.sent_at).toBeInstanceOf(Date);
    expect(msg.idempotencyKey).toBe(row.id);
  });

  it('sends SMS through the Messages API when SMS is asked for', async () => {
    const phone = newPhone();
    const patientId = await newPatient({ phone });
    const req = request(patientId, { channels: ['sms'], template: 'appointment-reminder' });
    const outcome = await deliver(req);

    expect(to(sms, phone)).toHaveLength(1);
    const [msg] = to(sms, phone);
    expect(msg).toMatchObject({ from: SMS_FROM, body: expect.stringMatching(/reminder.*Dhanvantari Clinic.*10:00/) });
    expect(to(wa, phone)).toHaveLength(0);
    remember(msg.body);
    const row = await outboxRow(req.idempotencyKey);
    expect(outcome.channel).toBe('sms');
    expect(row).toMatchObject({ status: 'SENT', channel: 'sms', provider_message_id: msg.id, language: 'en' });
    expect(msg.id).toMatch(/^SM[0-9a-f]{32}$/);
    expect(msg.idempotencyKey).toBe(row.id);
  });

  it('sends email over SMTP to a patient who has only an email address', async () => {
    const email = newEmail();
    const patientId = await newPatient({ email });
    const req = request(patientId, { template: 'appointment-cancelled' });
    const outcome = await deliver(req);

    const mails = mailTo(email);
    expect(mails).toHaveLength(1);
    const row = await outboxRow(req.idempotencyKey);
    expect(mails[0]).toMatchObject({
      from: 'no-reply@clinic.test', subject: 'Appointment cancelled at Dhanvantari Clinic', messageId: `<${row.id}@clinic.test>`,
    });
    expect(mails[0].text).toContain('has been cancelled');
    remember(mails[0].text);
    expect(outcome).toEqual({ notificationId: row.id, status: 'SENT', channel: 'email' });
    expect(row).toMatchObject({ status: 'SENT', channel: 'email', provider_message_id: `<${row.id}@clinic.test>` });
  });

  it('sends a user-level OTP (no clinic) on the channel asked for, reading the code from its challenge and wiping it', async () => {
    const { req, code, phone } = await otpMessage();
    const outcome = await deliver(req);
    expect(outcome).toMatchObject({ status: 'SENT', channel: 'sms' });
    expect(to(sms, phone).map((m) => m.body)).toEqual([expect.stringContaining(code)]);
    expect(await outboxRow(req.idempotencyKey)).toMatchObject({ clinic_id: null, recipient_kind: 'user', template: 'otp-code', status: 'SENT' });
    expect(await sealedCode(req.secretRef!.id)).toBeNull();
  });
});

describe('secrets by reference (issue 8 item 6)', () => {
  it('refuses a secret in the params, or a secret template without its reference, sending nothing', async () => {
    const { req, phone } = await otpMessage();
    for (const bad of [{ ...req, idempotencyKey: `otp-${randomUUID()}`, params: { code: '123456' } }, { ...req, idempotencyKey: `otp-${randomUUID()}`, secretRef: undefined }]) {
      const err = await deliver(bad).catch((e) => e);
      expect(err).toBeInstanceOf(WorkflowFailedError);
      expect(err.cause?.cause).toMatchObject({ type: 'INVALID_MESSAGE' });
      expect(await outboxRow(bad.idempotencyKey)).toBeUndefined();
    }
    expect(to(sms, phone)).toHaveLength(0);
  });

  it('a retry after the send and the wipe returns SENT and sends nothing more', async () => {
    const { req, phone } = await otpMessage();
    const first = await deliver(req);
    expect(first).toMatchObject({ status: 'SENT' });
    expect(await sealedCode(req.secretRef!.id)).toBeNull();
    // The activity run again for the same message (a retry whose completion was lost, a rerun of the workflow).
    const activities = createNotificationActivities({ dataSource: stack.appDataSource, phiKeyring: phiKeysFor(stack.deps.config).ring, providers: {} });
    expect(await activities.deliverMessage(req)).toEqual(first);
    expect(await deliver(req)).toEqual(first);
    expect(to(sms, phone)).toHaveLength(1);
  });

  it('never sends a message whose secret is gone (wiped, expired, or the challenge used): FAILED with SECRET_GONE', async () => {
    for (const gone of [
      (id: string) => stack.deps.dataSource.query(`UPDATE otp_challenges SET code_sealed = NULL WHERE id = $1`, [id]),
      (id: string) => stack.deps.dataSource.query(`UPDATE otp_challenges SET expires_at = now() - interval '1 second' WHERE id = $1`, [id]),
      (id: string) => stack.deps.dataSource.query(`UPDATE otp_challenges SET consumed_at = now() WHERE id = $1`, [id]),
    ]) {
      const { req, phone } = await otpMessage();
      await gone(req.secretRef!.id);
      const callsBefore = sms.calls;
      expect(await deliver(req)).toMatchObject({ status: 'FAILED', channel: null });
      expect(sms.calls).toBe(callsBefore);
      expect(to(sms, phone)).toHaveLength(0);
      expect(await outboxRow(req.idempotencyKey)).toMatchObject({ status: 'FAILED', last_error: 'SECRET_GONE', attempts: 0 });
    }
  });

  it('keeps the secret through transient failures, then sends the right code once and wipes it', async () => {
    const { req, code, phone } = await otpMessage();
    sms.failNext(2);
    expect(await deliver(req)).toMatchObject({ status: 'SENT', channel: 'sms' });
    expect(to(sms, phone).map((m) => m.body)).toEqual([expect.stringContaining(code)]);
    expect(await outboxRow(req.idempotencyKey)).toMatchObject({ attempts: 3 });
    expect(await sealedCode(req.secretRef!.id)).toBeNull();
  });

  it('wipes the secret when the message finally fails', async () => {
    const { req, phone } = await otpMessage();
    sms.rejectRecipient(phone);
    expect(await deliver(req)).toMatchObject({ status: 'FAILED' });
    expect(await sealedCode(req.secretRef!.id)).toBeNull();
  });
});

describe('fallback whatsapp → sms → email', () => {
  it('falls back to SMS when WhatsApp refuses the number, keeping the reason', async () => {
    const phone = newPhone();
    wa.rejectRecipient(phone);
    const patientId = await newPatient({ phone, email: newEmail() });
    const req = request(patientId);
    const outcome = await deliver(req);
    expect(outcome.channel).toBe('sms');
    expect(to(wa, phone)).toHaveLength(0);
    expect(to(sms, phone)).toHaveLength(1);
    remember(to(sms, phone)[0].body);
    expect(await outboxRow(req.idempotencyKey)).toMatchObject({ status: 'SENT', channel: 'sms', last_error: 'whatsapp:131026', attempts: 1 });
  });

  it('falls back to email when both phone channels refuse the number', async () => {
    const phone = newPhone();
    const email = newEmail();
    wa.rejectRecipient(phone);
    sms.rejectRecipient(phone);
    const patientId = await newPatient({ phone, email });
    const req = request(patientId);
    expect(await deliver(req)).toMatchObject({ status: 'SENT', channel: 'email' });
    expect(mailTo(email)).toHaveLength(1);
    remember(mailTo(email)[0].text);
    expect(await outboxRow(req.idempotencyKey)).toMatchObject({ channel: 'email', last_error: 'whatsapp:131026 sms:21211' });
  });

  it('skips channels the patient has no address for, in the order of their preference', async () => {
    const email = newEmail();
    const patientId = await newPatient({ email }, { channels: ['sms', 'whatsapp', 'email'] });
    const req = request(patientId);
    const before = wa.calls + sms.calls;
    expect(await deliver(req)).toMatchObject({ status: 'SENT', channel: 'email' });
    expect(wa.calls + sms.calls).toBe(before);
    expect(mailTo(email)).toHaveLength(1);
    remember(mailTo(email)[0].text);
  });
});

describe('transient failures and idempotency', () => {
  it('retries a provider that fails twice: one message delivered, attempts = 3', async () => {
    const phone = newPhone();
    const patientId = await newPatient({ phone });
    const req = request(patientId);
    wa.failNext(2);
    const outcome = await deliver(req);
    expect(outcome).toMatchObject({ status: 'SENT', channel: 'whatsapp' });
    expect(to(wa, phone)).toHaveLength(1);
    expect(to(sms, phone)).toHaveLength(0);
    remember(to(wa, phone)[0].body);
    const row = await outboxRow(req.idempotencyKey);
    expect(row).toMatchObject({ status: 'SENT', attempts: 3, provider_message_id: to(wa, phone)[0].id });
  });

  it('retries an SMTP server that answers 451, then delivers once', async () => {
    const email = newEmail();
    const patientId = await newPatient({ email });
    const req = request(patientId);
    smtp.failNext(1);
    expect(await deliver(req)).toMatchObject({ status: 'SENT', channel: 'email' });
    expect(mailTo(email)).toHaveLength(1);
    remember(mailTo(email)[0].text);
    expect(await outboxRow(req.idempotencyKey)).toMatchObject({ attempts: 2 });
  });

  it('delivers once when the same idempotency key is run again, or twice at the same time', async () => {
    const phone = newPhone();
    const patientId = await newPatient({ phone });
    const req = request(patientId);
    const first = await deliver(req);
    const again = await deliver(req); // a new run of the same workflow id after the first closed
    const handles = await Promise.all([0, 1].map(() => stack.deps.temporal.workflow.start<typeof deliverMessage>('deliverMessage', {
      workflowId: deliverMessageWorkflowId(req.idempotencyKey), taskQueue: NOTIFICATIONS_TASK_QUEUE, args: [req], workflowIdConflictPolicy: 'USE_EXISTING',
    })));
    const concurrent = await Promise.all(handles.map((h) => h.result()));
    for (const o of [again, ...concurrent]) expect(o).toEqual(first);
    expect(to(wa, phone)).toHaveLength(1);
    remember(to(wa, phone)[0].body);
    expect((await outboxRow(req.idempotencyKey)).attempts).toBe(1);
  });

  it('refuses an idempotency key reused for a different message, here or in another clinic', async () => {
    const phone = newPhone();
    const patientId = await newPatient({ phone });
    const req = request(patientId);
    expect(await deliver(req)).toMatchObject({ status: 'SENT' });
    remember(to(wa, phone)[0].body);
    const reused = await deliver({ ...req, template: 'appointment-cancelled' }).catch((e) => e);
    expect(reused).toBeInstanceOf(WorkflowFailedError);
    expect(reused.cause?.cause).toMatchObject({ type: 'INVALID_MESSAGE' });
    const [{ id: otherClinic }] = await stack.deps.dataSource.query(
      `INSERT INTO clinics (name, slug, timezone) VALUES ('Other', $1, 'Asia/Kolkata') RETURNING id`, [`o-${randomUUID().slice(0, 8)}`]);
    const elsewhere = await deliver({ ...req, clinicId: otherClinic }).catch((e) => e);
    expect(elsewhere.cause?.cause).toMatchObject({ type: 'INVALID_MESSAGE' });
    expect(to(wa, phone)).toHaveLength(1);
    expect(await outboxRow(req.idempotencyKey)).toMatchObject({ status: 'SENT', template: 'appointment-confirmed', clinic_id: c.clinicId });
  });

  it('does not send twice when the provider accepted but the outbox update failed', async () => {
    const ds = stack.deps.dataSource;
    // A real failure at the worst moment: the first "mark SENT" for a crash-* key raises in PostgreSQL.
    // nextval is not rolled back with the failed statement, so only the first update fails.
    await ds.query(`CREATE SEQUENCE IF NOT EXISTS test_crash_seq`);
    await ds.query(`
      CREATE OR REPLACE FUNCTION test_crash_after_send() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.status = 'SENT' AND OLD.status <> 'SENT' AND NEW.idempotency_key LIKE 'crash-%' AND nextval('test_crash_seq') = 1 THEN
          RAISE EXCEPTION 'simulated crash after the provider accepted';
        END IF;
        RETURN NEW;
      END $$`);
    await ds.query(`CREATE TRIGGER test_crash_after_send BEFORE UPDATE ON notifications FOR EACH ROW EXECUTE FUNCTION test_crash_after_send()`);
    try {
      const phone = newPhone();
      const patientId = await newPatient({ phone });
      const req = request(patientId, { idempotencyKey: `crash-${randomUUID()}` });
      const callsBefore = wa.calls;
      expect(await deliver(req)).toMatchObject({ status: 'SENT', channel: 'whatsapp' });
      expect(wa.calls - callsBefore).toBe(2); // the provider was asked twice...
      expect(to(wa, phone)).toHaveLength(1); // ...and sent once: the second call replayed the first answer
      remember(to(wa, phone)[0].body);
      expect(await outboxRow(req.idempotencyKey)).toMatchObject({ status: 'SENT', attempts: 2, provider_message_id: to(wa, phone)[0].id });
    } finally {
      await ds.query(`DROP TRIGGER IF EXISTS test_crash_after_send ON notifications`);
      await ds.query(`DROP FUNCTION IF EXISTS test_crash_after_send()`);
      await ds.query(`DROP SEQUENCE IF EXISTS test_crash_seq`);
    }
  });
});

describe('dead letters', () => {
  let failedKey: string;

  it('marks the message FAILED when every channel refuses the recipient, and the workflow reports it', async () => {
    const phone = newPhone();
    const email = newEmail();
    wa.rejectRecipient(phone);
    sms.rejectRecipient(phone);
    smtp.rejectRecipient(email);
    const patientId = await newPatient({ phone, email });
    const req = request(patientId);
    failedKey = req.idempotencyKey;
    const outcome = await deliver(req);
    const row = await outboxRow(req.idempotencyKey);
    expect(outcome).toEqual({ notificationId: row.id, status: 'FAILED', channel: null });
    expect(row).toMatchObject({ status: 'FAILED', channel: null, attempts: 1, last_error: 'whatsapp:131026 sms:21211 email:SMTP_550', sent_at: null });
    expect(mailTo(email)).toHaveLength(0);
  });

  it('fails a patient with no address at all as NO_CHANNEL', async () => {
    const patientId = await newPatient({});
    const req = request(patientId);
    expect(await deliver(req)).toMatchObject({ status: 'FAILED', channel: null });
    expect(await outboxRow(req.idempotencyKey)).toMatchObject({ status: 'FAILED', last_error: 'NO_CHANNEL' });
  });

  it('looks a patient up only in the message\'s clinic', async () => {
    const patientId = await newPatient({ phone: newPhone() });
    const [{ id: otherClinic }] = await stack.deps.dataSource.query(
      `INSERT INTO clinics (name, slug, timezone) VALUES ('Other', $1, 'Asia/Kolkata') RETURNING id`, [`o-${randomUUID().slice(0, 8)}`]);
    const foreign = request(patientId, { clinicId: otherClinic });
    expect(await deliver(foreign)).toMatchObject({ status: 'FAILED', channel: null });
    expect(await outboxRow(foreign.idempotencyKey)).toMatchObject({ status: 'FAILED', clinic_id: otherClinic, last_error: 'RECIPIENT_NOT_FOUND' });
    const unknownClinic = request(patientId, { clinicId: randomUUID() });
    const err = await deliver(unknownClinic).catch((e) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect(err.cause?.cause).toMatchObject({ type: 'INVALID_MESSAGE' });
  });

  it('fails the workflow for an invalid request (missing params), recording why', async () => {
    const patientId = await newPatient({ phone: newPhone() });
    const req = request(patientId, { params: { clinicName: 'X' } });
    const err = await deliver(req).catch((e) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect(await outboxRow(req.idempotencyKey)).toMatchObject({ status: 'FAILED', last_error: 'INVALID_PARAMS', attempts: 0 });
  });

  it('lists failed messages for the clinic admin, without contact details', async () => {
    const res = await api.get('/api/v1/notifications?status=FAILED&limit=100', c.tokens.CLINIC_ADMIN, c.h);
    expect(res.status).toBe(200);
    const row = await outboxRow(failedKey);
    const item = res.body.items.find((i: any) => i.id === row.id);
    expect(item).toMatchObject({
      clinicId: c.clinicId, status: 'FAILED', channel: null, template: 'appointment-confirmed', attempts: 1,
      lastError: 'whatsapp:131026 sms:21211 email:SMTP_550', recipient: { kind: 'patient', id: row.recipient_id },
    });
    expect(res.body.items.every((i: any) => i.status === 'FAILED' && i.clinicId === c.clinicId)).toBe(true);
    const text = JSON.stringify(res.body);
    for (const s of secrets) expect(text).not.toContain(s);
  });

  it('pages the outbox newest first with a cursor', async () => {
    const all = await api.get('/api/v1/notifications?limit=100', c.tokens.CLINIC_ADMIN, c.h);
    expect(all.body.items.length).toBeGreaterThan(5);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const pageRes: any = await api.get(`/api/v1/notifications?limit=2${cursor ? `&cursor=${cursor}` : ''}`, c.tokens.CLINIC_ADMIN, c.h);
      expect(pageRes.status).toBe(200);
      seen.push(...pageRes.body.items.map((i: any) => i.id));
      cursor = pageRes.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual(all.body.items.map((i: any) => i.id));
    const times = all.body.items.map((i: any) => Date.parse(i.createdAt));
    expect([...times].sort((a, b) => b - a)).toEqual(times);
  });

  it('refuses roles without access and bad filters', async () => {
    expect((await api.get('/api/v1/notifications', c.tokens.RECEPTIONIST, c.h)).status).toBe(403);
    const bad = await api.get('/api/v1/notifications?status=LOST', c.tokens.CLINIC_ADMIN, c.h);
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].field).toBe('query.status');
    const badCursor = await api.get('/api/v1/notifications?cursor=nope', c.tokens.CLINIC_ADMIN, c.h);
    expect(badCursor.status).toBe(400);
  });

  it('dead-letters a message whose retries ran out, leaving sent ones alone', async () => {
    const activities = createNotificationActivities({ dataSource: stack.deps.dataSource });
    const patientId = await newPatient({ phone: newPhone() });
    const key = `test-${randomUUID()}`;
    await stack.deps.dataSource.query(
      `INSERT INTO notifications (clinic_id, recipient_kind, recipient_id, template, idempotency_key, attempts, last_error)
       VALUES ($1, 'patient', $2, 'appointment-confirmed', $3, 8, 'whatsapp:20500')`, [c.clinicId, patientId, key]);
    const outcome = await activities.markNotificationUndelivered({ idempotencyKey: key, clinicId: c.clinicId, reason: 'RETRIES_EXHAUSTED' });
    expect(outcome).toMatchObject({ status: 'FAILED', channel: null });
    expect(await outboxRow(key)).toMatchObject({ status: 'FAILED', last_error: 'whatsapp:20500 RETRIES_EXHAUSTED' });
    expect(await activities.markNotificationUndelivered({ idempotencyKey: `missing-${randomUUID()}`, clinicId: null, reason: 'RETRIES_EXHAUSTED' })).toBeNull();
  });

  it('without a provider for any channel, the activity fails the message as BAD_RECIPIENT', async () => {
    const activities = createNotificationActivities({ dataSource: stack.deps.dataSource, providers: {}, phiKeyring: phiKeysFor(stack.deps.config).ring });
    const patientId = await newPatient({ phone: newPhone() });
    const req = request(patientId);
    const err = await activities.deliverMessage(req).catch((e) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err).toMatchObject({ type: 'BAD_RECIPIENT', nonRetryable: true, details: [expect.objectContaining({ status: 'FAILED' })] });
    expect(err.message).not.toContain('+91');
  });
});

/** A local port nothing listens on: connections to it are refused. */
async function closedPort(): Promise<number> {
  const srv = createNetServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as AddressInfo;
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

describe('provider adapters against the stand-ins', () => {
  it('classify an unreachable or slow provider as transient', async () => {
    const port = await closedPort();
    const closed = createTwilioSms({ baseUrl: `http://127.0.0.1:${port}`, accountSid: TWILIO.accountSid, authToken: 'x', from: SMS_FROM, timeoutMs: 1000 });
    await expect(closed.send({ to: '+919800000001', subject: '', text: 'hi', idempotencyKey: randomUUID() }))
      .rejects.toMatchObject({ kind: 'transient', code: 'ECONNREFUSED' });
    wa.delayNext(1, 1500);
    const slow = createWhatsAppCloud({ baseUrl: wa.url, phoneNumberId: WHATSAPP.phoneNumberId, token: WHATSAPP.token, timeoutMs: 300 });
    await expect(slow.send({ to: '+919800000002', subject: '', text: 'hi', idempotencyKey: randomUUID() }))
      .rejects.toMatchObject({ kind: 'transient', code: 'TIMEOUT' });
    const mailDown = createSmtpEmail({ url: `smtp://127.0.0.1:${port}`, from: 'a@b.test', timeoutMs: 1000 });
    const err = await mailDown.send({ to: 'x@y.test', subject: 's', text: 't', idempotencyKey: randomUUID() }).catch((e) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect(err.kind).toBe('transient');
    await mailDown.close?.();
  });

  it('classify wrong credentials and refused recipients as permanent, without echoing the address', async () => {
    const wrong = createTwilioSms({ baseUrl: sms.url, accountSid: TWILIO.accountSid, authToken: 'wrong', from: SMS_FROM, timeoutMs: 2000 });
    await expect(wrong.send({ to: '+919800000003', subject: '', text: 'hi', idempotencyKey: randomUUID() }))
      .rejects.toMatchObject({ kind: 'permanent', code: '20003' });
    const email = newEmail();
    smtp.rejectRecipient(email);
    const mail = createSmtpEmail({ url: smtp.url, from: 'a@clinic.test', timeoutMs: 2000 });
    const err = await mail.send({ to: email, subject: 's', text: 't', idempotencyKey: randomUUID() }).catch((e) => e);
    expect(err).toMatchObject({ kind: 'permanent', code: 'SMTP_550' });
    expect(err.message).not.toContain(email);
    await mail.close?.();
  });
});

describe('no PHI in the outbox', () => {
  it('holds no phone, email, code or message text in clear', async () => {
    const rows = await stack.deps.dataSource.query(`SELECT row_to_json(n)::text AS j FROM notifications n`);
    expect(rows.length).toBeGreaterThan(10);
    expect(secrets.size).toBeGreaterThan(10);
    const dump = rows.map((r: { j: string }) => r.j).join('\n');
    for (const s of secrets) expect(dump).not.toContain(s);
    expect(dump).not.toMatch(/@mail\.test|\+91\d{10}/);
  });
});

