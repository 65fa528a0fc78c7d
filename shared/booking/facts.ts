import type { Interval, ScheduleException, WeeklyRule } from '../scheduling';
import type { SlotFacts, Staff } from './decide';

/** Anything with TypeORM's `query` (DataSource, EntityManager). */
export interface Queryable {
  query(sql: string, params?: unknown[]): Promise<unknown>;
}

export interface FactsQuery {
  clinicId: string;
  practitionerId: string;
  locationId: string;
  serviceId: string;
  /** The window whose bookings count as busy; without `to`, one service length from `from`. */
  from: Date;
  to?: Date;
  /** Asked only when booking. */
  patientId?: string;
  /** A room the request names: loaded even when of another kind or location, to say what is wrong with it. */
  roomId?: string | null;
  /** The visit being moved: its own resources are not busy. */
  ignoreAppointmentId?: string;
}

/**
 * Everything the booking decision needs, in one round trip and scoped to the clinic (the clinic
 * filter on every table, and row-level security behind it): the service's needs, the location's
 * zone, the practitioner's schedule, the rooms and therapists that could serve, and the active
 * bookings of all of those resources in the window, read from appointment_resources through its
 * exclusion constraint's GiST index.
 */
const SQL = `
WITH svc AS (
  SELECT duration_minutes AS "durationMinutes", requires_payment AS "requiresPayment",
         (needs_room OR room_kind IS NOT NULL) AS "needsRoom", room_kind AS "roomKind", therapists_required AS "therapistsRequired"
  FROM services WHERE clinic_id = $1 AND id = $4
), rm AS (
  SELECT r.id, r.kind, r.location_id AS "locationId" FROM rooms r
  WHERE r.clinic_id = $1 AND (r.id = $8 OR (r.location_id = $3 AND EXISTS (
    SELECT 1 FROM svc WHERE svc."needsRoom" AND (svc."roomKind" IS NULL OR lower(r.kind) = lower(svc."roomKind")))))
), staff AS (
  SELECT p.id, p.location_ids AS "locationIds", s.rules, s.exceptions, p.id = $2 AS main
  FROM practitioners p LEFT JOIN schedules s ON s.clinic_id = p.clinic_id AND s.practitioner_id = p.id
  WHERE p.clinic_id = $1 AND (p.id = $2 OR (p.therapist AND $3 = ANY (p.location_ids)
    AND EXISTS (SELECT 1 FROM svc WHERE svc."therapistsRequired" > 0)))
)
SELECT
  (SELECT row_to_json(svc) FROM svc) AS service,
  (SELECT timezone FROM locations WHERE clinic_id = $1 AND id = $3) AS timezone,
  ($7::uuid IS NULL OR EXISTS (SELECT 1 FROM patients WHERE clinic_id = $1 AND id = $7)) AS patient_known,
  (SELECT coalesce(json_agg(rm), '[]') FROM rm) AS rooms,
  (SELECT coalesce(json_agg(staff), '[]') FROM staff) AS staff,
  (SELECT coalesce(json_agg(json_build_array(ar.resource_id, lower(ar.during), upper(ar.during))), '[]')
     FROM appointment_resources ar
    WHERE ar.clinic_id = $1
      AND ar.resource_id IN (SELECT id FROM staff UNION ALL SELECT id FROM rm)
      AND ar.during && tstzrange($5::timestamptz, coalesce($6::timestamptz, $5::timestamptz + make_interval(mins => (SELECT "durationMinutes" FROM svc))), '[)')
      AND ($9::uuid IS NULL OR ar.appointment_id <> $9)) AS busy`;

interface Row {
  service: SlotFacts['service'];
  timezone: string | null;
  patient_known: boolean;
  rooms: SlotFacts['rooms'];
  staff: { id: string; locationIds: string[]; rules: WeeklyRule[] | null; exceptions: ScheduleException[] | null; main: boolean }[];
  busy: [string, string, string][];
}

export async function loadSlotFacts(db: Queryable, q: FactsQuery): Promise<SlotFacts> {
  const [row] = (await db.query(SQL, [
    q.clinicId, q.practitionerId, q.locationId, q.serviceId, q.from.toISOString(), q.to?.toISOString() ?? null,
    q.patientId ?? null, q.roomId ?? null, q.ignoreAppointmentId ?? null,
  ])) as Row[];
  const zone = row.timezone ?? 'UTC';
  const staff = row.staff.map((s): Staff & { main: boolean } => ({
    id: s.id, locationIds: s.locationIds, main: s.main,
    schedule: { rules: s.rules ?? [], exceptions: s.exceptions ?? [], timezone: zone, locationId: q.locationId },
  }));
  const busy = new Map<string, Interval[]>();
  for (const [id, s, e] of row.busy) {
    const list = busy.get(id) ?? [];
    list.push({ startsAt: new Date(s), endsAt: new Date(e) });
    busy.set(id, list);
  }
  const main = staff.find((s) => s.main);
  return {
    clinicId: q.clinicId,
    locationId: q.locationId,
    timezone: row.timezone,
    practitioner: main ? { id: main.id, locationIds: main.locationIds, schedule: main.schedule } : null,
    service: row.service,
    patientKnown: q.patientId ? row.patient_known : null,
    rooms: row.rooms,
    therapists: staff.filter((s) => !s.main).map(({ main: _main, ...s }) => s),
    busy,
  };
}
