import type { DataSource, EntityManager } from 'typeorm';
import { nearestSlot, slotSearchRange } from '../shared/journey';
import { freeSlots, type Interval, type ScheduleException, type WeeklyRule } from '../shared/scheduling';

type Db = Pick<DataSource | EntityManager, 'query'>;

export interface SlotSearch {
  clinicId: string;
  practitionerId: string;
  locationId: string;
  /** The room the visit needs, if any: its bookings count as busy too. */
  roomId: string | null;
  durationMinutes: number;
  /** The time the slot should be nearest to. */
  target: Date;
  /** No slot starts before this. */
  notBefore: Date;
  /** The visit being moved: its own time is not busy. */
  ignoreAppointmentId?: string;
}

/**
 * The free slot nearest to `target` for one practitioner at one location (SPEC §6: the nearest
 * free slot offered on leave, booked for a follow-up). Slots come from the practitioner's schedule
 * (rules + extra − leave) on the service-length grid, minus the active appointments of the
 * practitioner and the room. Null when nothing is free in the search range.
 */
export async function findNearestFreeSlot(db: Db, s: SlotSearch): Promise<Interval | null> {
  const range = slotSearchRange(s.target.getTime(), s.notBefore.getTime());
  const [facts] = await db.query(
    `SELECT (SELECT timezone FROM locations WHERE clinic_id = $1 AND id = $3) AS timezone,
            (SELECT json_build_object('rules', rules, 'exceptions', exceptions) FROM schedules WHERE clinic_id = $1 AND practitioner_id = $2) AS schedule`,
    [s.clinicId, s.practitionerId, s.locationId],
  );
  if (!facts?.timezone || !facts.schedule) return null;
  const busy: { starts_at: Date; ends_at: Date }[] = await db.query(
    `SELECT starts_at, ends_at FROM appointments
     WHERE clinic_id = $1 AND (practitioner_id = $2 OR ($3::uuid IS NOT NULL AND room_id = $3))
       AND status IN ('PENDING_PAYMENT', 'CONFIRMED', 'CHECKED_IN')
       AND starts_at < $5 AND ends_at > $4 AND ($6::uuid IS NULL OR id <> $6)`,
    [s.clinicId, s.practitionerId, s.roomId, range.from, range.to, s.ignoreAppointmentId ?? null],
  );
  const schedule = {
    rules: facts.schedule.rules as WeeklyRule[], exceptions: facts.schedule.exceptions as ScheduleException[],
    timezone: facts.timezone as string, locationId: s.locationId,
  };
  try {
    const slots = freeSlots(schedule, {
      from: range.from, to: range.to, durationMinutes: Math.ceil(s.durationMinutes),
      busy: busy.map((b) => ({ startsAt: new Date(b.starts_at), endsAt: new Date(b.ends_at) })),
    });
    return nearestSlot(slots, s.target.getTime());
  } catch (err) {
    // A stored schedule that cannot be read offers no slot; retrying would not make it readable.
    if (err instanceof RangeError) return null;
    throw err;
  }
}
