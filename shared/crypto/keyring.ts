import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * Versioned AES-256-GCM keys from configuration: "v1:<base64 32 bytes>,v2:<base64 32 bytes>".
 * The last key encrypts; every listed key decrypts, so rotation is: append a key, re-encrypt, drop the old one.
 */
export interface Keyring {
  currentId: string;
  keys: Map<string, Buffer>;
}

export function parseKeyring(spec: string): Keyring {
  const keys = new Map<string, Buffer>();
  let currentId = '';
  for (const part of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^([A-Za-z0-9_-]{1,16}):([A-Za-z0-9+/=]+)$/.exec(part);
    if (!m) throw new Error('each key must look like <id>:<base64 of 32 bytes>');
    const key = Buffer.from(m[2], 'base64');
    if (key.length !== 32) throw new Error(`key ${m[1]} must be 32 bytes (base64 of 32 random bytes)`);
    if (keys.has(m[1])) throw new Error(`key ${m[1]} is listed twice`);
    keys.set(m[1], key);
    currentId = m[1];
  }
  if (!currentId) throw new Error('at least one key is required');
  return { currentId, keys };
}

const IV_BYTES = 12;
const TAG_BYTES = 16;

export interface Sealed { keyId: string; data: Buffer }

/** AES-256-GCM: iv ‖ ciphertext ‖ tag. `aad` binds the ciphertext to its place (e.g. table.column:rowId). */
export function seal(ring: Keyring, plaintext: Buffer, aad?: Buffer): Sealed {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', ring.keys.get(ring.currentId)!, iv);
  if (aad) cipher.setAAD(aad);
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { keyId: ring.currentId, data: Buffer.concat([iv, body, cipher.getAuthTag()]) };
}

export function open(ring: Keyring, sealed: Sealed, aad?: Buffer): Buffer {
  const key = ring.keys.get(sealed.keyId);
  if (!key) throw new Error(`unknown key id ${sealed.keyId}`);
  const iv = sealed.data.subarray(0, IV_BYTES);
  const tag = sealed.data.subarray(sealed.data.length - TAG_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', key, iv);
  if (aad) decipher.setAAD(aad);
  decipher.setAuthTag(tag);
  return Buffer.concat([decipher.update(sealed.data.subarray(IV_BYTES, sealed.data.length - TAG_BYTES)), decipher.final()]);
}

/** Text form for a database column: "<keyId>:<base64>". */
export const sealText = (ring: Keyring, plaintext: string, aad?: string): string => {
  const s = seal(ring, Buffer.from(plaintext, 'utf8'), aad ? Buffer.from(aad) : undefined);
  return `${s.keyId}:${s.data.toString('base64')}`;
};

export const openText = (ring: Keyring, text: string, aad?: string): string => {
  const i = text.indexOf(':');
  if (i < 1) throw new Error('not a sealed value');
  return open(ring, { keyId: text.slice(0, i), data: Buffer.from(text.slice(i + 1), 'base64') }, aad ? Buffer.from(aad) : undefined).toString('utf8');
};

export const keyIdOf = (text: string): string => text.slice(0, text.indexOf(':'));
