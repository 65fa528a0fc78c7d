import { availableSlots, decideSlot, loadSlotFacts, type Queryable } from '../shared/booking';
import { nearestSlot, slotSearchRange } from '../shared/journey';

export interface SlotSearch {
  clinicId: string;
  practitionerId: string;
  locationId: string;
  serviceId: string;
  durationMinutes: number;
  /** The time the slot should be nearest to. */
  target: Date;
  /** No slot starts before this. */
  notBefore: Date;
  /** The visit being moved: its own resources are not busy. */
  ignoreAppointmentId?: string;
}

export interface FoundSlot {
  startsAt: Date;
  endsAt: Date;
  roomId: string | null;
  therapistIds: string[];
}

/**
 * The free slot nearest to `target` for one practitioner at one location, with the room and
 * therapists the service needs (SPEC §6: the nearest free slot offered on leave, booked for a
 * follow-up). The booking core's loader and decision, over the search range. Null when nothing is
 * free there.
 */
export async function findNearestFreeSlot(db: Queryable, s: SlotSearch): Promise<FoundSlot | null> {
  const range = slotSearchRange(s.target.getTime(), s.notBefore.getTime());
  const facts = await loadSlotFacts(db, { ...s, from: range.from, to: range.to });
  const slot = nearestSlot(availableSlots(facts, range.from, range.to, s.durationMinutes), s.target.getTime());
  if (!slot) return null;
  const decision = decideSlot(facts, slot);
  return decision.ok ? { ...slot, roomId: decision.roomId, therapistIds: decision.therapistIds } : null;
}
