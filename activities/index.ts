import { BookingActivityDeps, createBookingActivities } from './booking';
import { classifyDataErrors } from './data-errors';
import { createFollowUpActivities } from './follow-up';
import { createJourneyActivities } from './journey';
import { createMaintenanceActivities } from './maintenance';
import { createJourneyControlActivities, type JourneyControlDeps } from './journey-control';
import { createSeriesActivities } from './series';
import { createTherapyActivities } from './therapy';
import { createNotificationActivities, NotificationActivityDeps } from './notifications';
import { createPaymentActivities, PaymentActivityDeps } from './payments';
import { inClinicOfInput } from '../shared/db/tenant-context';

export type ActivityDeps = BookingActivityDeps & NotificationActivityDeps & PaymentActivityDeps & Pick<JourneyControlDeps, 'temporal'>;

/**
 * All activities, built from injected dependencies; workers and tests wire them the same way.
 * Each runs in the tenant context of the clinic its input names (row-level security), and a data
 * error (SQLSTATE class 22/23) leaves it as a non-retryable failure instead of a retry loop.
 */
export function createActivities(deps: ActivityDeps) {
  return inClinicOfInput(classifyDataErrors({
    ...createBookingActivities(deps), ...createNotificationActivities(deps), ...createJourneyActivities(deps), ...createFollowUpActivities(deps),
    ...createPaymentActivities(deps),
    ...createMaintenanceActivities(deps),
    ...createTherapyActivities(deps), ...createSeriesActivities(deps), ...createJourneyControlActivities(deps),
  }));
}
