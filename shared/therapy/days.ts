import { DateTime } from 'luxon';

/**
 * When each day of a course is, in the location's time zone. A course books one session a day at
 * the same local time (luxon moves a time that falls in a DST gap forward, as a wall clock does).
 *
 * `dayMinutes` compresses the calendar (clinic setting `courseDayMinutes`, for demos and tests):
 * day k then starts k × dayMinutes after the first session's time instead of k calendar days
 * later, and lasts dayMinutes. The code path is the same; only the length of a day differs.
 */
export interface CourseClock {
  /** First day, YYYY-MM-DD local. */
  startDate: string;
  /** HH:mm local. */
  time: string;
  timezone: string;
  dayMinutes: number | null;
}

export interface CourseDay {
  /** The wanted start of the day's session (ms). */
  target: number;
  /** The day, [from, to) in ms: the session is booked inside it. */
  from: number;
  to: number;
}

export function courseDay(clock: CourseClock, k: number): CourseDay {
  const [hour, minute] = clock.time.split(':').map(Number);
  const first = DateTime.fromISO(clock.startDate, { zone: clock.timezone });
  if (!first.isValid || !Number.isInteger(hour) || !Number.isInteger(minute)) throw new RangeError('courseDay: bad date, time or zone');
  if (clock.dayMinutes) {
    const target = first.set({ hour, minute }).toMillis() + k * clock.dayMinutes * 60_000;
    return { target, from: target, to: target + clock.dayMinutes * 60_000 };
  }
  const day = first.plus({ days: k });
  return { target: day.set({ hour, minute }).toMillis(), from: day.startOf('day').toMillis(), to: day.plus({ days: 1 }).startOf('day').toMillis() };
}

/** The instant of a local date and time (resume's `{date, time}`), ms. */
export function localInstant(date: string, time: string, timezone: string): number {
  const [hour, minute] = time.split(':').map(Number);
  return DateTime.fromISO(date, { zone: timezone }).set({ hour, minute }).toMillis();
}
