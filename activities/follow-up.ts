import { ApplicationFailure, ApplicationFailureCategory } from '@temporalio/common';
import type { DataSource } from 'typeorm';
import { PG, pgCode } from '../shared/db/pg-errors';
import { journeySettings } from '../shared/journey';
import type { AppointmentView } from '../workflows/booking-api';
import { bookingWorkflowId } from '../workflows/booking-api';
import type { FollowUpInput, FollowUpPhase } from '../workflows/follow-up-api';
import { followUpWorkflowId } from '../workflows/follow-up-api';
import { appointmentViewFromRow } from './appointment-view';
import { AppointmentStore } from '../shared/booking';
import { findNearestFreeSlot } from './slot-search';

export interface FollowUpActivityDeps {
  dataSource: DataSource;
  /** As for booking activities: caches and live views refresh after a new appointment. */
  onAppointmentChanged?: (a: AppointmentView) => Promise<void>;
}

export interface FollowUpFacts {
  clinicName: string;
  /** The due date as the clinic's calendar shows it (YYYY-MM-DD). */
  dueDate: string;
  patientId: string;
  autoBookFollowUp: boolean;
}

export interface FollowUpBooking {
  appointmentId: string;
  patientId: string;
  practitionerId: string;
  startsAt: string;
}

/** Slots taken by someone else between the search and the insert: look again this many times. */
const BOOK_ATTEMPTS = 3;

export function createFollowUpActivities({ dataSource, onAppointmentChanged }: FollowUpActivityDeps) {
  return {
    /** The follow_ups row, written once when the journey starts (idempotent). */
    async recordFollowUp(req: FollowUpInput): Promise<void> {
      const rows: unknown[] = await dataSource.query(
        `INSERT INTO follow_ups (clinic_id, appointment_id, patient_id, practitioner_id, due_at, status, workflow_id, created_by)
         SELECT a.clinic_id, a.id, a.patient_id, a.practitioner_id, $3, 'SCHEDULED', $4, $5
         FROM appointments a WHERE a.id = $1 AND a.clinic_id = $2
         ON CONFLICT (clinic_id, appointment_id) DO NOTHING
         RETURNING 1`,
        [req.appointmentId, req.clinicId, req.dueAt, followUpWorkflowId(req.appointmentId), req.actorUserId],
      );
      if (!rows.length) {
        const [existing] = await dataSource.query(`SELECT 1 FROM follow_ups WHERE clinic_id = $1 AND appointment_id = $2`, [req.clinicId, req.appointmentId]);
        if (!existing) {
          throw ApplicationFailure.create({ type: 'NOT_FOUND', message: 'Appointment not found', nonRetryable: true, category: ApplicationFailureCategory.BENIGN });
        }
      }
    },

    async setFollowUpStatus(req: { clinicId: string; appointmentId: string; status: FollowUpPhase; bookedAppointmentId?: string | null }): Promise<void> {
      await dataSource.query(
        `UPDATE follow_ups SET status = $3, booked_appointment_id = COALESCE($4, booked_appointment_id), updated_at = now()
         WHERE clinic_id = $1 AND appointment_id = $2`,
        [req.clinicId, req.appointmentId, req.status, req.bookedAppointmentId ?? null],
      );
    },

    async followUpFacts(req: { clinicId: string; appointmentId: string; dueAt: string }): Promise<FollowUpFacts> {
      const [row] = await dataSource.query(
        `SELECT c.name, c.settings, to_char($3::timestamptz AT TIME ZONE c.timezone, 'YYYY-MM-DD') AS due_date, a.patient_id
         FROM appointments a JOIN clinics c ON c.id = a.clinic_id WHERE a.id = $1 AND a.clinic_id = $2`,
        [req.appointmentId, req.clinicId, req.dueAt],
      );
      if (!row) throw ApplicationFailure.create({ type: 'NOT_FOUND', message: 'Appointment not found', nonRetryable: true });
      return { clinicName: row.name, dueDate: row.due_date, patientId: row.patient_id, autoBookFollowUp: journeySettings(row.settings).autoBookFollowUp };
    },

    /**
     * Books the follow-up visit in the free slot nearest the due time, with the same practitioner
     * at the same location: the clinic's FOLLOW_UP service when it has one, else the visit's own
     * service. The id comes from the journey, so a retry finds the row it already wrote. Null when
     * no slot is free in the search range. The row is the journey's own booking (clinic setting
     * autoBookFollowUp), created by whoever completed the visit.
     */
    async bookFollowUpAppointment(req: FollowUpInput & { newAppointmentId: string }): Promise<FollowUpBooking | null> {
      const existing = await new AppointmentStore(dataSource, req.clinicId).get(req.newAppointmentId);
      if (existing) return { appointmentId: req.newAppointmentId, patientId: existing.patient_id, practitionerId: existing.practitioner_id, startsAt: new Date(existing.starts_at).toISOString() };
      const [visit] = await dataSource.query(
        `SELECT a.patient_id, a.practitioner_id, a.location_id, s.id AS service_id, s.duration_minutes, s.requires_payment
         FROM appointments a
         JOIN LATERAL (
           SELECT * FROM services s WHERE s.clinic_id = a.clinic_id AND (s.kind = 'FOLLOW_UP' OR s.id = a.service_id)
           ORDER BY (s.kind = 'FOLLOW_UP') DESC, s.code LIMIT 1
         ) s ON true
         WHERE a.id = $1 AND a.clinic_id = $2`,
        [req.appointmentId, req.clinicId],
      );
      if (!visit) throw ApplicationFailure.create({ type: 'NOT_FOUND', message: 'Appointment not found', nonRetryable: true });
      for (let attempt = 1; attempt <= BOOK_ATTEMPTS; attempt++) {
        const slot = await findNearestFreeSlot(dataSource, {
          clinicId: req.clinicId, practitionerId: visit.practitioner_id, locationId: visit.location_id, serviceId: visit.service_id,
          durationMinutes: visit.duration_minutes, target: new Date(req.dueAt), notBefore: new Date(Date.now() + 60_000),
        });
        if (!slot) return null;
        try {
          const row = await new AppointmentStore(dataSource, req.clinicId).insert({
            id: req.newAppointmentId, locationId: visit.location_id, patientId: visit.patient_id, practitionerId: visit.practitioner_id,
            roomId: slot.roomId, therapistIds: slot.therapistIds, serviceId: visit.service_id, startsAt: slot.startsAt, endsAt: slot.endsAt,
            mode: 'IN_PERSON', status: visit.requires_payment ? 'PENDING_PAYMENT' : 'CONFIRMED', workflowId: bookingWorkflowId(req.newAppointmentId), createdBy: req.actorUserId,
          });
          if (row) await onAppointmentChanged?.(appointmentViewFromRow(row));
          return { appointmentId: req.newAppointmentId, patientId: visit.patient_id, practitionerId: visit.practitioner_id, startsAt: slot.startsAt.toISOString() };
        } catch (err) {
          if (pgCode(err) !== PG.EXCLUSION_VIOLATION && pgCode(err) !== PG.DEADLOCK) throw err;
        }
      }
      return null;
    },
  };
}

export type FollowUpActivities = ReturnType<typeof createFollowUpActivities>;
