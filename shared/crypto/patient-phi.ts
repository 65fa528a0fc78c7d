import { Keyring, openText, parseKeyring, sealText } from './keyring';
import { parseBlindIndexKey } from './blind-index';

/**
 * The one place patient PHI is sealed and opened. Each value is AES-256-GCM under the current key
 * with AAD `patients.<column>:<patientId>`, so a ciphertext copied to another row or column fails
 * to open instead of showing the wrong patient's data.
 */
export const PHI_COLUMNS = {
  firstName: 'first_name',
  lastName: 'last_name',
  dateOfBirth: 'date_of_birth',
  phone: 'phone',
  email: 'email',
  address: 'address',
  clinicalNotes: 'clinical_notes',
} as const;

export type PhiField = keyof typeof PHI_COLUMNS;
export const PHI_FIELDS = Object.keys(PHI_COLUMNS) as PhiField[];

export interface PatientPhi {
  firstName: string;
  lastName: string;
  dateOfBirth: string;
  phone: string | null;
  email: string | null;
  address: string | null;
  clinicalNotes: string | null;
}

/** The same fields as stored: ciphertext text ("<keyId>:<base64>"), plus the key every field is under. */
export type SealedPhi = { [F in PhiField]: PatientPhi[F] } & { phiKeyId: string };

export interface PhiKeys {
  ring: Keyring;
  blindIndexKey: Buffer;
}

export const phiAad = (field: PhiField, patientId: string): string => `patients.${PHI_COLUMNS[field]}:${patientId}`;

/** Seals every field under the current key: a row never mixes keys, so `phi_key_id` tells rotation what is left. */
export function encryptPatient(ring: Keyring, patientId: string, phi: PatientPhi): SealedPhi {
  const sealed = { phiKeyId: ring.currentId } as SealedPhi;
  for (const f of PHI_FIELDS) {
    const v = phi[f];
    (sealed as Record<PhiField, string | null>)[f] = v === null ? null : sealText(ring, v, phiAad(f, patientId));
  }
  return sealed;
}

/** The row with its PHI fields opened; `phiKeyId` is dropped (storage detail). */
export function decryptPatient<T extends { id: string } & SealedPhi>(ring: Keyring, row: T): Omit<T, 'phiKeyId'> & PatientPhi {
  const { phiKeyId: _stored, ...rest } = row;
  const open = { ...rest } as Omit<T, 'phiKeyId'> & PatientPhi;
  for (const f of PHI_FIELDS) {
    const v = row[f];
    (open as Record<PhiField, string | null>)[f] = v === null ? null : openText(ring, v, phiAad(f, row.id));
  }
  return open;
}

/** Opens selected fields only (e.g. a notification needs phone and email, nothing else). */
export function decryptFields<F extends PhiField>(ring: Keyring, patientId: string, row: { [K in F]: string | null }, fields: readonly F[]): { [K in F]: string | null } {
  const out = {} as { [K in F]: string | null };
  for (const f of fields) {
    const v = row[f];
    out[f] = v === null ? null : openText(ring, v, phiAad(f, patientId));
  }
  return out;
}

const cache = new Map<string, PhiKeys>();

/** Parsed keys for a configuration, parsed once per distinct setting (config objects are rebuilt in tests). */
export function phiKeysFor(config: { PHI_ENCRYPTION_KEYS: string; BLIND_INDEX_KEY: string }): PhiKeys {
  const id = `${config.PHI_ENCRYPTION_KEYS}\n${config.BLIND_INDEX_KEY}`;
  let keys = cache.get(id);
  if (!keys) {
    keys = { ring: parseKeyring(config.PHI_ENCRYPTION_KEYS), blindIndexKey: parseBlindIndexKey(config.BLIND_INDEX_KEY) };
    cache.set(id, keys);
  }
  return keys;
}
