import { randomBytes } from 'node:crypto';
import { ApplicationFailure, defaultPayloadConverter, METADATA_ENCODING_KEY, type Payload, type SerializationContext } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { parseKeyring, seal } from '../crypto/keyring';
import { ENCRYPTED_ENCODING, EncryptionCodec, KEY_ID_METADATA } from './data-converter';
import { failureConverter } from './failure-converter';
import { parseKeyId } from './payload-keys';

const k = () => randomBytes(32).toString('base64');
const str = (b?: Uint8Array | null) => Buffer.from(b ?? new Uint8Array()).toString('utf8');
const keyId = (p: Payload) => str(p.metadata![KEY_ID_METADATA]);
const CLINIC_A = '7d9f3c1e-0b7a-4c8e-9a51-2f0c6d1e8b44';
const CLINIC_B = '0f1e2d3c-4b5a-4697-8877-665544332211';
const value = { appointmentId: '92315875-170a-4e12-b86e-0119c44bc630', clinicId: CLINIC_A, reason: 'Asha Rao is unwell' };
const wf = (workflowId: string): SerializationContext => ({ type: 'workflow', namespace: 'default', workflowId });
const activity = (workflowId: string): SerializationContext => ({ type: 'activity', namespace: 'default', workflowId, activityId: '1', isLocal: false });
const toPayload = (v: unknown) => defaultPayloadConverter.toPayload(v);

describe('payload codec', () => {
  const v1 = k();
  const ring = () => parseKeyring(`v1:${v1}`);

  it('seals a payload under its clinic\'s key, the key id naming the clinic, and opens it again', async () => {
    const codec = new EncryptionCodec(ring(), () => null);
    const [encoded] = await codec.encode([toPayload(value)]);
    expect(str(encoded.metadata![METADATA_ENCODING_KEY])).toBe(ENCRYPTED_ENCODING);
    expect(keyId(encoded)).toBe(`clinic:${CLINIC_A}:v1`);
    expect(Object.keys(encoded.metadata!).sort()).toEqual([KEY_ID_METADATA, METADATA_ENCODING_KEY].sort());
    expect(str(encoded.data)).not.toContain('Asha');
    expect(str(encoded.data)).not.toContain(value.appointmentId);
    const [decoded] = await codec.decode([encoded]);
    expect(str(decoded.metadata![METADATA_ENCODING_KEY])).toBe('json/plain');
    expect(defaultPayloadConverter.fromPayload(decoded)).toEqual(value);
  });

  it('derives one key per clinic: a payload relabelled as another clinic\'s does not open', async () => {
    const codec = new EncryptionCodec(ring(), () => null);
    const [a] = await codec.encode([toPayload(value)]);
    const relabelled = { ...a, metadata: { ...a.metadata, [KEY_ID_METADATA]: new Uint8Array(Buffer.from(`clinic:${CLINIC_B}:v1`)) } };
    await expect(codec.decode([relabelled])).rejects.toThrow();
    const asLegacy = { ...a, metadata: { ...a.metadata, [KEY_ID_METADATA]: new Uint8Array(Buffer.from('v1')) } };
    await expect(codec.decode([asLegacy])).rejects.toThrow();
  });

  it('gives payloads without a clinic of their own the clinic of their workflow, learned from its first payload', async () => {
    const codec = new EncryptionCodec(ring(), () => null);
    await codec.encode([toPayload({ appointmentId: value.appointmentId, clinicId: CLINIC_A })], wf('appointment-1'));
    // An update's argument, the workflow's result, an activity's result: no clinicId in the value.
    const [update] = await codec.encode([toPayload({ actorUserId: CLINIC_B, reason: 'x' })], wf('appointment-1'));
    const [result] = await codec.encode([toPayload('CANCELLED')], activity('appointment-1'));
    expect(keyId(update)).toBe(`clinic:${CLINIC_A}:v1`);
    expect(keyId(result)).toBe(`clinic:${CLINIC_A}:v1`);

    // Another process (a worker) learns it by decoding the start input before it writes anything.
    const worker = new EncryptionCodec(ring(), () => null);
    const [start] = await codec.encode([toPayload({ appointmentId: value.appointmentId, clinicId: CLINIC_A })], wf('appointment-2'));
    await worker.decode([start], wf('appointment-2'));
    const failure = failureConverter.errorToFailure(ApplicationFailure.create({ message: 'Asha Rao refused', type: 'X' }), defaultPayloadConverter);
    expect(keyId((await worker.encode([failure.encodedAttributes!], wf('appointment-2')))[0])).toBe(`clinic:${CLINIC_A}:v1`);
  });

  it('keeps a workflow in its first clinic: a later payload naming another clinic does not move it', async () => {
    const codec = new EncryptionCodec(ring(), () => null);
    await codec.decode(await new EncryptionCodec(ring(), () => null).encode([toPayload({ clinicId: CLINIC_A })]), wf('w'));
    const [foreign] = await new EncryptionCodec(ring(), () => null).encode([toPayload({ clinicId: CLINIC_B, startsAt: 'x' })]);
    await codec.decode([foreign], wf('w'));
    expect(keyId((await codec.encode([toPayload('result')], wf('w')))[0])).toBe(`clinic:${CLINIC_A}:v1`);
  });

  it('falls back to the clinic the caller acts in, then to the platform; `clinicId: null` is the platform', async () => {
    let acting: string | null = CLINIC_B;
    const codec = new EncryptionCodec(ring(), () => acting);
    expect(keyId((await codec.encode([toPayload({ reason: 'x' })], wf('unknown')))[0])).toBe(`clinic:${CLINIC_B}:v1`);
    acting = null;
    expect(keyId((await codec.encode([toPayload({ reason: 'x' })], wf('unknown-2')))[0])).toBe('platform:v1');
    expect(keyId((await codec.encode([toPayload({ clinicId: null, template: 'otp' })], wf('notify-1')))[0])).toBe('platform:v1');
    acting = CLINIC_B;
    expect(keyId((await codec.encode([toPayload('sent')], wf('notify-1')))[0])).toBe('platform:v1');
  });

  it('passes plain payloads through (histories recorded before the codec)', async () => {
    const codec = new EncryptionCodec(ring(), () => null);
    const plain = toPayload(value);
    expect(await codec.decode([plain])).toEqual([plain]);
  });

  it('opens payloads sealed with the master key itself (histories recorded before per-clinic keys)', async () => {
    const plain = toPayload(value);
    const { data } = seal(ring(), Buffer.from(temporal.api.common.v1.Payload.encode(plain).finish()), Buffer.from('temporal.payload'));
    const legacy = { metadata: { [METADATA_ENCODING_KEY]: new Uint8Array(Buffer.from(ENCRYPTED_ENCODING)), [KEY_ID_METADATA]: new Uint8Array(Buffer.from('v1')) }, data: new Uint8Array(data) };
    expect(defaultPayloadConverter.fromPayload((await new EncryptionCodec(ring(), () => null).decode([legacy]))[0])).toEqual(value);
    expect(parseKeyId('v1')).toEqual({ scope: { kind: 'legacy' }, masterId: 'v1' });
  });

  it('decodes old payloads after a key is added, and refuses unknown keys and tampering', async () => {
    const codec = new EncryptionCodec(ring(), () => null);
    const [old] = await codec.encode([toPayload(value)]);
    const rotated = new EncryptionCodec(parseKeyring(`v1:${v1},v2:${k()}`), () => null);
    expect(defaultPayloadConverter.fromPayload((await rotated.decode([old]))[0])).toEqual(value);
    expect(keyId((await rotated.encode([old]))[0])).toBe('platform:v2'); // a sealed payload names no clinic of its own
    await expect(new EncryptionCodec(parseKeyring(`v9:${k()}`), () => null).decode([old])).rejects.toThrow(/unknown key id clinic:.*:v1/);
    const tampered = { ...old, data: Uint8Array.from(old.data!, (b, i) => (i === 20 ? b ^ 1 : b)) };
    await expect(codec.decode([tampered])).rejects.toThrow();
  });

  it('carries failure messages as an encoded payload, so they are encrypted too', async () => {
    const codec = new EncryptionCodec(ring(), () => null);
    const failure = failureConverter.errorToFailure(ApplicationFailure.create({ message: 'Asha Rao refused', type: 'X' }), defaultPayloadConverter);
    expect(failure.message).toBe('Encoded failure');
    const [sealed] = await codec.encode([failure.encodedAttributes!]);
    expect(str(sealed.data)).not.toContain('Asha');
    const [opened] = await codec.decode([sealed]);
    expect(failureConverter.failureToError({ ...failure, encodedAttributes: opened }, defaultPayloadConverter).message).toBe('Asha Rao refused');
  });
});
