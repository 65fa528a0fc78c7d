import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The notification outbox: one row per message (keyed by its idempotency key), its delivery state
 * and the provider's id. No PHI: no address and no rendered text, only ids, the template name and
 * short provider error codes. clinic_id is null for user-level messages (OTP codes).
 */
export class NotificationsOutbox1764200000000 implements MigrationInterface {
  name = 'NotificationsOutbox1764200000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE notifications (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        clinic_id uuid REFERENCES clinics(id) ON DELETE CASCADE,
        recipient_kind text NOT NULL CHECK (recipient_kind IN ('patient', 'user')),
        recipient_id uuid NOT NULL,
        template text NOT NULL,
        language text NOT NULL DEFAULT 'en',
        channel text CHECK (channel IN ('whatsapp', 'sms', 'email')),
        status text NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'SENT', 'FAILED')),
        attempts integer NOT NULL DEFAULT 0,
        provider_message_id text,
        last_error text CHECK (length(last_error) <= 200),
        idempotency_key text NOT NULL CHECK (length(idempotency_key) <= 200),
        -- Millisecond precision: the list cursor round-trips through a JavaScript Date exactly.
        created_at timestamptz(3) NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        sent_at timestamptz,
        CONSTRAINT notifications_idempotency_key_key UNIQUE (idempotency_key),
        CONSTRAINT notifications_sent_has_channel CHECK (status <> 'SENT' OR (channel IS NOT NULL AND sent_at IS NOT NULL))
      )`);
    // The dead-letter view (status = FAILED) and the plain list, newest first, keyset by (created_at, id).
    await q.query(`CREATE INDEX notifications_clinic_status_created_idx ON notifications (clinic_id, status, created_at DESC, id DESC)`);
    await q.query(`CREATE INDEX notifications_clinic_created_idx ON notifications (clinic_id, created_at DESC, id DESC)`);

    // Row-level security behind the application's clinic filter (SPEC §4). NULL-aware like audit_logs:
    // inside a clinic, that clinic's rows; outside any clinic (OTP delivery), the rows without one.
    const current = `NULLIF(current_setting('app.clinic_id', true), '')::uuid`;
    await q.query(`ALTER TABLE notifications ENABLE ROW LEVEL SECURITY`);
    await q.query(`ALTER TABLE notifications FORCE ROW LEVEL SECURITY`);
    await q.query(`
      CREATE POLICY clinic_isolation ON notifications
      USING (clinic_id IS NOT DISTINCT FROM ${current}) WITH CHECK (clinic_id IS NOT DISTINCT FROM ${current})`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS notifications`);
  }
}
