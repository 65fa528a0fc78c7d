import { MigrationInterface, QueryRunner } from 'typeorm';

const CURRENT_CLINIC = `NULLIF(current_setting('app.clinic_id', true), '')::uuid`;

/**
 * Chain heads anchored outside audit_logs (issue 8.10). A hash chain cannot see rows cut off its
 * end: what remains is still a valid chain. So every seal also records the head it produced (chain
 * position, row id, hash) in `audit_anchors`, append-only, in the same transaction; verification
 * then checks every anchor against the row now at that position, and a missing or different row
 * means the tail was cut (or the chain rewritten from there).
 *
 * Who may write anchors: only audit_seal (SECURITY DEFINER, the owner). The app role may read
 * them, never insert, update or delete (an inserted bogus anchor would make an intact log look
 * tampered); UPDATE, DELETE and TRUNCATE are refused by triggers to the owner too. Someone holding
 * the owner's rights can still disable those triggers and cut both tables: the `audit.head` line
 * each seal writes to the log stream (shared/audit/appender.ts) is the copy outside the database.
 *
 * Row-level security as on audit_logs: a clinic's anchors in its context, the platform chain's
 * outside any clinic.
 */
export class AuditAnchors1764262000000 implements MigrationInterface {
  name = 'AuditAnchors1764262000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE audit_anchors (
        id bigserial PRIMARY KEY,
        clinic_id uuid,
        chain_seq bigint NOT NULL,
        head_id bigint NOT NULL,
        hash text NOT NULL,
        anchored_at timestamptz NOT NULL DEFAULT clock_timestamp()
      )`);
    await q.query(`CREATE INDEX audit_anchors_chain_idx ON audit_anchors (clinic_id, chain_seq)`);

    await q.query(`
      CREATE FUNCTION audit_anchors_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'audit_anchors is append-only' USING ERRCODE = '42501';
      END $$`);
    await q.query(`CREATE TRIGGER audit_anchors_no_update_delete BEFORE UPDATE OR DELETE ON audit_anchors FOR EACH ROW EXECUTE FUNCTION audit_anchors_append_only()`);
    await q.query(`CREATE TRIGGER audit_anchors_no_truncate BEFORE TRUNCATE ON audit_anchors FOR EACH STATEMENT EXECUTE FUNCTION audit_anchors_append_only()`);

    await q.query(`ALTER TABLE audit_anchors ENABLE ROW LEVEL SECURITY`);
    await q.query(`ALTER TABLE audit_anchors FORCE ROW LEVEL SECURITY`);
    await q.query(`
      CREATE POLICY clinic_isolation ON audit_anchors
      USING (clinic_id IS NOT DISTINCT FROM ${CURRENT_CLINIC}) WITH CHECK (clinic_id IS NOT DISTINCT FROM ${CURRENT_CLINIC})`);
    await q.query(`
      DO $$
      BEGIN
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'clinic_app') THEN
          REVOKE ALL ON audit_anchors FROM clinic_app;
          REVOKE ALL ON SEQUENCE audit_anchors_id_seq FROM clinic_app;
          GRANT SELECT ON audit_anchors TO clinic_app;
        END IF;
      END $$`);

    // audit_seal of migration 1764230000000, plus the anchor of the head it leaves.
    await q.query(`
      CREATE OR REPLACE FUNCTION audit_seal(p_clinic uuid, p_limit integer DEFAULT 1000)
      RETURNS TABLE (sealed integer, head_id bigint, head_seq bigint, head_hash text)
      LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
      DECLARE
        r record;
        ids bigint[];
        n integer := 0;
        last_id bigint;
        seq bigint;
        prev text;
        h text;
      BEGIN
        IF current_setting('transaction_isolation') <> 'read committed' THEN
          RAISE EXCEPTION 'audit_seal runs in READ COMMITTED transactions only' USING ERRCODE = '25001';
        END IF;
        PERFORM pg_advisory_xact_lock(hashtextextended('audit_logs:' || COALESCE(p_clinic::text, 'platform'), 0));
        PERFORM set_config('audit.sealing', 'on', true);
        -- Two spellings rather than IS NOT DISTINCT FROM, which no index serves.
        IF p_clinic IS NULL THEN
          SELECT l.id, l.chain_seq, l.hash INTO last_id, seq, prev FROM audit_logs l
          WHERE l.clinic_id IS NULL AND l.chain_seq IS NOT NULL ORDER BY l.clinic_id DESC, l.chain_seq DESC LIMIT 1;
          ids := ARRAY(SELECT l.id FROM audit_logs l WHERE l.clinic_id IS NULL AND l.hash IS NULL ORDER BY l.id LIMIT p_limit);
        ELSE
          SELECT l.id, l.chain_seq, l.hash INTO last_id, seq, prev FROM audit_logs l
          WHERE l.clinic_id = p_clinic AND l.chain_seq IS NOT NULL ORDER BY l.clinic_id DESC, l.chain_seq DESC LIMIT 1;
          ids := ARRAY(SELECT l.id FROM audit_logs l WHERE l.clinic_id = p_clinic AND l.hash IS NULL ORDER BY l.id LIMIT p_limit);
        END IF;
        seq := COALESCE(seq, 0);
        FOR r IN SELECT * FROM audit_logs l WHERE l.id = ANY (ids) ORDER BY l.id LOOP
          seq := seq + 1;
          h := audit_log_hash(r.clinic_id, r.actor_user_id, r.action, r.resource_type, r.resource_id, r.request_id, r.ip, r.occurred_at, prev);
          UPDATE audit_logs SET chain_seq = seq, prev_hash = prev, hash = h WHERE id = r.id;
          prev := h;
          last_id := r.id;
          n := n + 1;
        END LOOP;
        IF n > 0 THEN
          INSERT INTO audit_anchors (clinic_id, chain_seq, head_id, hash) VALUES (p_clinic, seq, last_id, prev);
        END IF;
        PERFORM set_config('audit.sealing', 'off', true);
        RETURN QUERY SELECT n, last_id, NULLIF(seq, 0), prev;
      END $$`);

    // Anchor today's heads, each chain in its own tenant context: row-level security binds an owner
    // that is not a superuser too, so the chains are listed from clinics as well as from audit_logs
    // (which such an owner sees only the platform chain of, outside any clinic).
    await q.query(`
      DO $$
      DECLARE
        c record;
      BEGIN
        FOR c IN SELECT id AS clinic_id FROM clinics UNION SELECT DISTINCT l.clinic_id FROM audit_logs l UNION SELECT NULL::uuid LOOP
          PERFORM set_config('app.clinic_id', COALESCE(c.clinic_id::text, ''), true);
          INSERT INTO audit_anchors (clinic_id, chain_seq, head_id, hash)
          SELECT l.clinic_id, l.chain_seq, l.id, l.hash FROM audit_logs l
          WHERE l.clinic_id IS NOT DISTINCT FROM c.clinic_id AND l.chain_seq IS NOT NULL
          ORDER BY l.chain_seq DESC LIMIT 1;
        END LOOP;
        PERFORM set_config('app.clinic_id', '', true);
      END $$`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE OR REPLACE FUNCTION audit_seal(p_clinic uuid, p_limit integer DEFAULT 1000)
      RETURNS TABLE (sealed integer, head_id bigint, head_seq bigint, head_hash text)
      LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
      DECLARE
        r record; ids bigint[]; n integer := 0; last_id bigint; seq bigint; prev text; h text;
      BEGIN
        IF current_setting('transaction_isolation') <> 'read committed' THEN
          RAISE EXCEPTION 'audit_seal runs in READ COMMITTED transactions only' USING ERRCODE = '25001';
        END IF;
        PERFORM pg_advisory_xact_lock(hashtextextended('audit_logs:' || COALESCE(p_clinic::text, 'platform'), 0));
        PERFORM set_config('audit.sealing', 'on', true);
        IF p_clinic IS NULL THEN
          SELECT l.id, l.chain_seq, l.hash INTO last_id, seq, prev FROM audit_logs l
          WHERE l.clinic_id IS NULL AND l.chain_seq IS NOT NULL ORDER BY l.clinic_id DESC, l.chain_seq DESC LIMIT 1;
          ids := ARRAY(SELECT l.id FROM audit_logs l WHERE l.clinic_id IS NULL AND l.hash IS NULL ORDER BY l.id LIMIT p_limit);
        ELSE
          SELECT l.id, l.chain_seq, l.hash INTO last_id, seq, prev FROM audit_logs l
          WHERE l.clinic_id = p_clinic AND l.chain_seq IS NOT NULL ORDER BY l.clinic_id DESC, l.chain_seq DESC LIMIT 1;
          ids := ARRAY(SELECT l.id FROM audit_logs l WHERE l.clinic_id = p_clinic AND l.hash IS NULL ORDER BY l.id LIMIT p_limit);
        END IF;
        seq := COALESCE(seq, 0);
        FOR r IN SELECT * FROM audit_logs l WHERE l.id = ANY (ids) ORDER BY l.id LOOP
          seq := seq + 1;
          h := audit_log_hash(r.clinic_id, r.actor_user_id, r.action, r.resource_type, r.resource_id, r.request_id, r.ip, r.occurred_at, prev);
          UPDATE audit_logs SET chain_seq = seq, prev_hash = prev, hash = h WHERE id = r.id;
          prev := h; last_id := r.id; n := n + 1;
        END LOOP;
        PERFORM set_config('audit.sealing', 'off', true);
        RETURN QUERY SELECT n, last_id, NULLIF(seq, 0), prev;
      END $$`);
    await q.query(`DROP TABLE IF EXISTS audit_anchors`);
    await q.query(`DROP FUNCTION IF EXISTS audit_anchors_append_only()`);
  }
}
