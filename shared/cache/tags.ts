/**
 * Tags name what a cached read was derived from. Each tag has a generation counter in Redis that
 * is part of every key derived from it, so bumping the counter retires all of them at once
 * (any date range, any service) without knowing or scanning the keys; the same tags, published
 * on one channel, drop the matching in-process (L1) entries of every API process.
 *
 * The clinic id sits in a Redis hash tag `{…}` so a tag's counter and the values derived from it
 * share a cluster slot.
 */
export const cacheTags = {
  /** A practitioner's calendar: their schedule and appointments. */
  practitioner: (clinicId: string, practitionerId: string) => `{${clinicId}}:p:${practitionerId}`,
  /** Anything about the clinic's appointments as a whole (dashboard). */
  clinic: (clinicId: string) => `{${clinicId}}:clinic`,
  /** Room and therapist occupancy at one location (availability of services that need them). */
  locationRooms: (clinicId: string, locationId: string) => `{${clinicId}}:rooms:${locationId}`,
};

export interface AppointmentRef {
  clinicId: string;
  practitionerId: string;
  locationId: string;
  roomId: string | null;
  therapistIds?: readonly string[];
}

/** Every tag an appointment change makes stale. */
export function appointmentTags(a: AppointmentRef): string[] {
  return [
    cacheTags.practitioner(a.clinicId, a.practitionerId),
    cacheTags.clinic(a.clinicId),
    ...(a.therapistIds ?? []).map((id) => cacheTags.practitioner(a.clinicId, id)),
    ...(a.roomId || a.therapistIds?.length ? [cacheTags.locationRooms(a.clinicId, a.locationId)] : []),
  ];
}

export const generationKey = (tag: string) => `cache:gen:${tag}`;

/** Pub/sub is server-wide (not per database), so the channel is versioned and messages validated. */
export const INVALIDATION_CHANNEL = 'clinic-cache:invalidate:v1';

export const encodeInvalidation = (tags: readonly string[]) => JSON.stringify({ tags });

export function decodeInvalidation(message: string): string[] | null {
  try {
    const parsed = JSON.parse(message) as { tags?: unknown };
    if (Array.isArray(parsed?.tags) && parsed.tags.every((t) => typeof t === 'string')) return parsed.tags as string[];
  } catch {
    // not ours
  }
  return null;
}
