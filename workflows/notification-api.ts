/**
 * The notification journey's public surface, used by the API (OTP), other workflows (reminders,
 * follow-ups) and the notifications worker. Requests carry ids and template names, never contact
 * details: the activity looks the recipient up when it sends.
 */
export const NOTIFICATIONS_TASK_QUEUE = 'notifications';

export type Channel = 'whatsapp' | 'sms' | 'email';
/** SPEC §8: fallback order when the recipient has no preference. */
export const DEFAULT_CHANNEL_ORDER: readonly Channel[] = ['whatsapp', 'sms', 'email'];

/** A secret's place in the database, e.g. the OTP challenge whose sealed code the activity sends and wipes. */
export interface SecretRef {
  kind: 'otp-challenge';
  id: string;
}

export interface MessageRequest {
  /** One message, once: the outbox row and the provider calls are keyed by it. */
  idempotencyKey: string;
  clinicId: string | null;
  recipient: { kind: 'patient' | 'user'; id: string };
  template: string;
  /**
   * Template parameters. Never a secret (an OTP code): those are filled at send time from
   * `secretRef`, and the activity refuses a request that carries one here.
   */
  params: Record<string, string>;
  /** Where the message's secret waits (shared/notify/message-secrets.ts); only its id travels through Temporal. */
  secretRef?: SecretRef;
  /** Channel order to try; the recipient's preferences (then DEFAULT_CHANNEL_ORDER) when absent. */
  channels?: Channel[];
}

export interface MessageOutcome {
  notificationId: string;
  status: 'SENT' | 'FAILED';
  channel: Channel | null;
}

/**
 * Attempts of a journey message activity before its row is dead-lettered: with 1 s initial backoff
 * doubling to at most a minute (1+2+4+8+16+32+60 s), about two minutes, like the deliverMessage workflow.
 */
export const JOURNEY_MESSAGE_ATTEMPTS = 8;

export const deliverMessageWorkflowId = (idempotencyKey: string) => `notify-${idempotencyKey}`;

/** Non-retryable failure types of the delivery activity; their details carry the FAILED MessageOutcome. */
export const NotificationFailure = {
  /** No channel reached the recipient: every provider refused the address, or there was none. */
  BAD_RECIPIENT: 'BAD_RECIPIENT',
  /** The request itself is wrong (unknown template, missing params, key reused for another message). */
  INVALID_MESSAGE: 'INVALID_MESSAGE',
} as const;
