import { randomBytes, randomUUID } from 'node:crypto';
import { keyIdOf, parseKeyring } from './keyring';
import { decryptFields, decryptPatient, encryptPatient, PatientPhi, phiAad } from './patient-phi';

const k = () => randomBytes(32).toString('base64');
const phi: PatientPhi = {
  firstName: 'Asha', lastName: 'Rao', dateOfBirth: '1985-04-12', phone: '+919812345678', email: 'asha@example.in', address: '12 MG Road', clinicalNotes: null,
};

describe('patient PHI', () => {
  const ring = parseKeyring(`v1:${k()}`);
  const id = randomUUID();

  it('seals every field under the current key and opens them again; null stays null', () => {
    const sealed = encryptPatient(ring, id, phi);
    expect(sealed.phiKeyId).toBe('v1');
    const text = JSON.stringify(sealed);
    for (const v of ['Asha', 'Rao', '1985', '9812345678', 'asha@', 'MG Road']) expect(text).not.toContain(v);
    expect(sealed.clinicalNotes).toBeNull();
    expect(keyIdOf(sealed.firstName)).toBe('v1');
    const opened = decryptPatient(ring, { id, mrn: 'MRN0000001', ...sealed });
    expect(opened).toEqual({ id, mrn: 'MRN0000001', ...phi });
    expect(opened).not.toHaveProperty('phiKeyId');
  });

  it('refuses a ciphertext moved to another patient or another column', () => {
    const sealed = encryptPatient(ring, id, phi);
    const other = randomUUID();
    expect(() => decryptPatient(ring, { id: other, ...sealed })).toThrow();
    expect(() => decryptPatient(ring, { id, ...sealed, lastName: sealed.firstName })).toThrow();
    expect(phiAad('dateOfBirth', id)).toBe(`patients.date_of_birth:${id}`);
  });

  it('opens rows under an older key after a key is added, and re-seals them under the new one', () => {
    const v1 = k();
    const old = encryptPatient(parseKeyring(`v1:${v1}`), id, phi);
    const rotated = parseKeyring(`v1:${v1},v2:${k()}`);
    const again = encryptPatient(rotated, id, decryptPatient(rotated, { id, ...old }));
    expect(again.phiKeyId).toBe('v2');
    expect(decryptPatient(rotated, { id, ...again })).toMatchObject(phi);
  });

  it('opens selected fields only', () => {
    const sealed = encryptPatient(ring, id, phi);
    expect(decryptFields(ring, id, sealed, ['phone', 'email'])).toEqual({ phone: phi.phone, email: phi.email });
  });
});
