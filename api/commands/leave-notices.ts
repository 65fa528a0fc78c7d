import { MOVABLE_STATUSES } from '../../shared/booking';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { ScheduleException } from '../../shared/scheduling';
import { practitionerUnavailableSignal } from '../../workflows/booking-api';
import { problems } from '../http/problem';
import type { ApiDeps } from '../http/state';

/** Signals in flight at once: a long leave can cover hundreds of visits. */
const CONCURRENCY = 16;

/**
 * Tells the journey of every booked visit that a LEAVE of the practitioner overlaps (SPEC §6):
 * the journey notifies the patient and offers (or books) the nearest free slot. Every LEAVE in
 * the schedule is considered, not only new ones, and journeys ignore a leave they already
 * handled, so replaying the PUT after a failure here finishes the job. Returns the visits told.
 */
export async function signalLeaveOverlaps(deps: ApiDeps, clinicId: string, practitionerId: string, exceptions: ScheduleException[]): Promise<number> {
  const leaves = exceptions.filter((e) => e.kind === 'LEAVE');
  if (!leaves.length) return 0;
  const affected: { workflow_id: string; leave: number }[] = await deps.dataSource.query(
    `SELECT a.workflow_id, l.n AS leave
     FROM appointments a
     JOIN unnest($3::timestamptz[], $4::timestamptz[], $5::uuid[]) WITH ORDINALITY AS l(from_at, to_at, location_id, n)
       ON tstzrange(a.starts_at, a.ends_at, '[)') && tstzrange(l.from_at, l.to_at, '[)')
      AND (l.location_id IS NULL OR l.location_id = a.location_id)
     WHERE a.clinic_id = $1 AND (a.practitioner_id = $2 OR $2 = ANY (a.therapist_ids)) AND a.status = ANY ($6::text[]) AND a.ends_at > now()
     ORDER BY a.starts_at`,
    [clinicId, practitionerId, leaves.map((l) => l.from), leaves.map((l) => l.to), leaves.map((l) => l.locationId ?? null), MOVABLE_STATUSES],
  );
  let failed = 0;
  const queue = [...affected];
  const worker = async () => {
    for (let next = queue.shift(); next; next = queue.shift()) {
      const leave = leaves[Number(next.leave) - 1];
      try {
        await deps.temporal.workflow.getHandle(next.workflow_id).signal(practitionerUnavailableSignal, { from: leave.from, to: leave.to });
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) continue; // the journey has closed: nothing left to move
        failed += 1;
        deps.log.warn({ err, workflowId: next.workflow_id }, 'leave notice not delivered to the booking journey');
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, queue.length) }, worker));
  if (failed) throw problems.unavailable(`The schedule is saved, but ${failed} booked visits were not told about the leave yet; repeat the request`);
  return affected.length;
}
