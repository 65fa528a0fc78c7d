import { availableSlots, loadSlotFacts, referenceProblem } from '../../shared/booking';
import { cacheTags } from '../../shared/cache';
import type { ApiDeps } from '../http/state';
import { slotProblem } from './slot-problem';

export const AVAILABILITY_MAX_DAYS = 31;
/** Redis lifetime; changes that publish no invalidation (a new room, a service's duration) show within it. */
const TTL_SECONDS = 120;

export interface AvailabilityQuery {
  practitionerId: string;
  serviceId: string;
  locationId: string;
  from: string;
  to: string;
}

export interface Availability {
  practitionerId: string;
  serviceId: string;
  locationId: string;
  timezone: string;
  durationMinutes: number;
  from: string;
  to: string;
  items: Array<{ startsAt: string; endsAt: string }>;
  nextCursor: null;
}

type Computed = Omit<Availability, 'nextCursor'>;

async function compute(deps: ApiDeps, clinicId: string, q: AvailabilityQuery, from: Date, to: Date): Promise<Computed> {
  const facts = await loadSlotFacts(deps.dataSource, { clinicId, practitionerId: q.practitionerId, serviceId: q.serviceId, locationId: q.locationId, from, to });
  const wrong = referenceProblem(facts, {});
  if (wrong) throw slotProblem(wrong, 'query');
  const slots = availableSlots(facts, from, to);
  return {
    practitionerId: q.practitionerId, serviceId: q.serviceId, locationId: q.locationId, timezone: facts.timezone!,
    durationMinutes: facts.service!.durationMinutes, from: from.toISOString(), to: to.toISOString(),
    items: slots.map((s) => ({ startsAt: s.startsAt.toISOString(), endsAt: s.endsAt.toISOString() })),
  };
}

/**
 * Free slots, cached per clinic + practitioner + service + location + range. Tagged with the
 * practitioner (appointments, schedule) and the location's rooms (room bookings), whose changes
 * retire it everywhere. Slots that have started by the time of reading are left out here, after
 * the cache, so a cached answer never offers the past.
 */
export async function getAvailability(deps: ApiDeps, clinicId: string, q: AvailabilityQuery): Promise<Availability> {
  const from = new Date(q.from);
  const to = new Date(q.to);
  const key = `{${clinicId}}:availability:v2:${q.practitionerId}:${q.serviceId}:${q.locationId}:${from.getTime()}:${to.getTime()}`;
  const tags = [cacheTags.practitioner(clinicId, q.practitionerId), cacheTags.locationRooms(clinicId, q.locationId)];
  const result = await deps.cache.getOrLoadTagged('availability', { key, tags, ttlSeconds: TTL_SECONDS }, () => compute(deps, clinicId, q, from, to));
  const now = Date.now();
  const items = result.items.length && Date.parse(result.items[0].startsAt) <= now
    ? result.items.filter((s) => Date.parse(s.startsAt) > now)
    : result.items;
  return { ...result, items, nextCursor: null };
}
