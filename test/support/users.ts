import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { hashPassword } from '../../shared/auth/passwords';
import { phiKeysFor } from '../../shared/crypto/patient-phi';
import { openUserPii, sealUserPii } from '../../shared/crypto/user-pii';

const keys = () => phiKeysFor({ PHI_ENCRYPTION_KEYS: process.env.PHI_ENCRYPTION_KEYS!, BLIND_INDEX_KEY: process.env.BLIND_INDEX_KEY! });

/**
 * An account written straight into the database (sealed as the API seals it), with a platform role:
 * those are never granted through a clinic. Returns its id.
 */
export async function insertPlatformUser(db: DataSource, input: { email: string; name: string; password: string; role: 'SUPER_ADMIN' | 'SYSTEM_ADMIN' }): Promise<string> {
  const id = randomUUID();
  const pii = sealUserPii(keys(), id, { name: input.name, email: input.email, phone: null });
  await db.query(
    `INSERT INTO users (id, email, name, email_index, pii_key_id, password_hash) VALUES ($1, $2, $3, $4, $5, $6)`,
    [id, pii.email, pii.name, pii.emailIndex, pii.piiKeyId, await hashPassword(input.password)]);
  await db.query(`INSERT INTO memberships (user_id, clinic_id, role) VALUES ($1, NULL, $2)`, [id, input.role]);
  return id;
}

/** An account's name, email and phone as stored, opened. */
export async function storedUser(db: DataSource, id: string): Promise<{ name: string; email: string; phone: string | null; status: string }> {
  const [row] = await db.query(`SELECT name, email, phone, status FROM users WHERE id = $1`, [id]);
  const open = openUserPii(keys().ring, id, row, ['name', 'email', 'phone'] as const);
  return { name: open.name!, email: open.email!, phone: open.phone, status: row.status };
}
