import { ApplicationFailure, ApplicationFailureCategory } from '@temporalio/common';
import { subject } from '@casl/ability';
import type { DataSource, EntityManager } from 'typeorm';
import { loadAbility } from '../shared/actor';
import { PG, pgCode } from '../shared/db/pg-errors';
import { insideMinimumNotice, isPatientSelfService, journeySettings } from '../shared/journey';
import {
  ACTIVE_STATUSES, AppointmentStore, decideSlot, isMovable, loadSlotFacts, MOVABLE_STATUSES, type AppointmentRow, type AppointmentStatus, type SlotDecision,
} from '../shared/booking';
import { parseInstant } from '../shared/scheduling/time';
import type { ActorRequest, AppointmentView, BookRequest, CancelRequest, CompleteRequest, RescheduleRequest } from '../workflows/booking-api';
import { BookingFailure, bookingWorkflowId } from '../workflows/booking-api';
import { appointmentViewFromRow } from './appointment-view';

export interface BookingActivityDeps {
  dataSource: DataSource;
  /** Called after a change to an appointment so caches and live views can refresh. */
  onAppointmentChanged?: (a: AppointmentView) => Promise<void>;
}

type Scoped<T> = T & { appointmentId: string; clinicId: string };

/** A change the journey makes by itself (auto-reschedule on leave, no-show after the grace period): no user to check. */
type BySystem<T extends { actorUserId: string }> = Omit<T, 'actorUserId'> & { actorUserId: string | null };

/** A lost race for an auto-assigned room or therapist is decided again this many times before SLOT_TAKEN. */
const ASSIGN_ATTEMPTS = 3;

/** An expected business outcome, not a fault: not retried, logged at debug, no failure metrics. */
const refusal = (type: keyof typeof BookingFailure, message: string) =>
  ApplicationFailure.create({ type, message, nonRetryable: true, category: ApplicationFailureCategory.BENIGN });

const forbidden = () => refusal('FORBIDDEN', 'Not allowed for this user in this clinic');

/** The booking decision's refusal as the journey's failure types. */
function refusalFor(decision: Extract<SlotDecision, { ok: false }>): ApplicationFailure {
  switch (decision.code) {
    case 'SLOT_TAKEN': return refusal('SLOT_TAKEN', decision.resource === 'practitioner' ? 'The slot is already taken' : `No free ${decision.resource === 'room' ? 'room' : 'therapists'} for this time`);
    case 'OUTSIDE_SCHEDULE': return refusal('OUTSIDE_SCHEDULE', "The time is outside the practitioner's schedule at this location");
    case 'NOT_AT_LOCATION': return refusal('INVALID_REFERENCE', decision.field === 'roomId' ? 'The room is at another location' : 'The practitioner does not work at this location');
    case 'WRONG_ROOM_KIND': return refusal('INVALID_REFERENCE', 'The room is not of the kind this service needs');
    case 'UNKNOWN_REFERENCE': return refusal('INVALID_REFERENCE', `Unknown ${decision.fields.join(', ')}`);
  }
}

/**
 * Concurrent inserts that conflict under an exclusion constraint can deadlock each other
 * (PostgreSQL's execIndexing.c says so). By the time we retry, the winner has committed, so the
 * retry meets 23P01 and becomes SLOT_TAKEN instead of a storm of activity retries.
 */
async function retryOnDeadlock<T>(run: () => Promise<T>, attempts = 4): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await run();
    } catch (err) {
      if (pgCode(err) !== PG.DEADLOCK || i >= attempts) throw err;
      await new Promise((r) => setTimeout(r, 5 + Math.random() * 45 * i));
    }
  }
}

export function createBookingActivities({ dataSource, onAppointmentChanged }: BookingActivityDeps) {
  const changed = async (a: AppointmentView) => {
    await onAppointmentChanged?.(a);
    return a;
  };

  const store = (clinicId: string, db: DataSource | EntityManager = dataSource) => new AppointmentStore(db, clinicId);
  const loadRow = async (req: { appointmentId: string; clinicId: string }): Promise<AppointmentRow> => {
    const row = await store(req.clinicId).get(req.appointmentId);
    if (!row) throw refusal('NOT_FOUND', 'Appointment not found');
    return row;
  };

  /** A patient's own change must leave the clinic's minimum notice before each of `starts` (SPEC §5). */
  const assertNotice = async (clinicId: string, starts: (Date | number)[]) => {
    const [clinic] = await dataSource.query(`SELECT settings FROM clinics WHERE id = $1`, [clinicId]);
    const { minNoticeMinutes } = journeySettings(clinic?.settings);
    if (starts.some((s) => insideMinimumNotice(new Date(s).getTime(), Date.now(), minNoticeMinutes))) {
      throw refusal('MIN_NOTICE', `Changes by the patient need at least ${minNoticeMinutes} minutes' notice`);
    }
  };

  /**
   * Moves the row from one of `from` to `to`, as `action` allows the actor (null: the journey
   * itself). Repeating a transition that already happened returns the row as it is.
   */
  const transition = async (
    req: Scoped<{ actorUserId: string | null }>, action: 'checkIn' | 'complete' | 'noShow', from: readonly AppointmentStatus[], to: AppointmentStatus,
    check?: (row: Record<string, unknown>) => void,
  ): Promise<AppointmentView> => {
    const current = await loadRow(req);
    if (req.actorUserId !== null) {
      const { ability } = await loadAbility(dataSource, req.actorUserId, req.clinicId);
      if (!ability.can(action, subject('Appointment', { clinicId: current.clinic_id, patientId: current.patient_id, practitionerId: current.practitioner_id }))) throw forbidden();
    }
    if (current.status === to) return appointmentViewFromRow(current);
    if (!from.includes(current.status)) throw refusal('INVALID_TRANSITION', `Appointment is ${current.status}`);
    check?.(current);
    const row = await store(req.clinicId).update(req.appointmentId, from, { status: to });
    if (!row) throw refusal('INVALID_TRANSITION', 'The appointment changed meanwhile');
    return changed(appointmentViewFromRow(row));
  };

  return {
    /**
     * Holds the slot. The exclusion constraints decide; a retry after a lost response finds
     * its own row (same id) and returns it, so the activity is safe to run twice.
     */
    async bookAppointment(req: Scoped<BookRequest>): Promise<AppointmentView> {
      const { ability } = await loadAbility(dataSource, req.actorUserId, req.clinicId);
      const target = { clinicId: req.clinicId, patientId: req.patientId, practitionerId: req.practitionerId };
      if (!ability.can('create', subject('Appointment', target))) throw forbidden();
      const insert = (roomId: string | null, therapistIds: readonly string[]) => retryOnDeadlock(() => dataSource.transaction(async (tx) => {
        // An attempt must never outlive its activity timeout while holding a pooled connection.
        await tx.query(`SET LOCAL lock_timeout = '3s'`);
        // The trigger on appointments writes one appointment_resources row per resource; its exclusion constraint decides.
        return store(req.clinicId, tx).insert({
          id: req.appointmentId, locationId: req.locationId, patientId: req.patientId, practitionerId: req.practitionerId, roomId, therapistIds,
          serviceId: req.serviceId, startsAt: req.startsAt, endsAt: req.endsAt, mode: req.mode, status: req.requiresPayment ? 'PENDING_PAYMENT' : 'CONFIRMED',
          workflowId: bookingWorkflowId(req.appointmentId), createdBy: req.actorUserId,
        });
      }));
      try {
        let resources = { roomId: req.roomId, therapistIds: req.therapistIds ?? [] };
        for (let attempt = 1; ; attempt++) {
          try {
            const row = await insert(resources.roomId, resources.therapistIds);
            if (row) return await changed(appointmentViewFromRow(row));
            break;
          } catch (err) {
            // The practitioner is the request itself; an auto-assigned room or therapist lost to a concurrent booking is chosen again.
            if (pgCode(err) !== PG.EXCLUSION_VIOLATION || req.resourcesNamed || attempt >= ASSIGN_ATTEMPTS) throw err;
            const facts = await loadSlotFacts(dataSource, {
              clinicId: req.clinicId, practitionerId: req.practitionerId, locationId: req.locationId, serviceId: req.serviceId,
              from: new Date(req.startsAt), to: new Date(req.endsAt),
            });
            const decision = decideSlot(facts, { startsAt: new Date(req.startsAt), endsAt: new Date(req.endsAt) });
            if (!decision.ok) throw refusalFor(decision);
            resources = decision;
          }
        }
        const existing = await store(req.clinicId).get(req.appointmentId);
        if (!existing) throw refusal('INVALID_REFERENCE', 'Appointment id belongs to another clinic');
        return appointmentViewFromRow(existing);
      } catch (err) {
        const code = pgCode(err);
        if (code === PG.EXCLUSION_VIOLATION) throw refusal('SLOT_TAKEN', 'The slot is already taken');
        if (code === PG.FOREIGN_KEY_VIOLATION) throw refusal('INVALID_REFERENCE', 'A referenced resource does not exist in this clinic');
        throw err;
      }
    },

    /** Frees the slot: the exclusion constraints only cover active statuses. Idempotent. */
    async cancelAppointment(req: Scoped<CancelRequest>): Promise<AppointmentView> {
      const current = await loadRow(req);
      const { actor, ability } = await loadAbility(dataSource, req.actorUserId, req.clinicId);
      const target = { clinicId: current.clinic_id, patientId: current.patient_id, practitionerId: current.practitioner_id };
      if (!ability.can('cancel', subject('Appointment', target))) throw forbidden();
      if (current.status === 'CANCELLED') return appointmentViewFromRow(current);
      if (isPatientSelfService(actor, current.patient_id)) await assertNotice(req.clinicId, [current.starts_at]);
      const row = await store(req.clinicId).update(req.appointmentId, ACTIVE_STATUSES, { status: 'CANCELLED', cancelReason: req.reason });
      if (!row) throw refusal('NOT_CANCELLABLE', `Appointment is ${current.status}`);
      return changed(appointmentViewFromRow(row));
    },

    /**
     * Moves the visit to a new time (and practitioner) with the checks of a booking: permission,
     * future time, the patient's minimum notice, the practitioner's schedule at the visit's
     * location. The row is updated in place, so taking the new slot and freeing the old one are
     * one statement under the exclusion constraints: never both held, never neither.
     */
    async rescheduleAppointment(req: Scoped<BySystem<RescheduleRequest>>): Promise<AppointmentView> {
      const current = await loadRow(req);
      const practitionerId = req.practitionerId ?? current.practitioner_id;
      let selfService = false;
      if (req.actorUserId !== null) {
        const { actor, ability } = await loadAbility(dataSource, req.actorUserId, req.clinicId);
        const target = { clinicId: current.clinic_id, patientId: current.patient_id, practitionerId: current.practitioner_id };
        if (!ability.can('reschedule', subject('Appointment', target))) throw forbidden();
        if (!ability.can('reschedule', subject('Appointment', { ...target, practitionerId }))) throw forbidden();
        selfService = isPatientSelfService(actor, current.patient_id);
      }
      if (!isMovable(current.status)) throw refusal('NOT_RESCHEDULABLE', `Appointment is ${current.status}`);
      const startsAt = parseInstant(req.startsAt);
      if (startsAt === null) throw refusal('INVALID_REFERENCE', 'startsAt must be an ISO 8601 instant with offset');
      if (startsAt <= Date.now()) throw refusal('IN_THE_PAST', 'startsAt must be in the future');
      if (selfService) await assertNotice(req.clinicId, [current.starts_at, startsAt]);
      // The visit keeps its length; only the practitioner's schedule at its location decides where it may go.
      const endsAt = startsAt + (new Date(current.ends_at).getTime() - new Date(current.starts_at).getTime());
      const facts = await loadSlotFacts(dataSource, {
        clinicId: req.clinicId, practitionerId, locationId: current.location_id, serviceId: current.service_id, roomId: current.room_id,
        from: new Date(startsAt), to: new Date(endsAt), ignoreAppointmentId: req.appointmentId,
      });
      // The room and therapists move along when still free, else others of the same kind are taken; a room the service does not need is kept.
      const decision = decideSlot(facts, {
        startsAt: new Date(startsAt), endsAt: new Date(endsAt),
        roomId: facts.service?.needsRoom ? undefined : current.room_id, prefer: { roomId: current.room_id, therapistIds: current.therapist_ids },
      });
      if (!decision.ok) throw refusalFor(decision);
      try {
        const row = await retryOnDeadlock(() => dataSource.transaction(async (tx) => {
          await tx.query(`SET LOCAL lock_timeout = '3s'`);
          // One statement: the trigger moves every resource row with it, or the exclusion constraint refuses and none moves.
          return store(req.clinicId, tx).update(req.appointmentId, MOVABLE_STATUSES, {
            startsAt: new Date(startsAt), endsAt: new Date(endsAt), practitionerId, roomId: decision.roomId, therapistIds: decision.therapistIds,
          });
        }));
        if (!row) throw refusal('NOT_RESCHEDULABLE', 'The appointment changed meanwhile');
        // A move to another practitioner frees the old one's time too: their caches must hear of it.
        if (current.practitioner_id !== practitionerId) await onAppointmentChanged?.(appointmentViewFromRow(current));
        return await changed(appointmentViewFromRow(row));
      } catch (err) {
        if (pgCode(err) === PG.EXCLUSION_VIOLATION) throw refusal('SLOT_TAKEN', 'The slot is already taken');
        throw err;
      }
    },

    async checkInAppointment(req: Scoped<ActorRequest>): Promise<AppointmentView> {
      return transition(req, 'checkIn', ['CONFIRMED'], 'CHECKED_IN');
    },

    async completeAppointment(req: Scoped<CompleteRequest>): Promise<AppointmentView> {
      if (req.followUpInDays !== undefined) {
        const current = await loadRow(req);
        const { ability } = await loadAbility(dataSource, req.actorUserId, req.clinicId);
        if (!ability.can('create', subject('FollowUp', { clinicId: current.clinic_id, patientId: current.patient_id, practitionerId: current.practitioner_id }))) throw forbidden();
      }
      return transition(req, 'complete', ['CONFIRMED', 'CHECKED_IN'], 'COMPLETED');
    },

    /** Staff mark it, or the journey itself (actorUserId null) once the grace period has passed. */
    async markNoShow(req: Scoped<BySystem<ActorRequest>>): Promise<AppointmentView> {
      return transition(req, 'noShow', MOVABLE_STATUSES, 'NO_SHOW', (row) => {
        if (new Date(row.starts_at as string).getTime() > Date.now()) throw refusal('NOT_STARTED', 'The appointment has not started yet');
      });
    },

    /** The row as it is: a journey adopting a booking another journey made. */
    async loadAppointment(req: { appointmentId: string; clinicId: string }): Promise<AppointmentView> {
      return appointmentViewFromRow(await loadRow(req));
    },
  };
}

export type BookingActivities = ReturnType<typeof createBookingActivities>;
