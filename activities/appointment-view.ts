import type { AppointmentView } from '../workflows/booking-api';

const iso = (v: Date | string) => (v instanceof Date ? v : new Date(v)).toISOString();

/** Maps a raw `appointments` row (snake_case, from RETURNING *) to the view workflows carry. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- raw pg row
export function appointmentViewFromRow(r: Record<string, any>): AppointmentView {
  return {
    id: r.id,
    clinicId: r.clinic_id,
    locationId: r.location_id,
    patientId: r.patient_id,
    practitionerId: r.practitioner_id,
    roomId: r.room_id,
    therapistIds: r.therapist_ids ?? [],
    serviceId: r.service_id,
    startsAt: iso(r.starts_at),
    endsAt: iso(r.ends_at),
    mode: r.mode,
    status: r.status,
    seriesId: r.series_id,
    workflowId: r.workflow_id,
    version: r.version,
    createdAt: iso(r.created_at),
    updatedAt: iso(r.updated_at),
  };
}
