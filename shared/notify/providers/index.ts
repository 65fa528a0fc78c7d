import type { Config } from '../../config';
import { createSmtpEmail } from './email-smtp';
import { createTwilioSms } from './sms-twilio';
import type { Providers } from './types';
import { createWhatsAppCloud } from './whatsapp-cloud';

export * from './types';

type ProviderConfig = Pick<Config,
  'SMTP_URL' | 'SMTP_FROM' | 'SMS_API_BASE_URL' | 'SMS_ACCOUNT_SID' | 'SMS_AUTH_TOKEN' | 'SMS_FROM'
  | 'WHATSAPP_API_BASE_URL' | 'WHATSAPP_PHONE_NUMBER_ID' | 'WHATSAPP_TOKEN' | 'NOTIFY_PROVIDER_TIMEOUT_MS'>;

/** One adapter per configured channel, built once per process. A channel without credentials is absent. */
export function createProviders(c: ProviderConfig): Providers {
  const timeoutMs = c.NOTIFY_PROVIDER_TIMEOUT_MS;
  const providers: Providers = { email: createSmtpEmail({ url: c.SMTP_URL, from: c.SMTP_FROM, timeoutMs }) };
  if (c.SMS_ACCOUNT_SID && c.SMS_AUTH_TOKEN && c.SMS_FROM) {
    providers.sms = createTwilioSms({ baseUrl: c.SMS_API_BASE_URL, accountSid: c.SMS_ACCOUNT_SID, authToken: c.SMS_AUTH_TOKEN, from: c.SMS_FROM, timeoutMs });
  }
  if (c.WHATSAPP_PHONE_NUMBER_ID && c.WHATSAPP_TOKEN) {
    providers.whatsapp = createWhatsAppCloud({ baseUrl: c.WHATSAPP_API_BASE_URL, phoneNumberId: c.WHATSAPP_PHONE_NUMBER_ID, token: c.WHATSAPP_TOKEN, timeoutMs });
  }
  return providers;
}

export async function closeProviders(providers: Providers): Promise<void> {
  await Promise.all(Object.values(providers).map((p) => p?.close?.()));
}
