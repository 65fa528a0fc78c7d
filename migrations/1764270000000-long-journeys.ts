import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Long journeys (SPEC §5 TherapySeries, AppointmentSeries; §6 therapySeries, recurringSeries):
 * - therapy_templates: a clinic's own course templates (the shipped ones live in code,
 *   shared/therapy/templates.ts, so every clinic, old or new, has them without a backfill);
 * - therapy_series + therapy_series_sessions: a course and its daily sessions;
 * - appointment_series + appointment_series_occurrences: an RRULE series and its occurrences.
 * The journeys own these rows (their activities write them); the API reads them. All
 * clinic-scoped, behind row-level security like every other clinic table.
 */
export class LongJourneys1764270000000 implements MigrationInterface {
  name = 'LongJourneys1764270000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE therapy_templates (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        clinic_id uuid NOT NULL REFERENCES clinics(id) ON DELETE CASCADE,
        code text NOT NULL,
        name text NOT NULL,
        phases jsonb NOT NULL,
        review_after_days int,
        created_by uuid,
        created_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (clinic_id, code)
      )`);
    await q.query(`
      CREATE TABLE therapy_series (
        id uuid PRIMARY KEY,
        clinic_id uuid NOT NULL REFERENCES clinics(id) ON DELETE CASCADE,
        patient_id uuid NOT NULL,
        practitioner_id uuid NOT NULL,
        location_id uuid NOT NULL,
        template_code text NOT NULL,
        template jsonb NOT NULL,
        start_date date NOT NULL,
        time text NOT NULL,
        status text NOT NULL CHECK (status IN ('BOOKING', 'ACTIVE', 'PAUSED', 'COMPLETED', 'CANCELLED')),
        status_reason text,
        workflow_id text NOT NULL,
        created_by uuid,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (clinic_id, id),
        FOREIGN KEY (clinic_id, patient_id) REFERENCES patients (clinic_id, id),
        FOREIGN KEY (clinic_id, practitioner_id) REFERENCES practitioners (clinic_id, id)
      )`);
    await q.query(`CREATE INDEX therapy_series_patient_idx ON therapy_series (clinic_id, patient_id, created_at)`);
    await q.query(`CREATE INDEX therapy_series_created_idx ON therapy_series (clinic_id, created_at, id)`);
    await q.query(`
      CREATE TABLE therapy_series_sessions (
        clinic_id uuid NOT NULL,
        series_id uuid NOT NULL,
        n int NOT NULL,
        phase text NOT NULL,
        service_id uuid NOT NULL,
        starts_at timestamptz,
        ends_at timestamptz,
        status text NOT NULL,
        appointment_id uuid,
        room_id uuid,
        therapist_ids uuid[] NOT NULL DEFAULT '{}',
        reason text,
        PRIMARY KEY (series_id, n),
        FOREIGN KEY (clinic_id, series_id) REFERENCES therapy_series (clinic_id, id) ON DELETE CASCADE
      )`);
    await q.query(`
      CREATE TABLE appointment_series (
        id uuid PRIMARY KEY,
        clinic_id uuid NOT NULL REFERENCES clinics(id) ON DELETE CASCADE,
        patient_id uuid NOT NULL,
        practitioner_id uuid NOT NULL,
        service_id uuid NOT NULL,
        location_id uuid NOT NULL,
        rrule text NOT NULL,
        starts_at timestamptz NOT NULL,
        timezone text NOT NULL,
        status text NOT NULL CHECK (status IN ('ACTIVE', 'COMPLETED', 'CANCELLED')),
        workflow_id text NOT NULL,
        created_by uuid,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (clinic_id, id),
        FOREIGN KEY (clinic_id, patient_id) REFERENCES patients (clinic_id, id),
        FOREIGN KEY (clinic_id, practitioner_id) REFERENCES practitioners (clinic_id, id)
      )`);
    await q.query(`CREATE INDEX appointment_series_patient_idx ON appointment_series (clinic_id, patient_id, created_at)`);
    await q.query(`CREATE INDEX appointment_series_created_idx ON appointment_series (clinic_id, created_at, id)`);
    await q.query(`
      CREATE TABLE appointment_series_occurrences (
        clinic_id uuid NOT NULL,
        series_id uuid NOT NULL,
        starts_at timestamptz NOT NULL,
        ends_at timestamptz NOT NULL,
        status text NOT NULL CHECK (status IN ('BOOKED', 'SKIPPED', 'CANCELLED', 'PLANNED')),
        appointment_id uuid,
        reason text,
        PRIMARY KEY (series_id, starts_at),
        FOREIGN KEY (clinic_id, series_id) REFERENCES appointment_series (clinic_id, id) ON DELETE CASCADE
      )`);

    const current = `NULLIF(current_setting('app.clinic_id', true), '')::uuid`;
    for (const table of ['therapy_templates', 'therapy_series', 'therapy_series_sessions', 'appointment_series', 'appointment_series_occurrences']) {
      await q.query(`ALTER TABLE ${table} ENABLE ROW LEVEL SECURITY`);
      await q.query(`ALTER TABLE ${table} FORCE ROW LEVEL SECURITY`);
      await q.query(`CREATE POLICY clinic_isolation ON ${table} USING (clinic_id = ${current}) WITH CHECK (clinic_id = ${current})`);
    }
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of ['appointment_series_occurrences', 'appointment_series', 'therapy_series_sessions', 'therapy_series', 'therapy_templates']) {
      await q.query(`DROP TABLE IF EXISTS ${table}`);
    }
  }
}
