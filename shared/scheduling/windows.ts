import { IANAZone } from 'luxon';
import { clip, merge, subtract, toInterval, type Span } from './intervals';
import { localDate, localInstant, parseInstant, parseTime } from './time';
import type { Interval, ScheduleException, ScheduleInput } from './types';

/**
 * Merged working spans (rules + EXTRA − LEAVE) that touch [from, to), left unclipped so slots can align to a window's
 * real start. Input is expected to have passed validateSchedule; anything unusable throws rather than silently
 * dropping a LEAVE and letting bookings through.
 */
/** Zone validation is costly (Intl lookups) and clinics use a handful of zones: remember the valid ones. */
const validZones = new Set<string>();
function knownZone(zone: string): boolean {
  if (validZones.has(zone)) return true;
  if (!IANAZone.isValidZone(zone)) return false;
  validZones.add(zone);
  return true;
}

function workingSpans(schedule: ScheduleInput, from: number, to: number): Span[] {
  const zone = schedule.timezone;
  if (!knownZone(zone)) throw new RangeError(`unknown time zone "${zone}"`);
  if (!(to > from)) return [];

  const rules = schedule.rules.filter((rule) => rule.locationId === schedule.locationId);
  const worked: Span[] = [];
  // Rules end by the next local midnight, so the local days of `from` and `to` cover every window touching the range.
  const lastDay = localDate(to, zone);
  for (let day = localDate(from, zone); day <= lastDay; day = day.plus({ days: 1 })) {
    for (const rule of rules.filter((r) => r.weekday === day.weekday)) {
      const start = localInstant(day, requireTime(rule.start, false), zone);
      const end = localInstant(day, requireTime(rule.end, true), zone);
      if (end > start) worked.push({ start, end }); // a start pushed through a spring-forward gap can pass its end
    }
  }

  const applicable = (kind: ScheduleException['kind']) =>
    schedule.exceptions
      .filter((e) => e.kind === kind && (e.locationId == null || e.locationId === schedule.locationId))
      .map((e) => ({ start: requireInstant(e.from), end: requireInstant(e.to) }));

  // Leave wins over extra hours: it is subtracted last.
  return subtract(merge([...worked, ...applicable('EXTRA')]), applicable('LEAVE')).filter(
    (span) => span.end > from && span.start < to,
  );
}

export function workingWindows(schedule: ScheduleInput, from: Date, to: Date): Interval[] {
  return clip(workingSpans(schedule, from.getTime(), to.getTime()), from.getTime(), to.getTime()).map(toInterval);
}

export function isWithinSchedule(schedule: ScheduleInput, slot: Interval): boolean {
  const start = slot.startsAt.getTime();
  const end = slot.endsAt.getTime();
  if (!(end > start)) return false;
  return workingSpans(schedule, start, end).some((w) => w.start <= start && end <= w.end);
}

export function freeSlots(
  schedule: ScheduleInput,
  opts: { from: Date; to: Date; durationMinutes: number; stepMinutes?: number; busy: Interval[] },
): Interval[] {
  const { durationMinutes, stepMinutes = durationMinutes } = opts;
  requirePositiveMinutes('durationMinutes', durationMinutes);
  requirePositiveMinutes('stepMinutes', stepMinutes);
  const from = opts.from.getTime();
  const to = opts.to.getTime();
  const duration = durationMinutes * 60_000;
  const step = stepMinutes * 60_000;
  const busy = opts.busy
    .map((b) => ({ start: b.startsAt.getTime(), end: b.endsAt.getTime() }))
    .filter((b) => b.end > from && b.start < to);

  const slots: Interval[] = [];
  for (const window of workingSpans(schedule, from, to)) {
    // Keep the grid anchored at the window start even when `from` falls mid-window, so slots don't shift with the query.
    const first = window.start + Math.max(0, Math.ceil((from - window.start) / step)) * step;
    const last = Math.min(window.end, to) - duration;
    for (let start = first; start <= last; start += step) {
      const end = start + duration;
      if (!busy.some((b) => b.start < end && start < b.end)) slots.push(toInterval({ start, end }));
    }
  }
  return slots;
}

function requireTime(value: string, allowEndOfDay: boolean): number {
  const minutes = parseTime(value, allowEndOfDay);
  if (minutes === null) throw new RangeError(`invalid rule time "${value}"`);
  return minutes;
}

function requireInstant(value: string): number {
  const instant = parseInstant(value);
  if (instant === null) throw new RangeError(`invalid exception instant "${value}"`);
  return instant;
}

// Whole minutes also bound the loop: a fractional step could otherwise generate millions of slots.
function requirePositiveMinutes(name: string, value: number): void {
  if (!Number.isInteger(value) || value <= 0) throw new RangeError(`${name} must be a positive whole number of minutes`);
}
