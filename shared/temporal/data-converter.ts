import type { DataConverter, Payload, PayloadCodec } from '@temporalio/common';
import { METADATA_ENCODING_KEY } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { Keyring, open, parseKeyring, seal } from '../crypto/keyring';

/**
 * Temporal payload codec (SPEC §8): every payload (workflow and activity inputs and results,
 * update and query arguments, memo, encoded failure messages) is sealed with AES-256-GCM under the
 * current PHI key before it leaves the process, so Temporal's history never holds PHI in clear.
 * Search attributes bypass codecs by design and carry ids only.
 *
 * Wire form: metadata `encoding: binary/encrypted`, `encryption-key-id: <id>`; data is
 * iv ‖ ciphertext ‖ tag of the original Payload in protobuf encoding (the layout Temporal's
 * encryption samples use, so codec servers in other languages can read it).
 */
export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA = 'encryption-key-id';
/** Binds ciphertexts to this use: a sealed database column cannot be replayed as a payload. */
const AAD = Buffer.from('temporal.payload');

const utf8 = (s: string) => new Uint8Array(Buffer.from(s, 'utf8'));
const text = (b: Uint8Array | null | undefined) => (b ? Buffer.from(b).toString('utf8') : undefined);

export class EncryptionCodec implements PayloadCodec {
  constructor(private readonly ring: Keyring) {}

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      const { keyId, data } = seal(this.ring, Buffer.from(temporal.api.common.v1.Payload.encode(payload).finish()), AAD);
      return {
        metadata: { [METADATA_ENCODING_KEY]: utf8(ENCRYPTED_ENCODING), [KEY_ID_METADATA]: utf8(keyId) },
        data: new Uint8Array(data),
      };
    });
  }

  /** Payloads written before the codec existed (plain `json/plain`) pass through, so old histories still replay. */
  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      if (text(payload.metadata?.[METADATA_ENCODING_KEY]) !== ENCRYPTED_ENCODING) return payload;
      const keyId = text(payload.metadata?.[KEY_ID_METADATA]);
      if (!keyId || !payload.data) throw new Error('encrypted payload without key id or data');
      const plain = open(this.ring, { keyId, data: Buffer.from(payload.data) }, AAD);
      return temporal.api.common.v1.Payload.decode(plain);
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
