import { base32Decode, base32Encode, generateTotpSecret, hotp, otpauthUrl, totpAt, verifyTotp } from './totp';

// RFC 6238 Appendix B: the seeds are ASCII strings; SHA-256 and SHA-512 use longer seeds.
const SEED = {
  sha1: Buffer.from('12345678901234567890'),
  sha256: Buffer.from('12345678901234567890123456789012'),
  sha512: Buffer.from('1234567890123456789012345678901234567890123456789012345678901234'),
};
const VECTORS: [number, string, string, string][] = [
  [59, '94287082', '46119246', '90693936'],
  [1111111109, '07081804', '68084774', '25091201'],
  [1111111111, '14050471', '67062674', '99943326'],
  [1234567890, '89005924', '91819424', '93441116'],
  [2000000000, '69279037', '90698825', '38618901'],
  [20000000000, '65353130', '77737706', '47863826'],
];

describe('TOTP (RFC 6238)', () => {
  it.each(VECTORS)('matches the test vectors at T=%d', (seconds, sha1, sha256, sha512) => {
    expect(totpAt(SEED.sha1, seconds * 1000, { digits: 8, algorithm: 'sha1' })).toBe(sha1);
    expect(totpAt(SEED.sha256, seconds * 1000, { digits: 8, algorithm: 'sha256' })).toBe(sha256);
    expect(totpAt(SEED.sha512, seconds * 1000, { digits: 8, algorithm: 'sha512' })).toBe(sha512);
  });

  it('matches the RFC 4226 HOTP vectors (6 digits)', () => {
    const expected = ['755224', '287082', '359152', '969429', '338314', '254676', '287922', '162583', '399871', '520489'];
    expect(expected.map((_, i) => hotp(SEED.sha1, i))).toEqual(expected);
  });

  it('accepts the previous, current and next step and returns which one matched', () => {
    const t = 1_700_000_000_000;
    const step = Math.floor(t / 30000);
    expect(verifyTotp(SEED.sha1, totpAt(SEED.sha1, t), t)).toBe(step);
    expect(verifyTotp(SEED.sha1, totpAt(SEED.sha1, t - 30000), t)).toBe(step - 1);
    expect(verifyTotp(SEED.sha1, totpAt(SEED.sha1, t + 30000), t)).toBe(step + 1);
    expect(verifyTotp(SEED.sha1, totpAt(SEED.sha1, t - 60000), t)).toBeNull();
    expect(verifyTotp(SEED.sha1, totpAt(SEED.sha1, t + 60000), t)).toBeNull();
  });

  it('refuses malformed codes', () => {
    const t = 1_700_000_000_000;
    const code = totpAt(SEED.sha1, t);
    for (const bad of ['', code.slice(0, 5), `${code}0`, 'abcdef', ' ' + code.slice(1)]) {
      expect(verifyTotp(SEED.sha1, bad, t)).toBeNull();
    }
  });
});

describe('base32 and key URIs', () => {
  it('round-trips and decodes the RFC 4648 examples', () => {
    expect(base32Encode(Buffer.from('foobar'))).toBe('MZXW6YTBOI');
    expect(base32Decode('MZXW6YTBOI======').toString()).toBe('foobar');
    expect(base32Decode('mzxw 6ytb oi').toString()).toBe('foobar');
    expect(() => base32Decode('MZ1W')).toThrow();
  });

  it('generates 160-bit secrets and an otpauth URL authenticator apps read', () => {
    const secret = generateTotpSecret();
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    expect(base32Decode(secret)).toHaveLength(20);
    const url = new URL(otpauthUrl({ secret, issuer: 'Clinic', account: 'a@b.test' }));
    expect(url.protocol).toBe('otpauth:');
    expect(url.host).toBe('totp');
    expect(decodeURIComponent(url.pathname)).toBe('/Clinic:a@b.test');
    expect(Object.fromEntries(url.searchParams)).toEqual({ secret, issuer: 'Clinic', algorithm: 'SHA1', digits: '6', period: '30' });
  });
});
