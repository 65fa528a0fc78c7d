/**
 * The payment journey's public surface (SPEC §6 payment, `payments` queue): ids, messages and the
 * shapes they carry. Imported by the workflow, the booking journey, the API and tests. Ids and
 * amounts only: never PHI, and never a provider secret (a PaymentIntent's client secret goes from
 * the API straight to the caller, not through workflow history).
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';

export const PAYMENTS_TASK_QUEUE = 'payments';
export const paymentWorkflowId = (paymentId: string) => `payment-${paymentId}`;

export const DESK_METHODS = ['CASH', 'UPI', 'CARD_DESK'] as const;
export type DeskMethod = (typeof DESK_METHODS)[number];
export type PaymentMethod = DeskMethod | 'CARD_ONLINE';
export type PaymentStatus = 'REQUIRES_PAYMENT' | 'SUCCEEDED' | 'PARTIALLY_REFUNDED' | 'REFUNDED' | 'CANCELLED';

// XOR mask turning an appointment id into its payment's id: a bijection, so one payment per
// appointment, computable in workflow code (no crypto in the sandbox) and by the API alike. The
// version nibble becomes 8 (RFC 9562 custom); the variant nibble is left as it was.
const MASK = '9c3e51a7d2b84f06' + '0e7a3c5b9d1f2486';

/**
 * The id of an appointment's payment. Deterministic, so the booking journey (starting the hold),
 * the desk and the webhook all reach the same `payment-<id>` journey, and a retry never makes a
 * second payment.
 */
export function paymentIdFor(appointmentId: string): string {
  const hex = appointmentId.replace(/-/g, '').toLowerCase();
  if (!/^[0-9a-f]{32}$/.test(hex)) throw new Error('paymentIdFor: not a uuid');
  const out = [...hex].map((c, i) => (i === 12 ? '8' : i === 16 ? c : (parseInt(c, 16) ^ parseInt(MASK[i], 16)).toString(16))).join('');
  return `${out.slice(0, 8)}-${out.slice(8, 12)}-${out.slice(12, 16)}-${out.slice(16, 20)}-${out.slice(20)}`;
}

export interface PaymentInput {
  paymentId: string;
  clinicId: string;
  appointmentId: string;
}

export interface PaymentView {
  id: string;
  clinicId: string;
  appointmentId: string;
  locationId: string;
  patientId: string;
  method: PaymentMethod | null;
  status: PaymentStatus;
  amountMinor: number;
  currency: string;
  refundedMinor: number;
  providerPaymentId: string | null;
  workflowId: string;
  paidAt: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface DeskPaymentRequest {
  actorUserId: string;
  method: DeskMethod;
}

/** The API created (or found again, by idempotency key) a PaymentIntent: the journey waits for its webhook. */
export interface OnlinePaymentRequest {
  actorUserId: string;
  intentId: string;
}

/** A verified Stripe webhook, reduced to what the journey acts on. */
export interface ProviderEvent {
  eventId: string;
  intentId: string;
  outcome: 'succeeded' | 'failed';
}

/** Sent by the API after a paid (or still unpaid) appointment was cancelled: refund by the clinic's policy. */
export interface AppointmentCancelledNotice {
  cancelledAt: string;
}

export interface PaymentJourneyStatus {
  phase: 'OPENING' | 'AWAITING_PAYMENT' | 'PAID' | 'RELEASED' | 'ENDED';
  paymentStatus: PaymentStatus | null;
  holdUntil: string | null;
  /** Provider events acted on (duplicates are dropped by id). */
  eventsSeen: number;
  compensations: string[];
}

/** Failure types the API maps to problems. */
export const PaymentFailure = {
  ALREADY_PAID: 'ALREADY_PAID',
  NOT_PAYABLE: 'NOT_PAYABLE',
  NOT_FOUND: 'NOT_FOUND',
  OVER_REFUND: 'OVER_REFUND',
  NOT_REFUNDABLE: 'NOT_REFUNDABLE',
  FORBIDDEN: 'FORBIDDEN',
  PROVIDER_REFUSED: 'PROVIDER_REFUSED',
} as const;

export const payAtDeskUpdate = defineUpdate<PaymentView, [DeskPaymentRequest]>('payAtDesk');
export const payOnlineUpdate = defineUpdate<PaymentView, [OnlinePaymentRequest]>('payOnline');
export const providerEventSignal = defineSignal<[ProviderEvent]>('providerEvent');
export const appointmentCancelledSignal = defineSignal<[AppointmentCancelledNotice]>('appointmentCancelled');
export const paymentStatusQuery = defineQuery<PaymentJourneyStatus>('status');

/** Sent to the booking journey after the payment journey changed its row, so it follows the row and tells the patient. */
export interface PaymentSettledNotice {
  outcome: 'PAID' | 'HOLD_EXPIRED';
}
export const paymentSettledSignal = defineSignal<[PaymentSettledNotice]>('paymentSettled');
