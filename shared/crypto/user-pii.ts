import type { DataSource, EntityManager } from 'typeorm';
import { blindToken, normalizeEmail, normalizePhone } from './blind-index';
import { Keyring, openText, sealText } from './keyring';

/**
 * Accounts' personal data at rest (issue 8 item 5): a user's name, email and phone are AES-256-GCM
 * ciphertext under the PHI keyring, each bound to its column and user (AAD `users.<column>:<id>`),
 * and found by keyed blind indexes over the normalized email and phone: sign-in by email or phone
 * is one indexed equality, and the unique indexes keep one account per email and per phone.
 *
 * The index tokens use the patient search key (BLIND_INDEX_KEY) under their own scope ('users'),
 * so an account's token never equals a patient's token for the same address.
 */
export interface UserPii {
  name: string;
  email: string;
  phone: string | null;
}

export interface SealedUserPii {
  name: string;
  email: string;
  phone: string | null;
  emailIndex: Buffer;
  phoneIndex: Buffer | null;
  piiKeyId: string;
}

export interface UserKeys {
  ring: Keyring;
  blindIndexKey: Buffer;
}

const SCOPE = 'users';
const FIELDS = ['name', 'email', 'phone'] as const;
const aad = (field: (typeof FIELDS)[number], userId: string) => `users.${field}:${userId}`;

/** The index token of an email as typed (any case, surrounding spaces). */
export const emailIndex = (key: Buffer, email: string): Buffer => blindToken(key, SCOPE, 'email', normalizeEmail(email));

/** The index token of a phone number, or null when it is no phone number. */
export function phoneIndex(key: Buffer, phone: string): Buffer | null {
  const normalized = normalizePhone(phone);
  return normalized ? blindToken(key, SCOPE, 'phone', normalized) : null;
}

export function sealUserPii(keys: UserKeys, userId: string, pii: UserPii): SealedUserPii {
  return {
    name: sealText(keys.ring, pii.name, aad('name', userId)),
    email: sealText(keys.ring, pii.email, aad('email', userId)),
    phone: pii.phone === null ? null : sealText(keys.ring, pii.phone, aad('phone', userId)),
    emailIndex: emailIndex(keys.blindIndexKey, pii.email),
    phoneIndex: pii.phone === null ? null : phoneIndex(keys.blindIndexKey, pii.phone),
    piiKeyId: keys.ring.currentId,
  };
}

/** Opens the given columns of one user's row (null stays null). */
export function openUserPii<F extends (typeof FIELDS)[number]>(ring: Keyring, userId: string, row: { [K in F]: string | null }, fields: readonly F[]): { [K in F]: string | null } {
  const out = {} as { [K in F]: string | null };
  for (const f of fields) {
    const v = row[f];
    out[f] = v === null || v === undefined ? null : openText(ring, v, aad(f, userId));
  }
  return out;
}

type Db = Pick<DataSource | EntityManager, 'query'>;

/**
 * Re-seals accounts still under an older key with the current one (npm run rotate-keys), in
 * keyset batches, each one short transaction locking its rows. Returns how many were re-sealed.
 * The index tokens do not change (BLIND_INDEX_KEY is not rotated).
 */
export async function rotateUserKeys(
  ds: DataSource, ring: Keyring, opts: { batchSize?: number; signal?: AbortSignal; /** Only these accounts (tests sharing a database). */ userIds?: string[] } = {},
): Promise<number> {
  const batchSize = opts.batchSize ?? 500;
  let after = '00000000-0000-0000-0000-000000000000';
  let processed = 0;
  while (!opts.signal?.aborted) {
    const count = await ds.transaction(async (tx: Db) => {
      const rows: { id: string; name: string; email: string; phone: string | null }[] = await tx.query(
        `SELECT id, name, email, phone FROM users WHERE id > $1 AND pii_key_id <> $2 AND ($4::uuid[] IS NULL OR id = ANY ($4))
         ORDER BY id LIMIT $3 FOR NO KEY UPDATE`,
        [after, ring.currentId, batchSize, opts.userIds ?? null]);
      if (!rows.length) return 0;
      const resealed = rows.map((r) => {
        const open = openUserPii(ring, r.id, r, FIELDS);
        return {
          id: r.id,
          name: sealText(ring, open.name!, aad('name', r.id)),
          email: sealText(ring, open.email!, aad('email', r.id)),
          phone: open.phone === null ? null : sealText(ring, open.phone, aad('phone', r.id)),
        };
      });
      await tx.query(
        `UPDATE users u SET name = v.name, email = v.email, phone = v.phone, pii_key_id = $5
         FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[]) AS v(id, name, email, phone) WHERE u.id = v.id`,
        [resealed.map((r) => r.id), resealed.map((r) => r.name), resealed.map((r) => r.email), resealed.map((r) => r.phone), ring.currentId]);
      after = rows[rows.length - 1].id;
      return rows.length;
    });
    if (!count) break;
    processed += count;
  }
  return processed;
}
