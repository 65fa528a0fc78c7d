/**
 * The Panchakarma course journey's public surface (SPEC §6 therapySeries): task queue, messages
 * and the shapes they carry, for the workflow, its activities and the API. Ids, times, service
 * ids and the template's regimen texts (generic diet and care instructions): never PHI.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { Phase } from '../shared/therapy/templates';

export const THERAPY_TASK_QUEUE = 'therapy';
export const therapyWorkflowId = (seriesId: string) => `therapy-${seriesId}`;

export interface CoursePhase {
  phase: Phase;
  days: number;
  serviceId: string;
  serviceCode: string;
  regimen: string[];
}

export interface TherapyInput {
  seriesId: string;
  clinicId: string;
  patientId: string;
  practitionerId: string;
  locationId: string;
  /** Who created the course: its sessions are booked in their name. */
  actorUserId: string;
  templateCode: string;
  startDate: string;
  time: string;
  /** The location's zone. */
  timezone: string;
  /** Clinic setting courseDayMinutes: a compressed day (tests, demos); null: calendar days. */
  dayMinutes: number | null;
  reviewAfterDays: number;
  phases: CoursePhase[];
}

export type CourseStatus = 'BOOKING' | 'ACTIVE' | 'PAUSED' | 'COMPLETED' | 'CANCELLED';
/**
 * BOOKED: holds an appointment; UNBOOKED: no free time that day (staff may reschedule it);
 * RELEASED: freed by a pause, rebooked on resume; SKIPPED; CANCELLED (the course was cancelled).
 */
export type SessionStatus = 'PLANNED' | 'BOOKED' | 'UNBOOKED' | 'RELEASED' | 'SKIPPED' | 'CANCELLED';

export interface CourseSession {
  n: number;
  phase: Phase;
  serviceId: string;
  /** The course day the session belongs to, [dayStart, dayEnd). */
  dayStart: string;
  dayEnd: string;
  startsAt: string | null;
  endsAt: string | null;
  status: SessionStatus;
  appointmentId: string | null;
  roomId: string | null;
  therapistIds: string[];
  reason: string | null;
}

export interface CourseProgress {
  status: CourseStatus;
  reason: string | null;
  sessions: CourseSession[];
  /** Booked sessions whose time has passed. */
  done: number;
  total: number;
  currentPhase: Phase | null;
  reviewWorkflowId: string | null;
  /** Why the last change sent by signal was refused (a signal cannot answer). */
  lastError: string | null;
}

export interface ActorRequest { actorUserId: string }
export interface PauseRequest extends ActorRequest { reason: string }
export interface ResumeRequest extends ActorRequest {
  /** YYYY-MM-DD local: the first remaining session's day. */
  date: string;
  /** HH:mm local; default the course's time. */
  time?: string;
}
export interface CancelCourseRequest extends ActorRequest { reason: string }
export interface RescheduleSessionRequest extends ActorRequest { n: number; startsAt: string }
export interface SkipSessionRequest extends ActorRequest { n: number; reason: string }

/** Refusals the API maps to problems (besides the booking journey's own: SLOT_TAKEN, OUTSIDE_SCHEDULE, FORBIDDEN…). */
export const TherapyFailure = {
  NOT_ACTIVE: 'NOT_ACTIVE',
  NOT_PAUSED: 'NOT_PAUSED',
  ENDED: 'ENDED',
  NO_SUCH_SESSION: 'NO_SUCH_SESSION',
  SESSION_NOT_CHANGEABLE: 'SESSION_NOT_CHANGEABLE',
  SESSION_CLASH: 'SESSION_CLASH',
  IN_THE_PAST: 'IN_THE_PAST',
} as const;

/** Answers once every session is booked up front (POST /therapy-series, with update-with-start). */
export const courseReadyUpdate = defineUpdate<CourseProgress, []>('ready');
export const pauseCourseUpdate = defineUpdate<CourseProgress, [PauseRequest]>('pause');
export const resumeCourseUpdate = defineUpdate<CourseProgress, [ResumeRequest]>('resume');
export const cancelCourseUpdate = defineUpdate<CourseProgress, [CancelCourseRequest]>('cancel');
export const rescheduleSessionUpdate = defineUpdate<CourseProgress, [RescheduleSessionRequest]>('rescheduleSession');
export const skipSessionUpdate = defineUpdate<CourseProgress, [SkipSessionRequest]>('skipSession');
/** The same changes as signals, for staff tools (Temporal Web UI, CLI); a refusal shows in `progress.lastError`. */
export const pauseCourseSignal = defineSignal<[PauseRequest]>('pause');
export const resumeCourseSignal = defineSignal<[ResumeRequest]>('resume');
export const cancelCourseSignal = defineSignal<[CancelCourseRequest]>('cancel');
export const progressQuery = defineQuery<CourseProgress>('progress');
