import { ActivityFailure, ApplicationFailure, proxyActivities, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { NotificationActivities } from '../activities/notifications';
import { MessageOutcome, MessageRequest, NOTIFICATIONS_TASK_QUEUE, NotificationFailure } from './notification-api';
import { SA } from './search-attributes';

// Providers go down for minutes, not seconds: back off up to a minute between tries
// (1+2+4+8+16+32+60 s ≈ 2 min over 8 attempts) before the message is dead-lettered.
const { deliverMessage: deliver } = proxyActivities<NotificationActivities>({
  taskQueue: NOTIFICATIONS_TASK_QUEUE,
  // Each provider call has its own deadline (NOTIFY_PROVIDER_TIMEOUT_MS); up to three channels per attempt.
  startToCloseTimeout: '45 seconds',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '1 minute',
    maximumAttempts: 8,
    nonRetryableErrorTypes: Object.values(NotificationFailure),
  },
});

// Unbounded: a database write that records the dead letter; giving up would lose the only trace of
// an undelivered message. Data errors are non-retryable (activities/data-errors.ts), so only outages retry.
const { markNotificationUndelivered } = proxyActivities<NotificationActivities>({
  taskQueue: NOTIFICATIONS_TASK_QUEUE,
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

const isOutcome = (v: unknown): v is MessageOutcome =>
  typeof v === 'object' && v !== null && typeof (v as MessageOutcome).notificationId === 'string' && ((v as MessageOutcome).status === 'FAILED' || (v as MessageOutcome).status === 'SENT');

/**
 * Delivers one message (SPEC §5 outbox, §8 fallback). Started with workflow id
 * deliverMessageWorkflowId(idempotencyKey) on the notifications queue. Returns SENT with the
 * channel used, or FAILED when no channel reached the recipient or the retries ran out (the row is
 * then in the dead-letter view, GET /notifications?status=FAILED). The request carries ids and
 * template params only; contact details are read by the activity.
 */
export async function deliverMessage(request: MessageRequest): Promise<MessageOutcome> {
  if (!workflowInfo().typedSearchAttributes.get(SA.JourneyKind)) {
    upsertSearchAttributes([
      { key: SA.JourneyKind, value: 'notification' },
      ...(request.clinicId ? [{ key: SA.ClinicId, value: request.clinicId }] : []),
      ...(request.recipient.kind === 'patient' ? [{ key: SA.PatientId, value: request.recipient.id }] : []),
    ]);
  }
  try {
    return await deliver(request);
  } catch (err) {
    if (!(err instanceof ActivityFailure)) throw err;
    const cause = err.cause;
    if (cause instanceof ApplicationFailure && cause.type === NotificationFailure.BAD_RECIPIENT && isOutcome(cause.details?.[0])) {
      return cause.details[0];
    }
    // An invalid request is the caller's bug: fail the workflow loudly (the row, if any, is already FAILED).
    if (cause instanceof ApplicationFailure && cause.type === NotificationFailure.INVALID_MESSAGE) throw err;
    // Retries exhausted (or timed out): dead-letter the row and report the failure.
    const outcome = await markNotificationUndelivered({ idempotencyKey: request.idempotencyKey, clinicId: request.clinicId, reason: 'RETRIES_EXHAUSTED' });
    if (!outcome) throw err;
    return outcome;
  }
}
