import type { Payload } from '@temporalio/common';
import { createDataConverter } from '../../shared/temporal/data-converter';

/**
 * Everything a workflow history holds, as text, the way someone with the codec would read it: every
 * payload anywhere in it (inputs, results, signals, updates, markers, failure details, memo), decoded
 * through the payload codecs, plus every other field as it is. For secret scans: a secret must not
 * be found here even by a reader who can decode (issue 8 item 6).
 */
export async function readableHistory(history: unknown, keys = process.env.PHI_ENCRYPTION_KEYS!): Promise<string> {
  const codecs = [...(createDataConverter(keys).payloadCodecs ?? [])].reverse();
  const parts: string[] = [];
  const isPayload = (v: Record<string, unknown>) => 'data' in v && 'metadata' in v && (v.data instanceof Uint8Array || typeof v.data === 'string');
  const bytes = (v: unknown) => (v instanceof Uint8Array ? Buffer.from(v) : typeof v === 'string' ? Buffer.from(v, 'base64') : Buffer.alloc(0));

  async function visit(v: unknown): Promise<void> {
    if (v === null || v === undefined) return;
    if (typeof v !== 'object') {
      parts.push(String(v));
      return;
    }
    if (v instanceof Uint8Array) {
      parts.push(Buffer.from(v).toString('latin1'));
      return;
    }
    if (Array.isArray(v)) {
      for (const item of v) await visit(item);
      return;
    }
    const obj = v as Record<string, unknown>;
    if (isPayload(obj)) {
      const metadata = Object.fromEntries(Object.entries((obj.metadata ?? {}) as Record<string, unknown>).map(([k, m]) => [k, new Uint8Array(bytes(m))]));
      let payloads: Payload[] = [{ metadata, data: new Uint8Array(bytes(obj.data)) }];
      for (const codec of codecs) payloads = await codec.decode(payloads);
      for (const p of payloads) {
        parts.push(Buffer.from(p.data ?? []).toString('utf8'));
        for (const m of Object.values(p.metadata ?? {})) parts.push(Buffer.from(m).toString('utf8'));
      }
      return;
    }
    for (const [key, value] of Object.entries(obj)) {
      parts.push(key);
      await visit(value);
    }
  }

  await visit(history);
  return parts.join('\n');
}
