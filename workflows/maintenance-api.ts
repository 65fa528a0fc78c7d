/**
 * The maintenance journey's public surface: a Temporal Schedule on the `maintenance` queue starts
 * `purgeExpired` every MAINTENANCE_PURGE_EVERY_MINUTES (shared/temporal/maintenance-schedule.ts).
 */
export const MAINTENANCE_TASK_QUEUE = 'maintenance';
export const PURGE_SCHEDULE_ID = 'maintenance-purge-expired';

export interface PurgeInput {
  /** Rows are removed this long after they stopped mattering (expired sessions and challenges, old idempotency keys). */
  graceHours: number;
}

/** Rows removed (or, for OTP codes, wiped) per table. */
export interface PurgeResult {
  sessions: number;
  otpChallenges: number;
  otpCodesWiped: number;
  idempotencyKeys: number;
}
