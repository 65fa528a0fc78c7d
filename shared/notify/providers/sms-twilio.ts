import { fail, request, trimSlash } from './http';
import type { MessageProvider } from './types';

export interface TwilioSmsOptions {
  baseUrl: string;
  accountSid: string;
  authToken: string;
  from: string;
  timeoutMs: number;
}

/** SMS over Twilio's Messages API (or anything speaking it). */
export function createTwilioSms(o: TwilioSmsOptions): MessageProvider {
  const url = `${trimSlash(o.baseUrl)}/2010-04-01/Accounts/${encodeURIComponent(o.accountSid)}/Messages.json`;
  const authorization = `Basic ${Buffer.from(`${o.accountSid}:${o.authToken}`).toString('base64')}`;
  return {
    channel: 'sms',
    async send(m) {
      const res = await request('sms', url, {
        method: 'POST',
        headers: {
          authorization,
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
          'I-Twilio-Idempotency-Token': m.idempotencyKey,
        },
        body: new URLSearchParams({ To: m.to, From: o.from, Body: m.text }).toString(),
      }, o.timeoutMs);
      if (res.status >= 200 && res.status < 300 && typeof res.json?.sid === 'string') return { providerMessageId: res.json.sid };
      // 400 with code 21211 (invalid To), 21610 (unsubscribed), 21614 (not a mobile): permanent by status.
      return fail('sms', res.status, res.json?.code);
    },
  };
}
