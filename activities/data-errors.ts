import { ApplicationFailure } from '@temporalio/common';
import { pgCode, pgConstraint } from '../shared/db/pg-errors';

/** Failure type of an activity whose data the database refused: retrying the same data fails the same way. */
export const DATA_ERROR = 'INVALID_DATA';

/**
 * SQLSTATE class 22 (data exception: a NUL byte in text, a value out of range, bad input syntax)
 * and class 23 (integrity constraint violation) never succeed on retry, so they must not be
 * retried at all: an unbounded retry policy would loop on them forever. Activities turn the
 * constraint they expect (23P01 slot taken, 23503 unknown reference) into their own refusal
 * before it gets here; whatever of these classes is left is a non-retryable DATA_ERROR. The
 * message names the SQLSTATE and constraint only, never the driver's text: it can quote values.
 */
export function nonRetryableDataError(err: unknown): ApplicationFailure | null {
  if (err instanceof ApplicationFailure) return null;
  const code = pgCode(err);
  if (!code || !/^2[23]/.test(code)) return null;
  const constraint = pgConstraint(err);
  return ApplicationFailure.create({
    type: DATA_ERROR,
    message: `The database refused the data (SQLSTATE ${code}${constraint ? `, constraint ${constraint}` : ''})`,
    nonRetryable: true,
  });
}

type Activity = (...args: never[]) => Promise<unknown>;

/** Wraps every activity so a data error leaves it as a non-retryable failure (see nonRetryableDataError). */
export function classifyDataErrors<T extends Record<string, Activity>>(activities: T): T {
  const wrapped: Record<string, Activity> = {};
  for (const [name, fn] of Object.entries(activities)) {
    wrapped[name] = (async (...args: never[]) => {
      try {
        return await fn(...args);
      } catch (err) {
        throw nonRetryableDataError(err) ?? err;
      }
    }) as Activity;
  }
  return wrapped as T;
}
