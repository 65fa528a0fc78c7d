import { WorkflowNotFoundError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure, ApplicationFailureCategory } from '@temporalio/common';
import type { DataSource } from 'typeorm';
import { ACTIVE_STATUSES, AppointmentStore, isActive } from '../shared/booking';
import { BookingFailure, bookingWorkflowId, cancelUpdate, rescheduleUpdate, type AppointmentView } from '../workflows/booking-api';
import { appointmentViewFromRow } from './appointment-view';

export interface JourneyControlDeps {
  dataSource: DataSource;
  /**
   * Temporal client: a course or series changes one of its appointments by an update of that
   * appointment's own booking journey (workflows cannot send updates in SDK 1.24). Absent in
   * processes that run no long journeys.
   */
  temporal?: Client;
  onAppointmentChanged?: (a: AppointmentView) => Promise<void>;
}

export interface ControlRequest {
  clinicId: string;
  appointmentId: string;
  /** Who asked (the course's pause, cancel…): the booking journey checks their permission as for any cancel. */
  actorUserId: string;
}

const refusal = (type: string, message: string) =>
  ApplicationFailure.create({ type, message, nonRetryable: true, category: ApplicationFailureCategory.BENIGN });

/** The business refusal the booking journey answered with (its update's failure, or its activity's inside it). */
function journeyRefusal(err: unknown): ApplicationFailure | null {
  if (!(err instanceof WorkflowUpdateFailedError)) return null;
  const cause = err.cause instanceof ActivityFailure ? err.cause.cause : err.cause;
  return cause instanceof ApplicationFailure && cause.type && cause.type in BookingFailure ? cause : null;
}

/**
 * Why an update of the appointment's journey, not a direct row change: the journey owns its row
 * and its timers. Cancelling through `cancel` stops its reminders and no-show timer and tells the
 * patient; changing the row behind its back would leave it sending reminders for a freed slot.
 * Each call carries a stable update id, so a retried activity is answered with the first outcome.
 */
export function createJourneyControlActivities({ dataSource, temporal, onAppointmentChanged }: JourneyControlDeps) {
  const client = () => {
    if (!temporal) throw ApplicationFailure.create({ type: 'MISCONFIGURED', message: 'This worker has no Temporal client for journey updates', nonRetryable: true });
    return temporal;
  };
  const load = async (req: ControlRequest) => {
    const row = await new AppointmentStore(dataSource, req.clinicId).get(req.appointmentId);
    if (!row) throw refusal(BookingFailure.NOT_FOUND, 'Appointment not found');
    return row;
  };

  return {
    /**
     * Frees a session's or occurrence's slot through its journey's `cancel` update. Idempotent: an
     * appointment already ended is returned as it is. A journey that is gone (it never started,
     * or was terminated) cannot keep a timer, so the row is freed directly through the core.
     */
    async cancelJourneyAppointment(req: ControlRequest & { reason: string }): Promise<{ status: string }> {
      const row = await load(req);
      if (!isActive(row.status)) return { status: row.status };
      try {
        const view = await client().workflow.getHandle(bookingWorkflowId(req.appointmentId))
          .executeUpdate(cancelUpdate, { args: [{ actorUserId: req.actorUserId, reason: req.reason }], updateId: `release-${req.appointmentId}` });
        return { status: view.status };
      } catch (err) {
        const refused = journeyRefusal(err);
        if (refused?.type === BookingFailure.FORBIDDEN) throw refusal(BookingFailure.FORBIDDEN, 'Not allowed to cancel this appointment');
        if (!(err instanceof WorkflowUpdateFailedError) && !(err instanceof WorkflowNotFoundError)) throw err;
        // Refused by the journey's validator (already ended), or no journey: follow the row.
        const now = await load(req);
        if (!isActive(now.status)) return { status: now.status };
        if (!(err instanceof WorkflowNotFoundError)) throw refusal(BookingFailure.NOT_CANCELLABLE, refused?.message ?? 'The appointment journey refused the cancel');
        const freed = await new AppointmentStore(dataSource, req.clinicId).update(req.appointmentId, ACTIVE_STATUSES, { status: 'CANCELLED', cancelReason: req.reason });
        if (freed) await onAppointmentChanged?.(appointmentViewFromRow(freed));
        return { status: freed?.status ?? (await load(req)).status };
      }
    },

    /** Moves a session through its journey's `reschedule` update; the journey's refusal (SLOT_TAKEN…) comes back as is. */
    async rescheduleJourneyAppointment(req: ControlRequest & { startsAt: string; requestId: string }): Promise<AppointmentView> {
      try {
        return await client().workflow.getHandle(bookingWorkflowId(req.appointmentId))
          .executeUpdate(rescheduleUpdate, { args: [{ actorUserId: req.actorUserId, startsAt: req.startsAt }], updateId: `move-${req.requestId}` });
      } catch (err) {
        const refused = journeyRefusal(err);
        if (refused) throw refusal(refused.type!, refused.message);
        if (err instanceof WorkflowUpdateFailedError || err instanceof WorkflowNotFoundError) throw refusal(BookingFailure.NOT_RESCHEDULABLE, 'The appointment can no longer move');
        throw err;
      }
    },
  };
}

export type JourneyControlActivities = ReturnType<typeof createJourneyControlActivities>;
