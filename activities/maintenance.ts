import { heartbeat } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { DataSource } from 'typeorm';
import type { Logger } from '../shared/logger';
import type { PurgeInput, PurgeResult } from '../workflows/maintenance-api';

export interface MaintenanceActivityDeps {
  dataSource: DataSource;
  log?: Logger;
  /** Rows per DELETE: short statements, so the purge never holds many row locks at once. */
  purgeBatchSize?: number;
}

/**
 * Housekeeping of tables that only grow (issue 8 item 5): ended sessions (their refresh tokens
 * go with them), spent OTP and MFA challenges, and idempotency keys past their replay window. Each
 * is removed `graceHours` after it stopped mattering, in batches over the tables' time indexes; OTP
 * codes left sealed for a delivery that never ran are wiped as soon as their challenge expires.
 * None of these tables carries a clinic, so the purge runs outside any tenant context.
 */
export function createMaintenanceActivities({ dataSource, log, purgeBatchSize = 1000 }: MaintenanceActivityDeps) {
  async function inBatches(table: string, timeColumn: string, graceHours: number): Promise<number> {
    let total = 0;
    for (;;) {
      const [, removed] = await dataSource.query(
        `DELETE FROM ${table} WHERE ctid = ANY (ARRAY(
           SELECT ctid FROM ${table} WHERE ${timeColumn} < now() - make_interval(hours => $1) LIMIT $2))`,
        [graceHours, purgeBatchSize]);
      total += removed;
      heartbeatIfActivity({ table, total });
      if (removed < purgeBatchSize) return total;
    }
  }

  return {
    async purgeExpired(input: PurgeInput): Promise<PurgeResult> {
      if (!Number.isInteger(input?.graceHours) || input.graceHours < 1 || input.graceHours > 24 * 365) {
        throw ApplicationFailure.nonRetryable('graceHours must be a whole number of hours from 1 to 8760', 'INVALID_PURGE');
      }
      const [, otpCodesWiped] = await dataSource.query(
        `UPDATE otp_challenges SET code_sealed = NULL WHERE code_sealed IS NOT NULL AND expires_at < now()`);
      const result: PurgeResult = {
        otpCodesWiped,
        // Revoked sessions too: every session expires at most SESSION_MAX_HOURS after sign-in, revoked or not.
        sessions: await inBatches('sessions', 'expires_at', input.graceHours),
        otpChallenges: await inBatches('otp_challenges', 'expires_at', input.graceHours),
        idempotencyKeys: await inBatches('idempotency_keys', 'created_at', input.graceHours),
      };
      log?.info({ ...result, graceHours: input.graceHours }, 'expired rows purged');
      return result;
    },
  };
}

/** Heartbeats when running as an activity; a direct call (tests, scripts) has no activity context. */
function heartbeatIfActivity(details: unknown): void {
  try {
    heartbeat(details);
  } catch {
    // Not inside an activity.
  }
}

export type MaintenanceActivities = ReturnType<typeof createMaintenanceActivities>;
