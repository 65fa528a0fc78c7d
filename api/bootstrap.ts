import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import type { Logger } from 'pino';
import { hashPassword } from '../shared/auth/passwords';
import { sealUserPii, type UserKeys } from '../shared/crypto/user-pii';

/** Creates the first SUPER_ADMIN from configuration when there is none. Safe to run from many processes at once. */
export async function ensureBootstrapAdmin(db: DataSource, keys: UserKeys, email: string | undefined, password: string | undefined, log: Logger): Promise<void> {
  if (!email || !password) return;
  const passwordHash = await hashPassword(password);
  await db.transaction(async (tx) => {
    // Serialises concurrent API starts so only one creates the admin.
    await tx.query(`SELECT pg_advisory_xact_lock(hashtext('bootstrap-admin'))`);
    const [exists] = await tx.query(`SELECT 1 FROM memberships WHERE role = 'SUPER_ADMIN' LIMIT 1`);
    if (exists) return;
    const newId = randomUUID();
    const pii = sealUserPii(keys, newId, { name: 'Administrator', email, phone: null });
    const [{ id }] = await tx.query(
      `INSERT INTO users (id, email, name, email_index, pii_key_id, password_hash) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (email_index) DO UPDATE SET password_hash = EXCLUDED.password_hash RETURNING id`,
      [newId, pii.email, pii.name, pii.emailIndex, pii.piiKeyId, passwordHash],
    );
    await tx.query(`INSERT INTO memberships (user_id, clinic_id, role) VALUES ($1, NULL, 'SUPER_ADMIN')`, [id]);
    log.info({ userId: id }, 'bootstrap SUPER_ADMIN created');
  });
}
