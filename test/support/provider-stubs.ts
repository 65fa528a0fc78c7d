import { randomBytes } from 'node:crypto';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Local stand-ins for the SMS (Twilio Messages API) and WhatsApp (Cloud API) providers: real HTTP
 * servers on free ports speaking the same request and response shapes, recording what they
 * accepted. Like the real services they answer a repeated idempotency key with the first answer
 * instead of sending again. Faults on demand: the next N calls fail with 500, a number is refused
 * permanently (Twilio 21211, WhatsApp 131026), or the next N answers are delayed.
 */
export interface StubMessage {
  id: string;
  to: string;
  from: string | null;
  body: string;
  idempotencyKey: string | null;
}

interface Answer {
  status: number;
  json: unknown;
}

export interface ProviderStub {
  readonly url: string;
  /** Accepted (sent) messages, one per distinct idempotency key. */
  readonly messages: StubMessage[];
  /** Every request received, replays and failures included. */
  readonly calls: number;
  failNext(n: number): void;
  delayNext(n: number, ms: number): void;
  rejectRecipient(phone: string): void;
  reset(): void;
  waitForMessages(count: number, timeoutMs?: number): Promise<StubMessage[]>;
  stop(): Promise<void>;
}

const normalizePhone = (p: string) => p.replace(/[^\d]/g, '');

interface Dialect {
  /** Path the stub answers; anything else is 404. */
  path: string;
  idempotencyHeader: string;
  authorized(req: IncomingMessage): boolean;
  unauthorized: Answer;
  parse(raw: string): { to: string; from: string | null; body: string } | null;
  badRequest: Answer;
  serverError: Answer;
  rejected(to: string): Answer;
  accepted(m: StubMessage): Answer;
  newId(): string;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

async function startStub(d: Dialect): Promise<ProviderStub> {
  const messages: StubMessage[] = [];
  const byKey = new Map<string, Answer>();
  const rejected = new Set<string>();
  let calls = 0;
  let failures = 0;
  let delays = 0;
  let delayMs = 0;

  const send = (res: ServerResponse, a: Answer) => {
    res.writeHead(a.status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(a.json));
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    calls += 1;
    const raw = await readBody(req);
    if (delays > 0) {
      delays -= 1;
      await new Promise((r) => setTimeout(r, delayMs));
    }
    if (req.method !== 'POST' || req.url !== d.path) return send(res, { status: 404, json: { error: 'not found' } });
    if (!d.authorized(req)) return send(res, d.unauthorized);
    if (failures > 0) {
      failures -= 1;
      return send(res, d.serverError);
    }
    const header = req.headers[d.idempotencyHeader.toLowerCase()];
    const key = typeof header === 'string' ? header : null;
    const replay = key ? byKey.get(key) : undefined;
    if (replay) return send(res, replay);
    const parsed = d.parse(raw);
    if (!parsed) return send(res, d.badRequest);
    if (rejected.has(normalizePhone(parsed.to))) return send(res, d.rejected(parsed.to));
    const message: StubMessage = { id: d.newId(), ...parsed, idempotencyKey: key };
    messages.push(message);
    const answer = d.accepted(message);
    if (key) byKey.set(key, answer);
    return send(res, answer);
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch(() => send(res, { status: 500, json: {} }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url,
    messages,
    get calls() { return calls; },
    failNext(n) { failures = n; },
    delayNext(n, ms) { delays = n; delayMs = ms; },
    rejectRecipient(phone) { rejected.add(normalizePhone(phone)); },
    reset() {
      messages.length = 0;
      byKey.clear();
      rejected.clear();
      calls = 0;
      failures = 0;
      delays = 0;
    },
    async waitForMessages(count, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      while (messages.length < count) {
        if (Date.now() > deadline) throw new Error(`expected ${count} messages at ${url}, got ${messages.length}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      return messages;
    },
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface TwilioCredentials {
  accountSid: string;
  authToken: string;
}

/** POST /2010-04-01/Accounts/{sid}/Messages.json, form-encoded To/From/Body, basic auth sid:token. */
export function startTwilioStub(creds: TwilioCredentials): Promise<ProviderStub> {
  const expected = `Basic ${Buffer.from(`${creds.accountSid}:${creds.authToken}`).toString('base64')}`;
  const error = (status: number, code: number, message: string): Answer => ({
    status, json: { code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status },
  });
  return startStub({
    path: `/2010-04-01/Accounts/${creds.accountSid}/Messages.json`,
    idempotencyHeader: 'I-Twilio-Idempotency-Token',
    authorized: (req) => req.headers.authorization === expected && String(req.headers['content-type']).startsWith('application/x-www-form-urlencoded'),
    unauthorized: error(401, 20003, 'Authenticate'),
    parse(raw) {
      const form = new URLSearchParams(raw);
      const to = form.get('To');
      const body = form.get('Body');
      if (!to || !body || !/^\+[1-9]\d{6,14}$/.test(to)) return null;
      return { to, from: form.get('From'), body };
    },
    badRequest: error(400, 21211, "The 'To' number is not a valid phone number."),
    serverError: error(500, 20500, 'Internal Server Error'),
    rejected: () => error(400, 21211, "The 'To' number is not a valid phone number."),
    accepted: (m) => ({
      status: 201,
      json: { sid: m.id, account_sid: creds.accountSid, to: m.to, from: m.from, body: m.body, status: 'queued', num_segments: '1', error_code: null },
    }),
    newId: () => `SM${randomBytes(16).toString('hex')}`,
  });
}

export interface WhatsAppCredentials {
  phoneNumberId: string;
  token: string;
}

/** POST /v21.0/{phone-number-id}/messages, bearer token, JSON {messaging_product, to, type: 'text', text: {body}}. */
export function startWhatsAppStub(creds: WhatsAppCredentials): Promise<ProviderStub> {
  const error = (status: number, code: number, message: string): Answer => ({
    status, json: { error: { message, type: 'OAuthException', code, error_data: { messaging_product: 'whatsapp', details: message }, fbtrace_id: randomBytes(8).toString('hex') } },
  });
  return startStub({
    path: `/v21.0/${creds.phoneNumberId}/messages`,
    idempotencyHeader: 'Idempotency-Key',
    authorized: (req) => req.headers.authorization === `Bearer ${creds.token}`,
    unauthorized: error(401, 190, 'Invalid OAuth access token.'),
    parse(raw) {
      try {
        const j = JSON.parse(raw);
        if (j.messaging_product !== 'whatsapp' || j.type !== 'text' || typeof j.to !== 'string' || typeof j.text?.body !== 'string') return null;
        return { to: j.to, from: null, body: j.text.body };
      } catch {
        return null;
      }
    },
    badRequest: error(400, 100, 'Invalid parameter'),
    serverError: error(500, 1, 'An unknown error occurred'),
    rejected: () => error(400, 131026, 'Message undeliverable'),
    accepted: (m) => ({
      status: 200,
      json: { messaging_product: 'whatsapp', contacts: [{ input: m.to, wa_id: normalizePhone(m.to) }], messages: [{ id: m.id }] },
    }),
    newId: () => `wamid.${randomBytes(24).toString('base64url')}`,
  });
}
