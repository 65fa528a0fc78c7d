/**
 * The clinic policies the appointment journey follows (SPEC §5 clinic settings), with their
 * defaults. Stored settings are free-form jsonb: anything missing or malformed takes the default.
 */
export interface JourneySettings {
  /** Reminders before the visit; fractions are allowed (0.5 = 30 s) so tests can run in seconds. */
  reminderOffsetsMinutes: number[];
  /** After this long past the start without a check-in the journey marks the visit NO_SHOW. */
  noShowGraceMinutes: number;
  /** A patient may not move or cancel a visit this close to its start, nor move it into this window. */
  minNoticeMinutes: number;
  /** The follow-up journey books the nearest free slot itself instead of only reminding. */
  autoBookFollowUp: boolean;
  /** When the practitioner goes on leave, move the visit to the nearest free slot instead of only offering it. */
  autoRescheduleOnLeave: boolean;
}

export const DEFAULT_JOURNEY_SETTINGS: Readonly<JourneySettings> = Object.freeze({
  reminderOffsetsMinutes: [1440, 120],
  noShowGraceMinutes: 15,
  minNoticeMinutes: 0,
  autoBookFollowUp: false,
  autoRescheduleOnLeave: false,
});

const nonNegative = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;

export function journeySettings(raw: unknown): JourneySettings {
  const s = (raw && typeof raw === 'object' ? raw : {}) as Record<string, unknown>;
  const d = DEFAULT_JOURNEY_SETTINGS;
  const offsets = Array.isArray(s.reminderOffsetsMinutes) ? s.reminderOffsetsMinutes.filter((v): v is number => nonNegative(v) && v > 0) : null;
  return {
    reminderOffsetsMinutes: offsets ?? [...d.reminderOffsetsMinutes],
    noShowGraceMinutes: nonNegative(s.noShowGraceMinutes) ? s.noShowGraceMinutes : d.noShowGraceMinutes,
    minNoticeMinutes: nonNegative(s.minNoticeMinutes) ? s.minNoticeMinutes : d.minNoticeMinutes,
    autoBookFollowUp: typeof s.autoBookFollowUp === 'boolean' ? s.autoBookFollowUp : d.autoBookFollowUp,
    autoRescheduleOnLeave: typeof s.autoRescheduleOnLeave === 'boolean' ? s.autoRescheduleOnLeave : d.autoRescheduleOnLeave,
  };
}

/** Minutes (possibly fractional) as whole milliseconds, rounded to the second. */
export const minutesToMs = (minutes: number) => Math.round(minutes * 60) * 1000;
