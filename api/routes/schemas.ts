import { DateTime } from 'luxon';
import { z } from 'zod';

export const ianaTimezone = z.string().max(64).refine((tz) => DateTime.local().setZone(tz).isValid, 'must be an IANA time zone such as Asia/Kolkata');
export const isoInstant = z.iso.datetime({ offset: true });
export const localDate = z.iso.date();
export const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$|^24:00$/, 'must be HH:mm');
export const slug = z.string().min(1).max(63).regex(/^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/, 'lowercase letters, digits and hyphens');
export const name = z.string().trim().min(1).max(200);
export const listOf = <T extends z.ZodType>(item: T) => z.object({ items: z.array(item), nextCursor: z.string().nullable() });

/**
 * An instant in a response: a Date from an entity or an ISO string from a raw row or the cache,
 * always serialised as an ISO 8601 string (the OpenAPI document says `format: date-time`).
 */
export const timestamp = z.preprocess((v) => (v instanceof Date ? v.toISOString() : v), z.iso.datetime({ offset: true }));
/** The timestamps every clinic-scoped entity carries. */
export const timestamps = { createdAt: timestamp, updatedAt: timestamp };
