import { createHash, randomBytes } from 'node:crypto';

/**
 * Refresh tokens are opaque (256 random bits, base64url) and stored only as SHA-256: they carry
 * enough entropy that an unsalted fast hash is safe, and lookups by hash stay a unique-index probe.
 */
export const newRefreshToken = (): string => randomBytes(32).toString('base64url');

export const hashRefreshToken = (token: string): Buffer => createHash('sha256').update(token, 'utf8').digest();
