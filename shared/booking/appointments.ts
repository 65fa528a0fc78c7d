import type { DataSource, EntityManager } from 'typeorm';
import { Appointment } from '../../entities/appointment';
import type { AppointmentStatus } from './statuses';

/** A raw `appointments` row as RETURNING gives it (snake_case). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- raw pg row, mapped by appointmentViewFromRow
export type AppointmentRow = Record<string, any>;

export interface NewAppointment {
  id: string;
  locationId: string;
  patientId: string;
  practitionerId: string;
  roomId: string | null;
  therapistIds: readonly string[];
  serviceId: string;
  startsAt: Date | string;
  endsAt: Date | string;
  mode: string;
  status: AppointmentStatus;
  workflowId: string;
  createdBy: string | null;
  /** The course or recurring series the visit belongs to. */
  seriesId?: string | null;
}

export type AppointmentChange = Partial<Pick<Appointment, 'status' | 'startsAt' | 'endsAt' | 'practitionerId' | 'roomId' | 'therapistIds' | 'cancelReason'>>;

/**
 * One clinic's appointments: the single data-access path for appointment rows, every statement
 * filtered by the clinic (row-level security is the second wall). Writes bump `version` and
 * `updated_at` (the entity's version and update-date columns); the trigger on the table keeps
 * appointment_resources, and so the exclusion constraint, in step with each write.
 */
export class AppointmentStore {
  constructor(private readonly db: DataSource | EntityManager, readonly clinicId: string) {}

  private qb() {
    return this.db.createQueryBuilder();
  }

  async get(id: string): Promise<AppointmentRow | null> {
    const [row] = await this.db.query(`SELECT * FROM appointments WHERE clinic_id = $1 AND id = $2`, [this.clinicId, id]);
    return row ?? null;
  }

  /** Inserts the row unless its id exists (a retried activity); null then. */
  async insert(a: NewAppointment): Promise<AppointmentRow | null> {
    const result = await this.qb().insert().into(Appointment)
      .values({ ...a, therapistIds: [...a.therapistIds], startsAt: new Date(a.startsAt), endsAt: new Date(a.endsAt), clinicId: this.clinicId } as Partial<Appointment>)
      .orIgnore().returning('*').execute();
    return (result.raw as AppointmentRow[])[0] ?? null;
  }

  /** Applies `change` if the row is still in one of `from`; null when it is not (changed meanwhile, or unknown). */
  async update(id: string, from: readonly string[], change: AppointmentChange): Promise<AppointmentRow | null> {
    const result = await this.qb().update(Appointment)
      .set(change as Partial<Appointment>)
      .where('clinic_id = :clinicId AND id = :id AND status IN (:...from)', { clinicId: this.clinicId, id, from })
      .returning('*').execute();
    return (result.raw as AppointmentRow[])[0] ?? null;
  }
}
