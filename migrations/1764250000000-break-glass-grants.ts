import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Break-glass grants (SPEC §7 POST /patients/:id/break-glass): a clinician's emergency access to
 * one patient for a limited time, with the stated reason sealed like PHI (it is free text about a
 * patient). Clinic-scoped, so behind row-level security like the other clinic tables, and a
 * record for compliance: the application's role may add and read grants, never change or remove
 * them (the default privileges of the RLS migration would allow it, so they are revoked here).
 */
export class BreakGlassGrants1764250000000 implements MigrationInterface {
  name = 'BreakGlassGrants1764250000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE break_glass_grants (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        clinic_id uuid NOT NULL REFERENCES clinics(id),
        patient_id uuid NOT NULL,
        user_id uuid NOT NULL REFERENCES users(id),
        -- "<key id>:<base64 AES-256-GCM>", bound to the grant id (shared/crypto/keyring.ts sealText)
        reason text NOT NULL,
        granted_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL,
        request_id text,
        CHECK (expires_at > granted_at),
        FOREIGN KEY (clinic_id, patient_id) REFERENCES patients (clinic_id, id)
      )`);
    // The read path asks "does this user hold a live grant on this patient"; oversight lists a clinic's grants newest first.
    await q.query(`CREATE INDEX break_glass_grants_lookup_idx ON break_glass_grants (clinic_id, patient_id, user_id, expires_at)`);
    await q.query(`CREATE INDEX break_glass_grants_clinic_idx ON break_glass_grants (clinic_id, granted_at DESC, id DESC)`);

    const current = `NULLIF(current_setting('app.clinic_id', true), '')::uuid`;
    await q.query(`ALTER TABLE break_glass_grants ENABLE ROW LEVEL SECURITY`);
    await q.query(`ALTER TABLE break_glass_grants FORCE ROW LEVEL SECURITY`);
    await q.query(`CREATE POLICY clinic_isolation ON break_glass_grants USING (clinic_id = ${current}) WITH CHECK (clinic_id = ${current})`);
    await q.query(`
      DO $$
      BEGIN
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'clinic_app') THEN
          REVOKE ALL ON break_glass_grants FROM clinic_app;
          GRANT SELECT, INSERT ON break_glass_grants TO clinic_app;
        END IF;
      END $$`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS break_glass_grants`);
  }
}
