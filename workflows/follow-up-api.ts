/**
 * The follow-up journey's public surface (SPEC §6 followUp): started by the booking journey when a
 * visit is completed with `followUpInDays`, as a child that outlives it. Ids only, never PHI.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';

export const followUpWorkflowId = (appointmentId: string) => `followup-${appointmentId}`;

export interface FollowUpInput {
  clinicId: string;
  /** The completed visit the follow-up belongs to. */
  appointmentId: string;
  /** ISO instant the follow-up is due. */
  dueAt: string;
  /** Who completed the visit (recorded as the follow-up's creator). */
  actorUserId: string;
}

/** Also the follow_ups row's status. */
export type FollowUpPhase = 'SCHEDULED' | 'NOTIFIED' | 'BOOKED' | 'NO_SLOT' | 'CANCELLED';

export interface FollowUpStatus {
  phase: FollowUpPhase;
  dueAt: string;
  bookedAppointmentId: string | null;
}

export interface CancelFollowUpRequest {
  actorUserId: string;
}

export const cancelFollowUpUpdate = defineUpdate<FollowUpStatus, [CancelFollowUpRequest]>('cancel');
/** Same name and payload as the update, for staff tools that send signals. */
export const cancelFollowUpSignal = defineSignal<[CancelFollowUpRequest]>('cancel');
export const followUpStatusQuery = defineQuery<FollowUpStatus>('status');
