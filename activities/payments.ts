import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError } from '@temporalio/client';
import { ApplicationFailure, ApplicationFailureCategory } from '@temporalio/common';
import type { DataSource } from 'typeorm';
import { auditAppender } from '../shared/audit/appender';
import { returning } from '../shared/db/returning';
import { AppointmentStore } from '../shared/booking';
import { cancellationRefund, paymentSettings } from '../shared/payments/settings';
import { refundPayment, RefundRefused, type RefundKind, type RefundView } from '../shared/payments/refunds';
import { isPermanentStripeError, type StripeClient } from '../shared/payments/stripe';
import { bookingWorkflowId } from '../workflows/booking-api';
import {
  PaymentFailure, paymentSettledSignal, paymentWorkflowId, type PaymentMethod, type PaymentSettledNotice, type PaymentStatus, type PaymentView,
} from '../workflows/payment-api';

export interface PaymentActivityDeps {
  dataSource: DataSource;
  /** Card payments (PaymentIntents, refunds); absent: desk payments only. */
  stripe?: StripeClient;
}

interface Ids { clinicId: string; paymentId: string }

export interface OpenedPayment {
  payment: PaymentView;
  appointmentStatus: string;
  /** When an unpaid PENDING_PAYMENT booking is released; null when nothing is held. */
  holdUntil: string | null;
}

/** An expected business outcome, not a fault: never retried. */
const refusal = (type: keyof typeof PaymentFailure, message: string) =>
  ApplicationFailure.create({ type, message, nonRetryable: true, category: ApplicationFailureCategory.BENIGN });

const iso = (v: Date | string | null) => (v === null ? null : (v instanceof Date ? v : new Date(v)).toISOString());

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- raw pg row
export function paymentViewFromRow(r: Record<string, any>): PaymentView {
  return {
    id: r.id, clinicId: r.clinic_id, appointmentId: r.appointment_id, locationId: r.location_id, patientId: r.patient_id,
    method: r.method ?? null, status: r.status as PaymentStatus, amountMinor: r.amount_minor, currency: r.currency, refundedMinor: r.refunded_minor,
    providerPaymentId: r.provider_payment_id ?? null, workflowId: r.workflow_id, paidAt: iso(r.paid_at), createdAt: iso(r.created_at)!, updatedAt: iso(r.updated_at)!,
  };
}

export function createPaymentActivities({ dataSource, stripe }: PaymentActivityDeps) {
  const load = async ({ clinicId, paymentId }: Ids) => {
    const [row] = await dataSource.query(`SELECT * FROM payments WHERE clinic_id = $1 AND id = $2`, [clinicId, paymentId]);
    if (!row) throw refusal('NOT_FOUND', 'Payment not found');
    return row;
  };

  /** Tells the booking journey its row changed; a journey that has ended has nothing to follow. */
  const tellJourney = async (appointmentId: string, notice: PaymentSettledNotice) => {
    try {
      await Context.current().client.workflow.getHandle(bookingWorkflowId(appointmentId)).signal(paymentSettledSignal, notice);
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
    }
  };

  const refundAs = async (req: { clinicId: string; paymentId: string; amountMinor?: number; reason: string; kind: RefundKind; idempotencyKey: string }) => {
    try {
      return await refundPayment(dataSource, stripe, { ...req, actorUserId: null });
    } catch (err) {
      if (err instanceof RefundRefused) throw refusal(err.code, err.message);
      throw err;
    }
  };

  return {
    /**
     * The appointment's payment row, made on first call: the amount and currency are the service's
     * price at that moment. Idempotent. A payment left CANCELLED by an earlier run is opened again
     * while its appointment is still active.
     */
    async openPayment(req: Ids & { appointmentId: string }): Promise<OpenedPayment> {
      const [a] = await dataSource.query(
        `SELECT a.id, a.status, a.location_id, a.patient_id, a.created_at, s.price_minor, s.currency, c.settings
           FROM appointments a JOIN services s ON s.clinic_id = a.clinic_id AND s.id = a.service_id JOIN clinics c ON c.id = a.clinic_id
          WHERE a.clinic_id = $1 AND a.id = $2`,
        [req.clinicId, req.appointmentId]);
      if (!a) throw refusal('NOT_FOUND', 'Appointment not found');
      await dataSource.query(
        `INSERT INTO payments (id, clinic_id, appointment_id, location_id, patient_id, status, amount_minor, currency, workflow_id)
         VALUES ($1, $2, $3, $4, $5, 'REQUIRES_PAYMENT', $6, $7, $8) ON CONFLICT (id) DO NOTHING`,
        [req.paymentId, req.clinicId, req.appointmentId, a.location_id, a.patient_id, a.price_minor, a.currency.trim(), paymentWorkflowId(req.paymentId)]);
      const active = ['PENDING_PAYMENT', 'CONFIRMED', 'CHECKED_IN'].includes(a.status);
      if (active) {
        await dataSource.query(`UPDATE payments SET status = 'REQUIRES_PAYMENT', updated_at = now() WHERE clinic_id = $1 AND id = $2 AND status = 'CANCELLED'`, [req.clinicId, req.paymentId]);
      }
      const holdMs = Math.round(paymentSettings(a.settings).paymentHoldMinutes * 60_000);
      return {
        payment: paymentViewFromRow(await load(req)),
        appointmentStatus: a.status,
        holdUntil: a.status === 'PENDING_PAYMENT' ? new Date(new Date(a.created_at).getTime() + holdMs).toISOString() : null,
      };
    },

    /** Records the money as received (desk, or a verified card webhook). Idempotent: a payment already taken is returned as it is. Audited. */
    async recordPayment(req: Ids & { method: PaymentMethod; actorUserId: string | null; providerPaymentId: string | null }): Promise<PaymentView> {
      const [row] = await returning(dataSource, `UPDATE payments SET status = 'SUCCEEDED', method = $3, paid_by = $4, provider_payment_id = COALESCE($5, provider_payment_id), paid_at = now(), last_error = NULL, updated_at = now()
          WHERE clinic_id = $1 AND id = $2 AND status IN ('REQUIRES_PAYMENT', 'CANCELLED') RETURNING *`,
        [req.clinicId, req.paymentId, req.method, req.actorUserId, req.providerPaymentId]);
      if (!row) return paymentViewFromRow(await load(req));
      await auditAppender(dataSource).append({
        clinicId: req.clinicId, actorUserId: req.actorUserId, action: `payment.succeeded.${req.method.toLowerCase()}`, resourceType: 'Payment', resourceId: req.paymentId,
        requestId: null, ip: null,
      });
      return paymentViewFromRow(row);
    },

    /** The card was refused: kept on the payment for the desk; the hold goes on (the patient may try again). */
    async recordPaymentFailure(req: Ids & { intentId: string }): Promise<void> {
      await dataSource.query(
        `UPDATE payments SET last_error = 'card payment failed', updated_at = now() WHERE clinic_id = $1 AND id = $2 AND status = 'REQUIRES_PAYMENT'`,
        [req.clinicId, req.paymentId]);
    },

    /** The PaymentIntent the API created for this payment: the webhook for it is the one acted on. */
    async attachIntent(req: Ids & { intentId: string }): Promise<PaymentView> {
      const [row] = await returning(dataSource, `UPDATE payments SET provider_payment_id = $3, updated_at = now() WHERE clinic_id = $1 AND id = $2 AND status = 'REQUIRES_PAYMENT' RETURNING *`,
        [req.clinicId, req.paymentId, req.intentId]);
      if (!row) throw refusal('NOT_PAYABLE', 'The payment is no longer awaiting payment');
      return paymentViewFromRow(row);
    },

    /**
     * A paid booking waiting in PENDING_PAYMENT becomes CONFIRMED (conditional on the status, so a
     * release or cancel that won the race is never undone); its journey then follows and tells
     * the patient. Answers the appointment's status afterwards.
     */
    async confirmPaidAppointment(req: { clinicId: string; appointmentId: string }): Promise<{ appointmentStatus: string; confirmed: boolean }> {
      const store = new AppointmentStore(dataSource, req.clinicId);
      const row = await store.update(req.appointmentId, ['PENDING_PAYMENT'], { status: 'CONFIRMED' });
      if (row) await tellJourney(req.appointmentId, { outcome: 'PAID' });
      const current = row ?? await store.get(req.appointmentId);
      return { appointmentStatus: current?.status ?? 'CANCELLED', confirmed: row !== null };
    },

    /**
     * The hold ran out unpaid: the booking is CANCELLED with reason HOLD_EXPIRED (every resource
     * freed by the status change), the payment CANCELLED and its PaymentIntent, if any, cancelled at
     * Stripe. A payment that lands after this is refunded by the journey.
     */
    async releaseHold(req: Ids & { appointmentId: string }): Promise<{ released: boolean }> {
      const row = await new AppointmentStore(dataSource, req.clinicId).update(req.appointmentId, ['PENDING_PAYMENT'], { status: 'CANCELLED', cancelReason: 'HOLD_EXPIRED' });
      const [payment] = await returning(dataSource, `UPDATE payments SET status = 'CANCELLED', updated_at = now() WHERE clinic_id = $1 AND id = $2 AND status = 'REQUIRES_PAYMENT' RETURNING provider_payment_id`,
        [req.clinicId, req.paymentId]);
      if (payment?.provider_payment_id && stripe) {
        try {
          await stripe.paymentIntents.cancel(payment.provider_payment_id, {}, { idempotencyKey: `pi-cancel-${req.paymentId}` });
        } catch (err) {
          // Already succeeded or cancelled at Stripe: its webhook decides (a late success is refunded).
          if (!isPermanentStripeError(err)) throw err;
        }
      }
      if (row) {
        await auditAppender(dataSource).append({
          clinicId: req.clinicId, actorUserId: null, action: 'appointment.hold_expired', resourceType: 'Appointment', resourceId: req.appointmentId, requestId: null, ip: null,
        });
        await tellJourney(req.appointmentId, { outcome: 'HOLD_EXPIRED' });
      }
      return { released: row !== null };
    },

    /** Money that arrived for a booking already released or cancelled goes back in full (saga compensation). */
    async refundLatePayment(req: Ids): Promise<RefundView> {
      return refundAs({ ...req, reason: 'Paid after the booking was released or cancelled', kind: 'LATE_PAYMENT', idempotencyKey: `late-${req.paymentId}` });
    },

    /** A paid appointment was cancelled: refund what the clinic's policy gives back for that moment (nothing: null). */
    async refundCancellation(req: Ids & { cancelledAt: string }): Promise<RefundView | null> {
      const [p] = await dataSource.query(
        `SELECT p.amount_minor, p.refunded_minor, p.status, a.starts_at, c.settings FROM payments p
           JOIN appointments a ON a.clinic_id = p.clinic_id AND a.id = p.appointment_id JOIN clinics c ON c.id = p.clinic_id
          WHERE p.clinic_id = $1 AND p.id = $2`,
        [req.clinicId, req.paymentId]);
      if (!p || !['SUCCEEDED', 'PARTIALLY_REFUNDED'].includes(p.status)) return null;
      const amountMinor = cancellationRefund({
        amountMinor: p.amount_minor, refundedMinor: p.refunded_minor, startsAt: new Date(p.starts_at).getTime(), cancelledAt: Date.parse(req.cancelledAt),
        settings: paymentSettings(p.settings),
      });
      if (amountMinor <= 0) return null;
      return refundAs({ ...req, amountMinor, reason: 'Appointment cancelled (clinic refund policy)', kind: 'CANCELLATION', idempotencyKey: `cancel-${req.paymentId}` });
    },

    /** An unpaid payment whose appointment was cancelled: nothing more to collect. */
    async abandonPayment(req: Ids): Promise<void> {
      const [payment] = await returning(dataSource, `UPDATE payments SET status = 'CANCELLED', updated_at = now() WHERE clinic_id = $1 AND id = $2 AND status = 'REQUIRES_PAYMENT' RETURNING provider_payment_id`,
        [req.clinicId, req.paymentId]);
      if (payment?.provider_payment_id && stripe) {
        try {
          await stripe.paymentIntents.cancel(payment.provider_payment_id, {}, { idempotencyKey: `pi-cancel-${req.paymentId}` });
        } catch (err) {
          if (!isPermanentStripeError(err)) throw err;
        }
      }
    },
  };
}

export type PaymentActivities = ReturnType<typeof createPaymentActivities>;
