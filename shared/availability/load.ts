import type { ScheduleException, WeeklyRule } from '../scheduling';
import type { AvailabilityFacts } from './slots';

/** Anything with TypeORM's `query` (DataSource, EntityManager). */
export interface Queryable {
  query(sql: string, params?: unknown[]): Promise<unknown>;
}

export interface AvailabilityRequest {
  clinicId: string;
  practitionerId: string;
  serviceId: string;
  locationId: string;
  from: Date;
  to: Date;
}

export type LoadedAvailability =
  | { ok: true; timezone: string; durationMinutes: number; needsRoom: boolean; facts: AvailabilityFacts }
  | { ok: false; unknown: Array<'practitionerId' | 'serviceId' | 'locationId'>; notAtLocation: boolean };

type Pair = [string, string];

/**
 * Everything a free-slot computation needs, in one round trip, scoped to the clinic. Overlap is
 * tested as the exclusion constraints do (tstzrange &&, active statuses), so their GiST indexes
 * answer it; room bookings are read only for a service that needs a room.
 */
const SQL = `
SELECT
  (SELECT json_build_object('durationMinutes', duration_minutes, 'needsRoom', needs_room)
     FROM services WHERE clinic_id = $1 AND id = $3) AS service,
  (SELECT timezone FROM locations WHERE clinic_id = $1 AND id = $4) AS location_tz,
  (SELECT location_ids FROM practitioners WHERE clinic_id = $1 AND id = $2) AS practitioner_locations,
  (SELECT json_build_object('rules', rules, 'exceptions', exceptions)
     FROM schedules WHERE clinic_id = $1 AND practitioner_id = $2) AS schedule,
  (SELECT coalesce(json_agg(json_build_array(a.starts_at, a.ends_at)), '[]')
     FROM appointments a
    WHERE a.clinic_id = $1 AND a.practitioner_id = $2
      AND a.status IN ('PENDING_PAYMENT', 'CONFIRMED', 'CHECKED_IN')
      AND tstzrange(a.starts_at, a.ends_at, '[)') && tstzrange($5, $6, '[)')) AS busy,
  (SELECT coalesce(json_agg(r.id), '[]') FROM rooms r WHERE r.clinic_id = $1 AND r.location_id = $4) AS room_ids,
  (SELECT coalesce(json_agg(json_build_array(a.room_id, a.starts_at, a.ends_at)), '[]')
     FROM rooms r
     JOIN appointments a ON a.clinic_id = r.clinic_id AND a.room_id = r.id
    WHERE r.clinic_id = $1 AND r.location_id = $4
      AND EXISTS (SELECT 1 FROM services WHERE clinic_id = $1 AND id = $3 AND needs_room)
      AND a.room_id IS NOT NULL AND a.status IN ('PENDING_PAYMENT', 'CONFIRMED', 'CHECKED_IN')
      AND tstzrange(a.starts_at, a.ends_at, '[)') && tstzrange($5, $6, '[)')) AS room_bookings`;

interface Row {
  service: { durationMinutes: number; needsRoom: boolean } | null;
  location_tz: string | null;
  practitioner_locations: string[] | null;
  schedule: { rules: WeeklyRule[]; exceptions: ScheduleException[] } | null;
  busy: Pair[];
  room_ids: string[];
  room_bookings: [string, string, string][];
}

export async function loadAvailability(db: Queryable, req: AvailabilityRequest): Promise<LoadedAvailability> {
  const [row] = (await db.query(SQL, [req.clinicId, req.practitionerId, req.serviceId, req.locationId, req.from.toISOString(), req.to.toISOString()])) as Row[];
  const unknown = [
    ...(row.practitioner_locations ? [] : ['practitionerId' as const]),
    ...(row.service ? [] : ['serviceId' as const]),
    ...(row.location_tz ? [] : ['locationId' as const]),
  ];
  const notAtLocation = !!row.practitioner_locations && !!row.location_tz && !row.practitioner_locations.includes(req.locationId);
  if (unknown.length || notAtLocation) return { ok: false, unknown, notAtLocation };
  const service = row.service!;
  return {
    ok: true,
    timezone: row.location_tz!,
    durationMinutes: service.durationMinutes,
    needsRoom: service.needsRoom,
    facts: {
      schedule: { rules: row.schedule?.rules ?? [], exceptions: row.schedule?.exceptions ?? [], timezone: row.location_tz!, locationId: req.locationId },
      durationMinutes: service.durationMinutes,
      busy: row.busy.map(([s, e]) => ({ startsAt: new Date(s), endsAt: new Date(e) })),
      rooms: service.needsRoom
        ? { roomIds: row.room_ids, bookings: row.room_bookings.map(([roomId, s, e]) => ({ roomId, startsAt: new Date(s), endsAt: new Date(e) })) }
        : undefined,
    },
  };
}
