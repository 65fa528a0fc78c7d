import { MigrationInterface, QueryRunner } from 'typeorm';

const CURRENT_CLINIC = `NULLIF(current_setting('app.clinic_id', true), '')::uuid`;

/**
 * Memberships behind row-level security (issue 8 item 5), with a NULL-aware policy like audit_logs
 * and notifications: inside a clinic the application's role sees and writes that clinic's
 * memberships; outside any clinic, the platform memberships (SUPER_ADMIN, SYSTEM_ADMIN: no clinic),
 * which bootstrap and account administration need.
 *
 * The one read that must cross clinics, "every membership of this signed-in user" (sign-in, the
 * clinic list, the actor's platform roles inside a clinic, the codec), goes through
 * user_memberships(user): SECURITY DEFINER, one user's rows only, nothing else. Its definer is the
 * table owner, so the table is ENABLEd but not FORCEd: the owner (migrations, that function) is
 * not under the policy, the application's role always is.
 *
 * notifications has had its NULL-aware policy since the outbox migration; it is now checked with
 * the other scoped tables (test/integration/rls.test.ts).
 */
export class MembershipsRls1764263200000 implements MigrationInterface {
  name = 'MembershipsRls1764263200000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE memberships ENABLE ROW LEVEL SECURITY`);
    await q.query(`
      CREATE POLICY clinic_isolation ON memberships
      USING (clinic_id IS NOT DISTINCT FROM ${CURRENT_CLINIC}) WITH CHECK (clinic_id IS NOT DISTINCT FROM ${CURRENT_CLINIC})`);
    await q.query(`
      CREATE FUNCTION user_memberships(p_user uuid)
      RETURNS TABLE (clinic_id uuid, role text, status text, created_at timestamptz)
      LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
        SELECT m.clinic_id, m.role, m.status, m.created_at FROM memberships m WHERE m.user_id = p_user
      $$`);
    await q.query(`REVOKE ALL ON FUNCTION user_memberships(uuid) FROM PUBLIC`);
    await q.query(`
      DO $$
      BEGIN
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'clinic_app') THEN
          GRANT EXECUTE ON FUNCTION user_memberships(uuid) TO clinic_app;
        END IF;
      END $$`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP FUNCTION IF EXISTS user_memberships(uuid)`);
    await q.query(`DROP POLICY IF EXISTS clinic_isolation ON memberships`);
    await q.query(`ALTER TABLE memberships DISABLE ROW LEVEL SECURITY`);
  }
}
