import type { FailureKind } from './types';

/**
 * Pure failure classification for the provider adapters. What matters is the retry decision:
 * a permanent failure moves on to the next channel, a transient one is retried with backoff.
 */
export interface Classified {
  kind: FailureKind;
  code: string;
}

/** Provider codes are stored in the outbox: keep only short token-like values, never free text. */
export function safeCode(raw: unknown): string | null {
  const s = typeof raw === 'number' ? String(raw) : typeof raw === 'string' ? raw : '';
  return /^[A-Za-z0-9_.-]{1,40}$/.test(s) ? s : null;
}

/** Statuses that say "not now" rather than "never". 409 is Twilio's "same idempotency token still in flight". */
const TRANSIENT_STATUSES = new Set([408, 409, 425, 429]);

/**
 * An HTTP answer that is not a success. `transientCodes` lists provider codes that arrive with a
 * 4xx status yet mean "try later" (Meta reports throttling as 400 with code 130429, for one).
 */
export function classifyHttpFailure(status: number, providerCode: unknown, transientCodes: ReadonlySet<string> = new Set()): Classified {
  const code = safeCode(providerCode);
  const transient = status >= 500 || TRANSIENT_STATUSES.has(status) || (code !== null && transientCodes.has(code)) || status < 400;
  return { kind: transient ? 'transient' : 'permanent', code: code ?? `HTTP_${status}` };
}

/** fetch rejected: no answer at all (timeout, refused, reset, DNS). Always worth another try. */
export function classifyFetchError(err: unknown): Classified {
  const e = err as { name?: unknown; cause?: { code?: unknown } };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return { kind: 'transient', code: 'TIMEOUT' };
  return { kind: 'transient', code: safeCode(e?.cause?.code) ?? 'NETWORK' };
}

/**
 * A nodemailer error. RFC 5321: a 5yz reply is permanent (550 mailbox unavailable, 553 bad
 * address), a 4yz reply transient; 503 (bad command sequence) is a session fault, not a verdict on
 * the message. No reply at all (connection refused, timeout) is transient.
 */
export function classifySmtpError(err: unknown): Classified {
  const e = err as { responseCode?: unknown; code?: unknown };
  const reply = typeof e?.responseCode === 'number' ? e.responseCode : null;
  if (reply !== null) {
    const permanent = reply >= 500 && reply < 600 && reply !== 503;
    return { kind: permanent ? 'permanent' : 'transient', code: `SMTP_${reply}` };
  }
  const code = safeCode(e?.code);
  // An envelope refused before any server reply: the address itself is unusable.
  if (code === 'EENVELOPE') return { kind: 'permanent', code };
  if (code === 'ETIMEDOUT') return { kind: 'transient', code: 'TIMEOUT' };
  return { kind: 'transient', code: code ?? 'SMTP_ERROR' };
}
