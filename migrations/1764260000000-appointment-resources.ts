import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Multi-resource bookings (SPEC §5): an appointment occupies its practitioner, a room and any
 * number of therapists, and PostgreSQL alone decides whether they are free.
 *
 * `appointment_resources` holds one row per resource an ACTIVE appointment occupies, kept by a
 * trigger on `appointments`, and one exclusion constraint over (clinic, resource, time) covers
 * every kind of resource: a practitioner booked as a therapist elsewhere is busy just the same.
 * Because the rows follow the appointment row inside the same statement, a reschedule (one
 * UPDATE of starts_at/ends_at/practitioner/room/therapists) moves every resource at once or fails
 * with 23P01 and moves none; cancel and no-show delete them, freeing everything.
 *
 * The two per-column constraints on `appointments` are replaced by this one.
 */
export class AppointmentResources1764260000000 implements MigrationInterface {
  name = 'AppointmentResources1764260000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE practitioners ADD COLUMN therapist boolean NOT NULL DEFAULT false`);
    await q.query(`ALTER TABLE services ADD COLUMN room_kind text`);
    // Kinds are plugins (shared/service-kinds): the API validates them against the registry.
    await q.query(`ALTER TABLE services DROP CONSTRAINT IF EXISTS services_kind_check`);
    await q.query(`ALTER TABLE services ADD CONSTRAINT services_kind_format CHECK (kind ~ '^[A-Z][A-Z0-9_]{1,39}$')`);
    await q.query(`ALTER TABLE appointments ADD COLUMN therapist_ids uuid[] NOT NULL DEFAULT '{}'`);
    await q.query(`CREATE INDEX rooms_location_kind_idx ON rooms (clinic_id, location_id, kind)`);

    await q.query(`
      CREATE TABLE appointment_resources (
        clinic_id uuid NOT NULL,
        appointment_id uuid NOT NULL REFERENCES appointments (id) ON DELETE CASCADE,
        resource_id uuid NOT NULL,
        role text NOT NULL CHECK (role IN ('PRACTITIONER', 'ROOM', 'THERAPIST')),
        during tstzrange NOT NULL,
        PRIMARY KEY (appointment_id, resource_id),
        CONSTRAINT appointment_resources_no_overlap EXCLUDE USING gist (clinic_id WITH =, resource_id WITH =, during WITH &&)
      )`);
    await q.query(`ALTER TABLE appointment_resources ENABLE ROW LEVEL SECURITY`);
    await q.query(`ALTER TABLE appointment_resources FORCE ROW LEVEL SECURITY`);
    await q.query(`
      CREATE POLICY tenant_isolation ON appointment_resources
      USING (clinic_id = NULLIF(current_setting('app.clinic_id', true), '')::uuid)
      WITH CHECK (clinic_id = NULLIF(current_setting('app.clinic_id', true), '')::uuid)`);

    await q.query(`
      CREATE FUNCTION appointment_resources_sync() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE
        was_active boolean := TG_OP = 'UPDATE' AND OLD.status IN ('PENDING_PAYMENT', 'CONFIRMED', 'CHECKED_IN');
        is_active boolean := NEW.status IN ('PENDING_PAYMENT', 'CONFIRMED', 'CHECKED_IN');
      BEGIN
        IF TG_OP = 'UPDATE' AND was_active = is_active
           AND (OLD.starts_at, OLD.ends_at, OLD.practitioner_id, OLD.room_id, OLD.therapist_ids)
               IS NOT DISTINCT FROM (NEW.starts_at, NEW.ends_at, NEW.practitioner_id, NEW.room_id, NEW.therapist_ids) THEN
          RETURN NULL;
        END IF;
        IF was_active THEN
          DELETE FROM appointment_resources WHERE appointment_id = OLD.id;
        END IF;
        IF is_active THEN
          INSERT INTO appointment_resources (clinic_id, appointment_id, resource_id, role, during)
          SELECT NEW.clinic_id, NEW.id, r.id, r.role, tstzrange(NEW.starts_at, NEW.ends_at, '[)')
          FROM (SELECT NEW.practitioner_id AS id, 'PRACTITIONER' AS role
                UNION ALL SELECT NEW.room_id, 'ROOM' WHERE NEW.room_id IS NOT NULL
                UNION ALL SELECT t, 'THERAPIST' FROM unnest(NEW.therapist_ids) AS t) r;
        END IF;
        RETURN NULL;
      END $$`);
    await q.query(`
      CREATE TRIGGER appointment_resources_sync
      AFTER INSERT OR UPDATE OF status, starts_at, ends_at, practitioner_id, room_id, therapist_ids ON appointments
      FOR EACH ROW EXECUTE FUNCTION appointment_resources_sync()`);

    await q.query(`
      INSERT INTO appointment_resources (clinic_id, appointment_id, resource_id, role, during)
      SELECT a.clinic_id, a.id, r.id, r.role, tstzrange(a.starts_at, a.ends_at, '[)')
      FROM appointments a
      CROSS JOIN LATERAL (SELECT a.practitioner_id AS id, 'PRACTITIONER' AS role
                          UNION ALL SELECT a.room_id, 'ROOM' WHERE a.room_id IS NOT NULL) r
      WHERE a.status IN ('PENDING_PAYMENT', 'CONFIRMED', 'CHECKED_IN')`);
    await q.query(`ALTER TABLE appointments DROP CONSTRAINT appointments_practitioner_no_overlap`);
    await q.query(`ALTER TABLE appointments DROP CONSTRAINT appointments_room_no_overlap`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE appointments ADD CONSTRAINT appointments_practitioner_no_overlap EXCLUDE USING gist (
        clinic_id WITH =, practitioner_id WITH =, tstzrange(starts_at, ends_at, '[)') WITH &&
      ) WHERE (status IN ('PENDING_PAYMENT', 'CONFIRMED', 'CHECKED_IN'))`);
    await q.query(`
      ALTER TABLE appointments ADD CONSTRAINT appointments_room_no_overlap EXCLUDE USING gist (
        clinic_id WITH =, room_id WITH =, tstzrange(starts_at, ends_at, '[)') WITH &&
      ) WHERE (room_id IS NOT NULL AND status IN ('PENDING_PAYMENT', 'CONFIRMED', 'CHECKED_IN'))`);
    await q.query(`DROP TRIGGER appointment_resources_sync ON appointments`);
    await q.query(`DROP FUNCTION appointment_resources_sync()`);
    await q.query(`DROP TABLE appointment_resources`);
    await q.query(`DROP INDEX rooms_location_kind_idx`);
    await q.query(`ALTER TABLE appointments DROP COLUMN therapist_ids`);
    await q.query(`ALTER TABLE services DROP CONSTRAINT services_kind_format`);
    await q.query(`ALTER TABLE services ADD CONSTRAINT services_kind_check CHECK (kind IN ('CONSULTATION', 'CHEQUP', 'VIDHAKARMA', 'AYURVEDA_THERAPY', 'PANCHAKARMA_SESSION', 'FOLLOW_UP'))`);
    await q.query(`ALTER TABLE services DROP COLUMN room_kind`);
    await q.query(`ALTER TABLE practitioners DROP COLUMN therapist`);
  }
}
