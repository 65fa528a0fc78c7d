import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * An open Idempotency-Key claim names who holds it (issue 15): the holder's process and a token
 * for this claim, and a heartbeat the holder renews while its request runs. A retry can then tell
 * a running request (409, come back later) from one that can no longer finish (learn the outcome,
 * or take the claim over) without waiting for a fixed abandonment delay. Claims made before this
 * migration have no holder; their heartbeat starts at their creation, so they count as gone.
 */
export class IdempotencyClaimHolder1764265000000 implements MigrationInterface {
  name = 'IdempotencyClaimHolder1764265000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE idempotency_keys
        ADD COLUMN holder text,
        ADD COLUMN claim_token uuid,
        ADD COLUMN heartbeat_at timestamptz NOT NULL DEFAULT now()`);
    await q.query(`UPDATE idempotency_keys SET heartbeat_at = created_at`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE idempotency_keys DROP COLUMN heartbeat_at, DROP COLUMN claim_token, DROP COLUMN holder`);
  }
}
