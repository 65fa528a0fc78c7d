import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Server-side sessions (the JWT `sid`), rotating refresh tokens, one-time login codes and MFA
 * challenges, and the user's TOTP columns. Secrets are never stored in clear: refresh tokens and
 * OTP codes as hashes, the TOTP secret sealed with the PHI keyring.
 */
export class SessionsAndMfa1764210000000 implements MigrationInterface {
  name = 'SessionsAndMfa1764210000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE users
        ADD COLUMN totp_secret text,
        ADD COLUMN totp_pending_secret text,
        ADD COLUMN totp_enabled_at timestamptz,
        ADD COLUMN totp_last_step bigint`);

    await q.query(`
      CREATE TABLE sessions (
        id uuid PRIMARY KEY,
        user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        created_at timestamptz NOT NULL DEFAULT now(),
        last_seen_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL,
        revoked_at timestamptz,
        revoked_reason text,
        mfa_satisfied boolean NOT NULL DEFAULT false,
        ip text,
        CHECK (expires_at > created_at),
        CHECK ((revoked_at IS NULL) = (revoked_reason IS NULL))
      )`);
    await q.query(`CREATE INDEX sessions_user_live_idx ON sessions (user_id) WHERE revoked_at IS NULL`);
    await q.query(`CREATE INDEX sessions_expires_idx ON sessions (expires_at)`);

    await q.query(`
      CREATE TABLE refresh_tokens (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        session_id uuid NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        token_hash bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
        parent_id uuid REFERENCES refresh_tokens(id) ON DELETE CASCADE,
        used_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX refresh_tokens_session_idx ON refresh_tokens (session_id)`);

    // purpose 'login': a code sent by email/SMS/WhatsApp; 'mfa': the step between password and TOTP.
    await q.query(`
      CREATE TABLE otp_challenges (
        id uuid PRIMARY KEY,
        user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        purpose text NOT NULL CHECK (purpose IN ('login', 'mfa')),
        channel text CHECK (channel IN ('email', 'sms', 'whatsapp')),
        code_hash bytea,
        attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
        max_attempts integer NOT NULL DEFAULT 5,
        expires_at timestamptz NOT NULL,
        consumed_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        ip text,
        CHECK ((purpose = 'login') = (code_hash IS NOT NULL))
      )`);
    await q.query(`CREATE INDEX otp_challenges_user_idx ON otp_challenges (user_id, purpose, created_at DESC)`);
    await q.query(`CREATE INDEX otp_challenges_expires_idx ON otp_challenges (expires_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS otp_challenges`);
    await q.query(`DROP TABLE IF EXISTS refresh_tokens`);
    await q.query(`DROP TABLE IF EXISTS sessions`);
    await q.query(`ALTER TABLE users DROP COLUMN IF EXISTS totp_secret, DROP COLUMN IF EXISTS totp_pending_secret, DROP COLUMN IF EXISTS totp_enabled_at, DROP COLUMN IF EXISTS totp_last_step`);
  }
}
