import { randomBytes } from 'node:crypto';
import { keyIdOf, openText, parseKeyring, sealText } from './keyring';

const k = () => randomBytes(32).toString('base64');

describe('keyring', () => {
  it('seals with the last key and opens with any listed key', () => {
    const v1 = k();
    const old = parseKeyring(`v1:${v1}`);
    const sealed = sealText(old, 'Asha Rao', 'patients.first_name:1');
    expect(sealed).not.toContain('Asha');
    const rotated = parseKeyring(`v1:${v1},v2:${k()}`);
    expect(openText(rotated, sealed, 'patients.first_name:1')).toBe('Asha Rao');
    expect(keyIdOf(sealText(rotated, 'x'))).toBe('v2');
  });

  it('refuses tampered ciphertext and a ciphertext moved to another place', () => {
    const ring = parseKeyring(`v1:${k()}`);
    const sealed = sealText(ring, 'secret', 'a');
    const raw = Buffer.from(sealed.slice(3), 'base64');
    raw[14] ^= 1;
    expect(() => openText(ring, `v1:${raw.toString('base64')}`, 'a')).toThrow();
    expect(() => openText(ring, sealed, 'b')).toThrow();
  });

  it('rejects malformed specs', () => {
    expect(() => parseKeyring('')).toThrow(/at least one/);
    expect(() => parseKeyring('v1:abc')).toThrow(/32 bytes/);
    expect(() => parseKeyring(`v1:${k()},v1:${k()}`)).toThrow(/twice/);
  });
});
