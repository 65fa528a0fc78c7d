import type { AddressInfo } from 'node:net';
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';

/**
 * A real SMTP server (the `smtp-server` package) on a free local port that collects what it
 * receives, parsed with mailparser. Faults on demand: refuse a recipient with 550 (permanent),
 * or answer the next N transactions with 451 (transient). A repeated Message-ID is accepted but
 * not stored again, the way mailbox providers collapse a resent message.
 */
export interface ReceivedMail {
  messageId: string;
  from: string;
  to: string[];
  subject: string;
  text: string;
}

export interface SmtpStandIn {
  readonly url: string;
  readonly messages: ReceivedMail[];
  /** Every MAIL FROM seen, failed ones included. */
  readonly transactions: number;
  rejectRecipient(address: string): void;
  failNext(n: number): void;
  /** Holds every message this long before accepting it: deliveries stay in flight. */
  slowDown(ms: number): void;
  reset(): void;
  waitForMessages(count: number, timeoutMs?: number): Promise<ReceivedMail[]>;
  stop(): Promise<void>;
}

const smtpError = (code: number, message: string) => Object.assign(new Error(message), { responseCode: code });

export async function startSmtpServer(): Promise<SmtpStandIn> {
  const messages: ReceivedMail[] = [];
  const rejected = new Set<string>();
  let transactions = 0;
  let failures = 0;
  let delayMs = 0;

  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onMailFrom(_address, _session, callback) {
      transactions += 1;
      if (failures > 0) {
        failures -= 1;
        return callback(smtpError(451, 'Requested action aborted: local error in processing'));
      }
      callback();
    },
    onRcptTo(address, _session, callback) {
      if (rejected.has(address.address.toLowerCase())) return callback(smtpError(550, 'Mailbox unavailable'));
      callback();
    },
    onData(stream, session, callback) {
      simpleParser(stream)
        .then(async (mail) => {
          if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
          const messageId = mail.messageId ?? '';
          if (!messageId || !messages.some((m) => m.messageId === messageId)) {
            messages.push({
              messageId,
              from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
              to: session.envelope.rcptTo.map((r) => r.address),
              subject: mail.subject ?? '',
              text: (mail.text ?? '').trim(),
            });
          }
          callback();
        })
        .catch((err: Error) => callback(err));
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.server.address() as AddressInfo).port;

  return {
    url: `smtp://127.0.0.1:${port}`,
    messages,
    get transactions() { return transactions; },
    rejectRecipient(address) { rejected.add(address.toLowerCase()); },
    failNext(n) { failures = n; },
    slowDown(ms) { delayMs = ms; },
    reset() {
      messages.length = 0;
      rejected.clear();
      transactions = 0;
      failures = 0;
    },
    async waitForMessages(count, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      while (messages.length < count) {
        if (Date.now() > deadline) throw new Error(`expected ${count} mails, got ${messages.length}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      return messages;
    },
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
