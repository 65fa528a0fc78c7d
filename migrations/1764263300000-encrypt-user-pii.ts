import { MigrationInterface, QueryRunner } from 'typeorm';
import { phiKeysFor } from '../shared/crypto/patient-phi';
import { openUserPii, sealUserPii } from '../shared/crypto/user-pii';

const BATCH = 1000;

/** Keys for converting existing rows; only needed when the table already holds users. */
function keysFromEnv() {
  const { PHI_ENCRYPTION_KEYS, BLIND_INDEX_KEY } = process.env;
  if (!PHI_ENCRYPTION_KEYS || !BLIND_INDEX_KEY) {
    throw new Error('users hold rows to convert: set PHI_ENCRYPTION_KEYS and BLIND_INDEX_KEY before migrating');
  }
  return phiKeysFor({ PHI_ENCRYPTION_KEYS, BLIND_INDEX_KEY });
}

interface RawUser { id: string; name: string; email: string; phone: string | null; pii_key_id: string | null }

/**
 * Accounts' names, emails and phones encrypted at rest (issue 8 item 5), like patient PHI: AES-256-GCM
 * under the PHI keyring (`pii_key_id` says which key), found through keyed blind indexes
 * (`email_index`, `phone_index`) that also carry the uniqueness the clear columns had
 * (shared/crypto/user-pii.ts). A CHECK refuses a clear email or phone number, so a writer that forgets
 * to seal fails loudly instead of storing one.
 */
export class EncryptUserPii1764263300000 implements MigrationInterface {
  name = 'EncryptUserPii1764263300000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE users ADD COLUMN email_index bytea, ADD COLUMN phone_index bytea, ADD COLUMN pii_key_id text`);
    // Existing rows (none on a fresh install) are sealed in batches under the current key.
    for (;;) {
      const rows: RawUser[] = await q.query(`SELECT id, name, email, phone FROM users WHERE pii_key_id IS NULL ORDER BY id LIMIT ${BATCH}`);
      if (!rows.length) break;
      const keys = keysFromEnv();
      const sealed = rows.map((r) => ({ id: r.id, ...sealUserPii(keys, r.id, { name: r.name, email: r.email, phone: r.phone }) }));
      await q.query(
        `UPDATE users u SET name = v.name, email = v.email, phone = v.phone, email_index = v.email_index, phone_index = v.phone_index, pii_key_id = $7
         FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::bytea[], $6::bytea[]) AS v(id, name, email, phone, email_index, phone_index)
         WHERE u.id = v.id`,
        [sealed.map((s) => s.id), sealed.map((s) => s.name), sealed.map((s) => s.email), sealed.map((s) => s.phone),
          sealed.map((s) => s.emailIndex), sealed.map((s) => s.phoneIndex), keys.ring.currentId],
      );
    }
    await q.query(`DROP INDEX users_email_key`);
    await q.query(`DROP INDEX users_phone_key`);
    await q.query(`
      ALTER TABLE users
        ALTER COLUMN email_index SET NOT NULL,
        ALTER COLUMN pii_key_id SET NOT NULL,
        ADD CONSTRAINT users_index_tokens CHECK (octet_length(email_index) = 16 AND (phone_index IS NULL OR octet_length(phone_index) = 16)),
        ADD CONSTRAINT users_pii_sealed CHECK (position('@' in email) = 0 AND (phone IS NULL OR phone !~ '^[+]?[0-9 ()-]+$'))`);
    await q.query(`CREATE UNIQUE INDEX users_email_index_key ON users (email_index)`);
    await q.query(`CREATE UNIQUE INDEX users_phone_index_key ON users (phone_index) WHERE phone_index IS NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE users DROP CONSTRAINT users_pii_sealed, DROP CONSTRAINT users_index_tokens`);
    await q.query(`DROP INDEX users_email_index_key`);
    await q.query(`DROP INDEX users_phone_index_key`);
    let last = '00000000-0000-0000-0000-000000000000';
    for (;;) {
      const rows: RawUser[] = await q.query(`SELECT id, name, email, phone FROM users WHERE id > $1 ORDER BY id LIMIT ${BATCH}`, [last]);
      if (!rows.length) break;
      const keys = keysFromEnv();
      const open = rows.map((r) => ({ id: r.id, ...openUserPii(keys.ring, r.id, r, ['name', 'email', 'phone'] as const) }));
      await q.query(
        `UPDATE users u SET name = v.name, email = v.email, phone = v.phone
         FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[]) AS v(id, name, email, phone) WHERE u.id = v.id`,
        [open.map((o) => o.id), open.map((o) => o.name), open.map((o) => o.email), open.map((o) => o.phone)]);
      last = rows[rows.length - 1].id;
    }
    await q.query(`ALTER TABLE users DROP COLUMN email_index, DROP COLUMN phone_index, DROP COLUMN pii_key_id`);
    await q.query(`CREATE UNIQUE INDEX users_email_key ON users (lower(email))`);
    await q.query(`CREATE UNIQUE INDEX users_phone_key ON users (phone) WHERE phone IS NOT NULL`);
  }
}
