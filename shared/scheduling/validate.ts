import { parseInstant, parseTime } from './time';
import type { FieldError, ScheduleException, WeeklyRule } from './types';

/** Field errors for a schedule whose JSON shape is already checked; an empty list means valid. */
export function validateSchedule(rules: WeeklyRule[], exceptions: ScheduleException[]): FieldError[] {
  const errors: FieldError[] = [];
  const timed: Array<{ index: number; rule: WeeklyRule; start: number; end: number }> = [];

  rules.forEach((rule, index) => {
    const path = `rules.${index}`;
    const start = parseTime(rule.start);
    const end = parseTime(rule.end, true);
    const weekdayOk = Number.isInteger(rule.weekday) && rule.weekday >= 1 && rule.weekday <= 7;
    if (!weekdayOk) errors.push({ path: `${path}.weekday`, message: 'must be an integer from 1 (Monday) to 7 (Sunday)' });
    if (start === null) errors.push({ path: `${path}.start`, message: 'must be a time HH:mm from 00:00 to 23:59' });
    if (end === null) errors.push({ path: `${path}.end`, message: 'must be a time HH:mm from 00:00 to 24:00' });
    else if (start !== null && end <= start) errors.push({ path: `${path}.end`, message: 'must be after start' });
    else if (start !== null && weekdayOk) timed.push({ index, rule, start, end });
  });

  // Only within one weekday and location: a rule's local times mean nothing against another location's time zone.
  timed.forEach((b, j) => {
    for (const a of timed.slice(0, j)) {
      const sameDay = a.rule.weekday === b.rule.weekday && a.rule.locationId === b.rule.locationId;
      if (sameDay && a.start < b.end && b.start < a.end) {
        errors.push({ path: `rules.${b.index}`, message: `overlaps rules.${a.index} (same weekday and location)` });
      }
    }
  });

  exceptions.forEach((exception, index) => {
    const from = parseInstant(exception.from);
    const to = parseInstant(exception.to);
    const format = 'must be an ISO 8601 date-time with offset';
    if (from === null) errors.push({ path: `exceptions.${index}.from`, message: format });
    if (to === null) errors.push({ path: `exceptions.${index}.to`, message: format });
    else if (from !== null && to <= from) errors.push({ path: `exceptions.${index}.to`, message: 'must be after from' });
  });

  return errors;
}
