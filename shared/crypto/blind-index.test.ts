import { randomBytes } from 'node:crypto';
import {
  blindToken, fullName, normalizeDob, normalizeEmail, normalizeName, normalizePhone, parseBlindIndexKey, parseSearchQuery, tokensForPatient, TOKEN_BYTES,
} from './blind-index';

const key = randomBytes(32);
const CLINIC_A = '3aa9a85f-a961-4a47-bc96-47bcae56a47d';
const CLINIC_B = '92315875-170a-4e12-b86e-0119c44bc630';

describe('normalization', () => {
  it.each([
    ['+919812345678', '+919812345678'],
    [' +91 98123-45678 ', '+919812345678'],
    ['+91 (981) 234.5678', '+919812345678'],
    ['0091 9812345678', '+919812345678'],
    ['919812345678', '+919812345678'],
  ])('phone %j → %s', (raw, want) => {
    expect(normalizePhone(raw)).toBe(want);
  });

  it.each(['+0123456789', '12345', '+91981234567890123', 'call me'])('phone %j is not E.164', (raw) => {
    expect(normalizePhone(raw)).toBeNull();
  });

  it('lowercases and trims emails', () => {
    expect(normalizeEmail('  Meera.Nair@Example.COM ')).toBe('meera.nair@example.com');
  });

  it('folds names: NFKC, case, whitespace', () => {
    expect(normalizeName('  ＡＳＨＡ   Rao\t')).toBe('asha rao');
    expect(fullName('Asha ', ' RAO')).toBe('asha rao');
    // é composed and decomposed are one name.
    expect(normalizeName('Ren\u00e9e')).toBe(normalizeName('Rene\u0301e'));
  });

  it('accepts real calendar dates only', () => {
    expect(normalizeDob('1985-04-12')).toBe('1985-04-12');
    expect(normalizeDob('2001-02-29')).toBeNull();
    expect(normalizeDob('12/04/1985')).toBeNull();
  });
});

describe('blind tokens', () => {
  it('are 16 bytes, equal for equal normalized values, distinct across clinics, kinds and keys', () => {
    const t = blindToken(key, CLINIC_A, 'phone', '+919812345678');
    expect(t).toHaveLength(TOKEN_BYTES);
    expect(blindToken(key, CLINIC_A, 'phone', normalizePhone('+91 98123 45678')!)).toEqual(t);
    expect(blindToken(key, CLINIC_B, 'phone', '+919812345678')).not.toEqual(t);
    expect(blindToken(key, CLINIC_A, 'email', '+919812345678')).not.toEqual(t);
    expect(blindToken(randomBytes(32), CLINIC_A, 'phone', '+919812345678')).not.toEqual(t);
  });

  it('cannot be forged by shifting text between fields', () => {
    expect(blindToken(key, 'a', 'name', 'b|c')).not.toEqual(blindToken(key, 'a|b', 'name', 'c'));
  });

  it('cover name, date of birth, phone and email; absent contact details give no token', () => {
    const all = tokensForPatient(key, CLINIC_A, { firstName: 'Asha', lastName: 'Rao', dateOfBirth: '1985-04-12', phone: '+919812345678', email: 'A@x.in' });
    expect(all.map((t) => t.kind).sort()).toEqual(['dob', 'email', 'name', 'phone']);
    expect(all.find((t) => t.kind === 'email')!.token).toEqual(blindToken(key, CLINIC_A, 'email', 'a@x.in'));
    const some = tokensForPatient(key, CLINIC_A, { firstName: 'Asha', lastName: 'Rao', dateOfBirth: '1985-04-12', phone: null, email: null });
    expect(some.map((t) => t.kind).sort()).toEqual(['dob', 'name']);
  });
});

describe('search query', () => {
  it.each([
    ['mrn0000042', { kind: 'mrn', mrn: 'MRN0000042' }],
    ['1985-04-12', { kind: 'dob', value: '1985-04-12' }],
    [' Meera@Example.com', { kind: 'email', value: 'meera@example.com' }],
    ['+91 98123 45678', { kind: 'phone', value: '+919812345678' }],
    ['asha  RAO', { kind: 'name', value: 'asha rao' }],
  ])('%j is %j', (q, want) => {
    expect(parseSearchQuery(q)).toEqual(want);
  });

  it('explains a date or phone number that is not one', () => {
    expect(parseSearchQuery('1985-02-30')).toEqual({ error: expect.stringContaining('date') });
    expect(parseSearchQuery('0123 4567')).toEqual({ error: expect.stringContaining('E.164') });
  });
});

describe('blind index key', () => {
  it('must be base64 of 32 bytes', () => {
    expect(parseBlindIndexKey(key.toString('base64'))).toEqual(key);
    expect(() => parseBlindIndexKey(randomBytes(16).toString('base64'))).toThrow(/32/);
    expect(() => parseBlindIndexKey('not base64!')).toThrow(/base64/);
  });
});
