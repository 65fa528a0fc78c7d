import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Payments and refunds (SPEC §5 Payment, §6 payment journey, §7 Payments). One payment per
 * appointment (its id derived from the appointment's: workflows/payment-api.ts), written by the
 * `payment-<id>` journey and the refund command. A refund can never exceed what was paid: the
 * running total `refunded_minor` is moved by one conditional UPDATE (row lock) and bounded by a
 * CHECK, so even concurrent refunds cannot pass `amount_minor`. Clinic-scoped, behind row-level
 * security like the other clinic tables.
 */
export class Payments1764280000000 implements MigrationInterface {
  name = 'Payments1764280000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE payments (
        id uuid PRIMARY KEY,
        clinic_id uuid NOT NULL REFERENCES clinics(id) ON DELETE CASCADE,
        appointment_id uuid NOT NULL,
        location_id uuid NOT NULL,
        patient_id uuid NOT NULL,
        method text CHECK (method IN ('CASH', 'UPI', 'CARD_DESK', 'CARD_ONLINE')),
        status text NOT NULL CHECK (status IN ('REQUIRES_PAYMENT', 'SUCCEEDED', 'PARTIALLY_REFUNDED', 'REFUNDED', 'CANCELLED')),
        amount_minor integer NOT NULL CHECK (amount_minor >= 0),
        currency text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
        refunded_minor integer NOT NULL DEFAULT 0,
        provider_payment_id text,
        last_error text,
        workflow_id text NOT NULL,
        paid_by uuid,
        paid_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT payments_refund_within_paid CHECK (refunded_minor >= 0 AND refunded_minor <= amount_minor),
        UNIQUE (clinic_id, id),
        UNIQUE (clinic_id, appointment_id),
        FOREIGN KEY (appointment_id) REFERENCES appointments (id) ON DELETE CASCADE
      )`);
    await q.query(`CREATE INDEX payments_clinic_paid_idx ON payments (clinic_id, location_id, paid_at)`);
    await q.query(`
      CREATE TABLE refunds (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        clinic_id uuid NOT NULL,
        payment_id uuid NOT NULL,
        amount_minor integer NOT NULL CHECK (amount_minor > 0),
        reason text NOT NULL,
        kind text NOT NULL CHECK (kind IN ('MANUAL', 'CANCELLATION', 'LATE_PAYMENT')),
        status text NOT NULL CHECK (status IN ('PENDING', 'SUCCEEDED', 'FAILED')),
        idempotency_key text NOT NULL,
        provider_refund_id text,
        created_by uuid,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (clinic_id, idempotency_key),
        FOREIGN KEY (clinic_id, payment_id) REFERENCES payments (clinic_id, id) ON DELETE CASCADE
      )`);
    await q.query(`CREATE INDEX refunds_payment_idx ON refunds (clinic_id, payment_id)`);

    const current = `NULLIF(current_setting('app.clinic_id', true), '')::uuid`;
    for (const table of ['payments', 'refunds']) {
      await q.query(`ALTER TABLE ${table} ENABLE ROW LEVEL SECURITY`);
      await q.query(`ALTER TABLE ${table} FORCE ROW LEVEL SECURITY`);
      await q.query(`CREATE POLICY clinic_isolation ON ${table} USING (clinic_id = ${current}) WITH CHECK (clinic_id = ${current})`);
    }
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS refunds`);
    await q.query(`DROP TABLE IF EXISTS payments`);
  }
}
