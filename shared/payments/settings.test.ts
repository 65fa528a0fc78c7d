import { cancellationRefund, DEFAULT_PAYMENT_SETTINGS, paymentSettings } from './settings';

const H = 3_600_000;
const start = Date.UTC(2030, 0, 10, 10);

describe('payment settings', () => {
  it('takes defaults for missing or malformed values', () => {
    expect(paymentSettings(undefined)).toEqual(DEFAULT_PAYMENT_SETTINGS);
    expect(paymentSettings({ paymentHoldMinutes: 0, refundLatePercent: 150, refundFullBeforeHours: 'x' })).toEqual(DEFAULT_PAYMENT_SETTINGS);
    expect(paymentSettings({ paymentHoldMinutes: 0.05, refundLatePercent: 0, refundFullBeforeHours: 2 })).toEqual({ paymentHoldMinutes: 0.05, refundLatePercent: 0, refundFullBeforeHours: 2 });
  });
});

describe('cancellation refund by policy', () => {
  const settings = { ...DEFAULT_PAYMENT_SETTINGS, refundFullBeforeHours: 24, refundLatePercent: 50 };
  const refund = (cancelledAt: number, refundedMinor = 0) => cancellationRefund({ amountMinor: 1001, refundedMinor, startsAt: start, cancelledAt, settings });

  it('refunds in full early enough, a percentage later, nothing after the start', () => {
    expect(refund(start - 25 * H)).toBe(1001);
    expect(refund(start - 24 * H)).toBe(1001);
    expect(refund(start - 23 * H)).toBe(500);
    expect(refund(start)).toBe(0);
    expect(refund(start + H)).toBe(0);
  });

  it('never gives back more than is left after earlier refunds', () => {
    expect(refund(start - 48 * H, 900)).toBe(101);
    expect(refund(start - H, 900)).toBe(101);
    expect(refund(start - H, 1001)).toBe(0);
  });

  it('gives nothing late when the clinic keeps late cancellations', () => {
    expect(cancellationRefund({ amountMinor: 1000, refundedMinor: 0, startsAt: start, cancelledAt: start - H, settings: { ...settings, refundLatePercent: 0 } })).toBe(0);
  });
});
