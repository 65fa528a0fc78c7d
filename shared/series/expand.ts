import { DateTime } from 'luxon';
import { Frequency, RRule } from 'rrule';

/**
 * RRULE expansion in a location's time zone (SPEC §7: the local time holds across DST).
 *
 * rrule works on "floating" dates: we hand it the first occurrence's local wall time written as if
 * it were UTC, expand, and read each result's UTC fields back as a wall time in the zone. So a
 * weekly 09:00 Europe/London series is 09:00 local every week: 09:00Z in winter, 08:00Z in summer.
 * Pure: used by the recurringSeries workflow (deterministic) and by the API to validate.
 */
export interface SeriesRule {
  rrule: string;
  /** First occurrence, ISO instant. */
  startsAt: string;
  timezone: string;
}

/** Frequencies a clinic books: nothing more often than daily. */
const ALLOWED = new Set([Frequency.DAILY, Frequency.WEEKLY, Frequency.MONTHLY, Frequency.YEARLY]);

/** Why the rule cannot be used, or null. */
export function ruleProblem(rrule: string): string | null {
  const text = rrule.trim().replace(/^RRULE:/i, '');
  if (!text || /DTSTART|TZID|\n/i.test(text)) return 'must be one RRULE (FREQ=…;…) without DTSTART or TZID: the series startsAt and the location give those';
  try {
    const options = RRule.parseString(text);
    if (options.freq === undefined) return 'must name FREQ';
    if (!ALLOWED.has(options.freq)) return 'FREQ must be DAILY, WEEKLY, MONTHLY or YEARLY';
    if (options.count !== undefined && options.count !== null && (options.count < 1 || options.count > 1000)) return 'COUNT must be 1 to 1000';
    return null;
  } catch {
    return 'is not an RFC 5545 RRULE';
  }
}

function ruleOf(rule: SeriesRule): RRule {
  const local = DateTime.fromISO(rule.startsAt, { zone: rule.timezone });
  if (!local.isValid) throw new RangeError('expand: bad startsAt or zone');
  const floating = new Date(Date.UTC(local.year, local.month - 1, local.day, local.hour, local.minute, local.second));
  const options = RRule.parseString(rule.rrule.trim().replace(/^RRULE:/i, ''));
  // UNTIL is an instant: as a floating date it is the local wall time of that instant.
  if (options.until) {
    const u = DateTime.fromJSDate(options.until, { zone: rule.timezone });
    options.until = new Date(Date.UTC(u.year, u.month - 1, u.day, u.hour, u.minute, u.second));
  }
  return new RRule({ ...options, dtstart: floating, tzid: null });
}

const toInstant = (floating: Date, zone: string) =>
  DateTime.fromObject({
    year: floating.getUTCFullYear(), month: floating.getUTCMonth() + 1, day: floating.getUTCDate(),
    hour: floating.getUTCHours(), minute: floating.getUTCMinutes(), second: floating.getUTCSeconds(),
  }, { zone }).toMillis();

/**
 * Occurrence starts (ms) strictly after `after` and at or before `until`, at most `limit`, in order.
 * Floating bounds are widened by a day and the results filtered by real instants, so zone offsets
 * never drop or add one.
 */
export function occurrencesBetween(rule: SeriesRule, after: number, until: number, limit = 500): number[] {
  const r = ruleOf(rule);
  const pad = 36 * 3600_000;
  const out: number[] = [];
  r.between(new Date(after - pad), new Date(until + pad), true, (d) => {
    const at = toInstant(d, rule.timezone);
    if (at > after && at <= until) out.push(at);
    return out.length < limit;
  });
  return out;
}

/** The first occurrence strictly after `after`, or null when the rule has ended. */
export function nextOccurrence(rule: SeriesRule, after: number): number | null {
  const r = ruleOf(rule);
  let cursor = new Date(after - 36 * 3600_000);
  // r.after walks floating time; step past results that are not after the real instant.
  for (let i = 0; i < 5; i++) {
    const d = r.after(cursor, false);
    if (!d) return null;
    const at = toInstant(d, rule.timezone);
    if (at > after) return at;
    cursor = d;
  }
  return null;
}
