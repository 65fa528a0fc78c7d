import { minutesToMs } from './settings';
import { QuietHours, quietWindowAt } from './quiet-hours';

export interface ReminderPlanInput {
  /** The visit's start, epoch ms. */
  startsAt: number;
  /**
   * When the visit got this time (booked or rescheduled), epoch ms. A reminder whose time had
   * already passed then is skipped: the patient has just been told.
   */
  armedAt: number;
  offsetsMinutes: readonly number[];
  quietHours: QuietHours | null;
  /** IANA zone the quiet hours are read in (the clinic's). */
  timezone: string;
}

export interface PlannedReminder {
  /** Stable per offset: a journey sends each reminder of a given slot once. */
  key: string;
  offsetMinutes: number;
  /** startsAt − offset. */
  nominalAt: number;
  /** When to send: nominalAt moved out of the patient's quiet hours. */
  at: number;
}

/** Sent just before quiet hours begin when deferring past them would reach the visit itself. */
const BEFORE_QUIET_MS = 60_000;

/**
 * When each reminder goes out (SPEC §6: offsets before the visit, respecting quiet hours).
 * A reminder due in quiet hours waits for them to end; when they end at or after the visit, it
 * goes out just before they began instead, or not at all if that moment had already passed.
 * Reminders landing on the same instant are sent once (the earliest offset's key wins).
 */
export function planReminders(input: ReminderPlanInput): PlannedReminder[] {
  const offsets = [...new Set(input.offsetsMinutes.filter((m) => m > 0))].sort((a, b) => b - a);
  const planned: PlannedReminder[] = [];
  for (const offsetMinutes of offsets) {
    const nominalAt = input.startsAt - minutesToMs(offsetMinutes);
    if (nominalAt < input.armedAt) continue;
    const at = outOfQuietHours(nominalAt, input);
    if (at === null || planned.some((p) => p.at === at)) continue;
    planned.push({ key: `reminder-${Math.round(offsetMinutes * 60)}s`, offsetMinutes, nominalAt, at });
  }
  return planned.sort((a, b) => a.at - b.at);
}

/**
 * `at` moved out of the patient's quiet hours, for a message about a visit at `startsAt`: to the
 * end of the quiet window, or when that reaches the visit, just before the window began (null when
 * that had passed before `armedAt`).
 */
export function outOfQuietHours(at: number, { startsAt, armedAt, quietHours, timezone }: Pick<ReminderPlanInput, 'startsAt' | 'armedAt' | 'quietHours' | 'timezone'>): number | null {
  const quiet = quietHours ? quietWindowAt(at, quietHours, timezone) : null;
  if (!quiet) return at;
  if (quiet.end < startsAt) return quiet.end;
  const before = quiet.start - BEFORE_QUIET_MS;
  return before >= armedAt ? before : null;
}
