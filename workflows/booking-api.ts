/**
 * The booking journey's public surface: task queue, message definitions and the shapes they
 * carry. Imported by the workflow, the API and tests alike. Ids only, never PHI.
 */
import { defineQuery, defineUpdate } from '@temporalio/workflow';

export const BOOKING_TASK_QUEUE = 'booking';
export const bookingWorkflowId = (appointmentId: string) => `appointment-${appointmentId}`;

export interface BookingInput {
  appointmentId: string;
  clinicId: string;
}

export interface BookRequest {
  actorUserId: string;
  patientId: string;
  practitionerId: string;
  serviceId: string;
  locationId: string;
  roomId: string | null;
  startsAt: string;
  endsAt: string;
  mode: 'IN_PERSON' | 'VIDEO' | 'HOME_VISIT';
  requiresPayment: boolean;
}

export interface CancelRequest {
  actorUserId: string;
  reason: string;
}

/** What activities return and the API renders: the appointment row, dates as ISO strings. */
export interface AppointmentView {
  id: string;
  clinicId: string;
  locationId: string;
  patientId: string;
  practitionerId: string;
  roomId: string | null;
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
}

/** Failure types the API maps to HTTP problems. */
export const BookingFailure = {
  SLOT_TAKEN: 'SLOT_TAKEN',
  FORBIDDEN: 'FORBIDDEN',
  INVALID_REFERENCE: 'INVALID_REFERENCE',
  NOT_CANCELLABLE: 'NOT_CANCELLABLE',
  NOT_FOUND: 'NOT_FOUND',
} as const;

export const bookUpdate = defineUpdate<AppointmentView, [BookRequest]>('book');
export const cancelUpdate = defineUpdate<AppointmentView, [CancelRequest]>('cancel');
export const statusQuery = defineQuery<BookingStatus>('status');
