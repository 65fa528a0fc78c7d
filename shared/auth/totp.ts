import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * TOTP (RFC 6238) over HOTP (RFC 4226), as authenticator apps expect it: HMAC-SHA1, 30 s step,
 * 6 digits, base32 secret. SHA-256/512 and 8 digits exist only so the RFC test vectors can be checked.
 */
export type TotpAlgorithm = 'sha1' | 'sha256' | 'sha512';

export interface TotpOptions {
  stepSeconds: number;
  digits: number;
  algorithm: TotpAlgorithm;
}

export const TOTP_DEFAULTS: TotpOptions = { stepSeconds: 30, digits: 6, algorithm: 'sha1' };

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** RFC 4648 base32 without padding (what otpauth:// URLs carry). */
export function base32Encode(bytes: Buffer): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}

/** Accepts lower case, spaces and padding, since people type secrets by hand. */
export function base32Decode(text: string): Buffer {
  const clean = text.toUpperCase().replace(/[\s=]/g, '');
  const out: number[] = [];
  let bits = 0;
  let value = 0;
  for (const ch of clean) {
    const idx = BASE32.indexOf(ch);
    if (idx < 0) throw new Error('not a base32 string');
    value = (value << 5) | idx;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 255);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** 160 bits, the HMAC-SHA1 block-friendly size RFC 4226 recommends. */
export const generateTotpSecret = (): string => base32Encode(randomBytes(20));

export function hotp(key: Buffer, counter: number, digits = 6, algorithm: TotpAlgorithm = 'sha1'): string {
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac(algorithm, key).update(msg).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const binary = mac.readUInt32BE(offset) & 0x7fffffff;
  return String(binary % 10 ** digits).padStart(digits, '0');
}

export const totpStep = (unixMs: number, stepSeconds = TOTP_DEFAULTS.stepSeconds): number => Math.floor(unixMs / 1000 / stepSeconds);

export function totpAt(key: Buffer, unixMs: number, opts: Partial<TotpOptions> = {}): string {
  const o = { ...TOTP_DEFAULTS, ...opts };
  return hotp(key, totpStep(unixMs, o.stepSeconds), o.digits, o.algorithm);
}

/**
 * The step the code belongs to, within ±`window` steps of now (clock drift), or null. Every
 * candidate is compared in constant time and none is skipped, so timing says nothing about which
 * step matched. Callers reject steps already used (RFC 6238 §5.2).
 */
export function verifyTotp(key: Buffer, code: string, unixMs: number, window = 1, opts: Partial<TotpOptions> = {}): number | null {
  const o = { ...TOTP_DEFAULTS, ...opts };
  const wellFormed = code.length === o.digits && /^\d+$/.test(code);
  // A malformed code still runs every comparison (against a stand-in), so it costs the same.
  const given = Buffer.from(wellFormed ? code : '-'.repeat(o.digits));
  const now = totpStep(unixMs, o.stepSeconds);
  let matched: number | null = null;
  for (let step = now - window; step <= now + window; step++) {
    const expected = Buffer.from(hotp(key, step, o.digits, o.algorithm));
    if (timingSafeEqual(expected, given) && matched === null) matched = step;
  }
  return wellFormed ? matched : null;
}

/** Key URI format understood by authenticator apps (Google Authenticator's otpauth:// scheme). */
export function otpauthUrl(input: { secret: string; issuer: string; account: string }): string {
  const label = `${encodeURIComponent(input.issuer)}:${encodeURIComponent(input.account)}`;
  const q = new URLSearchParams({ secret: input.secret, issuer: input.issuer, algorithm: 'SHA1', digits: '6', period: '30' });
  return `otpauth://totp/${label}?${q.toString()}`;
}
