import { ApplicationFailure } from '@temporalio/common';
import { allHandlersFinished, condition, proxyActivities, setHandler, uuid4 } from '@temporalio/workflow';
import type { FollowUpActivities } from '../activities/follow-up';
import { startAdoptedBooking } from './booking-start';
import { cancelFollowUpSignal, cancelFollowUpUpdate, FollowUpInput, FollowUpPhase, FollowUpStatus, followUpStatusQuery } from './follow-up-api';
import { sendMessage } from './messages';

// Unbounded: a follow-up sleeps for days and must outlast a database outage rather than fail for
// good. What never heals cannot loop: NOT_FOUND and data errors are non-retryable (activities/data-errors.ts).
const db = proxyActivities<FollowUpActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', nonRetryableErrorTypes: ['NOT_FOUND'] },
});

/** Workflow time: the sandbox's clock reads the current workflow task's start time, the same on replay. */
const now = () => new Date().getTime();

class FollowUpJourney {
  phase: FollowUpPhase = 'SCHEDULED';
  /** Once due, the message is on its way: too late to cancel. */
  due = false;
  bookedAppointmentId: string | null = null;

  constructor(readonly input: FollowUpInput) {}

  status(): FollowUpStatus {
    return { phase: this.phase, dueAt: this.input.dueAt, bookedAppointmentId: this.bookedAppointmentId };
  }

  assertCancellable(): void {
    if (this.phase !== 'SCHEDULED' || this.due) {
      throw ApplicationFailure.create({ type: 'NOT_CANCELLABLE', message: `The follow-up is ${this.due && this.phase === 'SCHEDULED' ? 'due' : this.phase}`, nonRetryable: true });
    }
  }

  cancel(): FollowUpStatus {
    if (this.phase === 'SCHEDULED' && !this.due) this.phase = 'CANCELLED';
    return this.status();
  }

  get ids() {
    return { clinicId: this.input.clinicId, appointmentId: this.input.appointmentId };
  }
}

/**
 * The follow-up of a completed visit (SPEC §6 followUp): sleeps until due, sends the follow-up
 * message and, when the clinic asks for it (autoBookFollowUp), books the free slot nearest the due
 * time with the same practitioner, as a booking journey of its own (cancelled like any other).
 * Cancellable until due by the `cancel` update or signal.
 */
export async function followUp(input: FollowUpInput): Promise<FollowUpStatus> {
  const journey = new FollowUpJourney(input);

  setHandler(followUpStatusQuery, () => journey.status());
  setHandler(cancelFollowUpUpdate, (_request) => journey.cancel(), { validator: (_request) => journey.assertCancellable() });
  setHandler(cancelFollowUpSignal, (_request) => void journey.cancel());

  await db.recordFollowUp(input);
  await condition(() => journey.phase === 'CANCELLED', Math.max(1, Date.parse(input.dueAt) - now()));
  journey.due = true;
  if (journey.phase !== 'CANCELLED') {
    const facts = await db.followUpFacts({ ...journey.ids, dueAt: input.dueAt });
    await sendMessage({
      idempotencyKey: `followup-${input.appointmentId}-due`, clinicId: input.clinicId, recipient: { kind: 'patient', id: facts.patientId },
      template: 'follow-up-due', params: { clinicName: facts.clinicName, dueDate: facts.dueDate },
    });
    journey.phase = 'NOTIFIED';
    if (facts.autoBookFollowUp) await bookNearest(journey);
  }
  await db.setFollowUpStatus({ ...journey.ids, status: journey.phase, bookedAppointmentId: journey.bookedAppointmentId });
  await condition(allHandlersFinished);
  return journey.status();
}

/** Books the nearest free slot and hands the new appointment to a booking journey that outlives this one. */
async function bookNearest(journey: FollowUpJourney): Promise<void> {
  const booked = await db.bookFollowUpAppointment({ ...journey.input, newAppointmentId: uuid4() });
  if (!booked) {
    journey.phase = 'NO_SLOT';
    return;
  }
  await startAdoptedBooking({ appointmentId: booked.appointmentId, clinicId: journey.input.clinicId, patientId: booked.patientId, practitionerId: booked.practitionerId });
  journey.phase = 'BOOKED';
  journey.bookedAppointmentId = booked.appointmentId;
}
