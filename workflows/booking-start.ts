import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { ParentClosePolicy, startChild } from '@temporalio/workflow';
import type { booking } from './booking';
import { BOOKING_TASK_QUEUE, bookingWorkflowId } from './booking-api';
import { SA } from './search-attributes';

/**
 * Starts the booking journey of an appointment row another journey inserted (a follow-up, a course
 * session, a series occurrence): it adopts the row instead of waiting for a `book` update. Abandoned
 * on close, since the visit's no-show and follow-up come after its starter may have ended; a second
 * start (a retried workflow task) is refused by Temporal and means it is running already.
 */
export async function startAdoptedBooking(a: { appointmentId: string; clinicId: string; patientId: string; practitionerId: string }): Promise<void> {
  try {
    await startChild<typeof booking>('booking', {
      workflowId: bookingWorkflowId(a.appointmentId),
      taskQueue: BOOKING_TASK_QUEUE,
      args: [{ appointmentId: a.appointmentId, clinicId: a.clinicId, adopted: true }],
      parentClosePolicy: ParentClosePolicy.ABANDON,
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
      typedSearchAttributes: [
        { key: SA.ClinicId, value: a.clinicId }, { key: SA.PatientId, value: a.patientId },
        { key: SA.PractitionerId, value: a.practitionerId }, { key: SA.AppointmentId, value: a.appointmentId },
        { key: SA.JourneyKind, value: 'booking' },
      ],
    });
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
  }
}
