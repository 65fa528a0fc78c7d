import { MigrationInterface, QueryRunner } from 'typeorm';

/** Clinic-scoped tables behind row-level security: every row carries a NOT NULL clinic_id. */
export const RLS_TABLES = ['locations', 'rooms', 'patients', 'practitioners', 'schedules', 'services', 'appointments', 'patient_search_tokens'] as const;

/** The tenant the connection acts for, set per checkout by shared/db/tenant-context.ts; '' or unset: none. */
const CURRENT_CLINIC = `NULLIF(current_setting('app.clinic_id', true), '')::uuid`;

/**
 * Audit hash chain, the application's restricted role, and row-level security (SPEC §4, §8).
 *
 * Audit chain: a BEFORE INSERT trigger computes prev_hash and hash, so no writer — the app, a
 * console, a future code path — can append a row outside the chain or choose its id or time.
 * One chain per clinic plus one for rows without a clinic (auth events); a transaction-scoped
 * advisory lock per chain serialises appends until commit. The hash is also computed in
 * TypeScript by the verifier (shared/audit/chain.ts): two implementations of one format.
 *
 * Role: `clinic_app` (NOLOGIN, no superuser, no BYPASSRLS) may read and write application tables
 * but only SELECT and INSERT audit_logs. Roles are cluster-wide, so creating it is idempotent and
 * tolerates another database's migration creating it at the same moment. Tables created by later
 * migrations get its grants through ALTER DEFAULT PRIVILEGES (for tables created by the role
 * running the migrations); a later append-only table must REVOKE UPDATE, DELETE itself, and a later
 * clinic-scoped table must enable row-level security itself (test/integration/rls.test.ts fails
 * until it does, or until the table is listed there as deliberately unscoped).
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

    await q.query(`
      CREATE FUNCTION audit_logs_chain() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE
        prev text;
      BEGIN
        -- Under REPEATABLE READ the head read below could predate the lock and fork the chain.
        IF current_setting('transaction_isolation') <> 'read committed' THEN
          RAISE EXCEPTION 'audit_logs rows are appended in READ COMMITTED transactions only' USING ERRCODE = '25001';
        END IF;
        PERFORM pg_advisory_xact_lock(hashtextextended('audit_logs:' || COALESCE(NEW.clinic_id::text, 'platform'), 0));
        -- Taken under the lock: within a chain, ids and times follow chain order.
        NEW.id := nextval('audit_logs_id_seq');
        NEW.occurred_at := clock_timestamp();
        IF NEW.clinic_id IS NULL THEN
          SELECT hash INTO prev FROM audit_logs WHERE clinic_id IS NULL ORDER BY id DESC LIMIT 1;
        ELSE
          SELECT hash INTO prev FROM audit_logs WHERE clinic_id = NEW.clinic_id ORDER BY id DESC LIMIT 1;
        END IF;
        NEW.prev_hash := prev;
        NEW.hash := audit_log_hash(NEW.clinic_id, NEW.actor_user_id, NEW.action, NEW.resource_type, NEW.resource_id,
                                   NEW.request_id, NEW.ip, NEW.occurred_at, prev);
        RETURN NEW;
      END $$`);

    // Rows written before the chain existed join it in id order (a one-off; the append-only trigger is off meanwhile).
    await q.query(`ALTER TABLE audit_logs DISABLE TRIGGER audit_logs_no_update_delete`);
    await q.query(`
      DO $$
      DECLARE
        r record;
        prev text;
        h text;
        chain uuid;
        started boolean := false;
      BEGIN
        FOR r IN SELECT * FROM audit_logs ORDER BY clinic_id NULLS FIRST, id LOOP
          IF NOT started OR r.clinic_id IS DISTINCT FROM chain THEN
            prev := NULL;
            chain := r.clinic_id;
            started := true;
          END IF;
          h := audit_log_hash(r.clinic_id, r.actor_user_id, r.action, r.resource_type, r.resource_id, r.request_id, r.ip, r.occurred_at, prev);
          UPDATE audit_logs SET prev_hash = prev, hash = h WHERE id = r.id;
          prev := h;
        END LOOP;
      END $$`);
    await q.query(`ALTER TABLE audit_logs ENABLE TRIGGER audit_logs_no_update_delete`);
    await q.query(`ALTER TABLE audit_logs ALTER COLUMN hash SET NOT NULL`);
    await q.query(`CREATE TRIGGER audit_logs_chain BEFORE INSERT ON audit_logs FOR EACH ROW EXECUTE FUNCTION audit_logs_chain()`);
    // A row trigger does not see TRUNCATE.
    await q.query(`
      CREATE TRIGGER audit_logs_no_truncate BEFORE TRUNCATE ON audit_logs
      FOR EACH STATEMENT EXECUTE FUNCTION audit_logs_append_only()`);

    // The chain head per clinic, the list endpoint (newest first, by id), and the two questions
    // compliance asks most: who touched this record, what did this user do.
    await q.query(`CREATE INDEX audit_logs_chain_idx ON audit_logs (clinic_id, id)`);
    await q.query(`CREATE INDEX audit_logs_resource_idx ON audit_logs (clinic_id, resource_type, resource_id, id)`);
    await q.query(`CREATE INDEX audit_logs_actor_idx ON audit_logs (clinic_id, actor_user_id, id)`);
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
    for (const index of ['audit_logs_chain_idx', 'audit_logs_resource_idx', 'audit_logs_actor_idx']) await q.query(`DROP INDEX IF EXISTS ${index}`);
    await q.query(`DROP TRIGGER IF EXISTS audit_logs_no_truncate ON audit_logs`);
    await q.query(`DROP TRIGGER IF EXISTS audit_logs_chain ON audit_logs`);
    await q.query(`ALTER TABLE audit_logs ALTER COLUMN hash DROP NOT NULL`);
    await q.query(`DROP FUNCTION IF EXISTS audit_logs_chain()`);
    await q.query(`DROP FUNCTION IF EXISTS audit_log_hash(uuid, uuid, text, text, text, text, text, timestamptz, text)`);
    await q.query(`DROP FUNCTION IF EXISTS audit_log_field(text)`);
  }
}

/** The listed tables that exist (patient_search_tokens arrives with the PHI encryption migration). */
async function existing(q: QueryRunner, tables: readonly string[]): Promise<string[]> {
  const rows: { name: string }[] = await q.query(
    `SELECT t AS name FROM unnest($1::text[]) AS t WHERE to_regclass('public.' || t) IS NOT NULL`, [tables]);
  return rows.map((r) => r.name);
}
