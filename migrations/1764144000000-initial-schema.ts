import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Core schema. Cross-table references carry clinic_id in composite foreign keys, so a row can
 * never point at another clinic's patient, practitioner, service, location or room.
 */
export class InitialSchema1764144000000 implements MigrationInterface {
  name = 'InitialSchema1764144000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE EXTENSION IF NOT EXISTS btree_gist`);
    await q.query(`CREATE EXTENSION IF NOT EXISTS pgcrypto`);

    await q.query(`
      CREATE TABLE clinics (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        name text NOT NULL,
        slug text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$'),
        timezone text NOT NULL,
        settings jsonb NOT NULL DEFAULT '{}',
        mrn_seq integer NOT NULL DEFAULT 0,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);

    await q.query(`
      CREATE TABLE users (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        email text NOT NULL,
        phone text,
        name text NOT NULL,
        password_hash text,
        status text NOT NULL DEFAULT 'ACTIVE' CHECK (status IN ('ACTIVE', 'DISABLED')),
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE UNIQUE INDEX users_email_key ON users (lower(email))`);
    await q.query(`CREATE UNIQUE INDEX users_phone_key ON users (phone) WHERE phone IS NOT NULL`);

    await q.query(`
      CREATE TABLE memberships (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        clinic_id uuid REFERENCES clinics(id) ON DELETE CASCADE,
        role text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT memberships_platform_roles CHECK ((clinic_id IS NULL) = (role IN ('SUPER_ADMIN', 'SYSTEM_ADMIN'))),
        CONSTRAINT memberships_user_clinic_role_key UNIQUE NULLS NOT DISTINCT (user_id, clinic_id, role)
      )`);
    await q.query(`CREATE INDEX memberships_clinic_role_idx ON memberships (clinic_id, role)`);

    await q.query(`
      CREATE TABLE locations (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        clinic_id uuid NOT NULL REFERENCES clinics(id) ON DELETE CASCADE,
        name text NOT NULL,
        address text,
        timezone text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (clinic_id, id)
      )`);

    await q.query(`
      CREATE TABLE rooms (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        clinic_id uuid NOT NULL,
        location_id uuid NOT NULL,
        name text NOT NULL,
        kind text,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (clinic_id, id),
        FOREIGN KEY (clinic_id, location_id) REFERENCES locations (clinic_id, id) ON DELETE CASCADE
      )`);

    await q.query(`
      CREATE TABLE patients (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        clinic_id uuid NOT NULL REFERENCES clinics(id) ON DELETE CASCADE,
        mrn text NOT NULL,
        first_name text NOT NULL,
        last_name text NOT NULL,
        date_of_birth date NOT NULL,
        sex text NOT NULL CHECK (sex IN ('female', 'male', 'other', 'unknown')),
        phone text,
        email text,
        address text,
        clinical_notes text,
        preferences jsonb NOT NULL DEFAULT '{}',
        user_id uuid REFERENCES users(id) ON DELETE SET NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (clinic_id, id),
        UNIQUE (clinic_id, mrn)
      )`);
    await q.query(`CREATE INDEX patients_user_idx ON patients (user_id) WHERE user_id IS NOT NULL`);

    await q.query(`
      CREATE TABLE practitioners (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        clinic_id uuid NOT NULL REFERENCES clinics(id) ON DELETE CASCADE,
        user_id uuid NOT NULL REFERENCES users(id),
        specialty text,
        location_ids uuid[] NOT NULL DEFAULT '{}',
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (clinic_id, id),
        UNIQUE (clinic_id, user_id)
      )`);

    await q.query(`
      CREATE TABLE schedules (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        clinic_id uuid NOT NULL,
        practitioner_id uuid NOT NULL,
        rules jsonb NOT NULL DEFAULT '[]',
        exceptions jsonb NOT NULL DEFAULT '[]',
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (clinic_id, practitioner_id),
        FOREIGN KEY (clinic_id, practitioner_id) REFERENCES practitioners (clinic_id, id) ON DELETE CASCADE
      )`);

    await q.query(`
      CREATE TABLE services (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        clinic_id uuid NOT NULL REFERENCES clinics(id) ON DELETE CASCADE,
        code text NOT NULL,
        name text NOT NULL,
        kind text NOT NULL CHECK (kind IN ('CONSULTATION', 'CHEQUP', 'VIDHAKARMA', 'AYURVEDA_THERAPY', 'PANCHAKARMA_SESSION', 'FOLLOW_UP')),
        duration_minutes integer NOT NULL CHECK (duration_minutes BETWEEN 5 AND 1440),
        price_minor integer NOT NULL DEFAULT 0 CHECK (price_minor >= 0),
        currency char(3) NOT NULL DEFAULT 'INR',
        requires_payment boolean NOT NULL DEFAULT false,
        needs_room boolean NOT NULL DEFAULT false,
        therapists_required integer NOT NULL DEFAULT 0 CHECK (therapists_required BETWEEN 0 AND 4),
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (clinic_id, id),
        UNIQUE (clinic_id, code)
      )`);

    await q.query(`
      CREATE TABLE appointments (
        id uuid PRIMARY KEY,
        clinic_id uuid NOT NULL,
        location_id uuid NOT NULL,
        patient_id uuid NOT NULL,
        practitioner_id uuid NOT NULL,
        room_id uuid,
        service_id uuid NOT NULL,
        starts_at timestamptz NOT NULL,
        ends_at timestamptz NOT NULL,
        mode text NOT NULL DEFAULT 'IN_PERSON' CHECK (mode IN ('IN_PERSON', 'VIDEO', 'HOME_VISIT')),
        status text NOT NULL CHECK (status IN ('PENDING_PAYMENT', 'CONFIRMED', 'CHECKED_IN', 'COMPLETED', 'CANCELLED', 'NO_SHOW')),
        series_id uuid,
        workflow_id text NOT NULL,
        created_by uuid,
        cancel_reason text,
        version integer NOT NULL DEFAULT 1,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CHECK (ends_at > starts_at),
        FOREIGN KEY (clinic_id, location_id) REFERENCES locations (clinic_id, id),
        FOREIGN KEY (clinic_id, patient_id) REFERENCES patients (clinic_id, id),
        FOREIGN KEY (clinic_id, practitioner_id) REFERENCES practitioners (clinic_id, id),
        FOREIGN KEY (clinic_id, room_id) REFERENCES rooms (clinic_id, id),
        FOREIGN KEY (clinic_id, service_id) REFERENCES services (clinic_id, id),
        -- Double booking is impossible in the database: one constraint per occupied resource,
        -- over the active statuses only, so a cancelled slot is free again.
        CONSTRAINT appointments_practitioner_no_overlap EXCLUDE USING gist (
          clinic_id WITH =, practitioner_id WITH =, tstzrange(starts_at, ends_at, '[)') WITH &&
        ) WHERE (status IN ('PENDING_PAYMENT', 'CONFIRMED', 'CHECKED_IN')),
        CONSTRAINT appointments_room_no_overlap EXCLUDE USING gist (
          clinic_id WITH =, room_id WITH =, tstzrange(starts_at, ends_at, '[)') WITH &&
        ) WHERE (room_id IS NOT NULL AND status IN ('PENDING_PAYMENT', 'CONFIRMED', 'CHECKED_IN'))
      )`);
    await q.query(`CREATE INDEX appointments_clinic_starts_idx ON appointments (clinic_id, starts_at, id)`);
    await q.query(`CREATE INDEX appointments_practitioner_starts_idx ON appointments (clinic_id, practitioner_id, starts_at)`);
    await q.query(`CREATE INDEX appointments_patient_starts_idx ON appointments (clinic_id, patient_id, starts_at)`);

    await q.query(`
      CREATE TABLE audit_logs (
        id bigserial PRIMARY KEY,
        clinic_id uuid,
        actor_user_id uuid,
        action text NOT NULL,
        resource_type text NOT NULL,
        resource_id text,
        request_id text,
        ip text,
        occurred_at timestamptz NOT NULL DEFAULT now(),
        prev_hash text,
        hash text
      )`);
    await q.query(`CREATE INDEX audit_logs_clinic_time_idx ON audit_logs (clinic_id, occurred_at)`);
    await q.query(`
      CREATE FUNCTION audit_logs_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'audit_logs is append-only' USING ERRCODE = '42501';
      END $$`);
    await q.query(`
      CREATE TRIGGER audit_logs_no_update_delete BEFORE UPDATE OR DELETE ON audit_logs
      FOR EACH ROW EXECUTE FUNCTION audit_logs_append_only()`);

    await q.query(`
      CREATE TABLE idempotency_keys (
        user_id uuid NOT NULL,
        key text NOT NULL,
        request_hash text NOT NULL,
        response_status integer,
        response_body jsonb,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (user_id, key)
      )`);
    await q.query(`CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const t of ['idempotency_keys', 'audit_logs', 'appointments', 'services', 'schedules', 'practitioners', 'patients', 'rooms', 'locations', 'memberships', 'users', 'clinics']) {
      await q.query(`DROP TABLE IF EXISTS ${t} CASCADE`);
    }
    await q.query(`DROP FUNCTION IF EXISTS audit_logs_append_only()`);
  }
}
