import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A membership has its own status (issue 8 item 1): a clinic admin disables a member in their
 * clinic, never the global account, which only platform admins change. The status is per
 * (user, clinic): every role row of the pair carries the same one. A DISABLED membership grants
 * nothing (shared/actor.ts), so the member's sessions stop working for that clinic at the next
 * request while their other clinics go on.
 */
export class MembershipStatus1764263000000 implements MigrationInterface {
  name = 'MembershipStatus1764263000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE memberships
        ADD COLUMN status text NOT NULL DEFAULT 'ACTIVE' CONSTRAINT memberships_status_check CHECK (status IN ('ACTIVE', 'DISABLED')),
        ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now()`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE memberships DROP COLUMN updated_at, DROP COLUMN status`);
  }
}
