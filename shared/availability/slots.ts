import { freeSlots, type Interval, type ScheduleInput } from '../scheduling';
import { merge, type Span } from '../scheduling/intervals';

export interface RoomBooking {
  roomId: string;
  startsAt: Date;
  endsAt: Date;
}

export interface AvailabilityFacts {
  /** The practitioner's rules and exceptions, read in the location's time zone. */
  schedule: ScheduleInput;
  durationMinutes: number;
  /** The practitioner's active appointments touching the range. */
  busy: Interval[];
  /** Set when the service needs a room: the location's rooms and their active bookings. */
  rooms?: { roomIds: string[]; bookings: RoomBooking[] };
}

const toSpan = (i: { startsAt: Date; endsAt: Date }): Span => ({ start: i.startsAt.getTime(), end: i.endsAt.getTime() });

function intersect(a: Span[], b: Span[]): Span[] {
  const out: Span[] = [];
  for (let i = 0, j = 0; i < a.length && j < b.length;) {
    const start = Math.max(a[i].start, b[j].start);
    const end = Math.min(a[i].end, b[j].end);
    if (end > start) out.push({ start, end });
    if (a[i].end < b[j].end) i++;
    else j++;
  }
  return out;
}

/** When every one of the rooms is occupied (a free room, even one, makes the time usable). */
export function allRoomsBusy(roomIds: readonly string[], bookings: readonly RoomBooking[]): Interval[] {
  if (roomIds.length === 0) return [];
  let common: Span[] | null = null;
  for (const roomId of roomIds) {
    const own = merge(bookings.filter((b) => b.roomId === roomId).map(toSpan));
    common = common === null ? own : intersect(common, own);
    if (common.length === 0) return [];
  }
  return (common ?? []).map((s) => ({ startsAt: new Date(s.start), endsAt: new Date(s.end) }));
}

/**
 * Free slots of the service's duration in [from, to): working windows (DST-correct, see
 * shared/scheduling) minus the practitioner's appointments and, for a service that needs a room,
 * minus the times when no room of the location is free. No rooms at all means no slots.
 */
export function availableSlots(facts: AvailabilityFacts, from: Date, to: Date): Interval[] {
  const busy = [...facts.busy];
  if (facts.rooms) {
    if (facts.rooms.roomIds.length === 0) return [];
    busy.push(...allRoomsBusy(facts.rooms.roomIds, facts.rooms.bookings));
  }
  return freeSlots(facts.schedule, { from, to, durationMinutes: facts.durationMinutes, busy });
}
