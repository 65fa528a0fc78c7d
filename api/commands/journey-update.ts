import { randomUUID } from 'node:crypto';
import { ServiceError, WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure, type UpdateDefinition } from '@temporalio/common';
import { FieldError, problems } from '../http/problem';
import type { ApiDeps } from '../http/state';

/** The server aborts an update whose workflow task failed (e.g. a child's completion arrived meanwhile): nothing ran, so it is sent again. */
const ATTEMPTS = 4;
const abortedByTaskFailure = (err: unknown) =>
  err instanceof ServiceError && (err.cause as { code?: number } | undefined)?.code === 9 && /workflow task failure/i.test(String(err.cause?.message));

/**
 * Refusals of a course or series update (its own, or a session's booking journey's) as problems:
 * slot and schedule problems as for appointments, state problems as 409, bad times as 422.
 */
export function longJourneyProblem(err: unknown, what: string): never {
  const failure = err instanceof WorkflowUpdateFailedError ? err.cause : undefined;
  const cause = failure instanceof ActivityFailure ? failure.cause : failure;
  if (cause instanceof ApplicationFailure) {
    const at = (field: string, message: string): FieldError[] => [{ field, message }];
    switch (cause.type) {
      case 'SLOT_TAKEN': throw problems.slotTaken(cause.message);
      case 'FORBIDDEN': throw problems.forbidden(cause.message);
      case 'OUTSIDE_SCHEDULE': throw problems.unprocessable('outside-schedule', cause.message, at('body.startsAt', 'outside working hours'));
      case 'IN_THE_PAST': throw problems.unprocessable('in-the-past', cause.message);
      case 'NO_SUCH_SESSION': throw problems.notFound('Session');
      case 'NOT_AN_OCCURRENCE': throw problems.unprocessable('not-an-occurrence', cause.message, at('body.startsAt', 'not an occurrence of the series'));
      case 'INVALID_RULE': throw problems.validation(at('body.rrule', cause.message));
      case 'SESSION_CLASH': throw problems.conflict('session-clash', cause.message);
      case 'NOT_ACTIVE': case 'NOT_PAUSED': case 'ENDED': case 'SESSION_NOT_CHANGEABLE': case 'NOT_CANCELLABLE': case 'NOT_RESCHEDULABLE':
        throw problems.conflict('invalid-state', cause.message);
      case 'INVALID_REFERENCE': throw problems.unprocessable('invalid-reference', cause.message);
    }
  }
  if (err instanceof WorkflowUpdateFailedError || err instanceof WorkflowNotFoundError) throw problems.conflict('journey-ended', `This ${what} can no longer be changed`);
  throw err;
}

/** Runs one update of a long journey; one update id for every attempt, so an accepted attempt is never run twice. */
export async function runJourneyUpdate<R, Arg>(deps: ApiDeps, workflowId: string, update: UpdateDefinition<R, [Arg]>, arg: Arg, what: string): Promise<R> {
  const updateId = randomUUID();
  for (let attempt = 1; ; attempt++) {
    try {
      return await deps.temporal.workflow.getHandle(workflowId).executeUpdate(update, { args: [arg], updateId });
    } catch (err) {
      if (abortedByTaskFailure(err) && attempt < ATTEMPTS) {
        await new Promise((r) => setTimeout(r, 50 * 2 ** attempt));
        continue;
      }
      if (abortedByTaskFailure(err)) throw problems.unavailable(`The ${what} journey is busy; try again`);
      return longJourneyProblem(err, what);
    }
  }
}
