import { BookingActivityDeps, createBookingActivities } from './booking';

export type ActivityDeps = BookingActivityDeps;

/** All activities, built from injected dependencies; workers and tests wire them the same way. */
export function createActivities(deps: ActivityDeps) {
  return { ...createBookingActivities(deps) };
}
