import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { ParentClosePolicy, startChild } from '@temporalio/workflow';
import type { AppointmentView } from './booking-api';
import type { payment } from './payment';
import { PAYMENTS_TASK_QUEUE, paymentIdFor, paymentWorkflowId } from './payment-api';
import { SA } from './search-attributes';

/**
 * Starts the payment journey that holds an unpaid PENDING_PAYMENT booking (and releases it when the
 * clinic's hold runs out). Abandoned on close: it outlives nothing but must outlive a booking
 * journey that ends first. Already started (by the desk, the webhook) is fine: same id, same journey.
 */
export async function startPaymentJourney(a: AppointmentView): Promise<void> {
  const paymentId = paymentIdFor(a.id);
  try {
    await startChild<typeof payment>('payment', {
      workflowId: paymentWorkflowId(paymentId),
      taskQueue: PAYMENTS_TASK_QUEUE,
      args: [{ paymentId, clinicId: a.clinicId, appointmentId: a.id }],
      parentClosePolicy: ParentClosePolicy.ABANDON,
      typedSearchAttributes: [
        { key: SA.ClinicId, value: a.clinicId }, { key: SA.PatientId, value: a.patientId }, { key: SA.AppointmentId, value: a.id },
        { key: SA.JourneyKind, value: 'payment' },
      ],
    });
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
  }
}
