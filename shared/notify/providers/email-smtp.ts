import nodemailer from 'nodemailer';
import { classifySmtpError } from './classify';
import { MessageProvider, ProviderError } from './types';

export interface SmtpEmailOptions {
  url: string;
  from: string;
  timeoutMs: number;
}

/** The domain of the From address names our Message-IDs. */
function senderDomain(from: string): string {
  const m = /@([A-Za-z0-9.-]+)>?\s*$/.exec(from);
  return m ? m[1] : 'localhost';
}

/**
 * Email over SMTP. SMTP has no idempotency header; the Message-ID is derived from the key instead,
 * so a resend after a lost acknowledgement carries the same id and mail systems collapse the
 * duplicate (Gmail and most clients thread or drop same-id messages).
 */
export function createSmtpEmail(o: SmtpEmailOptions): MessageProvider {
  const transport = nodemailer.createTransport({
    url: o.url,
    connectionTimeout: o.timeoutMs,
    greetingTimeout: o.timeoutMs,
    socketTimeout: o.timeoutMs,
  });
  const domain = senderDomain(o.from);
  return {
    channel: 'email',
    async send(m) {
      const messageId = `<${m.idempotencyKey}@${domain}>`;
      try {
        const info = await transport.sendMail({ from: o.from, to: m.to, subject: m.subject, text: m.text, messageId });
        return { providerMessageId: info.messageId || messageId };
      } catch (err) {
        const c = classifySmtpError(err);
        throw new ProviderError('email', c.kind, c.code);
      }
    },
    close() {
      transport.close();
    },
  };
}
