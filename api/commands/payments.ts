import { randomUUID } from 'node:crypto';
import { subject } from '@casl/ability';
import { WithStartWorkflowOperation, WorkflowUpdateFailedError } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure } from '@temporalio/common';
import type { Context } from 'koa';
import Stripe from 'stripe';
import { paymentViewFromRow } from '../../activities/payments';
import { AppointmentStore } from '../../shared/booking';
import { runInClinic } from '../../shared/db/tenant-context';
import { refundPayment, RefundRefused, type RefundView } from '../../shared/payments/refunds';
import { isPermanentStripeError, stripeFor } from '../../shared/payments/stripe';
import type { Actor, AppAbility } from '../../shared/permissions';
import { payment } from '../../workflows/payment';
import {
  appointmentCancelledSignal, DeskMethod, payAtDeskUpdate, PaymentFailure, PaymentInput, PaymentView, paymentIdFor, PAYMENTS_TASK_QUEUE, paymentWorkflowId,
  payOnlineUpdate, providerEventSignal,
} from '../../workflows/payment-api';
import type { AppointmentView } from '../../workflows/booking-api';
import { SA } from '../../workflows/search-attributes';
import { problems } from '../http/problem';
import type { ApiDeps, ApiState } from '../http/state';
import { recordAudit } from './audit';

type Ctx = Context & { state: ApiState };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const PAYABLE = ['PENDING_PAYMENT', 'CONFIRMED', 'CHECKED_IN', 'COMPLETED'];

export interface CreatePaymentInput {
  appointmentId?: string;
  therapySeriesId?: string;
  method: DeskMethod | 'CARD_ONLINE';
}

function paymentProblem(err: unknown): never {
  const failure = err instanceof WorkflowUpdateFailedError ? err.cause : undefined;
  const cause = failure instanceof ActivityFailure ? failure.cause : failure;
  if (cause instanceof ApplicationFailure) {
    switch (cause.type) {
      case PaymentFailure.ALREADY_PAID: throw problems.conflict('already-paid', cause.message);
      case PaymentFailure.NOT_PAYABLE: throw problems.conflict('not-payable', cause.message);
      case PaymentFailure.NOT_FOUND: throw problems.notFound('Appointment');
    }
  }
  if (err instanceof WorkflowUpdateFailedError) throw problems.conflict('already-paid', 'This payment can no longer be taken');
  throw err;
}

const journeyStart = (p: PaymentInput, a: { patientId: string }) => ({
  workflowId: paymentWorkflowId(p.paymentId),
  taskQueue: PAYMENTS_TASK_QUEUE,
  args: [p] as [PaymentInput],
  typedSearchAttributes: [
    { key: SA.ClinicId, value: p.clinicId }, { key: SA.PatientId, value: a.patientId }, { key: SA.AppointmentId, value: p.appointmentId },
    { key: SA.JourneyKind, value: 'payment' },
  ],
});

/**
 * Takes a payment for an appointment through its `payment-<id>` journey (update-with-start: the
 * journey may already hold the booking). Desk methods are recorded at once and confirm a booking
 * waiting for payment; CARD_ONLINE creates a Stripe PaymentIntent (idempotency key per payment)
 * and answers its client secret, which never enters the journey's history.
 */
export async function createPayment(deps: ApiDeps, ctx: Ctx, actor: Actor, ability: AppAbility, input: CreatePaymentInput) {
  const clinicId = actor.clinicId!;
  if (!input.appointmentId) {
    throw problems.unprocessable('not-supported', 'Payments for therapy courses are not available yet', [{ field: 'body.therapySeriesId', message: 'not supported yet' }]);
  }
  const row = await new AppointmentStore(deps.dataSource, clinicId).get(input.appointmentId);
  if (!row || !ability.can('read', subject('Appointment', { clinicId, patientId: row.patient_id, practitionerId: row.practitioner_id }))) throw problems.notFound('Appointment');
  if (!ability.can('create', subject('Payment', { clinicId, patientId: row.patient_id }))) throw problems.forbidden('You may not take payments for this appointment');
  const desk = input.method !== 'CARD_ONLINE';
  // Money at the counter is taken by staff; a patient pays their own online.
  if (desk && actor.roles.every((r) => r === 'PATIENT')) throw problems.forbidden('Desk payments are recorded by clinic staff');
  if (!PAYABLE.includes(row.status)) throw problems.conflict('not-payable', `Appointment is ${row.status}`);

  const paymentId = paymentIdFor(row.id);
  const [existing] = await deps.dataSource.query(`SELECT status FROM payments WHERE clinic_id = $1 AND id = $2`, [clinicId, paymentId]);
  if (existing && existing.status !== 'REQUIRES_PAYMENT' && existing.status !== 'CANCELLED') throw problems.conflict('already-paid', `The payment is ${existing.status}`);
  const p: PaymentInput = { paymentId, clinicId, appointmentId: row.id };
  const start = new WithStartWorkflowOperation(payment, { ...journeyStart(p, { patientId: row.patient_id }), workflowIdConflictPolicy: 'USE_EXISTING' });

  if (desk) {
    let view: PaymentView;
    try {
      view = await deps.temporal.workflow.executeUpdateWithStart(payAtDeskUpdate, { args: [{ actorUserId: actor.userId, method: input.method as DeskMethod }], startWorkflowOperation: start });
    } catch (err) {
      return paymentProblem(err);
    }
    await recordAudit(deps, ctx, { action: 'payment.create', resourceType: 'Payment', resourceId: view.id, clinicId, actorUserId: actor.userId });
    return view;
  }

  const [price] = await deps.dataSource.query(`SELECT s.price_minor, s.currency FROM services s WHERE s.clinic_id = $1 AND s.id = $2`, [clinicId, row.service_id]);
  let intent: Stripe.PaymentIntent;
  try {
    intent = await stripeFor(deps.config).paymentIntents.create(
      { amount: price.price_minor, currency: price.currency.trim().toLowerCase(), metadata: { paymentId, clinicId, appointmentId: row.id } },
      { idempotencyKey: `pi-create-${paymentId}` },
    );
  } catch (err) {
    if (isPermanentStripeError(err)) throw problems.unprocessable('provider-refused', 'The card provider refused to start this payment');
    throw problems.unavailable('The card provider cannot be reached; try again');
  }
  let view: PaymentView;
  try {
    view = await deps.temporal.workflow.executeUpdateWithStart(payOnlineUpdate, { args: [{ actorUserId: actor.userId, intentId: intent.id }], startWorkflowOperation: start });
  } catch (err) {
    return paymentProblem(err);
  }
  await recordAudit(deps, ctx, { action: 'payment.create.card_online', resourceType: 'Payment', resourceId: view.id, clinicId, actorUserId: actor.userId });
  return { ...view, clientSecret: intent.client_secret };
}

/** The payments of one appointment (one per appointment today), with their refunds. */
export async function listPayments(deps: ApiDeps, actor: Actor, ability: AppAbility, q: { appointmentId: string }) {
  const clinicId = actor.clinicId!;
  const rows = await deps.dataSource.query(`SELECT * FROM payments WHERE clinic_id = $1 AND appointment_id = $2 ORDER BY created_at`, [clinicId, q.appointmentId]);
  const visible = rows.filter((r: { patient_id: string }) => ability.can('read', subject('Payment', { clinicId, patientId: r.patient_id })));
  const items = [];
  for (const r of visible) {
    const refunds = await deps.dataSource.query(`SELECT id, amount_minor, reason, kind, status, created_at FROM refunds WHERE clinic_id = $1 AND payment_id = $2 ORDER BY created_at`, [clinicId, r.id]);
    items.push({
      ...paymentViewFromRow(r),
      refunds: refunds.map((f: Record<string, unknown>) => ({ id: f.id, amountMinor: f.amount_minor, reason: f.reason, kind: f.kind, status: f.status, createdAt: new Date(f.created_at as string).toISOString() })),
    });
  }
  return { items, nextCursor: null };
}

/** A refund by staff (BILLING_SPECIALIST, CLINIC_ADMIN). The same Idempotency-Key gives the same refund. */
export async function refund(deps: ApiDeps, actor: Actor, ability: AppAbility, id: string, body: { amountMinor?: number; reason: string }, idempotencyKey?: string): Promise<RefundView> {
  const clinicId = actor.clinicId!;
  const [row] = await deps.dataSource.query(`SELECT patient_id FROM payments WHERE clinic_id = $1 AND id = $2`, [clinicId, id]);
  if (!row || !ability.can('read', subject('Payment', { clinicId, patientId: row.patient_id }))) throw problems.notFound('Payment');
  if (!ability.can('refund', subject('Payment', { clinicId, patientId: row.patient_id }))) throw problems.forbidden('You may not refund payments');
  try {
    return await refundPayment(deps.dataSource, stripeFor(deps.config), {
      clinicId, paymentId: id, amountMinor: body.amountMinor, reason: body.reason, kind: 'MANUAL',
      idempotencyKey: idempotencyKey ? `manual-${actor.userId}-${idempotencyKey}` : `manual-${randomUUID()}`, actorUserId: actor.userId,
    });
  } catch (err) {
    if (!(err instanceof RefundRefused)) throw err;
    switch (err.code) {
      case 'NOT_FOUND': throw problems.notFound('Payment');
      case 'NOT_REFUNDABLE': throw problems.conflict('not-refundable', err.message);
      case 'OVER_REFUND': throw problems.unprocessable('over-refund', err.message, [{ field: 'body.amountMinor', message: err.message }]);
      case 'PROVIDER_REFUSED': throw problems.unprocessable('provider-refused', err.message);
    }
  }
}

/**
 * After an appointment was cancelled: its payment journey refunds a paid one by the clinic's policy
 * or gives up collecting an unpaid one (signal-with-start: the journey may have ended long ago).
 */
export async function afterAppointmentCancelled(deps: ApiDeps, a: AppointmentView): Promise<void> {
  const paymentId = paymentIdFor(a.id);
  const [p] = await deps.dataSource.query(`SELECT status FROM payments WHERE clinic_id = $1 AND id = $2`, [a.clinicId, paymentId]);
  if (!p || !['REQUIRES_PAYMENT', 'SUCCEEDED', 'PARTIALLY_REFUNDED'].includes(p.status)) return;
  await deps.temporal.workflow.signalWithStart(payment, {
    ...journeyStart({ paymentId, clinicId: a.clinicId, appointmentId: a.id }, a),
    signal: appointmentCancelledSignal, signalArgs: [{ cancelledAt: new Date().toISOString() }],
  });
}

/**
 * A Stripe webhook: verified by the SDK over the raw body with the configured tolerance (a bad or
 * stale signature is 400 and nothing happens), then passed to the payment's journey, which acts on
 * each event id once. Events for unknown payments or other intents are acknowledged and ignored.
 */
export async function stripeWebhook(deps: ApiDeps, ctx: Ctx): Promise<{ received: true; acted: boolean }> {
  const raw = (ctx.request as { rawBody?: string }).rawBody;
  const signature = ctx.get('stripe-signature');
  if (typeof raw !== 'string' || !signature) throw problems.badRequest('A signed Stripe event is required');
  let event: Stripe.Event;
  try {
    event = stripeFor(deps.config).webhooks.constructEvent(raw, signature, deps.config.STRIPE_WEBHOOK_SECRET, deps.config.STRIPE_WEBHOOK_TOLERANCE_SECONDS);
  } catch {
    throw problems.badRequest('The Stripe signature does not verify');
  }
  if (event.type !== 'payment_intent.succeeded' && event.type !== 'payment_intent.payment_failed') return { received: true, acted: false };
  const intent = event.data.object as Stripe.PaymentIntent;
  const { paymentId, clinicId } = intent.metadata ?? {};
  if (!UUID.test(paymentId ?? '') || !UUID.test(clinicId ?? '')) return { received: true, acted: false };
  const [row] = await runInClinic(clinicId, () => deps.dataSource.query(
    `SELECT appointment_id, patient_id, provider_payment_id FROM payments WHERE clinic_id = $1 AND id = $2`, [clinicId, paymentId]));
  if (!row || row.provider_payment_id !== intent.id) return { received: true, acted: false };
  await deps.temporal.workflow.signalWithStart(payment, {
    ...journeyStart({ paymentId, clinicId, appointmentId: row.appointment_id }, { patientId: row.patient_id }),
    signal: providerEventSignal, signalArgs: [{ eventId: event.id, intentId: intent.id, outcome: event.type === 'payment_intent.succeeded' ? 'succeeded' : 'failed' }],
  });
  return { received: true, acted: true };
}
