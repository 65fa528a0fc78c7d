import { isGrpcDeadlineError, ServiceError, WorkflowUpdateRPCTimeoutOrCancelledError } from '@temporalio/client';
import { Problem } from '../http/problem';
import type { ApiDeps } from '../http/state';

/** The workflow did not answer in time. The work may still finish: the same request again (same Idempotency-Key) finds it. */
export const workflowTimeout = () =>
  new Problem(504, 'workflow-timeout', 'Gateway timeout', 'The journey did not answer in time; it may still finish: read the resource or retry the same request',
    undefined, { 'Retry-After': '5' });

const timedOut = (err: unknown) =>
  err instanceof WorkflowUpdateRPCTimeoutOrCancelledError || isGrpcDeadlineError(err) || (err instanceof ServiceError && isGrpcDeadlineError(err.cause));

/**
 * Runs a client call that waits on a workflow (update, update-with-start, query, result) under
 * WORKFLOW_CALL_TIMEOUT_MS: every gRPC call inside gets that deadline, so a workflow that never
 * answers (no worker, an activity retrying) costs the caller a 504 problem, never a hung request.
 */
export async function withWorkflowDeadline<T>(deps: Pick<ApiDeps, 'temporal' | 'config'>, call: () => Promise<T>): Promise<T> {
  try {
    return await deps.temporal.withDeadline(Date.now() + deps.config.WORKFLOW_CALL_TIMEOUT_MS, call);
  } catch (err) {
    if (timedOut(err)) throw workflowTimeout();
    throw err;
  }
}
