import { DateTime } from 'luxon';

const HH_MM = /^([01]\d|2[0-3]):([0-5]\d)$/;
const TRAILING_OFFSET = /(Z|[+-]\d{2}(:?\d{2})?)$/i;

/** Minutes after local midnight, or null when not "HH:mm". "24:00" only when `allowEndOfDay` (a rule's end). */
export function parseTime(value: unknown, allowEndOfDay = false): number | null {
  if (allowEndOfDay && value === '24:00') return 24 * 60;
  const match = typeof value === 'string' ? HH_MM.exec(value) : null;
  return match ? Number(match[1]) * 60 + Number(match[2]) : null;
}

/** Epoch ms, or null unless an ISO 8601 date-time with an explicit offset (a bare local time would depend on the server's zone). */
export function parseInstant(value: unknown): number | null {
  if (typeof value !== 'string' || !value.includes('T') || !TRAILING_OFFSET.test(value)) return null;
  const parsed = DateTime.fromISO(value);
  return parsed.isValid ? parsed.toMillis() : null;
}

/** The local calendar date of an instant, as a zone-free (UTC) DateTime so stepping days never crosses a DST change. */
export function localDate(epochMs: number, zone: string): DateTime {
  const local = DateTime.fromMillis(epochMs, { zone });
  return DateTime.utc(local.year, local.month, local.day);
}

/** The instant at which the wall clock in `zone` shows `minutes` after midnight of the calendar `date`. */
/**
 * Offset lookups dominate availability CPU (luxon asks Intl each time) while the inputs repeat
 * endlessly (same zone, same days, same rule times): remember recent answers.
 */
const instantCache = new Map<string, number>();
const INSTANT_CACHE_MAX = 50_000;

export function localInstant(date: DateTime, minutes: number, zone: string): number {
  const key = `${zone}|${date.year}-${date.month}-${date.day}|${minutes}`;
  const hit = instantCache.get(key);
  if (hit !== undefined) return hit;
  const value = computeLocalInstant(date, minutes, zone);
  if (instantCache.size >= INSTANT_CACHE_MAX) instantCache.clear();
  instantCache.set(key, value);
  return value;
}

function computeLocalInstant(date: DateTime, minutes: number, zone: string): number {
  const day = date.plus({ days: Math.floor(minutes / (24 * 60)) }); // "24:00" is midnight of the next day
  const wall = DateTime.fromObject(
    { year: day.year, month: day.month, day: day.day, hour: Math.floor((minutes % (24 * 60)) / 60), minute: minutes % 60 },
    { zone },
  );
  // RFC 5545 §3.3.5: a skipped time is read with the pre-gap offset (luxon shifts it forward), a repeated time is its
  // first occurrence — taken explicitly, since luxon otherwise picks by the offset in force *today*.
  return Math.min(...wall.getPossibleOffsets().map((candidate) => candidate.toMillis()));
}
