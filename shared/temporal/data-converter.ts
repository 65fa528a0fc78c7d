import type { DataConverter, Payload, PayloadCodec, SerializationContext } from '@temporalio/common';
import { METADATA_ENCODING_KEY } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { Keyring, open, parseKeyring, seal } from '../crypto/keyring';
import { currentClinicId } from '../db/tenant-context';
import { isClinicId, keyIdFor, parseKeyId, PayloadKeys, PayloadScope } from './payload-keys';

/**
 * Temporal payload codec (SPEC §8): every payload (workflow and activity inputs and results,
 * signal, update and query arguments, memo, encoded failure messages) is sealed with AES-256-GCM
 * before it leaves the process, so Temporal's history never holds PHI in clear. Search attributes
 * bypass codecs by design and carry ids only.
 *
 * Each payload is sealed under the data key of the clinic it belongs to (shared/temporal/payload-keys.ts),
 * named in its metadata, so /codec decodes a clinic's payloads only for that clinic's staff. The
 * clinic of a payload, first match wins:
 * 1. its own value: a JSON object with a `clinicId` (every journey input and activity input names
 *    one; `clinicId: null` says "no clinic": the platform);
 * 2. the workflow it belongs to (the serialization context Temporal passes every codec call:
 *    the target workflow for client calls, the workflow itself for its commands and activations,
 *    the scheduling workflow for activities). The first clinic seen for a workflow, on encode or
 *    decode, sticks: a workflow's start input is the first payload any process handles for it, so
 *    its results, update/query arguments and answers, activity results and failures follow it;
 * 3. the clinic the calling code acts in (shared/db/tenant-context: the API request's clinic);
 * 4. otherwise the platform, readable by platform roles only.
 * None of this runs inside the workflow sandbox and the plaintext is untouched, so it cannot
 * affect determinism; a wrong guess can only make a payload harder to read, never leak it across
 * clinics, as every step names a clinic the workflow or its caller already acts in.
 *
 * Wire form: metadata `encoding: binary/encrypted`, `encryption-key-id: <key id>`; data is
 * iv ‖ ciphertext ‖ tag of the original Payload in protobuf encoding (the layout Temporal's
 * encryption samples use, so codec servers in other languages can read it). Key ids without a
 * scope (`test2`) are the master key itself: histories from before per-clinic keys still decode.
 */
export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA = 'encryption-key-id';
/** Binds ciphertexts to this use: a sealed database column cannot be replayed as a payload. */
const AAD = Buffer.from('temporal.payload');

const utf8 = (s: string) => new Uint8Array(Buffer.from(s, 'utf8'));
const text = (b: Uint8Array | null | undefined) => (b ? Buffer.from(b).toString('utf8') : undefined);

export const isEncrypted = (p: Payload) => text(p.metadata?.[METADATA_ENCODING_KEY]) === ENCRYPTED_ENCODING;

/** The scope a sealed payload names, or null for a payload that is not sealed or names no valid key id. */
export function scopeOfSealed(p: Payload): PayloadScope | null {
  if (!isEncrypted(p)) return null;
  const keyId = text(p.metadata?.[KEY_ID_METADATA]);
  return (keyId && parseKeyId(keyId)?.scope) || null;
}

/**
 * The clinic a clear payload names in its own value: a uuid, null for "no clinic", undefined when
 * the value says nothing (not a JSON object, or no `clinicId` field).
 */
export function clinicOfValue(p: Payload): string | null | undefined {
  if (text(p.metadata?.[METADATA_ENCODING_KEY]) !== 'json/plain' || !p.data || p.data[0] !== 0x7b /* { */) return undefined;
  try {
    const value = JSON.parse(Buffer.from(p.data).toString('utf8')) as { clinicId?: unknown };
    if (!Object.prototype.hasOwnProperty.call(value, 'clinicId')) return undefined;
    if (value.clinicId === null) return null;
    return isClinicId(value.clinicId) ? value.clinicId : undefined;
  } catch {
    return undefined;
  }
}

type Sealable = Exclude<PayloadScope, { kind: 'legacy' }>;
const scopeOf = (clinicId: string | null): Sealable => (clinicId ? { kind: 'clinic', clinicId } : { kind: 'platform' });

export function sealPayload(keys: PayloadKeys, payload: Payload, scope: Sealable): Payload {
  const keyId = keyIdFor(scope, keys.currentMasterId);
  const ring: Keyring = { currentId: keyId, keys: new Map([[keyId, keys.keyFor(keyId)!]]) };
  const { data } = seal(ring, Buffer.from(temporal.api.common.v1.Payload.encode(payload).finish()), AAD);
  return { metadata: { [METADATA_ENCODING_KEY]: utf8(ENCRYPTED_ENCODING), [KEY_ID_METADATA]: utf8(keyId) }, data: new Uint8Array(data) };
}

/** Opens a sealed payload; throws on an unknown key or tampered data. */
export function openPayload(keys: PayloadKeys, payload: Payload): Payload {
  const keyId = text(payload.metadata?.[KEY_ID_METADATA]);
  if (!keyId || !payload.data) throw new Error('encrypted payload without key id or data');
  const key = keys.keyFor(keyId);
  if (!key) throw new Error(`unknown key id ${keyId}`);
  const plain = open({ currentId: keyId, keys: new Map([[keyId, key]]) }, { keyId, data: Buffer.from(payload.data) }, AAD);
  return temporal.api.common.v1.Payload.decode(plain);
}

/** Workflow → clinic (null: platform), bounded: the oldest entries go first (an evicted workflow falls back to steps 3–4). */
class Owners {
  private readonly map = new Map<string, string | null>();
  constructor(private readonly max: number) {}
  get(key: string): string | null | undefined {
    return this.map.get(key);
  }
  /** First binding wins: a later payload (say, a signal sealed for another clinic) cannot re-home a workflow. */
  claim(key: string, clinicId: string | null): void {
    if (this.map.has(key)) return;
    if (this.map.size >= this.max) this.map.delete(this.map.keys().next().value!);
    this.map.set(key, clinicId);
  }
}

const workflowOf = (context?: SerializationContext): string | null =>
  context?.workflowId ? `${context.namespace}\u0000${context.workflowId}` : null;

export class EncryptionCodec implements PayloadCodec {
  readonly keys: PayloadKeys;
  private readonly owners = new Owners(50_000);

  constructor(ring: Keyring, private readonly actingClinic: () => string | null = currentClinicId) {
    this.keys = new PayloadKeys(ring);
  }

  async encode(payloads: Payload[], context?: SerializationContext): Promise<Payload[]> {
    const own = payloads.map(clinicOfValue);
    const workflow = workflowOf(context);
    const named = own.find((c) => c !== undefined);
    if (workflow && named !== undefined) this.owners.claim(workflow, named);
    const bound = workflow ? this.owners.get(workflow) : undefined;
    const fallback = bound !== undefined ? bound : named !== undefined ? named : this.actingClinic();
    return payloads.map((p, i) => sealPayload(this.keys, p, scopeOf(own[i] === undefined ? fallback : own[i] as string | null)));
  }

  /** Payloads written before the codec existed (plain `json/plain`) pass through, so old histories still replay. */
  async decode(payloads: Payload[], context?: SerializationContext): Promise<Payload[]> {
    const workflow = workflowOf(context);
    return payloads.map((payload) => {
      if (!isEncrypted(payload)) return payload;
      const scope = scopeOfSealed(payload);
      if (workflow && scope && scope.kind !== 'legacy') this.owners.claim(workflow, scope.kind === 'clinic' ? scope.clinicId : null);
      return openPayload(this.keys, payload);
    });
  }
}

/** Worker and client must agree on both: the codec and the failure converter that feeds it. */
export const FAILURE_CONVERTER_PATH = require.resolve('./failure-converter');

/** Options for bundleWorkflowCode: the sandbox needs the same failure converter compiled in. */
export const workflowBundleConverters = { failureConverterPath: FAILURE_CONVERTER_PATH };

export function createDataConverter(keys: Keyring | string): DataConverter {
  const ring = typeof keys === 'string' ? parseKeyring(keys) : keys;
  return { payloadCodecs: [new EncryptionCodec(ring)], failureConverterPath: FAILURE_CONVERTER_PATH };
}

