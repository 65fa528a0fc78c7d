/**
 * The booking journey's public surface: task queue, message definitions and the shapes they
 * carry. Imported by the workflow, the API and tests alike. Ids only, never PHI.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';

export const BOOKING_TASK_QUEUE = 'booking';
export const bookingWorkflowId = (appointmentId: string) => `appointment-${appointmentId}`;

export interface BookingInput {
  appointmentId: string;
  clinicId: string;
  /**
   * The row already exists, inserted by another journey (a follow-up booking): the journey adopts
   * it instead of waiting for a `book` update.
   */
  adopted?: boolean;
}

export interface BookRequest {
  actorUserId: string;
  patientId: string;
  practitionerId: string;
  serviceId: string;
  locationId: string;
  /** The room the API chose (or the client named); null: the service needs none. */
  roomId: string | null;
  /** The therapists the API chose (or the client named). Absent in journeys recorded before multi-resource bookings. */
  therapistIds?: string[];
  /**
   * The client named the room and therapists: if one is taken meanwhile the booking fails. Otherwise
   * the activity may choose others that are free, as the API would have.
   */
  resourcesNamed?: boolean;
  startsAt: string;
  endsAt: string;
  mode: 'IN_PERSON' | 'VIDEO' | 'HOME_VISIT';
  requiresPayment: boolean;
}

export interface CancelRequest {
  actorUserId: string;
  reason: string;
}

/**
 * A new time (and optionally another practitioner) for the appointment. The same payload arrives
 * as the `reschedule` update (API) and the `reschedule` signal (staff, Temporal Web UI or
 * `temporal workflow signal --name reschedule --input '{"actorUserId":…,"startsAt":…}'`).
 */
export interface RescheduleRequest {
  actorUserId: string;
  /** ISO 8601 instant with offset. */
  startsAt: string;
  practitionerId?: string;
}

export interface ActorRequest {
  actorUserId: string;
}

export interface CompleteRequest {
  actorUserId: string;
  /** Starts the follow-up journey, due this many days after completion (fractions allowed). */
  followUpInDays?: number;
}

/** Sent by the API when a practitioner's new LEAVE exception overlaps the appointment. */
export interface PractitionerUnavailableNotice {
  /** ISO instants of the leave. */
  from: string;
  to: string;
}

/** What activities return and the API renders: the appointment row, dates as ISO strings. */
export interface AppointmentView {
  id: string;
  clinicId: string;
  locationId: string;
  patientId: string;
  practitionerId: string;
  roomId: string | null;
  therapistIds: string[];
  serviceId: string;
  startsAt: string;
  endsAt: string;
  mode: string;
  status: string;
  seriesId: string | null;
  workflowId: string;
  version: number;
  createdAt: string;
  updatedAt: string;
}

export type BookingPhase = 'AWAITING_BOOKING' | 'BOOKED' | 'NOT_BOOKED' | 'ENDED';

export interface BookingStatus {
  phase: BookingPhase;
  appointmentStatus: string | null;
  version: number | null;
  /** The rest exists for journeys started since durable reminders (see DURABLE_JOURNEY_PATCH). */
  startsAt?: string | null;
  practitionerId?: string | null;
  /** Reminders armed for the current time, and whether each went out. */
  reminders?: { key: string; at: string; sent: boolean }[];
  /** The service kind's instructions before the visit and after its completion (SERIAL_JOURNEY_PATCH journeys). */
  preparation?: { key: string; at: string; sent: boolean }[];
  afterCare?: { key: string; at: string; sent: boolean }[];
  noShowAt?: string | null;
  /** Successful reschedules so far; each re-arms the reminders. */
  reschedules?: number;
  /** Why the last reschedule was refused (a signal cannot answer its sender); cleared by the next success. */
  lastRescheduleError?: RescheduleError | null;
  /** The nearest free slot offered after the practitioner became unavailable. */
  offeredSlot?: { startsAt: string; endsAt: string } | null;
  followUpWorkflowId?: string | null;
}

export interface RescheduleError {
  /** A BookingFailure type, or INVALID_REQUEST for a malformed signal. */
  type: string;
  message: string;
  requestedStartsAt: string | null;
  at: string;
}

/** Failure types the API maps to HTTP problems. */
export const BookingFailure = {
  SLOT_TAKEN: 'SLOT_TAKEN',
  FORBIDDEN: 'FORBIDDEN',
  INVALID_REFERENCE: 'INVALID_REFERENCE',
  NOT_CANCELLABLE: 'NOT_CANCELLABLE',
  NOT_FOUND: 'NOT_FOUND',
  /** Not CONFIRMED or PENDING_PAYMENT (checked in, ended). */
  NOT_RESCHEDULABLE: 'NOT_RESCHEDULABLE',
  /** Check-in, complete or no-show from a status that does not allow it. */
  INVALID_TRANSITION: 'INVALID_TRANSITION',
  OUTSIDE_SCHEDULE: 'OUTSIDE_SCHEDULE',
  IN_THE_PAST: 'IN_THE_PAST',
  /** A patient's self-service change closer to the visit than the clinic's minimum notice. */
  MIN_NOTICE: 'MIN_NOTICE',
  /** No-show before the visit has started. */
  NOT_STARTED: 'NOT_STARTED',
} as const;

export const bookUpdate = defineUpdate<AppointmentView, [BookRequest]>('book');
export const cancelUpdate = defineUpdate<AppointmentView, [CancelRequest]>('cancel');
export const rescheduleUpdate = defineUpdate<AppointmentView, [RescheduleRequest]>('reschedule');
/** Same name and payload as the update: a signal for staff tools that cannot call updates. */
export const rescheduleSignal = defineSignal<[RescheduleRequest]>('reschedule');
export const checkInUpdate = defineUpdate<AppointmentView, [ActorRequest]>('checkIn');
export const completeUpdate = defineUpdate<AppointmentView, [CompleteRequest]>('complete');
export const noShowUpdate = defineUpdate<AppointmentView, [ActorRequest]>('noShow');
export const practitionerUnavailableSignal = defineSignal<[PractitionerUnavailableNotice]>('practitionerUnavailable');
export const statusQuery = defineQuery<BookingStatus>('status');
