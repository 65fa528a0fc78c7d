import { channelOrder, deriveKey, generateOtpCode, hashOtpCode, identifierDigest, normalizeIdentifier, otpCodeMatches } from './otp-code';

describe('OTP codes', () => {
  it('are six digits, leading zeros kept, and not constant', () => {
    const codes = Array.from({ length: 200 }, generateOtpCode);
    for (const c of codes) expect(c).toMatch(/^\d{6}$/);
    expect(new Set(codes).size).toBeGreaterThan(190);
  });

  it('hash with the key and the challenge id, so the same code differs across challenges and keys', () => {
    const key = deriveKey('secret-one', 'otp-code-v1');
    const h = hashOtpCode(key, 'c1', '123456');
    expect(otpCodeMatches(key, 'c1', '123456', h)).toBe(true);
    expect(otpCodeMatches(key, 'c1', '123457', h)).toBe(false);
    expect(otpCodeMatches(key, 'c2', '123456', h)).toBe(false);
    expect(otpCodeMatches(deriveKey('secret-two', 'otp-code-v1'), 'c1', '123456', h)).toBe(false);
    expect(otpCodeMatches(key, 'c1', '123456', h.subarray(1))).toBe(false);
    expect(deriveKey('secret-one', 'a').equals(deriveKey('secret-one', 'b'))).toBe(false);
  });

  it('normalize identifiers and name them in Redis without the contact detail', () => {
    expect(normalizeIdentifier('Asha@Example.TEST')).toEqual({ kind: 'email', value: 'asha@example.test' });
    expect(normalizeIdentifier('+919812345678')).toEqual({ kind: 'phone', value: '+919812345678' });
    const key = deriveKey('s', 'otp-rate-v1');
    const d = identifierDigest(key, normalizeIdentifier('Asha@Example.TEST'));
    expect(d).toBe(identifierDigest(key, normalizeIdentifier('asha@example.test')));
    expect(d).not.toMatch(/asha/i);
  });

  it('try the requested channel first, then whatsapp → sms → email', () => {
    expect(channelOrder('email')).toEqual(['email', 'whatsapp', 'sms']);
    expect(channelOrder('sms')).toEqual(['sms', 'whatsapp', 'email']);
    expect(channelOrder('whatsapp')).toEqual(['whatsapp', 'sms', 'email']);
  });
});
