import { createHmac } from 'node:crypto';

/**
 * Blind indexes: exact-match search over encrypted columns. A token is a keyed HMAC-SHA256 of a
 * normalized value, so equal values find each other while the table reveals nothing without the
 * key. Tokens are truncated to 16 bytes (collisions stay negligible at any clinic's size, and a
 * shorter token links less across tables) and bound to the clinic, so the same phone number in two
 * clinics gives unrelated tokens.
 */
export type SearchKind = 'phone' | 'email' | 'name' | 'dob';

export const TOKEN_BYTES = 16;

/** Separators people type in phone numbers; the stored form is E.164 (+ and digits). */
const PHONE_SEPARATORS = /[\s().\-/]/g;
const E164 = /^\+[1-9]\d{6,14}$/;

/** "+91 98123-45678", "0091 9812345678" and "919812345678" → "+919812345678"; null when it is no phone number. */
export function normalizePhone(raw: string): string | null {
  let s = raw.trim().replace(PHONE_SEPARATORS, '');
  if (s.startsWith('00')) s = `+${s.slice(2)}`;
  else if (!s.startsWith('+')) s = `+${s}`;
  return E164.test(s) ? s : null;
}

export const normalizeEmail = (raw: string): string => raw.trim().toLowerCase();

/** NFKC folds compatibility forms (full-width letters, ligatures); case and spacing never matter. */
export const normalizeName = (raw: string): string => raw.normalize('NFKC').toLowerCase().replace(/\s+/g, ' ').trim();

export const fullName = (firstName: string, lastName: string): string => normalizeName(`${firstName} ${lastName}`);

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** A real calendar date in YYYY-MM-DD, returned as is; null otherwise. */
export function normalizeDob(raw: string): string | null {
  const m = DATE.exec(raw.trim());
  if (!m) return null;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return d.toISOString().slice(0, 10) === m[0] ? m[0] : null;
}

export function blindToken(key: Buffer, clinicId: string, kind: SearchKind, normalized: string): Buffer {
  // Length-prefixed fields: no two (clinic, kind, value) triples can produce the same HMAC input.
  const parts = [clinicId, kind, normalized].map((p) => `${Buffer.byteLength(p)}:${p}`);
  return createHmac('sha256', key).update(parts.join('|')).digest().subarray(0, TOKEN_BYTES);
}

export interface SearchableFields {
  firstName: string;
  lastName: string;
  dateOfBirth: string;
  phone: string | null;
  email: string | null;
}

export interface SearchToken { kind: SearchKind; token: Buffer }

/** Every token a patient is found by. */
export function tokensForPatient(key: Buffer, clinicId: string, p: SearchableFields): SearchToken[] {
  const values: [SearchKind, string | null][] = [
    ['name', fullName(p.firstName, p.lastName)],
    ['dob', normalizeDob(p.dateOfBirth)],
    ['phone', p.phone === null ? null : normalizePhone(p.phone)],
    ['email', p.email === null ? null : normalizeEmail(p.email)],
  ];
  return values.filter((v): v is [SearchKind, string] => !!v[1]).map(([kind, v]) => ({ kind, token: blindToken(key, clinicId, kind, v) }));
}

/** What a search string looks like: an MRN (plaintext column) or one blind-indexed kind. */
export type SearchQuery = { kind: 'mrn'; mrn: string } | { kind: SearchKind; value: string };

const MRN = /^MRN\d{1,12}$/i;
const DATE_LIKE = /^\d{4}-\d{1,2}-\d{1,2}$/;
const PHONE_LIKE = /^\+?[\d\s().\-/]{7,}$/;

/** Classifies `q`; an `error` names what is wrong with something that looks like a date or phone but is not one. */
export function parseSearchQuery(raw: string): SearchQuery | { error: string } {
  const q = raw.trim();
  if (MRN.test(q)) return { kind: 'mrn', mrn: q.toUpperCase() };
  if (DATE_LIKE.test(q)) {
    const dob = normalizeDob(q);
    return dob ? { kind: 'dob', value: dob } : { error: 'looks like a date but is not a valid YYYY-MM-DD date' };
  }
  if (q.includes('@')) return { kind: 'email', value: normalizeEmail(q) };
  if (PHONE_LIKE.test(q)) {
    const phone = normalizePhone(q);
    return phone ? { kind: 'phone', value: phone } : { error: 'looks like a phone number but is not E.164 (country code and 7 to 15 digits)' };
  }
  const name = normalizeName(q);
  return name ? { kind: 'name', value: name } : { error: 'is empty' };
}

export function parseBlindIndexKey(b64: string): Buffer {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) throw new Error('must be base64');
  const key = Buffer.from(b64, 'base64');
  if (key.length !== 32) throw new Error('must be base64 of 32 random bytes');
  return key;
}
