import type { DataSource, EntityManager } from 'typeorm';
import type { Keyring } from '../shared/crypto/keyring';
import { decryptFields } from '../shared/crypto/patient-phi';
import { openUserPii } from '../shared/crypto/user-pii';
import type { ContactPoints } from '../shared/notify/channels';
import type { MessageRequest } from '../workflows/notification-api';

export interface RecipientPreferences {
  channels?: unknown[];
  language?: string;
}

export interface Recipient {
  contact: ContactPoints;
  preferences: RecipientPreferences;
}

type Db = Pick<DataSource | EntityManager, 'query'>;

const text = (v: unknown): string | null => (typeof v === 'string' && v.trim() ? v : null);

function preferencesFrom(raw: unknown): RecipientPreferences {
  const p = (raw && typeof raw === 'object' ? raw : {}) as Record<string, unknown>;
  return {
    ...(Array.isArray(p.channels) ? { channels: p.channels } : {}),
    ...(typeof p.language === 'string' ? { language: p.language } : {}),
  };
}

/**
 * The one place that reads a recipient's contact details (PHI) for sending. Patient phone and
 * email are sealed at rest (shared/crypto/patient-phi.ts): only those two fields are opened, here,
 * and they leave this process only towards the provider; an account's (sealed likewise) the same way. A patient is looked up only in the
 * message's clinic (row-level security applies too); a user (OTP) is global. Null when there is no
 * such recipient.
 */
export async function loadRecipient(db: Db, recipient: MessageRequest['recipient'], clinicId: string | null, ring?: Keyring): Promise<Recipient | null> {
  if (recipient.kind === 'patient') {
    if (!clinicId) return null;
    const [row] = await db.query(`SELECT phone, email, preferences FROM patients WHERE id = $1 AND clinic_id = $2`, [recipient.id, clinicId]);
    if (!row) return null;
    // A deployment bug, not a property of this message: retried, then dead-lettered.
    if (!ring) throw new Error('Notification activities need the PHI keyring to read patient contact details');
    const open = decryptFields(ring, recipient.id, { phone: row.phone, email: row.email }, ['phone', 'email']);
    return { contact: { phone: text(open.phone), email: text(open.email) }, preferences: preferencesFrom(row.preferences) };
  }
  const [row] = await db.query(`SELECT phone, email FROM users WHERE id = $1 AND status = 'ACTIVE'`, [recipient.id]);
  if (!row) return null;
  if (!ring) throw new Error('Notification activities need the PHI keyring to read account contact details');
  const open = openUserPii(ring, recipient.id, row, ['phone', 'email'] as const);
  return { contact: { phone: text(open.phone), email: text(open.email) }, preferences: {} };
}
