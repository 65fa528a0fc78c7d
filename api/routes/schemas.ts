import { DateTime } from 'luxon';
import { z } from 'zod';

export const ianaTimezone = z.string().max(64).refine((tz) => DateTime.local().setZone(tz).isValid, 'must be an IANA time zone such as Asia/Kolkata');
export const isoInstant = z.iso.datetime({ offset: true });
export const localDate = z.iso.date();
export const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$|^24:00$/, 'must be HH:mm');
export const slug = z.string().min(1).max(63).regex(/^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/, 'lowercase letters, digits and hyphens');
export const name = z.string().trim().min(1).max(200);
export const listOf = <T extends z.ZodType>(item: T) => z.object({ items: z.array(item), nextCursor: z.string().nullable() });
