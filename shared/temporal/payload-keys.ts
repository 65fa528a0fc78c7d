import { hkdfSync } from 'node:crypto';
import type { Keyring } from '../crypto/keyring';

/**
 * Who a Temporal payload belongs to, and so who may read it through /codec:
 * - a clinic: its staff who may read patients there;
 * - the platform: payloads of no clinic (a message to a user's account), platform roles only;
 * - legacy: sealed under a master key before per-clinic keys existed, any clinic's: SUPER_ADMIN only.
 */
export type PayloadScope = { kind: 'clinic'; clinicId: string } | { kind: 'platform' } | { kind: 'legacy' };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export const isClinicId = (v: unknown): v is string => typeof v === 'string' && UUID.test(v);

/**
 * Key ids as written to payload metadata: `clinic:<clinic uuid>:<master key id>`,
 * `platform:<master key id>`; a bare `<master key id>` is a legacy payload sealed with the master key itself.
 */
export function keyIdFor(scope: Exclude<PayloadScope, { kind: 'legacy' }>, masterId: string): string {
  return scope.kind === 'clinic' ? `clinic:${scope.clinicId}:${masterId}` : `platform:${masterId}`;
}

export function parseKeyId(keyId: string): { scope: PayloadScope; masterId: string } | null {
  const parts = keyId.split(':');
  if (parts.length === 1 && parts[0]) return { scope: { kind: 'legacy' }, masterId: parts[0] };
  if (parts.length === 2 && parts[0] === 'platform' && parts[1]) return { scope: { kind: 'platform' }, masterId: parts[1] };
  if (parts.length === 3 && parts[0] === 'clinic' && isClinicId(parts[1]) && parts[2]) return { scope: { kind: 'clinic', clinicId: parts[1] }, masterId: parts[2] };
  return null;
}

/** Domain separation: these keys never equal a PHI column key or another scope's. */
const SALT = Buffer.from('clinic-backend/temporal-payload/v1');

/**
 * Per-scope data keys derived with HKDF-SHA256 from the versioned master keys (PHI_ENCRYPTION_KEYS):
 * one key per clinic and master version, so a leaked clinic key opens that clinic's payloads only,
 * and rotation of the master rotates every clinic's. Derived keys are cached (200 clinics × a few versions).
 */
export class PayloadKeys {
  private readonly derived = new Map<string, Buffer>();

  constructor(private readonly ring: Keyring) {}

  get currentMasterId(): string {
    return this.ring.currentId;
  }

  /** The key for a key id, or null when its master version is unknown or the id is malformed. */
  keyFor(keyId: string): Buffer | null {
    const cached = this.derived.get(keyId);
    if (cached) return cached;
    const parsed = parseKeyId(keyId);
    const master = parsed && this.ring.keys.get(parsed.masterId);
    if (!parsed || !master) return null;
    if (parsed.scope.kind === 'legacy') return master;
    const info = parsed.scope.kind === 'clinic' ? `clinic:${parsed.scope.clinicId}` : 'platform';
    const key = Buffer.from(hkdfSync('sha256', master, SALT, Buffer.from(info), 32));
    if (this.derived.size > 10_000) this.derived.clear();
    this.derived.set(keyId, key);
    return key;
  }
}
