import { randomUUID } from 'node:crypto';
import Stripe from 'stripe';
import { bookingWorkflowId, statusQuery } from '../../workflows/booking-api';
import { paymentIdFor, paymentStatusQuery, paymentWorkflowId } from '../../workflows/payment-api';
import { adminToken, ClinicFixture, createClinic } from '../support/fixtures';
import { Api, client, Res } from '../support/http';
import { Stack, startStack } from '../support/stack';
import { startStripeMock, StripeMock } from '../support/stripe-mock';

jest.setTimeout(180_000);

/**
 * Online card payments (issue 11): a PaymentIntent created through the official SDK against Stripe's
 * own mock server, answered with its client secret; webhooks signed with the configured secret
 * exactly as Stripe signs them. A signed success confirms the booking through the payment journey;
 * a forged or stale (replayed) signature is 400 and changes nothing; a duplicate is harmless.
 */
const SECRET = `whsec_${randomUUID().replace(/-/g, '')}`;
const PRICE = 99_900;
let mock: StripeMock;
let stack: Stack;
let api: Api;
let a: ClinicFixture;
let paidService: string;
let slot = 0;
const sdk = new Stripe('sk_test_signing_only');

const ok = (res: Res, status: number, what: string) => {
  if (res.status !== status) throw new Error(`${what}: expected ${status}, got ${res.status} ${JSON.stringify(res.body)}`);
  return res;
};
const db = () => stack.deps.dataSource;

async function until<T>(what: string, probe: () => Promise<T>, done: (v: T) => boolean, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (done(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: last ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function event(type: 'payment_intent.succeeded' | 'payment_intent.payment_failed', intentId: string, paymentId: string, id = `evt_${randomUUID().replace(/-/g, '')}`) {
  return JSON.stringify({
    id, object: 'event', type, api_version: '2024-06-20', created: Math.floor(Date.now() / 1000), livemode: false, pending_webhooks: 1,
    data: { object: { id: intentId, object: 'payment_intent', amount: PRICE, currency: 'inr', status: type === 'payment_intent.succeeded' ? 'succeeded' : 'requires_payment_method', metadata: { paymentId, clinicId: a.clinicId } } },
  });
}

/** Signed exactly as Stripe signs (t=…,v1=HMAC-SHA256 of "t.payload"), by the SDK's own helper. */
const post = (payload: string, signature: string) =>
  api.call('POST', '/api/v1/payments/webhooks/stripe', { raw: payload, headers: { 'stripe-signature': signature } });
const sign = (payload: string, opts: { secret?: string; timestamp?: number } = {}) =>
  sdk.webhooks.generateTestHeaderString({ payload, secret: opts.secret ?? SECRET, timestamp: opts.timestamp });

async function bookPaid(): Promise<string> {
  slot += 1;
  const startsAt = new Date(Date.UTC(new Date().getUTCFullYear() + 1, 2, 1, 4, 0) + slot * 3_600_000).toISOString();
  const res = await api.post('/api/v1/appointments', { patientId: a.patientId, practitionerId: a.practitionerId, serviceId: paidService, locationId: a.locationId, startsAt }, a.tokens.RECEPTIONIST, a.h);
  expect(ok(res, 201, 'book').body.status).toBe('PENDING_PAYMENT');
  return res.body.id;
}

async function payOnline(appointmentId: string) {
  const res = ok(await api.post('/api/v1/payments', { appointmentId, method: 'CARD_ONLINE' }, a.tokens.PATIENT, a.h), 201, 'online');
  return res.body as { id: string; status: string; clientSecret: string; providerPaymentId: string };
}

beforeAll(async () => {
  mock = await startStripeMock();
  stack = await startStack({ queues: ['booking', 'payments', 'notifications'], env: { STRIPE_API_BASE: mock.apiBase, STRIPE_WEBHOOK_SECRET: SECRET, STRIPE_WEBHOOK_TOLERANCE_SECONDS: '300' } });
  api = client(stack.baseUrl);
  const su = await adminToken(api);
  a = await createClinic(api, su, ['CLINIC_ADMIN', 'RECEPTIONIST', 'PATIENT', 'DOCTOR']);
  await db().query('UPDATE patients SET user_id = $1 WHERE id = $2', [a.userIds.PATIENT, a.patientId]);
  const svc = await api.post('/api/v1/services', { code: 'ONLINE', name: 'Online-paid visit', kind: 'CONSULTATION', durationMinutes: 30, priceMinor: PRICE, currency: 'INR', requiresPayment: true }, a.tokens.CLINIC_ADMIN, a.h);
  paidService = ok(svc, 201, 'service').body.id;
}, 180_000);
afterAll(async () => {
  await stack?.stop();
  await mock?.stop();
});

describe('online card payments (Stripe SDK against stripe-mock)', () => {
  it('a PaymentIntent answers its client secret; a signed success webhook confirms the booking; a duplicate is harmless', async () => {
    const appointmentId = await bookPaid();
    const online = await payOnline(appointmentId);
    expect(online).toMatchObject({ id: paymentIdFor(appointmentId), status: 'REQUIRES_PAYMENT' });
    expect(online.clientSecret).toMatch(/^pi_\w+_secret_\w+$/);
    expect(online.providerPaymentId).toMatch(/^pi_/);

    const payload = event('payment_intent.succeeded', online.providerPaymentId, online.id);
    const signature = sign(payload);
    expect(ok(await post(payload, signature), 200, 'webhook').body).toEqual({ received: true, acted: true });
    await until('confirmed', async () => (await db().query('SELECT status FROM appointments WHERE id = $1', [appointmentId]))[0].status, (s) => s === 'CONFIRMED');
    const [p] = await db().query('SELECT status, method, amount_minor FROM payments WHERE id = $1', [online.id]);
    expect(p).toEqual({ status: 'SUCCEEDED', method: 'CARD_ONLINE', amount_minor: PRICE });
    await until('journey confirmed', () => stack.deps.temporal.workflow.getHandle(bookingWorkflowId(appointmentId)).query(statusQuery), (s) => s.appointmentStatus === 'CONFIRMED');

    // Stripe retries deliveries: the same event again changes nothing and is not an error.
    expect((await post(payload, signature)).status).toBe(200);
    const journey = await stack.deps.temporal.workflow.getHandle(paymentWorkflowId(online.id)).query(paymentStatusQuery).catch(() => null);
    if (journey) expect(journey.eventsSeen).toBe(1);
    expect(await db().query('SELECT count(*)::int AS n FROM audit_logs WHERE resource_id = $1 AND action = $2', [online.id, 'payment.succeeded.card_online'])).toEqual([{ n: 1 }]);
    // A refund of a card payment goes to Stripe with an idempotency key and is recorded with its id.
    const refund = ok(await api.post(`/api/v1/payments/${online.id}/refund`, { amountMinor: 100, reason: 'goodwill' }, a.tokens.CLINIC_ADMIN, a.h), 201, 'refund');
    expect(refund.body.providerRefundId).toMatch(/^re_/);
  });

  it('refuses a forged or replayed webhook with 400 and acts on nothing', async () => {
    const appointmentId = await bookPaid();
    const online = await payOnline(appointmentId);
    const payload = event('payment_intent.succeeded', online.providerPaymentId, online.id);
    const forged = await post(payload, sign(payload, { secret: 'whsec_not_the_configured_secret_123' }));
    expect(forged.status).toBe(400);
    expect(forged.headers.get('content-type')).toMatch(/problem\+json/);
    // Signed correctly, but ten minutes ago: outside the tolerance, a replay.
    expect((await post(payload, sign(payload, { timestamp: Math.floor(Date.now() / 1000) - 600 }))).status).toBe(400);
    // A body altered after signing.
    expect((await post(payload.replace(String(PRICE), '1'), sign(payload))).status).toBe(400);
    expect((await post(payload, '')).status).toBe(400);
    await new Promise((r) => setTimeout(r, 1500));
    expect((await db().query('SELECT status FROM payments WHERE id = $1', [online.id]))[0].status).toBe('REQUIRES_PAYMENT');
    expect((await db().query('SELECT status FROM appointments WHERE id = $1', [appointmentId]))[0].status).toBe('PENDING_PAYMENT');
  });

  it('a failed card payment keeps the hold; a later success still confirms', async () => {
    const appointmentId = await bookPaid();
    const online = await payOnline(appointmentId);
    const failed = event('payment_intent.payment_failed', online.providerPaymentId, online.id);
    ok(await post(failed, sign(failed)), 200, 'failed webhook');
    await until('failure recorded', async () => (await db().query('SELECT last_error FROM payments WHERE id = $1', [online.id]))[0].last_error, (e) => e !== null);
    expect((await db().query('SELECT status FROM appointments WHERE id = $1', [appointmentId]))[0].status).toBe('PENDING_PAYMENT');
    const succeeded = event('payment_intent.succeeded', online.providerPaymentId, online.id);
    ok(await post(succeeded, sign(succeeded)), 200, 'success webhook');
    await until('confirmed', async () => (await db().query('SELECT status FROM appointments WHERE id = $1', [appointmentId]))[0].status, (s) => s === 'CONFIRMED');
  });
});
