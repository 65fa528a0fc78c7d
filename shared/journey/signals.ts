/**
 * A staff `reschedule` signal's payload comes from a person at a CLI or the Web UI: checked as
 * untrusted input. Pure and free of imports: the booking workflow (sandboxed) uses it.
 */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/i;

export interface RescheduleSignalRequest {
  actorUserId: string;
  startsAt: string;
  practitionerId?: string;
}

/** The request, or a message saying what is wrong with it. */
export function parseRescheduleSignal(raw: unknown): RescheduleSignalRequest | string {
  const r = (raw && typeof raw === 'object' ? raw : {}) as Record<string, unknown>;
  if (typeof r.actorUserId !== 'string' || !UUID.test(r.actorUserId)) return 'actorUserId must be the id of the staff user rescheduling';
  if (typeof r.startsAt !== 'string' || !INSTANT.test(r.startsAt) || Number.isNaN(Date.parse(r.startsAt))) return 'startsAt must be an ISO 8601 instant with offset';
  if (r.practitionerId !== undefined && (typeof r.practitionerId !== 'string' || !UUID.test(r.practitionerId))) return 'practitionerId must be a practitioner id';
  return { actorUserId: r.actorUserId, startsAt: r.startsAt, ...(r.practitionerId ? { practitionerId: r.practitionerId as string } : {}) };
}
