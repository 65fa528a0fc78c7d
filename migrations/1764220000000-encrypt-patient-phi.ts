import { MigrationInterface, QueryRunner } from 'typeorm';
import { tokensForPatient } from '../shared/crypto/blind-index';
import { decryptPatient, encryptPatient, PatientPhi, phiKeysFor, SealedPhi } from '../shared/crypto/patient-phi';

const BATCH = 1000;

/** Keys for converting existing rows; only needed when the table already holds patients. */
function keysFromEnv() {
  const { PHI_ENCRYPTION_KEYS, BLIND_INDEX_KEY } = process.env;
  if (!PHI_ENCRYPTION_KEYS || !BLIND_INDEX_KEY) {
    throw new Error('patients hold rows to convert: set PHI_ENCRYPTION_KEYS and BLIND_INDEX_KEY before migrating');
  }
  return phiKeysFor({ PHI_ENCRYPTION_KEYS, BLIND_INDEX_KEY });
}

interface RawPatient {
  id: string;
  clinic_id: string;
  first_name: string;
  last_name: string;
  date_of_birth: string;
  phone: string | null;
  email: string | null;
  address: string | null;
  clinical_notes: string | null;
  phi_key_id?: string;
}

const phiOf = (r: RawPatient): PatientPhi => ({
  firstName: r.first_name, lastName: r.last_name, dateOfBirth: r.date_of_birth, phone: r.phone, email: r.email, address: r.address, clinicalNotes: r.clinical_notes,
});

async function writePhi(q: QueryRunner, rows: { id: string; phi: PatientPhi | SealedPhi; keyId: string | null }[]) {
  const col = <K extends keyof PatientPhi>(k: K) => rows.map((r) => r.phi[k]);
  await q.query(
    `UPDATE patients p SET first_name = u.first_name, last_name = u.last_name, date_of_birth = u.date_of_birth, phone = u.phone,
            email = u.email, address = u.address, clinical_notes = u.clinical_notes, phi_key_id = u.phi_key_id
     FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[])
          AS u(id, first_name, last_name, date_of_birth, phone, email, address, clinical_notes, phi_key_id)
     WHERE p.id = u.id`,
    [rows.map((r) => r.id), col('firstName'), col('lastName'), col('dateOfBirth'), col('phone'), col('email'), col('address'), col('clinicalNotes'), rows.map((r) => r.keyId)],
  );
}

/**
 * Patient PHI encrypted at rest (SPEC §8): names, date of birth, phone, email, address and clinical
 * notes become AES-256-GCM ciphertext text, `phi_key_id` records the key a row is under, and
 * exact-match search goes through blind-index tokens.
 *
 * Tokens live in their own table rather than as columns on patients: one (clinic_id, token) index
 * serves every kind (four column indexes otherwise), a kind can gain several tokens later (second
 * phone, name variants) without a schema change, and the wide patients row stays untouched by search.
 */
export class EncryptPatientPhi1764220000000 implements MigrationInterface {
  name = 'EncryptPatientPhi1764220000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE patients ALTER COLUMN date_of_birth TYPE text USING to_char(date_of_birth, 'YYYY-MM-DD')`);
    await q.query(`ALTER TABLE patients ADD COLUMN phi_key_id text`);
    await q.query(`
      CREATE TABLE patient_search_tokens (
        clinic_id uuid NOT NULL,
        patient_id uuid NOT NULL,
        kind text NOT NULL CHECK (kind IN ('phone', 'email', 'name', 'dob')),
        token bytea NOT NULL CHECK (octet_length(token) = 16),
        PRIMARY KEY (patient_id, kind),
        FOREIGN KEY (clinic_id, patient_id) REFERENCES patients (clinic_id, id) ON DELETE CASCADE
      )`);
    // INCLUDE lets a search resolve patient ids from the index alone.
    await q.query(`CREATE INDEX patient_search_tokens_lookup_idx ON patient_search_tokens (clinic_id, token) INCLUDE (patient_id)`);

    // Existing rows (none on a fresh install) are sealed in batches under the current key.
    for (;;) {
      const rows: RawPatient[] = await q.query(`SELECT * FROM patients WHERE phi_key_id IS NULL ORDER BY id LIMIT ${BATCH}`);
      if (!rows.length) break;
      const keys = keysFromEnv();
      await writePhi(q, rows.map((r) => ({ id: r.id, phi: encryptPatient(keys.ring, r.id, phiOf(r)), keyId: keys.ring.currentId })));
      const tokens = rows.flatMap((r) => tokensForPatient(keys.blindIndexKey, r.clinic_id, phiOf(r)).map((t) => ({ ...t, r })));
      await q.query(
        `INSERT INTO patient_search_tokens (clinic_id, patient_id, kind, token) SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::bytea[])`,
        [tokens.map((t) => t.r.clinic_id), tokens.map((t) => t.r.id), tokens.map((t) => t.kind), tokens.map((t) => t.token)],
      );
    }
    await q.query(`ALTER TABLE patients ALTER COLUMN phi_key_id SET NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE patients ALTER COLUMN phi_key_id DROP NOT NULL`);
    let last = '00000000-0000-0000-0000-000000000000';
    for (;;) {
      const rows: RawPatient[] = await q.query(`SELECT * FROM patients WHERE id > $1 ORDER BY id LIMIT ${BATCH}`, [last]);
      if (!rows.length) break;
      const keys = keysFromEnv();
      const open = rows.map((r) => decryptPatient(keys.ring, { id: r.id, ...phiOf(r), phiKeyId: r.phi_key_id! }));
      await writePhi(q, open.map((p) => ({ id: p.id, phi: p, keyId: null })));
      last = rows[rows.length - 1].id;
    }
    await q.query(`DROP TABLE patient_search_tokens`);
    await q.query(`ALTER TABLE patients DROP COLUMN phi_key_id`);
    await q.query(`ALTER TABLE patients ALTER COLUMN date_of_birth TYPE date USING date_of_birth::date`);
  }
}
