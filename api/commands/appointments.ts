import { randomUUID } from 'node:crypto';
import { subject } from '@casl/ability';
import { ServiceError, WithStartWorkflowOperation, WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure, type UpdateDefinition } from '@temporalio/common';
import { AppointmentStore, decideSlot, loadSlotFacts } from '../../shared/booking';
import type { Actor, AppAbility } from '../../shared/permissions';
import { appointmentViewFromRow } from '../../activities/appointment-view';
import { booking } from '../../workflows/booking';
import {
  AppointmentView, BOOKING_TASK_QUEUE, BookingFailure, bookingWorkflowId, bookUpdate, cancelUpdate, checkInUpdate, completeUpdate,
  noShowUpdate, rescheduleUpdate, statusQuery,
} from '../../workflows/booking-api';
import { followUpWorkflowId } from '../../workflows/follow-up-api';
import { SA } from '../../workflows/search-attributes';
import { decodeCursor, page } from '../http/pagination';
import { FieldError, problems } from '../http/problem';
import type { ApiDeps } from '../http/state';
import { idFromKey } from './idempotency';
import { dayViewCacheEntry } from './day-view';
import { slotProblem } from './slot-problem';
import { afterAppointmentCancelled } from './payments';
import { withWorkflowDeadline } from './workflow-deadline';
import { DATA_ERROR } from '../../activities/data-errors';

export interface BookInput {
  patientId: string;
  practitionerId: string;
  serviceId: string;
  locationId: string;
  startsAt: string;
  roomId?: string;
  therapistIds?: string[];
  mode: 'IN_PERSON' | 'VIDEO' | 'HOME_VISIT';
}

/** Maps the workflow's typed failures (thrown by the update or by its activity) to HTTP problems. */
function bookingProblem(err: unknown): never {
  const failure = err instanceof WorkflowUpdateFailedError ? err.cause : undefined;
  const cause = failure instanceof ActivityFailure ? failure.cause : failure;
  if (cause instanceof ApplicationFailure) {
    const startsAt = (message: string): FieldError[] => [{ field: 'body.startsAt', message }];
    switch (cause.type) {
      case BookingFailure.SLOT_TAKEN: throw problems.slotTaken();
      case BookingFailure.FORBIDDEN: throw problems.forbidden();
      case BookingFailure.NOT_FOUND: throw problems.notFound('Appointment');
      case BookingFailure.INVALID_REFERENCE: throw problems.unprocessable('invalid-reference', cause.message);
      case BookingFailure.NOT_CANCELLABLE: throw problems.conflict('not-cancellable', cause.message);
      case BookingFailure.NOT_RESCHEDULABLE: throw problems.conflict('not-reschedulable', cause.message);
      case BookingFailure.INVALID_TRANSITION: throw problems.conflict('invalid-transition', cause.message);
      case BookingFailure.OUTSIDE_SCHEDULE: throw problems.unprocessable('outside-schedule', cause.message, startsAt('outside working hours'));
      case BookingFailure.IN_THE_PAST: throw problems.unprocessable('in-the-past', cause.message, startsAt('must be in the future'));
      case BookingFailure.MIN_NOTICE: throw problems.unprocessable('inside-minimum-notice', cause.message);
      case BookingFailure.NOT_STARTED: throw problems.unprocessable('not-started', cause.message);
      case DATA_ERROR: throw problems.unprocessable('invalid-data', cause.message);
    }
  }
  // An update rejected by the workflow's validator (journey already ended).
  if (err instanceof WorkflowUpdateFailedError || err instanceof WorkflowNotFoundError) throw problems.conflict('journey-ended', 'This appointment can no longer be changed');
  throw err;
}

export async function bookAppointment(deps: ApiDeps, actor: Actor, ability: AppAbility, input: BookInput, idempotencyKey?: string): Promise<AppointmentView> {
  const clinicId = actor.clinicId!;
  if (!ability.can('create', subject('Appointment', { clinicId, patientId: input.patientId, practitionerId: input.practitionerId }))) {
    throw problems.forbidden('You may not book for this patient');
  }
  const startsAt = new Date(input.startsAt);
  if (startsAt.getTime() <= Date.now()) throw problems.unprocessable('in-the-past', 'startsAt must be in the future', [{ field: 'body.startsAt', message: 'must be in the future' }]);
  // The service's length sets the end; the facts cover that one visit.
  const facts = await loadSlotFacts(deps.dataSource, {
    clinicId, practitionerId: input.practitionerId, locationId: input.locationId, serviceId: input.serviceId, patientId: input.patientId, roomId: input.roomId, from: startsAt,
  });
  const service = facts.service;
  const endsAt = new Date(startsAt.getTime() + (service?.durationMinutes ?? 0) * 60_000);
  const decision = decideSlot(facts, { startsAt, endsAt, roomId: input.roomId, therapistIds: input.therapistIds });
  if (!decision.ok) throw slotProblem(decision, 'body');

  const appointmentId = idempotencyKey ? idFromKey(actor.userId, idempotencyKey) : randomUUID();
  const workflowId = bookingWorkflowId(appointmentId);
  const start = new WithStartWorkflowOperation(booking, {
    workflowId,
    taskQueue: BOOKING_TASK_QUEUE,
    args: [{ appointmentId, clinicId }],
    workflowIdConflictPolicy: 'USE_EXISTING',
    typedSearchAttributes: [
      { key: SA.ClinicId, value: clinicId },
      { key: SA.PatientId, value: input.patientId },
      { key: SA.PractitionerId, value: input.practitionerId },
      { key: SA.AppointmentId, value: appointmentId },
      { key: SA.JourneyKind, value: 'booking' },
    ],
  });
  deps.metrics.workflowStarts.inc({ workflow: 'booking' });
  try {
    return await withWorkflowDeadline(deps, () => deps.temporal.workflow.executeUpdateWithStart(bookUpdate, {
      args: [{
        actorUserId: actor.userId, patientId: input.patientId, practitionerId: input.practitionerId, serviceId: input.serviceId,
        locationId: input.locationId, roomId: decision.roomId, therapistIds: decision.therapistIds,
        resourcesNamed: input.roomId !== undefined || input.therapistIds !== undefined,
        startsAt: startsAt.toISOString(), endsAt: endsAt.toISOString(), mode: input.mode, requiresPayment: service!.requiresPayment,
      }],
      startWorkflowOperation: start,
    }));
  } catch (err) {
    return bookingProblem(err);
  }
}

/** Reads all of the clinic's appointments, or only the actor's own (PATIENT). */
const readsAllAppointments = (ability: AppAbility, clinicId: string) =>
  ability.can('read', subject('Appointment', { clinicId, patientId: '', practitionerId: '' }));

async function loadReadable(deps: ApiDeps, actor: Actor, ability: AppAbility, id: string) {
  const row = await new AppointmentStore(deps.dataSource, actor.clinicId!).get(id);
  const view = row ? appointmentViewFromRow(row) : null;
  if (!view || !ability.can('read', subject('Appointment', view))) throw problems.notFound('Appointment');
  return view;
}

export interface ListQuery { from?: string; to?: string; practitionerId?: string; patientId?: string; status?: string; limit: number; cursor?: string }

export async function listAppointments(deps: ApiDeps, actor: Actor, ability: AppAbility, q: ListQuery) {
  const cursor = decodeCursor(q.cursor);
  const ownOnly = !readsAllAppointments(ability, actor.clinicId!);
  const load = async () => {
    const rows: Record<string, unknown>[] = await deps.dataSource.query(
      `SELECT * FROM appointments
       WHERE clinic_id = $1
         AND ($2::timestamptz IS NULL OR starts_at >= $2) AND ($3::timestamptz IS NULL OR starts_at < $3)
         AND ($4::uuid IS NULL OR practitioner_id = $4) AND ($5::uuid IS NULL OR patient_id = $5)
         AND ($6::text IS NULL OR status = $6)
         AND ($7::uuid[] IS NULL OR patient_id = ANY ($7))
         AND ($8::timestamptz IS NULL OR (starts_at, id) > ($8, $9::uuid))
       ORDER BY starts_at, id LIMIT $10`,
      [actor.clinicId, q.from ?? null, q.to ?? null, q.practitionerId ?? null, q.patientId ?? null, q.status ?? null,
        ownOnly ? actor.patientIds : null, cursor?.k ?? null, cursor?.id ?? null, q.limit + 1],
    );
    return page(rows.map(appointmentViewFromRow), q.limit, (a) => ({ k: a.startsAt, id: a.id }));
  };
  // Staff's day view (practitioner + range) is served from the cache; appointment changes retire it.
  const dayView = ownOnly ? null : dayViewCacheEntry(actor.clinicId!, q);
  return dayView ? deps.cache.getOrLoadTagged('day-view', dayView, load) : load();
}

export async function getAppointment(deps: ApiDeps, actor: Actor, ability: AppAbility, id: string) {
  const appointment = await loadReadable(deps, actor, ability, id);
  const handle = deps.temporal.workflow.getHandle(appointment.workflowId);
  // The query needs a worker; a slow or absent one must not stall a read.
  const journey = await deps.temporal.withDeadline(Date.now() + 2000, () => handle.query(statusQuery)).catch(() => null);
  return {
    ...appointment,
    workflow: {
      id: appointment.workflowId,
      phase: journey?.phase ?? 'UNKNOWN',
      uiUrl: `${deps.config.TEMPORAL_UI_URL}/namespaces/${deps.config.TEMPORAL_NAMESPACE}/workflows/${encodeURIComponent(appointment.workflowId)}`,
    },
  };
}

export async function cancelAppointment(deps: ApiDeps, actor: Actor, ability: AppAbility, id: string, reason: string): Promise<AppointmentView> {
  const appointment = await loadReadable(deps, actor, ability, id);
  if (!ability.can('cancel', subject('Appointment', appointment))) throw problems.forbidden('You may not cancel this appointment');
  if (appointment.status === 'CANCELLED') throw problems.conflict('not-cancellable', 'Appointment is already cancelled');
  const cancelled = await updateJourney(deps, appointment, cancelUpdate, { actorUserId: actor.userId, reason });
  await afterAppointmentCancelled(deps, cancelled);
  return cancelled;
}

/**
 * The server aborts an in-flight update when the workflow task carrying it fails, e.g. because a
 * child's completion arrived while the worker was answering (UnhandledCommand): FAILED_PRECONDITION,
 * "unexpected workflow task failure". Nothing ran; the same update id may simply be sent again.
 */
const UPDATE_ATTEMPTS = 4;
const abortedByTaskFailure = (err: unknown) =>
  err instanceof ServiceError && (err.cause as { code?: number } | undefined)?.code === 9 && /workflow task failure/i.test(String(err.cause?.message));

/** Runs one update of the appointment's journey, mapping its refusals to problems. */
async function updateJourney<Arg>(
  deps: ApiDeps, appointment: AppointmentView, update: UpdateDefinition<AppointmentView, [Arg]>, arg: Arg,
): Promise<AppointmentView> {
  // One id for every attempt: should an attempt have been accepted after all, Temporal answers its outcome instead of running it twice.
  const updateId = randomUUID();
  for (let attempt = 1; ; attempt++) {
    try {
      return await withWorkflowDeadline(deps, () => deps.temporal.workflow.getHandle(appointment.workflowId).executeUpdate(update, { args: [arg], updateId }));
    } catch (err) {
      if (abortedByTaskFailure(err) && attempt < UPDATE_ATTEMPTS) {
        await new Promise((r) => setTimeout(r, 50 * 2 ** attempt));
        continue;
      }
      if (abortedByTaskFailure(err)) throw problems.unavailable('The appointment journey is busy; try again');
      return bookingProblem(err);
    }
  }
}

/** The acting user must be allowed `action` on this appointment (DOCTOR: own appointments only). */
function assertMay(ability: AppAbility, action: 'reschedule' | 'checkIn' | 'complete' | 'noShow', a: Pick<AppointmentView, 'clinicId' | 'patientId' | 'practitionerId'>) {
  if (!ability.can(action, subject('Appointment', { clinicId: a.clinicId, patientId: a.patientId, practitionerId: a.practitionerId }))) {
    throw problems.forbidden(`You may not ${action === 'noShow' ? 'mark a no-show for' : action === 'checkIn' ? 'check in' : action} this appointment`);
  }
}

export interface RescheduleInput {
  startsAt: string;
  practitionerId?: string;
}

/**
 * Moves the appointment through its journey's `reschedule` update: the same logic as the staff's
 * `reschedule` signal (schedule, the patient's minimum notice, the slot, all checked by the journey).
 */
export async function rescheduleAppointment(deps: ApiDeps, actor: Actor, ability: AppAbility, id: string, input: RescheduleInput): Promise<AppointmentView> {
  const appointment = await loadReadable(deps, actor, ability, id);
  assertMay(ability, 'reschedule', appointment);
  if (input.practitionerId) assertMay(ability, 'reschedule', { ...appointment, practitionerId: input.practitionerId });
  const startsAt = new Date(input.startsAt);
  if (startsAt.getTime() <= Date.now()) throw problems.unprocessable('in-the-past', 'startsAt must be in the future', [{ field: 'body.startsAt', message: 'must be in the future' }]);
  return updateJourney(deps, appointment, rescheduleUpdate, {
    actorUserId: actor.userId, startsAt: startsAt.toISOString(), ...(input.practitionerId ? { practitionerId: input.practitionerId } : {}),
  });
}

export async function checkInAppointment(deps: ApiDeps, actor: Actor, ability: AppAbility, id: string): Promise<AppointmentView> {
  const appointment = await loadReadable(deps, actor, ability, id);
  assertMay(ability, 'checkIn', appointment);
  return updateJourney(deps, appointment, checkInUpdate, { actorUserId: actor.userId });
}

/** Completes the visit; with followUpInDays the journey then starts `followup-<appointmentId>`. */
export async function completeAppointment(deps: ApiDeps, actor: Actor, ability: AppAbility, id: string, input: { followUpInDays?: number }) {
  const appointment = await loadReadable(deps, actor, ability, id);
  assertMay(ability, 'complete', appointment);
  if (input.followUpInDays !== undefined && !ability.can('create', subject('FollowUp', { clinicId: appointment.clinicId, patientId: appointment.patientId, practitionerId: appointment.practitionerId }))) {
    throw problems.forbidden('You may not create follow-ups');
  }
  const completed = await updateJourney(deps, appointment, completeUpdate, {
    actorUserId: actor.userId, ...(input.followUpInDays !== undefined ? { followUpInDays: input.followUpInDays } : {}),
  });
  return { ...completed, followUpWorkflowId: input.followUpInDays !== undefined ? followUpWorkflowId(appointment.id) : null };
}

export async function markNoShow(deps: ApiDeps, actor: Actor, ability: AppAbility, id: string): Promise<AppointmentView> {
  const appointment = await loadReadable(deps, actor, ability, id);
  assertMay(ability, 'noShow', appointment);
  return updateJourney(deps, appointment, noShowUpdate, { actorUserId: actor.userId });
}
