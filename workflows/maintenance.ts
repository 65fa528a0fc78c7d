import { proxyActivities } from '@temporalio/workflow';
import type { MaintenanceActivities } from '../activities/maintenance';
import { MAINTENANCE_TASK_QUEUE, PurgeInput, PurgeResult } from './maintenance-api';

// Deletes in batches with a heartbeat per batch: a large backlog (the first run) takes minutes, and a
// stuck database shows as a missed heartbeat rather than a 10-minute wait. Three tries, then the run
// fails; the schedule starts the next one anyway, which picks up where this one stopped.
const { purgeExpired: purge } = proxyActivities<MaintenanceActivities>({
  taskQueue: MAINTENANCE_TASK_QUEUE,
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '10 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 3 },
});

/** Started by the maintenance schedule: removes expired sessions, OTP challenges and old idempotency keys. */
export async function purgeExpired(input: PurgeInput): Promise<PurgeResult> {
  return purge(input);
}
