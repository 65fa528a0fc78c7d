import { appointmentViewFromRow } from '../../activities/appointment-view';
import type { IdempotentJourney } from './idempotency';

/**
 * The booking journey under an Idempotency-Key: the key fixes the appointment id, and the row the
 * journey's `book` activity inserted is the booking, answered as POST /appointments answers it.
 * No row: nothing was booked yet, and running the booking again joins the same journey
 * (update-with-start on `appointment-<id>`, whose `book` returns the booking it already made).
 */
export const bookingJourney: IdempotentJourney = {
  async outcome(deps, actor, appointmentId) {
    const [row] = await deps.dataSource.query(
      `SELECT * FROM appointments WHERE clinic_id = $1 AND id = $2 AND created_by = $3`, [actor.clinicId, appointmentId, actor.userId]);
    return row ? { status: 201, body: appointmentViewFromRow(row) } : null;
  },
};
