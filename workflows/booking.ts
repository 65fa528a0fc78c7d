import { allHandlersFinished, condition, proxyLocalActivities, setHandler } from '@temporalio/workflow';
import type { BookingActivities } from '../activities/booking';
import {
  AppointmentView, BookingInput, BookingPhase, BookingStatus, BookingFailure, bookUpdate, cancelUpdate, statusQuery,
} from './booking-api';

// Booking and cancelling are short database writes on the caller's critical path: local
// activities avoid a task-queue round trip while keeping retries and history.
const db = proxyLocalActivities<BookingActivities>({
  startToCloseTimeout: '10 seconds',
  retry: {
    initialInterval: '200 milliseconds',
    backoffCoefficient: 2,
    maximumInterval: '5 seconds',
    nonRetryableErrorTypes: Object.values(BookingFailure),
  },
});

const TERMINAL = new Set(['CANCELLED', 'COMPLETED', 'NO_SHOW']);
/** A workflow started without its `book` update (it should not happen) does not linger. */
const BOOK_DEADLINE = '5 minutes';

class Journey {
  phase: BookingPhase = 'AWAITING_BOOKING';
  appointment: AppointmentView | null = null;

  get ended(): boolean {
    return this.appointment !== null && TERMINAL.has(this.appointment.status);
  }

  status(): BookingStatus {
    return { phase: this.phase, appointmentStatus: this.appointment?.status ?? null, version: this.appointment?.version ?? null };
  }
}

export async function booking({ appointmentId, clinicId }: BookingInput): Promise<BookingStatus> {
  const journey = new Journey();

  setHandler(statusQuery, () => journey.status());

  setHandler(
    bookUpdate,
    async (request) => {
      // A replayed request (same Idempotency-Key) gets the booking already made.
      if (journey.appointment) return journey.appointment;
      try {
        journey.appointment = await db.bookAppointment({ ...request, appointmentId, clinicId });
        journey.phase = 'BOOKED';
        return journey.appointment;
      } catch (err) {
        journey.phase = 'NOT_BOOKED';
        throw err;
      }
    },
    {
      validator: (_request) => {
        if (journey.phase === 'NOT_BOOKED' || journey.phase === 'ENDED') throw new Error('This booking journey has ended');
      },
    },
  );

  setHandler(
    cancelUpdate,
    async (request) => {
      journey.appointment = await db.cancelAppointment({ ...request, appointmentId, clinicId });
      return journey.appointment;
    },
    {
      validator: (_request) => {
        if (!journey.appointment) throw new Error('Nothing is booked yet');
        if (journey.ended) throw new Error(`Appointment is ${journey.appointment.status}`);
      },
    },
  );

  const decided = await condition(() => journey.phase !== 'AWAITING_BOOKING', BOOK_DEADLINE);
  if (!decided) journey.phase = 'NOT_BOOKED';
  if (journey.phase === 'BOOKED') {
    await condition(() => journey.ended);
    journey.phase = 'ENDED';
  }
  await condition(allHandlersFinished);
  return journey.status();
}
