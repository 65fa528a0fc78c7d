import { freeSlots, isWithinSchedule, type Interval, type ScheduleInput } from '../scheduling';

/**
 * The one decision of the booking core, pure: may this visit take this time, and with which room
 * and therapists? Booking, reschedule, the follow-up and leave slot searches and availability all
 * ask it. It reads facts loaded by ./facts.ts and never touches I/O; PostgreSQL's exclusion
 * constraint still has the last word when two requests race for the same resource.
 */

export interface ServiceNeeds {
  durationMinutes: number;
  requiresPayment: boolean;
  /** A room is taken for the visit: of `roomKind` when set, any room of the location otherwise. */
  needsRoom: boolean;
  roomKind: string | null;
  therapistsRequired: number;
}

export interface Staff {
  id: string;
  locationIds: string[];
  /** Rules and exceptions read in the visit location's zone. */
  schedule: ScheduleInput;
}

export interface SlotFacts {
  clinicId: string;
  locationId: string;
  /** The location's zone; null: no such location in the clinic. */
  timezone: string | null;
  practitioner: Staff | null;
  service: ServiceNeeds | null;
  /** Null when not asked about. */
  patientKnown: boolean | null;
  /** Rooms at the location that can host the service (of its kind), plus a room the request named. */
  rooms: { id: string; kind: string | null; locationId: string }[];
  /** Therapists working at the location, the practitioner excluded. */
  therapists: Staff[];
  /** Active bookings of every resource above that touch the loaded window. */
  busy: Map<string, Interval[]>;
}

export interface SlotRequest {
  startsAt: Date;
  endsAt: Date;
  /** Named by the client: taken or refused, never replaced. */
  roomId?: string | null;
  therapistIds?: readonly string[];
  /** Resources the visit holds now (a reschedule): kept when still free, so a move changes as little as possible. */
  prefer?: { roomId?: string | null; therapistIds?: readonly string[] };
}

export type SlotRefusal =
  | { code: 'UNKNOWN_REFERENCE'; fields: ('patientId' | 'practitionerId' | 'serviceId' | 'locationId' | 'roomId' | 'therapistIds')[] }
  | { code: 'NOT_AT_LOCATION'; field: 'locationId' | 'roomId' | 'therapistIds' }
  | { code: 'WRONG_ROOM_KIND' }
  | { code: 'OUTSIDE_SCHEDULE' }
  | { code: 'SLOT_TAKEN'; resource: 'practitioner' | 'room' | 'therapists' };

export type SlotDecision = { ok: true; roomId: string | null; therapistIds: string[] } | ({ ok: false } & SlotRefusal);

/** Room kinds are labels staff type: THERAPY and therapy are one kind. */
const sameKind = (a: string | null, b: string) => a !== null && a.toLowerCase() === b.toLowerCase();

const overlaps = (a: Interval, b: Interval) => a.startsAt < b.endsAt && b.startsAt < a.endsAt;

function isFree(facts: SlotFacts, resourceId: string, slot: Interval): boolean {
  return !(facts.busy.get(resourceId) ?? []).some((b) => overlaps(b, slot));
}

function canServe(facts: SlotFacts, staff: Staff, slot: Interval): boolean {
  return staff.locationIds.includes(facts.locationId) && isWithinSchedule(staff.schedule, slot) && isFree(facts, staff.id, slot);
}

/** Where the references themselves are wrong, whatever the time: checked once per request. */
export function referenceProblem(facts: SlotFacts, req: Pick<SlotRequest, 'roomId' | 'therapistIds'>): SlotRefusal | null {
  const unknown: Extract<SlotRefusal, { code: 'UNKNOWN_REFERENCE' }>['fields'] = [];
  if (facts.patientKnown === false) unknown.push('patientId');
  if (!facts.practitioner) unknown.push('practitionerId');
  if (!facts.service) unknown.push('serviceId');
  if (!facts.timezone) unknown.push('locationId');
  const namedRoom = req.roomId ? facts.rooms.find((r) => r.id === req.roomId) : undefined;
  if (req.roomId && !namedRoom) unknown.push('roomId');
  const namedTherapists = (req.therapistIds ?? []).map((id) => facts.therapists.find((t) => t.id === id));
  if (namedTherapists.some((t) => !t)) unknown.push('therapistIds');
  if (unknown.length) return { code: 'UNKNOWN_REFERENCE', fields: unknown };
  if (!facts.practitioner!.locationIds.includes(facts.locationId)) return { code: 'NOT_AT_LOCATION', field: 'locationId' };
  if (namedRoom && namedRoom.locationId !== facts.locationId) return { code: 'NOT_AT_LOCATION', field: 'roomId' };
  if (namedRoom && facts.service!.roomKind && !sameKind(namedRoom.kind, facts.service!.roomKind)) return { code: 'WRONG_ROOM_KIND' };
  if (new Set(req.therapistIds ?? []).size !== (req.therapistIds ?? []).length) return { code: 'UNKNOWN_REFERENCE', fields: ['therapistIds'] };
  return null;
}

/** The room and therapists for a slot the practitioner can take, or which resource is missing. */
function assign(facts: SlotFacts, slot: Interval, req: Pick<SlotRequest, 'roomId' | 'therapistIds' | 'prefer'>): SlotDecision {
  const service = facts.service!;
  let roomId: string | null = null;
  if (req.roomId || service.needsRoom) {
    const candidates = req.roomId
      ? facts.rooms.filter((r) => r.id === req.roomId)
      : facts.rooms.filter((r) => r.locationId === facts.locationId && (!service.roomKind || sameKind(r.kind, service.roomKind)));
    const preferred = req.prefer?.roomId;
    const ordered = preferred ? [...candidates.filter((r) => r.id === preferred), ...candidates.filter((r) => r.id !== preferred)] : candidates;
    roomId = ordered.find((r) => isFree(facts, r.id, slot))?.id ?? null;
    if (!roomId) return { ok: false, code: 'SLOT_TAKEN', resource: 'room' };
  }
  const named = req.therapistIds ?? [];
  const wanted = Math.max(service.therapistsRequired, named.length);
  const chosen: string[] = [];
  for (const id of named) {
    const t = facts.therapists.find((x) => x.id === id)!;
    if (!canServe(facts, t, slot)) return { ok: false, code: 'SLOT_TAKEN', resource: 'therapists' };
    chosen.push(id);
  }
  // Only a move has therapists to keep: availability asks this once per candidate slot, without.
  const preferred = new Set(req.prefer?.therapistIds ?? []);
  const others = preferred.size ? [...facts.therapists].sort((a, b) => Number(preferred.has(b.id)) - Number(preferred.has(a.id))) : facts.therapists;
  for (const t of others) {
    if (chosen.length >= wanted) break;
    if (!chosen.includes(t.id) && canServe(facts, t, slot)) chosen.push(t.id);
  }
  if (chosen.length < wanted) return { ok: false, code: 'SLOT_TAKEN', resource: 'therapists' };
  return { ok: true, roomId, therapistIds: chosen };
}

/** May the visit take [startsAt, endsAt), and with what. */
export function decideSlot(facts: SlotFacts, req: SlotRequest): SlotDecision {
  const wrong = referenceProblem(facts, req);
  if (wrong) return { ok: false, ...wrong };
  const slot = { startsAt: req.startsAt, endsAt: req.endsAt };
  const practitioner = facts.practitioner!;
  if (!isWithinSchedule(practitioner.schedule, slot)) return { ok: false, code: 'OUTSIDE_SCHEDULE' };
  if (!isFree(facts, practitioner.id, slot)) return { ok: false, code: 'SLOT_TAKEN', resource: 'practitioner' };
  return assign(facts, slot, req);
}

/**
 * Every slot of `durationMinutes` in [from, to) on the practitioner's grid where the practitioner,
 * a room (when needed) and enough therapists are all free. Empty when the references are wrong or
 * the stored schedule cannot be read.
 */
export function availableSlots(facts: SlotFacts, from: Date, to: Date, durationMinutes = facts.service?.durationMinutes ?? 0): Interval[] {
  if (referenceProblem(facts, {}) || durationMinutes <= 0) return [];
  const practitioner = facts.practitioner!;
  try {
    const candidates = freeSlots(practitioner.schedule, { from, to, durationMinutes: Math.ceil(durationMinutes), busy: facts.busy.get(practitioner.id) ?? [] });
    return candidates.filter((slot) => assign(facts, slot, {}).ok);
  } catch (err) {
    // A stored schedule that cannot be read offers no slot; asking again would not make it readable.
    if (err instanceof RangeError) return [];
    throw err;
  }
}
