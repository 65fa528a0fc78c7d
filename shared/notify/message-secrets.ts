import type { DataSource, EntityManager } from 'typeorm';
import { Keyring, openText, sealText } from '../crypto/keyring';
import type { SecretRef } from '../../workflows/notification-api';

/**
 * Secrets a message carries (an OTP code; later any reset or verification token) never enter a
 * workflow's input, result or history, not even through the payload codec: /codec decodes for
 * staff, and a code read there signs in as its owner. The workflow names where the secret waits
 * (`secretRef`, an id); the delivery activity reads it here at send time, puts it into the rendered text
 * only, and wipes it once the message is sent or finally failed.
 */
export type { SecretRef };

type Db = Pick<DataSource | EntityManager, 'query'>;

const aad = (challengeId: string) => `otp_challenges.code_sealed:${challengeId}`;

/** The code as stored for its delivery: sealed under the PHI keyring, bound to its challenge. */
export const sealOtpCode = (ring: Keyring, challengeId: string, code: string): string => sealText(ring, code, aad(challengeId));

/**
 * The template params the secret fills, or null when it is gone: already sent and wiped, or the
 * challenge expired, was used, or never was. A message whose secret is gone is never sent.
 */
export async function readSecret(db: Db, ring: Keyring, ref: SecretRef): Promise<Record<string, string> | null> {
  const [row] = await db.query(
    `SELECT code_sealed FROM otp_challenges
     WHERE id = $1 AND purpose = 'login' AND code_sealed IS NOT NULL AND consumed_at IS NULL AND expires_at > now()`, [ref.id]);
  return row ? { code: openText(ring, row.code_sealed, aad(ref.id)) } : null;
}

export async function wipeSecret(db: Db, ref: SecretRef): Promise<void> {
  await db.query(`UPDATE otp_challenges SET code_sealed = NULL WHERE id = $1 AND code_sealed IS NOT NULL`, [ref.id]);
}
