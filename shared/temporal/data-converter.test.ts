import { randomBytes } from 'node:crypto';
import { ApplicationFailure, defaultPayloadConverter, METADATA_ENCODING_KEY } from '@temporalio/common';
import { parseKeyring } from '../crypto/keyring';
import { ENCRYPTED_ENCODING, EncryptionCodec, KEY_ID_METADATA } from './data-converter';
import { failureConverter } from './failure-converter';

const k = () => randomBytes(32).toString('base64');
const str = (b?: Uint8Array | null) => Buffer.from(b ?? new Uint8Array()).toString('utf8');
const value = { appointmentId: '92315875-170a-4e12-b86e-0119c44bc630', reason: 'Asha Rao is unwell' };

describe('payload codec', () => {
  const v1 = k();
  const codec = new EncryptionCodec(parseKeyring(`v1:${v1}`));

  it('encrypts a payload with its key id in the metadata and decodes it back', async () => {
    const plain = defaultPayloadConverter.toPayload(value);
    const [encoded] = await codec.encode([plain]);
    expect(str(encoded.metadata![METADATA_ENCODING_KEY])).toBe(ENCRYPTED_ENCODING);
    expect(str(encoded.metadata![KEY_ID_METADATA])).toBe('v1');
    expect(Object.keys(encoded.metadata!).sort()).toEqual([KEY_ID_METADATA, METADATA_ENCODING_KEY].sort());
    expect(str(encoded.data)).not.toContain('Asha');
    expect(str(encoded.data)).not.toContain(value.appointmentId);
    const [decoded] = await codec.decode([encoded]);
    expect(str(decoded.metadata![METADATA_ENCODING_KEY])).toBe('json/plain');
    expect(defaultPayloadConverter.fromPayload(decoded)).toEqual(value);
  });

  it('passes plain payloads through (histories recorded before the codec)', async () => {
    const plain = defaultPayloadConverter.toPayload(value);
    expect(await codec.decode([plain])).toEqual([plain]);
  });

  it('decodes old payloads after a key is added, and refuses unknown keys and tampering', async () => {
    const [old] = await codec.encode([defaultPayloadConverter.toPayload(value)]);
    const rotated = new EncryptionCodec(parseKeyring(`v1:${v1},v2:${k()}`));
    expect(defaultPayloadConverter.fromPayload((await rotated.decode([old]))[0])).toEqual(value);
    expect(str((await rotated.encode([old]))[0].metadata![KEY_ID_METADATA])).toBe('v2');
    await expect(new EncryptionCodec(parseKeyring(`v9:${k()}`)).decode([old])).rejects.toThrow(/unknown key id v1/);
    const tampered = { ...old, data: Uint8Array.from(old.data!, (b, i) => (i === 20 ? b ^ 1 : b)) };
    await expect(codec.decode([tampered])).rejects.toThrow();
  });

  it('carries failure messages as an encoded payload, so they are encrypted too', async () => {
    const failure = failureConverter.errorToFailure(ApplicationFailure.create({ message: 'Asha Rao refused', type: 'X' }), defaultPayloadConverter);
    expect(failure.message).toBe('Encoded failure');
    const [sealed] = await codec.encode([failure.encodedAttributes!]);
    expect(str(sealed.data)).not.toContain('Asha');
    const [opened] = await codec.decode([sealed]);
    expect(failureConverter.failureToError({ ...failure, encodedAttributes: opened }, defaultPayloadConverter).message).toBe('Asha Rao refused');
  });
});
