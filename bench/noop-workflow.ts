/**
 * Baseline for bench/booking.ts: the cheapest update-with-start journey. The update handler returns
 * at once (no activity, no timer); afterwards the workflow stays open like a booked journey waiting
 * for its next event, so both leave the same kind of state behind in the server and worker cache.
 * Bundled on its own and served by a second worker on NOOP_TASK_QUEUE.
 */
import { condition, defineUpdate, setHandler } from '@temporalio/workflow';

export const NOOP_TASK_QUEUE = 'bench-noop';
export const noopUpdate = defineUpdate<string, [string]>('noop');

export async function noopJourney(): Promise<void> {
  setHandler(noopUpdate, (echo) => echo);
  // Never satisfied: the bench's dev server (in memory) is discarded at the end of the run.
  await condition(() => false);
}
