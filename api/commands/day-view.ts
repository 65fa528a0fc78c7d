import { cacheTags, TaggedEntry } from '../../shared/cache';

export interface DayViewQuery { from?: string; to?: string; practitionerId?: string; patientId?: string; status?: string; limit: number; cursor?: string }

/**
 * The cache entry of a practitioner's calendar page (`GET /appointments?from&to&practitionerId`),
 * or null when the query is not a day view. Keyed by every parameter of the page; tagged with the
 * practitioner, whose appointment changes retire it in every process.
 */
export function dayViewCacheEntry(clinicId: string, q: DayViewQuery): TaggedEntry | null {
  if (!q.from || !q.to || !q.practitionerId) return null;
  const params = [Date.parse(q.from), Date.parse(q.to), q.patientId ?? '', q.status ?? '', q.limit, q.cursor ?? ''].join(':');
  return { key: `{${clinicId}}:day-view:v1:${q.practitionerId}:${params}`, tags: [cacheTags.practitioner(clinicId, q.practitionerId)], ttlSeconds: 60 };
}
