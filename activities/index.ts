import { BookingActivityDeps, createBookingActivities } from './booking';
import { createFollowUpActivities } from './follow-up';
import { createJourneyActivities } from './journey';
import { createJourneyControlActivities, type JourneyControlDeps } from './journey-control';
import { createSeriesActivities } from './series';
import { createTherapyActivities } from './therapy';
import { createNotificationActivities, NotificationActivityDeps } from './notifications';
import { inClinicOfInput } from '../shared/db/tenant-context';

export type ActivityDeps = BookingActivityDeps & NotificationActivityDeps & Pick<JourneyControlDeps, 'temporal'>;

/**
 * All activities, built from injected dependencies; workers and tests wire them the same way.
 * Each runs in the tenant context of the clinic its input names (row-level security).
 */
export function createActivities(deps: ActivityDeps) {
  return inClinicOfInput({
    ...createBookingActivities(deps), ...createNotificationActivities(deps), ...createJourneyActivities(deps), ...createFollowUpActivities(deps),
    ...createTherapyActivities(deps), ...createSeriesActivities(deps), ...createJourneyControlActivities(deps),
  });
}
