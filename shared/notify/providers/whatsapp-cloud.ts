import { fail, request, trimSlash } from './http';
import type { MessageProvider } from './types';

export interface WhatsAppCloudOptions {
  baseUrl: string;
  phoneNumberId: string;
  token: string;
  timeoutMs: number;
}

/**
 * Meta error codes that come with a 4xx status but mean "later": generic/temporary errors (1, 2,
 * 131000, 131016, 133004) and throttling (4, 80007, 130429, 131048, 131056).
 */
const TRANSIENT_CODES = new Set(['1', '2', '4', '80007', '130429', '131000', '131016', '131048', '131056', '133004']);

/** WhatsApp over the Cloud API: a plain text message from the clinic's business number. */
export function createWhatsAppCloud(o: WhatsAppCloudOptions): MessageProvider {
  const url = `${trimSlash(o.baseUrl)}/v21.0/${encodeURIComponent(o.phoneNumberId)}/messages`;
  return {
    channel: 'whatsapp',
    async send(m) {
      const res = await request('whatsapp', url, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${o.token}`,
          'content-type': 'application/json',
          'Idempotency-Key': m.idempotencyKey,
        },
        body: JSON.stringify({ messaging_product: 'whatsapp', recipient_type: 'individual', to: m.to.replace(/^\+/, ''), type: 'text', text: { preview_url: false, body: m.text } }),
      }, o.timeoutMs);
      const id = res.json?.messages?.[0]?.id;
      if (res.status >= 200 && res.status < 300 && typeof id === 'string') return { providerMessageId: id };
      // 400 with code 131026 (not a WhatsApp user / undeliverable) or 100 (bad parameter): permanent.
      return fail('whatsapp', res.status, res.json?.error?.code, TRANSIENT_CODES);
    },
  };
}
