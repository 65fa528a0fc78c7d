/**
 * The clinic's money policies (SPEC §5 clinic settings), with their defaults. Stored settings are
 * free-form jsonb: anything missing or malformed takes the default.
 */
export interface PaymentSettings {
  /** An unpaid booking of a service that requires payment is released this long after it was made. Fractions allowed (tests). */
  paymentHoldMinutes: number;
  /** A paid visit cancelled at least this many hours before its start is refunded in full. */
  refundFullBeforeHours: number;
  /** Cancelled later than that (but before the start): this percentage back; 0 = nothing. After the start: nothing. */
  refundLatePercent: number;
}

export const DEFAULT_PAYMENT_SETTINGS: Readonly<PaymentSettings> = Object.freeze({
  paymentHoldMinutes: 15,
  refundFullBeforeHours: 24,
  refundLatePercent: 50,
});

const nonNegative = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;

export function paymentSettings(raw: unknown): PaymentSettings {
  const s = (raw && typeof raw === 'object' ? raw : {}) as Record<string, unknown>;
  const d = DEFAULT_PAYMENT_SETTINGS;
  return {
    paymentHoldMinutes: nonNegative(s.paymentHoldMinutes) && s.paymentHoldMinutes > 0 ? s.paymentHoldMinutes : d.paymentHoldMinutes,
    refundFullBeforeHours: nonNegative(s.refundFullBeforeHours) ? s.refundFullBeforeHours : d.refundFullBeforeHours,
    refundLatePercent: nonNegative(s.refundLatePercent) && s.refundLatePercent <= 100 ? s.refundLatePercent : d.refundLatePercent,
  };
}

/**
 * What a cancellation gives back of a payment (minor units), by the clinic's policy: everything
 * still refundable when cancelled early enough, a percentage of the paid amount later, nothing once
 * the visit has started. Never more than what is left after earlier refunds.
 */
export function cancellationRefund(p: {
  amountMinor: number; refundedMinor: number; startsAt: number; cancelledAt: number; settings: PaymentSettings;
}): number {
  const left = Math.max(0, p.amountMinor - p.refundedMinor);
  if (p.cancelledAt >= p.startsAt) return 0;
  if (p.startsAt - p.cancelledAt >= p.settings.refundFullBeforeHours * 3_600_000) return left;
  return Math.min(left, Math.floor((p.amountMinor * p.settings.refundLatePercent) / 100));
}
