import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { ParentClosePolicy, startChild } from '@temporalio/workflow';
import type { deliverMessage } from './notification';
import { deliverMessageWorkflowId, MessageRequest, NOTIFICATIONS_TASK_QUEUE } from './notification-api';

/**
 * Hands one message to the notification journey: a child on the notifications queue that retries,
 * falls back across channels and dead-letters by itself. Only its start is awaited, so a slow
 * provider never holds up the journey's timers; abandoned on close, so a message started just
 * before the journey ends is still delivered. A second start for the same idempotency key is
 * refused by Temporal and means the message is already on its way.
 */
export async function sendMessage(request: MessageRequest): Promise<void> {
  try {
    await startChild<typeof deliverMessage>('deliverMessage', {
      workflowId: deliverMessageWorkflowId(request.idempotencyKey),
      taskQueue: NOTIFICATIONS_TASK_QUEUE,
      args: [request],
      parentClosePolicy: ParentClosePolicy.ABANDON,
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
    });
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
  }
}
