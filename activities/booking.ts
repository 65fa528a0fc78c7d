import { ApplicationFailure, ApplicationFailureCategory } from '@temporalio/common';
import { subject } from '@casl/ability';
import type { DataSource } from 'typeorm';
import { loadAbility } from '../shared/actor';
import { PG, pgCode } from '../shared/db/pg-errors';
import type { AppointmentView, BookRequest, CancelRequest } from '../workflows/booking-api';
import { BookingFailure, bookingWorkflowId } from '../workflows/booking-api';
import { appointmentViewFromRow } from './appointment-view';

export interface BookingActivityDeps {
  dataSource: DataSource;
  /** Called after a change to an appointment so caches and live views can refresh. */
  onAppointmentChanged?: (a: AppointmentView) => Promise<void>;
}

type Scoped<T> = T & { appointmentId: string; clinicId: string };

/** An expected business outcome, not a fault: not retried, logged at debug, no failure metrics. */
const refusal = (type: keyof typeof BookingFailure, message: string) =>
  ApplicationFailure.create({ type, message, nonRetryable: true, category: ApplicationFailureCategory.BENIGN });

const forbidden = () => refusal('FORBIDDEN', 'Not allowed for this user in this clinic');

export function createBookingActivities({ dataSource, onAppointmentChanged }: BookingActivityDeps) {
  const changed = async (a: AppointmentView) => {
    await onAppointmentChanged?.(a);
    return a;
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
      try {
        const rows: Record<string, unknown>[] = await dataSource.query(
          `INSERT INTO appointments (id, clinic_id, location_id, patient_id, practitioner_id, room_id, service_id,
                                     starts_at, ends_at, mode, status, workflow_id, created_by)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
           ON CONFLICT (id) DO NOTHING
           RETURNING *`,
          [req.appointmentId, req.clinicId, req.locationId, req.patientId, req.practitionerId, req.roomId, req.serviceId,
            req.startsAt, req.endsAt, req.mode, req.requiresPayment ? 'PENDING_PAYMENT' : 'CONFIRMED',
            bookingWorkflowId(req.appointmentId), req.actorUserId],
        );
        if (rows.length) return await changed(appointmentViewFromRow(rows[0]));
        const [existing] = await dataSource.query(`SELECT * FROM appointments WHERE id = $1 AND clinic_id = $2`, [req.appointmentId, req.clinicId]);
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
      const [current] = await dataSource.query(`SELECT * FROM appointments WHERE id = $1 AND clinic_id = $2`, [req.appointmentId, req.clinicId]);
      if (!current) throw refusal('NOT_FOUND', 'Appointment not found');
      const { ability } = await loadAbility(dataSource, req.actorUserId, req.clinicId);
      const target = { clinicId: current.clinic_id, patientId: current.patient_id, practitionerId: current.practitioner_id };
      if (!ability.can('cancel', subject('Appointment', target))) throw forbidden();
      if (current.status === 'CANCELLED') return appointmentViewFromRow(current);
      // TypeORM answers an UPDATE with [rows, affectedCount].
      const [rows] = await dataSource.query(
        `UPDATE appointments SET status = 'CANCELLED', cancel_reason = $3, version = version + 1, updated_at = now()
         WHERE id = $1 AND clinic_id = $2 AND status IN ('PENDING_PAYMENT', 'CONFIRMED', 'CHECKED_IN')
         RETURNING *`,
        [req.appointmentId, req.clinicId, req.reason],
      );
      if (!rows.length) throw refusal('NOT_CANCELLABLE', `Appointment is ${current.status}`);
      return changed(appointmentViewFromRow(rows[0]));
    },
  };
}

export type BookingActivities = ReturnType<typeof createBookingActivities>;
