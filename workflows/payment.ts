import { ApplicationFailure } from '@temporalio/common';
import { allHandlersFinished, condition, proxyActivities, setHandler } from '@temporalio/workflow';
import type { OpenedPayment, PaymentActivities } from '../activities/payments';
import {
  AppointmentCancelledNotice, appointmentCancelledSignal, DeskPaymentRequest, OnlinePaymentRequest, payAtDeskUpdate, PaymentFailure, PaymentInput,
  PaymentJourneyStatus, PaymentView, paymentStatusQuery, payOnlineUpdate, ProviderEvent, providerEventSignal,
} from './payment-api';

// Bounded: a provider or database outage longer than this fails the activity (and shows in the UI), it does not spin forever.
const acts = proxyActivities<PaymentActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 20, nonRetryableErrorTypes: Object.values(PaymentFailure) },
});

/** Not held and not paid: an online payment is waited for this long, then given up (its PaymentIntent cancelled). */
const UNHELD_WAIT_MS = 24 * 3_600_000;
/** After a release, a card payment already under way may still succeed: it is waited for (and refunded) this long. */
const LATE_WINDOW_MS = 24 * 3_600_000;

const now = () => new Date().getTime();
const refused = (type: keyof typeof PaymentFailure, message: string) => ApplicationFailure.create({ type, message, nonRetryable: true });

/**
 * One appointment's payment (SPEC §6 payment): holds an unpaid PENDING_PAYMENT booking until the
 * clinic's `paymentHoldMinutes` run out, takes a desk payment (update) or a card payment (the
 * verified Stripe webhook, a signal), confirms the booking, and compensates: money that lands
 * after the release is refunded in full; a paid booking cancelled later is refunded by the
 * clinic's policy. Started by the booking journey for a booking that requires payment, or by the
 * API (update-with-start, signal-with-start) for any other, so every path reaches the same journey.
 */
export async function payment(input: PaymentInput): Promise<PaymentJourneyStatus> {
  const ids = { clinicId: input.clinicId, paymentId: input.paymentId };
  let phase: PaymentJourneyStatus['phase'] = 'OPENING';
  let opened: OpenedPayment | null = null;
  let current: PaymentView | null = null;
  let paid = false;
  let busy = false;
  const events: ProviderEvent[] = [];
  const seen = new Set<string>();
  const compensations: string[] = [];
  // Set by handlers (closures): read through the object so the body never narrows them away.
  const inbox: { cancelled: AppointmentCancelledNotice | null; released: boolean } = { cancelled: null, released: false };

  const exclusively = async <T>(fn: () => Promise<T>): Promise<T> => {
    await condition(() => !busy && opened !== null);
    busy = true;
    try {
      return await fn();
    } finally {
      busy = false;
    }
  };

  /** Money is in: confirm the booking, or give the money back if the booking is gone. */
  const settle = async (view: PaymentView) => {
    current = view;
    paid = true;
    phase = 'PAID';
    const { appointmentStatus } = await acts.confirmPaidAppointment({ clinicId: input.clinicId, appointmentId: input.appointmentId });
    if (appointmentStatus === 'CANCELLED') {
      await acts.refundLatePayment(ids);
      compensations.push('LATE_PAYMENT_REFUNDED');
    }
  };

  setHandler(paymentStatusQuery, () => ({
    phase, paymentStatus: current?.status ?? null, holdUntil: opened?.holdUntil ?? null, eventsSeen: seen.size, compensations: [...compensations],
  }));
  setHandler(payAtDeskUpdate, (req: DeskPaymentRequest) => exclusively(async () => {
    if (paid) throw refused('ALREADY_PAID', 'This appointment is already paid');
    const view = await acts.recordPayment({ ...ids, method: req.method, actorUserId: req.actorUserId, providerPaymentId: null });
    if (view.status !== 'SUCCEEDED') throw refused('ALREADY_PAID', `The payment is ${view.status}`);
    await settle(view);
    return view;
  }), { validator: (_req) => { if (paid) throw refused('ALREADY_PAID', 'This appointment is already paid'); } });
  setHandler(payOnlineUpdate, (req: OnlinePaymentRequest) => exclusively(async () => {
    if (paid) throw refused('ALREADY_PAID', 'This appointment is already paid');
    return (current = await acts.attachIntent({ ...ids, intentId: req.intentId }));
  }), { validator: (_req) => { if (paid) throw refused('ALREADY_PAID', 'This appointment is already paid'); } });
  setHandler(providerEventSignal, (event: ProviderEvent) => {
    // A webhook Stripe delivered twice (or the API passed on twice) is acted on once.
    if (!event || typeof event.eventId !== 'string' || seen.has(event.eventId)) return;
    seen.add(event.eventId);
    events.push(event);
  });
  setHandler(appointmentCancelledSignal, (notice: AppointmentCancelledNotice) => {
    if (notice && typeof notice.cancelledAt === 'string' && !Number.isNaN(Date.parse(notice.cancelledAt))) inbox.cancelled ??= notice;
  });

  opened = await acts.openPayment({ ...ids, appointmentId: input.appointmentId });
  current = opened.payment;
  paid = ['SUCCEEDED', 'PARTIALLY_REFUNDED', 'REFUNDED'].includes(opened.payment.status);
  phase = paid ? 'PAID' : 'AWAITING_PAYMENT';
  const holding = opened.holdUntil !== null;
  let deadline = holding ? Date.parse(opened.holdUntil!) : now() + UNHELD_WAIT_MS;

  for (;;) {
    // Provider events in arrival order, one change at a time with the desk update.
    while (events.length > 0) {
      const event = events.shift()!;
      await exclusively(async () => {
        if (event.outcome === 'failed') {
          if (!paid) await acts.recordPaymentFailure({ ...ids, intentId: event.intentId });
          return;
        }
        if (paid) return;
        await settle(await acts.recordPayment({ ...ids, method: 'CARD_ONLINE', actorUserId: null, providerPaymentId: event.intentId }));
      });
    }
    if (inbox.cancelled) {
      const notice = inbox.cancelled;
      await exclusively(async () => {
        if (paid) {
          if (await acts.refundCancellation({ ...ids, cancelledAt: notice.cancelledAt })) compensations.push('CANCELLATION_REFUNDED');
        } else {
          await acts.abandonPayment(ids);
        }
      });
      break;
    }
    if (paid) break;
    const woke = await condition(() => events.length > 0 || inbox.cancelled !== null || paid, Math.max(1, deadline - now()));
    if (woke) continue;
    if (inbox.released || !holding) {
      if (!paid) await exclusively(() => acts.abandonPayment(ids));
      break;
    }
    await exclusively(async () => {
      if (paid) return;
      await acts.releaseHold({ ...ids, appointmentId: input.appointmentId });
      phase = 'RELEASED';
      inbox.released = true;
      deadline = now() + LATE_WINDOW_MS;
    });
  }
  await condition(allHandlersFinished);
  phase = 'ENDED';
  return { phase, paymentStatus: current?.status ?? null, holdUntil: opened.holdUntil, eventsSeen: seen.size, compensations };
}
