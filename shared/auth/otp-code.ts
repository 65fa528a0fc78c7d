import { createHmac, hkdfSync, randomInt, timingSafeEqual } from 'node:crypto';
import { DEFAULT_CHANNEL_ORDER, type Channel } from '../../workflows/notification-api';

/**
 * One-time login codes (SPEC §8): 6 digits from a CSPRNG, kept only as a keyed hash bound to
 * the challenge id. The key is server-side, so a leaked table cannot be brute-forced offline
 * (a million codes is nothing for a plain hash).
 */
export const OTP_DIGITS = 6;

export const generateOtpCode = (): string => String(randomInt(0, 10 ** OTP_DIGITS)).padStart(OTP_DIGITS, '0');

/** Separate keys for separate jobs, derived from the one server secret. */
export const deriveKey = (secret: string, purpose: string): Buffer => Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), purpose, 32));

export const hashOtpCode = (key: Buffer, challengeId: string, code: string): Buffer =>
  createHmac('sha256', key).update(`${challengeId}:${code}`).digest();

export function otpCodeMatches(key: Buffer, challengeId: string, code: string, stored: Buffer): boolean {
  const given = hashOtpCode(key, challengeId, code);
  return stored.length === given.length && timingSafeEqual(stored, given);
}

export type Identifier = { kind: 'email'; value: string } | { kind: 'phone'; value: string };

export const E164 = /^\+[1-9]\d{6,14}$/;

/** Emails compare case-insensitively (as users.email's unique index does); phones are E.164 already. */
export const normalizeIdentifier = (identifier: string): Identifier =>
  E164.test(identifier) ? { kind: 'phone', value: identifier } : { kind: 'email', value: identifier.trim().toLowerCase() };

/** Opaque, stable name for an identifier in Redis keys: contact details never appear there. */
export const identifierDigest = (key: Buffer, id: Identifier): string =>
  createHmac('sha256', key).update(`${id.kind}:${id.value}`).digest('base64url');

/** The channel asked for first, then the remaining ones in the SPEC §8 fallback order. */
export const channelOrder = (requested: Channel): Channel[] => [requested, ...DEFAULT_CHANNEL_ORDER.filter((c) => c !== requested)];
