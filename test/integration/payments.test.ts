import { randomUUID } from 'node:crypto';
import { payAtDeskUpdate, paymentIdFor, paymentStatusQuery, paymentWorkflowId } from '../../workflows/payment-api';
import { bookingWorkflowId, statusQuery } from '../../workflows/booking-api';
import { adminToken, ClinicFixture, createClinic, nextSlot } from '../support/fixtures';
import { Api, client, Res } from '../support/http';
import { Stack, startStack } from '../support/stack';

/**
 * Money and waiting (issue 11): desk payments confirm a booking held in PENDING_PAYMENT, the hold
 * is released when the clinic's paymentHoldMinutes run out, a payment that lands after that is
 * refunded (saga compensation), refunds are by role and never exceed what was paid (even under 10
 * concurrent requests), and a cancellation refunds by the clinic's policy. Real dev server,
 * PostgreSQL and Redis.
 */
jest.setTimeout(180_000);

let stack: Stack;
let api: Api;
let su: string;
let a: ClinicFixture;
let b: ClinicFixture;
let paidServiceA: string;
let paidServiceB: string;
const PRICE = 150_000;

const db = () => stack.deps.dataSource;
const ok = (res: Res, status: number, what: string) => {
  if (res.status !== status) throw new Error(`${what}: expected ${status}, got ${res.status} ${JSON.stringify(res.body)}`);
  return res;
};

async function until<T>(what: string, probe: () => Promise<T>, done: (v: T) => boolean, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (done(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: last ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function paidService(f: ClinicFixture): Promise<string> {
  const res = await api.post('/api/v1/services', {
    code: `PAID${randomUUID().slice(0, 6)}`, name: 'Paid consultation', kind: 'CONSULTATION', durationMinutes: 30, priceMinor: PRICE, currency: 'INR', requiresPayment: true,
  }, f.tokens.CLINIC_ADMIN, f.h);
  return ok(res, 201, 'paid service').body.id;
}

async function book(f: ClinicFixture, serviceId: string, startsAt = nextSlot()): Promise<{ id: string; status: string; startsAt: string }> {
  const res = await api.post('/api/v1/appointments', { patientId: f.patientId, practitionerId: f.practitionerId, serviceId, locationId: f.locationId, startsAt }, f.tokens.RECEPTIONIST, f.h);
  return ok(res, 201, 'book').body;
}

const appointmentRow = async (id: string) => (await db().query(`SELECT status, cancel_reason FROM appointments WHERE id = $1`, [id]))[0];
const paymentRow = async (appointmentId: string) => (await db().query(`SELECT * FROM payments WHERE appointment_id = $1`, [appointmentId]))[0];
const refundsOf = async (paymentId: string) => db().query(`SELECT amount_minor, kind, status FROM refunds WHERE payment_id = $1 ORDER BY created_at`, [paymentId]);

async function paidAtDesk(f: ClinicFixture, serviceId: string, startsAt?: string) {
  const appt = await book(f, serviceId, startsAt);
  const pay = ok(await api.post('/api/v1/payments', { appointmentId: appt.id, method: 'CASH' }, f.tokens.RECEPTIONIST, f.h), 201, 'desk payment');
  return { appt, payment: pay.body };
}

beforeAll(async () => {
  stack = await startStack({ queues: ['booking', 'payments', 'notifications'] });
  api = client(stack.baseUrl);
  su = await adminToken(api);
  const roles = ['CLINIC_ADMIN', 'RECEPTIONIST', 'BILLING_SPECIALIST', 'DOCTOR'];
  a = await createClinic(api, su, roles);
  b = await createClinic(api, su, roles);
  paidServiceA = await paidService(a);
  paidServiceB = await paidService(b);
  // B releases unpaid bookings after 3 seconds.
  ok(await api.patch(`/api/v1/clinics/${b.clinicId}`, { settings: { paymentHoldMinutes: 0.05 } }, b.tokens.CLINIC_ADMIN, b.h), 200, 'hold setting');
  ok(await api.patch(`/api/v1/clinics/${a.clinicId}`, { settings: { refundFullBeforeHours: 24, refundLatePercent: 50 } }, a.tokens.CLINIC_ADMIN, a.h), 200, 'refund policy');
}, 120_000);
afterAll(() => stack?.stop());

describe('desk payments', () => {
  it('a desk payment confirms a booking waiting for payment, through its journey, and is audited', async () => {
    const appt = await book(a, paidServiceA);
    expect(appt.status).toBe('PENDING_PAYMENT');
    const pay = ok(await api.post('/api/v1/payments', { appointmentId: appt.id, method: 'UPI' }, a.tokens.RECEPTIONIST, a.h), 201, 'pay');
    expect(pay.body).toMatchObject({ id: paymentIdFor(appt.id), status: 'SUCCEEDED', amountMinor: PRICE, currency: 'INR', method: 'UPI' });
    expect((await appointmentRow(appt.id)).status).toBe('CONFIRMED');
    // The booking journey follows the row (and so arms reminders for a confirmed visit).
    const handle = stack.deps.temporal.workflow.getHandle(bookingWorkflowId(appt.id));
    await until('journey confirmed', () => handle.query(statusQuery), (s) => s.appointmentStatus === 'CONFIRMED');

    const audits = await db().query(`SELECT action FROM audit_logs WHERE resource_id = $1 ORDER BY occurred_at`, [pay.body.id]);
    expect(audits.map((r: { action: string }) => r.action)).toEqual(expect.arrayContaining(['payment.create', 'payment.succeeded.upi']));

    // Paid once: a second payment is refused, not taken twice.
    expect((await api.post('/api/v1/payments', { appointmentId: appt.id, method: 'CASH' }, a.tokens.BILLING_SPECIALIST, a.h)).status).toBe(409);
    const list = ok(await api.get(`/api/v1/payments?appointmentId=${appt.id}`, a.tokens.BILLING_SPECIALIST, a.h), 200, 'list');
    expect(list.body.items).toHaveLength(1);
    expect(list.body.items[0]).toMatchObject({ status: 'SUCCEEDED', amountMinor: PRICE, refunds: [] });
  });

  it('is taken by the desk roles only, and never for another clinic', async () => {
    const appt = await book(a, paidServiceA);
    expect((await api.post('/api/v1/payments', { appointmentId: appt.id, method: 'CASH' }, a.tokens.DOCTOR, a.h)).status).toBe(403);
    expect((await api.post('/api/v1/payments', { appointmentId: appt.id, method: 'CASH' }, b.tokens.RECEPTIONIST, b.h)).status).toBe(404);
    const bad = await api.post('/api/v1/payments', { appointmentId: appt.id, method: 'CHEQUE' }, a.tokens.RECEPTIONIST, a.h);
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body.errors)).toContain('body.method');
    expect((await appointmentRow(appt.id)).status).toBe('PENDING_PAYMENT');
    ok(await api.post('/api/v1/payments', { appointmentId: appt.id, method: 'CARD_DESK' }, a.tokens.BILLING_SPECIALIST, a.h), 201, 'billing pays');
  });
});

describe('unpaid holds', () => {
  let released: { id: string; status: string; startsAt: string };

  it("releases an unpaid booking when the clinic's hold runs out: CANCELLED, HOLD_EXPIRED, every resource freed, the patient told", async () => {
    released = await book(b, paidServiceB);
    expect(released.status).toBe('PENDING_PAYMENT');
    const row = await until('hold released', () => appointmentRow(released.id), (r) => r.status === 'CANCELLED');
    expect(row.cancel_reason).toBe('HOLD_EXPIRED');
    expect(await db().query(`SELECT 1 FROM appointment_resources WHERE appointment_id = $1`, [released.id])).toEqual([]);
    expect((await paymentRow(released.id)).status).toBe('CANCELLED');
    // The slot is free again.
    const again = await book(b, b.serviceId, released.startsAt);
    expect(again.status).toBe('CONFIRMED');
    // The booking journey followed the row, told the patient, and ended.
    const journey = stack.deps.temporal.workflow.getHandle(bookingWorkflowId(released.id));
    await until('journey ended', () => journey.query(statusQuery), (s) => s.phase === 'ENDED');
    // The journey's message to the patient: an outbox row under the journey's idempotency key.
    await until('the hold-expired message', () => stack.deps.dataSource.query(`SELECT template FROM notifications WHERE idempotency_key = $1`, [`appointment-${released.id}-m1-appointment-hold-expired`]), (rows: unknown[]) => rows.length === 1);
  });

  it('refunds a payment that lands after the release in full (saga compensation); the desk cannot pay a released booking', async () => {
    expect((await api.post('/api/v1/payments', { appointmentId: released.id, method: 'CASH' }, b.tokens.RECEPTIONIST, b.h)).status).toBe(409);
    // A payment that raced the release reaches the journey anyway (as a card webhook or a desk update already under way would).
    const handle = stack.deps.temporal.workflow.getHandle(paymentWorkflowId(paymentIdFor(released.id)));
    const late = await handle.executeUpdate(payAtDeskUpdate, { args: [{ actorUserId: b.userIds.RECEPTIONIST, method: 'CASH' }] });
    expect(late.status).toBe('SUCCEEDED');
    const payment = await until('late payment refunded', () => paymentRow(released.id), (p) => p.status === 'REFUNDED');
    expect(payment.refunded_minor).toBe(PRICE);
    expect(await refundsOf(payment.id)).toEqual([{ amount_minor: PRICE, kind: 'LATE_PAYMENT', status: 'SUCCEEDED' }]);
    expect((await handle.query(paymentStatusQuery)).compensations).toEqual(['LATE_PAYMENT_REFUNDED']);
    expect((await appointmentRow(released.id)).status).toBe('CANCELLED');
  });
});

describe('refunds', () => {
  it('by BILLING_SPECIALIST or CLINIC_ADMIN only; never more than was paid, even under 10 concurrent requests', async () => {
    const { payment } = await paidAtDesk(a, paidServiceA);
    const url = `/api/v1/payments/${payment.id}/refund`;
    expect((await api.post(url, { amountMinor: 100, reason: 'goodwill' }, a.tokens.RECEPTIONIST, a.h)).status).toBe(403);
    expect((await api.post(url, { amountMinor: 100, reason: 'goodwill' }, a.tokens.DOCTOR, a.h)).status).toBe(403);
    expect((await api.post(url, { amountMinor: 100, reason: 'goodwill' }, b.tokens.BILLING_SPECIALIST, b.h)).status).toBe(404);
    const first = ok(await api.post(url, { amountMinor: 50_000, reason: 'partial' }, a.tokens.BILLING_SPECIALIST, a.h), 201, 'partial refund');
    expect(first.body).toMatchObject({ amountMinor: 50_000, status: 'SUCCEEDED', kind: 'MANUAL' });
    // 100 000 left; ten concurrent requests of 20 000: exactly five fit.
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) =>
      api.post(url, { amountMinor: 20_000, reason: `race ${i}` }, i % 2 ? a.tokens.CLINIC_ADMIN : a.tokens.BILLING_SPECIALIST, a.h)));
    expect(answers.map((r) => r.status).sort()).toEqual([201, 201, 201, 201, 201, 422, 422, 422, 422, 422]);
    expect(answers.find((r) => r.status === 422)!.body.type).toMatch(/over-refund$/);
    const row = (await db().query(`SELECT status, refunded_minor FROM payments WHERE id = $1`, [payment.id]))[0];
    expect(row).toEqual({ status: 'REFUNDED', refunded_minor: PRICE });
    const total = (await refundsOf(payment.id)).reduce((s: number, r: { amount_minor: number }) => s + r.amount_minor, 0);
    expect(total).toBe(PRICE);
    expect((await api.post(url, { reason: 'anything left?' }, a.tokens.CLINIC_ADMIN, a.h)).status).toBe(422);
  });

  it('the same Idempotency-Key is the same refund', async () => {
    const { payment } = await paidAtDesk(a, paidServiceA);
    const headers = { ...a.h, 'idempotency-key': `k-${randomUUID()}` };
    const call = () => api.call('POST', `/api/v1/payments/${payment.id}/refund`, { token: a.tokens.BILLING_SPECIALIST, body: { amountMinor: 1000, reason: 'once' }, headers });
    const [x, y] = [await call(), await call()];
    expect(x.status).toBe(201);
    expect(y.body.id).toBe(x.body.id);
    // And at the same moment.
    const again = { ...a.h, 'idempotency-key': `k-${randomUUID()}` };
    const [p, q] = await Promise.all([1, 2].map(() => api.call('POST', `/api/v1/payments/${payment.id}/refund`, { token: a.tokens.CLINIC_ADMIN, body: { amountMinor: 500, reason: 'twice at once' }, headers: again })));
    expect([p.status, q.status]).toEqual([201, 201]);
    expect(q.body.id).toBe(p.body.id);
    expect((await db().query(`SELECT refunded_minor FROM payments WHERE id = $1`, [payment.id]))[0].refunded_minor).toBe(1500);
  });

  it("cancelling a paid appointment refunds by the clinic's policy: in full early, half inside 24 hours", async () => {
    const early = await paidAtDesk(a, paidServiceA, nextSlot(5));
    ok(await api.post(`/api/v1/appointments/${early.appt.id}/cancel`, { reason: 'patient travelling' }, a.tokens.RECEPTIONIST, a.h), 200, 'cancel early');
    const full = await until('full refund', () => paymentRow(early.appt.id), (p) => p.status === 'REFUNDED');
    expect(await refundsOf(full.id)).toEqual([{ amount_minor: PRICE, kind: 'CANCELLATION', status: 'SUCCEEDED' }]);

    const soon = new Date(Math.ceil((Date.now() + 3 * 3_600_000) / 1_800_000) * 1_800_000 + 7 * 60_000).toISOString();
    const late = await paidAtDesk(a, paidServiceA, soon);
    ok(await api.post(`/api/v1/appointments/${late.appt.id}/cancel`, { reason: 'changed mind' }, a.tokens.RECEPTIONIST, a.h), 200, 'cancel late');
    const half = await until('half refund', () => paymentRow(late.appt.id), (p) => p.status === 'PARTIALLY_REFUNDED');
    expect(half.refunded_minor).toBe(PRICE / 2);
    expect(await refundsOf(half.id)).toEqual([{ amount_minor: PRICE / 2, kind: 'CANCELLATION', status: 'SUCCEEDED' }]);
  });
});
