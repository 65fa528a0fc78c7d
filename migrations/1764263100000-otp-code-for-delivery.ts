import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Secrets stay out of Temporal (issue 8 item 6): the deliverMessage workflow names the OTP
 * challenge, and its activity reads the code from here at send time, sends it, then wipes it.
 * `code_sealed` is the code under the PHI keyring, bound to the challenge id
 * (shared/notify/message-secrets.ts); it lives at most until the challenge expires (5 minutes),
 * and is gone as soon as the message is sent or finally failed. `code_hash` stays for verification.
 */
export class OtpCodeForDelivery1764263100000 implements MigrationInterface {
  name = 'OtpCodeForDelivery1764263100000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE otp_challenges
        ADD COLUMN code_sealed text,
        ADD CONSTRAINT otp_challenges_code_sealed_login CHECK (code_sealed IS NULL OR purpose = 'login')`);
    // The maintenance purge wipes codes whose challenge expired undelivered (activities/maintenance.ts).
    await q.query(`CREATE INDEX otp_challenges_sealed_idx ON otp_challenges (expires_at) WHERE code_sealed IS NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX IF EXISTS otp_challenges_sealed_idx`);
    await q.query(`ALTER TABLE otp_challenges DROP CONSTRAINT IF EXISTS otp_challenges_code_sealed_login, DROP COLUMN IF EXISTS code_sealed`);
  }
}
