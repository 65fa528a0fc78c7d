import { localDate, localInstant, parseTime } from '../scheduling/time';

/** A patient's quiet hours: local wall-clock times "HH:mm"; `end` before `start` wraps past midnight. */
export interface QuietHours {
  start: string;
  end: string;
}

/** Half-open [start, end) in epoch ms. */
export interface Window {
  start: number;
  end: number;
}

/** Well-formed quiet hours, or null for none (missing, malformed, or start equal to end). */
export function parseQuietHours(raw: unknown): QuietHours | null {
  const q = raw && typeof raw === 'object' ? (raw as Record<string, unknown>) : null;
  if (!q) return null;
  const start = parseTime(q.start);
  const end = parseTime(q.end);
  if (start === null || end === null || start === end) return null;
  return { start: q.start as string, end: q.end as string };
}

/**
 * The quiet window that contains the instant `at`, or null. Windows are laid out from local
 * wall-clock times in `zone`, so they keep their local hours across daylight-saving changes.
 */
export function quietWindowAt(at: number, quiet: QuietHours, zone: string): Window | null {
  const start = parseTime(quiet.start);
  const end = parseTime(quiet.end);
  if (start === null || end === null || start === end) return null;
  const wraps = end < start;
  const today = localDate(at, zone);
  // A window containing `at` began on its local day or, when it wraps midnight, the day before.
  for (const day of wraps ? [today.minus({ days: 1 }), today] : [today]) {
    const window = { start: localInstant(day, start, zone), end: localInstant(wraps ? day.plus({ days: 1 }) : day, end, zone) };
    if (window.start <= at && at < window.end) return window;
  }
  return null;
}
