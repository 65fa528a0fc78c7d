import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Follow-ups (SPEC §5 FollowUp, §6 followUp journey): one per completed visit, written by the
 * follow-up workflow so staff and the patient's journey view see what is due, sent, booked or
 * cancelled without asking Temporal. Clinic-scoped, so behind row-level security like the others.
 */
export class FollowUps1764240000000 implements MigrationInterface {
  name = 'FollowUps1764240000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE follow_ups (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        clinic_id uuid NOT NULL REFERENCES clinics(id) ON DELETE CASCADE,
        appointment_id uuid NOT NULL REFERENCES appointments(id) ON DELETE CASCADE,
        patient_id uuid NOT NULL,
        practitioner_id uuid NOT NULL,
        due_at timestamptz NOT NULL,
        status text NOT NULL CHECK (status IN ('SCHEDULED', 'NOTIFIED', 'BOOKED', 'NO_SLOT', 'CANCELLED')),
        booked_appointment_id uuid REFERENCES appointments(id) ON DELETE SET NULL,
        workflow_id text NOT NULL,
        created_by uuid,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (clinic_id, appointment_id),
        FOREIGN KEY (clinic_id, patient_id) REFERENCES patients (clinic_id, id),
        FOREIGN KEY (clinic_id, practitioner_id) REFERENCES practitioners (clinic_id, id)
      )`);
    await q.query(`CREATE INDEX follow_ups_clinic_patient_idx ON follow_ups (clinic_id, patient_id, due_at)`);
    await q.query(`CREATE INDEX follow_ups_clinic_due_idx ON follow_ups (clinic_id, status, due_at)`);

    const current = `NULLIF(current_setting('app.clinic_id', true), '')::uuid`;
    await q.query(`ALTER TABLE follow_ups ENABLE ROW LEVEL SECURITY`);
    await q.query(`ALTER TABLE follow_ups FORCE ROW LEVEL SECURITY`);
    await q.query(`CREATE POLICY clinic_isolation ON follow_ups USING (clinic_id = ${current}) WITH CHECK (clinic_id = ${current})`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS follow_ups`);
  }
}
