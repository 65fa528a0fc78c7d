import { MigrationInterface, QueryRunner } from 'typeorm';

/** Clinic-scoped tables behind row-level security: every row carries a NOT NULL clinic_id. */
export const RLS_TABLES = ['locations', 'rooms', 'patients', 'practitioners', 'schedules', 'services', 'appointments', 'patient_search_tokens'] as const;

/** The tenant the connection acts for, set per checkout by shared/db/tenant-context.ts; '' or unset: none. */
const CURRENT_CLINIC = `NULLIF(current_setting('app.clinic_id', true), '')::uuid`;

/**
 * Audit hash chain, the application's restricted role, and row-level security (SPEC §4, §8).
 *
 * Audit chain: one chain per clinic plus one for rows without a clinic (auth events). Appending
 * is a plain INSERT, with no lock: requests never queue behind each other's commits (measured in
 * bench/audit.ts: chaining inside the INSERT under a per-chain lock cut patient-read throughput to
 * a third on 2 cores, the lock holder's commit and CPU time becoming everyone's wait). The chain is
 * sealed right after, off the request path, by audit_seal(): under the chain's advisory lock it
 * gives each unsealed row the next chain_seq, the previous row's hash as prev_hash, and its own
 * hash, once. Rows are never otherwise updated or deleted: a trigger lets an UPDATE through only
 * when it seals an unsealed row and changes nothing else, inside audit_seal. The writer chooses
 * neither the time nor the chain fields. The hash is also computed in TypeScript by the verifier
 * (shared/audit/chain.ts): two implementations of one format.
 *
 * Role: `clinic_app` (NOLOGIN, no superuser, no BYPASSRLS) may read and write application tables
 * but only SELECT and INSERT audit_logs (and run audit_seal). Roles are cluster-wide, so creating
 * it is idempotent and tolerates another database's migration creating it at the same moment.
 * Tables created by later migrations get its grants through ALTER DEFAULT PRIVILEGES (for tables
 * created by the role running the migrations); a later append-only table must REVOKE UPDATE,
 * DELETE itself, and a later clinic-scoped table must enable row-level security itself
 * (test/integration/rls.test.ts fails until it does, or until the table is listed there as
 * deliberately unscoped).
 *
 * RLS: ENABLE + FORCE (the owner too, unless it is a superuser) on the clinic-scoped tables, one
 * policy for reads and writes keyed by `app.clinic_id`. audit_logs gets a NULL-aware policy: in a
 * clinic, that clinic's chain; outside any clinic, the chain of rows without one.
 */
export class AuditChainAppRoleRls1764230000000 implements MigrationInterface {
  name = 'AuditChainAppRoleRls1764230000000';

  async up(q: QueryRunner): Promise<void> {
    await this.auditChain(q);
    await this.appRole(q);
    await this.rowLevelSecurity(q);
  }

  private async auditChain(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE audit_logs ADD COLUMN chain_seq bigint`);

    // The canonical serialization of shared/audit/chain.ts: `~` for NULL, else `<octets>:<value>`.
    await q.query(`
      CREATE FUNCTION audit_log_field(v text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
        SELECT COALESCE(octet_length(convert_to(v, 'UTF8')) || ':' || v, '~')
      $$`);
    await q.query(`
      CREATE FUNCTION audit_log_hash(
        p_clinic_id uuid, p_actor_user_id uuid, p_action text, p_resource_type text, p_resource_id text,
        p_request_id text, p_ip text, p_occurred_at timestamptz, p_prev_hash text
      ) RETURNS text LANGUAGE sql STABLE PARALLEL SAFE AS $$
        SELECT encode(sha256(convert_to(concat_ws('|', 'v1',
          audit_log_field(p_clinic_id::text), audit_log_field(p_actor_user_id::text), audit_log_field(p_action),
          audit_log_field(p_resource_type), audit_log_field(p_resource_id), audit_log_field(p_request_id), audit_log_field(p_ip),
          audit_log_field(to_char(p_occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')),
          audit_log_field(p_prev_hash)
        ), 'UTF8')), 'hex')
      $$`);

    // The database's clock, and no chain fields, whatever the writer sends.
    await q.query(`
      CREATE FUNCTION audit_logs_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        NEW.occurred_at := clock_timestamp();
        NEW.chain_seq := NULL;
        NEW.prev_hash := NULL;
        NEW.hash := NULL;
        RETURN NEW;
      END $$`);
    await q.query(`CREATE TRIGGER audit_logs_stamp BEFORE INSERT ON audit_logs FOR EACH ROW EXECUTE FUNCTION audit_logs_stamp()`);

    // Replaces the blanket refusal: the one UPDATE allowed seals an unsealed row inside audit_seal.
    await q.query(`
      CREATE FUNCTION audit_logs_guard() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'UPDATE' AND current_setting('audit.sealing', true) = 'on'
           AND OLD.hash IS NULL AND OLD.chain_seq IS NULL AND NEW.hash IS NOT NULL AND NEW.chain_seq IS NOT NULL
           AND (NEW.id, NEW.clinic_id, NEW.actor_user_id, NEW.action, NEW.resource_type, NEW.resource_id, NEW.request_id, NEW.ip, NEW.occurred_at)
               IS NOT DISTINCT FROM
               (OLD.id, OLD.clinic_id, OLD.actor_user_id, OLD.action, OLD.resource_type, OLD.resource_id, OLD.request_id, OLD.ip, OLD.occurred_at) THEN
          RETURN NEW;
        END IF;
        RAISE EXCEPTION 'audit_logs is append-only' USING ERRCODE = '42501';
      END $$`);
    await q.query(`DROP TRIGGER audit_logs_no_update_delete ON audit_logs`);
    await q.query(`
      CREATE TRIGGER audit_logs_no_update_delete BEFORE UPDATE OR DELETE ON audit_logs
      FOR EACH ROW EXECUTE FUNCTION audit_logs_guard()`);
    // A row trigger does not see TRUNCATE.
    await q.query(`
      CREATE TRIGGER audit_logs_no_truncate BEFORE TRUNCATE ON audit_logs
      FOR EACH STATEMENT EXECUTE FUNCTION audit_logs_append_only()`);

    // One position per chain (NULLS NOT DISTINCT: the platform chain too): a fork cannot be stored.
    await q.query(`
      CREATE UNIQUE INDEX audit_logs_chain_seq_key ON audit_logs (clinic_id, chain_seq) NULLS NOT DISTINCT
      WHERE chain_seq IS NOT NULL`);
    await q.query(`CREATE INDEX audit_logs_unsealed_idx ON audit_logs (clinic_id, id) WHERE hash IS NULL`);
    // The list endpoint (newest first, by id), and the two questions compliance asks most: who
    // touched this record, what did this user do.
    await q.query(`CREATE INDEX audit_logs_clinic_id_idx ON audit_logs (clinic_id, id)`);
    await q.query(`CREATE INDEX audit_logs_resource_idx ON audit_logs (clinic_id, resource_type, resource_id, id)`);
    await q.query(`CREATE INDEX audit_logs_actor_idx ON audit_logs (clinic_id, actor_user_id, id)`);

    // SECURITY DEFINER: the app role may not UPDATE audit_logs, only have it sealed. The
    // definer is still under the table's row-level security when it is not a superuser, so the
    // caller seals in the chain's own clinic context. READ COMMITTED only: each statement after
    // the lock must see the previous sealer's commit, or two sealers would fork the chain.
    await q.query(`
      CREATE FUNCTION audit_seal(p_clinic uuid, p_limit integer DEFAULT 1000)
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
        PERFORM set_config('audit.sealing', 'off', true);
        RETURN QUERY SELECT n, last_id, NULLIF(seq, 0), prev;
      END $$`);

    // Rows written before the chain existed join it now, in id order.
    await q.query(`SELECT s.* FROM (SELECT DISTINCT clinic_id FROM audit_logs) c, LATERAL audit_seal(c.clinic_id, 2147483647) s`);
  }

  private async appRole(q: QueryRunner): Promise<void> {
    await q.query(`
      DO $$
      BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'clinic_app') THEN
          BEGIN
            CREATE ROLE clinic_app NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOREPLICATION;
          EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL; -- another database of this cluster created it concurrently
          END;
        END IF;
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'clinic_app' AND (rolsuper OR rolbypassrls)) THEN
          RAISE EXCEPTION 'role clinic_app must be NOSUPERUSER NOBYPASSRLS: row-level security would not apply to it';
        END IF;
      END $$`);
    await q.query(`GRANT USAGE ON SCHEMA public TO clinic_app`);
    await q.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO clinic_app`);
    await q.query(`GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO clinic_app`);
    await q.query(`REVOKE ALL ON audit_logs FROM clinic_app`);
    await q.query(`GRANT SELECT, INSERT ON audit_logs TO clinic_app`);
    await q.query(`REVOKE ALL ON schema_migrations FROM clinic_app`);
    await q.query(`REVOKE ALL ON FUNCTION audit_seal(uuid, integer) FROM PUBLIC`);
    await q.query(`GRANT EXECUTE ON FUNCTION audit_seal(uuid, integer) TO clinic_app`);
    await q.query(`ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO clinic_app`);
    await q.query(`ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO clinic_app`);
  }

  private async rowLevelSecurity(q: QueryRunner): Promise<void> {
    for (const table of await existing(q, RLS_TABLES)) {
      await q.query(`ALTER TABLE ${table} ENABLE ROW LEVEL SECURITY`);
      await q.query(`ALTER TABLE ${table} FORCE ROW LEVEL SECURITY`);
      await q.query(`CREATE POLICY clinic_isolation ON ${table} USING (clinic_id = ${CURRENT_CLINIC}) WITH CHECK (clinic_id = ${CURRENT_CLINIC})`);
    }
    await q.query(`ALTER TABLE audit_logs ENABLE ROW LEVEL SECURITY`);
    await q.query(`ALTER TABLE audit_logs FORCE ROW LEVEL SECURITY`);
    await q.query(`
      CREATE POLICY clinic_isolation ON audit_logs
      USING (clinic_id IS NOT DISTINCT FROM ${CURRENT_CLINIC}) WITH CHECK (clinic_id IS NOT DISTINCT FROM ${CURRENT_CLINIC})`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of [...await existing(q, RLS_TABLES), 'audit_logs']) {
      await q.query(`DROP POLICY IF EXISTS clinic_isolation ON ${table}`);
      await q.query(`ALTER TABLE ${table} NO FORCE ROW LEVEL SECURITY`);
      await q.query(`ALTER TABLE ${table} DISABLE ROW LEVEL SECURITY`);
    }
    // The role is cluster-wide and other databases may use it: only this database's grants go.
    await q.query(`ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE SELECT, INSERT, UPDATE, DELETE ON TABLES FROM clinic_app`);
    await q.query(`ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE USAGE, SELECT ON SEQUENCES FROM clinic_app`);
    await q.query(`REVOKE ALL ON ALL TABLES IN SCHEMA public FROM clinic_app`);
    await q.query(`REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM clinic_app`);
    await q.query(`REVOKE USAGE ON SCHEMA public FROM clinic_app`);
    await q.query(`DROP FUNCTION IF EXISTS audit_seal(uuid, integer)`);
    for (const index of ['audit_logs_chain_seq_key', 'audit_logs_unsealed_idx', 'audit_logs_clinic_id_idx', 'audit_logs_resource_idx', 'audit_logs_actor_idx']) {
      await q.query(`DROP INDEX IF EXISTS ${index}`);
    }
    await q.query(`DROP TRIGGER IF EXISTS audit_logs_no_truncate ON audit_logs`);
    await q.query(`DROP TRIGGER IF EXISTS audit_logs_no_update_delete ON audit_logs`);
    await q.query(`
      CREATE TRIGGER audit_logs_no_update_delete BEFORE UPDATE OR DELETE ON audit_logs
      FOR EACH ROW EXECUTE FUNCTION audit_logs_append_only()`);
    await q.query(`DROP TRIGGER IF EXISTS audit_logs_stamp ON audit_logs`);
    await q.query(`DROP FUNCTION IF EXISTS audit_logs_guard()`);
    await q.query(`DROP FUNCTION IF EXISTS audit_logs_stamp()`);
    await q.query(`DROP FUNCTION IF EXISTS audit_log_hash(uuid, uuid, text, text, text, text, text, timestamptz, text)`);
    await q.query(`DROP FUNCTION IF EXISTS audit_log_field(text)`);
    await q.query(`ALTER TABLE audit_logs DROP COLUMN chain_seq`);
  }
}

/** The listed tables that exist (patient_search_tokens arrives with the PHI encryption migration). */
async function existing(q: QueryRunner, tables: readonly string[]): Promise<string[]> {
  const rows: { name: string }[] = await q.query(
    `SELECT t AS name FROM unnest($1::text[]) AS t WHERE to_regclass('public.' || t) IS NOT NULL`, [tables]);
  return rows.map((r) => r.name);
}
