import type { DataSource } from 'typeorm';
import { auditAppender } from '../audit/appender';
import { PG, pgCode } from '../db/pg-errors';
import { returning } from '../db/returning';
import { runInClinic } from '../db/tenant-context';
import type { StripeClient } from './stripe';
import { isPermanentStripeError } from './stripe';

export type RefundKind = 'MANUAL' | 'CANCELLATION' | 'LATE_PAYMENT';

export interface RefundRequest {
  clinicId: string;
  paymentId: string;
  /** Absent: everything still refundable. */
  amountMinor?: number;
  reason: string;
  kind: RefundKind;
  /** Same key, same refund: a retried request or activity never refunds twice. */
  idempotencyKey: string;
  actorUserId: string | null;
}

export interface RefundView {
  id: string;
  paymentId: string;
  amountMinor: number;
  reason: string;
  kind: RefundKind;
  status: 'PENDING' | 'SUCCEEDED' | 'FAILED';
  providerRefundId: string | null;
  createdAt: string;
}

/** Why a refund was refused; the API and the payment journey map it (a business outcome, never retried). */
export class RefundRefused extends Error {
  constructor(readonly code: 'NOT_FOUND' | 'NOT_REFUNDABLE' | 'OVER_REFUND' | 'PROVIDER_REFUSED', message: string) {
    super(message);
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- raw pg row
const view = (r: any): RefundView => ({
  id: r.id, paymentId: r.payment_id, amountMinor: r.amount_minor, reason: r.reason, kind: r.kind, status: r.status,
  providerRefundId: r.provider_refund_id ?? null, createdAt: new Date(r.created_at).toISOString(),
});

/**
 * Refunds part or all of a payment. The amount is reserved first, in PostgreSQL: one conditional
 * UPDATE of the payment's running total (its row lock serialises concurrent refunds; the CHECK
 * `refunded_minor <= amount_minor` is the last wall), together with the refund row, keyed by the
 * idempotency key. Only then is the provider asked (card payments), with the refund's id as
 * Stripe's idempotency key; a refusal gives the reservation back. Desk payments are handed back at
 * the desk: recorded as done. Audited.
 */
export async function refundPayment(dataSource: DataSource, stripe: StripeClient | undefined, req: RefundRequest): Promise<RefundView> {
  return runInClinic(req.clinicId, async () => {
    // Two requests with one key at once: the loser meets the unique key and answers the winner's refund.
    const reserve = () => dataSource.transaction(async (tx) => {
      const [existing] = await tx.query(`SELECT * FROM refunds WHERE clinic_id = $1 AND idempotency_key = $2`, [req.clinicId, req.idempotencyKey]);
      if (existing) return { refund: existing, fresh: false };
      // The row lock serialises concurrent refunds of one payment: each sees the total the one before it left.
      const [p] = await tx.query(`SELECT status, amount_minor, refunded_minor FROM payments WHERE clinic_id = $1 AND id = $2 FOR UPDATE`, [req.clinicId, req.paymentId]);
      if (!p) throw new RefundRefused('NOT_FOUND', 'Payment not found');
      if (p.status === 'REFUNDED') throw new RefundRefused('OVER_REFUND', 'Nothing is left to refund');
      if (!['SUCCEEDED', 'PARTIALLY_REFUNDED'].includes(p.status)) throw new RefundRefused('NOT_REFUNDABLE', `Payment is ${p.status}`);
      const left = p.amount_minor - p.refunded_minor;
      const amount = req.amountMinor ?? left;
      if (amount <= 0 || amount > left) throw new RefundRefused('OVER_REFUND', `At most ${left} can still be refunded`);
      // The CHECK (refunded_minor <= amount_minor) stands behind this arithmetic.
      await tx.query(
        `UPDATE payments SET refunded_minor = refunded_minor + $3, status = CASE WHEN refunded_minor + $3 = amount_minor THEN 'REFUNDED' ELSE 'PARTIALLY_REFUNDED' END,
                updated_at = now() WHERE clinic_id = $1 AND id = $2`,
        [req.clinicId, req.paymentId, amount]);
      const [refund] = await tx.query(
        `INSERT INTO refunds (clinic_id, payment_id, amount_minor, reason, kind, status, idempotency_key, created_by)
         VALUES ($1, $2, $3, $4, $5, 'PENDING', $6, $7) RETURNING *`,
        [req.clinicId, req.paymentId, amount, req.reason, req.kind, req.idempotencyKey, req.actorUserId]);
      return { refund, fresh: true };
    });
    const reserved = await reserve().catch(async (err) => {
      if (pgCode(err) !== PG.UNIQUE_VIOLATION) throw err;
      return reserve();
    });
    if (!reserved.fresh && reserved.refund.status !== 'PENDING') return view(reserved.refund);
    const [payment] = await dataSource.query(`SELECT method, provider_payment_id FROM payments WHERE clinic_id = $1 AND id = $2`, [req.clinicId, req.paymentId]);
    let providerRefundId: string | null = null;
    if (payment.method === 'CARD_ONLINE') {
      if (!stripe) throw new Error('refundPayment: no Stripe client for a card payment');
      try {
        const refund = await stripe.refunds.create(
          { payment_intent: payment.provider_payment_id, amount: reserved.refund.amount_minor, metadata: { paymentId: req.paymentId, refundId: reserved.refund.id } },
          { idempotencyKey: `refund-${reserved.refund.id}` },
        );
        providerRefundId = refund.id;
      } catch (err) {
        if (!isPermanentStripeError(err)) throw err; // the refund stays PENDING; the same key retries it
        await giveBack(dataSource, req.clinicId, reserved.refund);
        throw new RefundRefused('PROVIDER_REFUSED', 'The card provider refused the refund');
      }
    }
    const [done] = await returning(dataSource, `UPDATE refunds SET status = 'SUCCEEDED', provider_refund_id = $3, updated_at = now() WHERE clinic_id = $1 AND id = $2 RETURNING *`,
      [req.clinicId, reserved.refund.id, providerRefundId]);
    if (reserved.fresh) {
      await auditAppender(dataSource).append({
        clinicId: req.clinicId, actorUserId: req.actorUserId, action: `payment.refund.${req.kind.toLowerCase()}`, resourceType: 'Payment', resourceId: req.paymentId,
        requestId: null, ip: null,
      });
    }
    return view(done);
  });
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- raw pg row
async function giveBack(dataSource: DataSource, clinicId: string, refund: any): Promise<void> {
  await dataSource.transaction(async (tx) => {
    const [failed] = await returning(tx, `UPDATE refunds SET status = 'FAILED', updated_at = now() WHERE clinic_id = $1 AND id = $2 AND status = 'PENDING' RETURNING id`, [clinicId, refund.id]);
    if (!failed) return;
    await tx.query(
      `UPDATE payments SET refunded_minor = refunded_minor - $3, status = CASE WHEN refunded_minor - $3 = 0 THEN 'SUCCEEDED' ELSE 'PARTIALLY_REFUNDED' END, updated_at = now()
        WHERE clinic_id = $1 AND id = $2`,
      [clinicId, refund.payment_id, refund.amount_minor]);
  });
}
