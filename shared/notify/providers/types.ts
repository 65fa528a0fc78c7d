import type { Channel } from '../../../workflows/notification-api';

export interface OutgoingMessage {
  /** Phone number (E.164) or email address. */
  to: string;
  subject: string;
  text: string;
  /**
   * Stable across retries of one message on one channel: the provider (Twilio, Meta) answers a
   * repeated key with the first result instead of sending again.
   */
  idempotencyKey: string;
}

export interface SendResult {
  providerMessageId: string;
}

export interface MessageProvider {
  readonly channel: Channel;
  /** Resolves when the provider accepted the message; rejects with ProviderError only. */
  send(message: OutgoingMessage): Promise<SendResult>;
  close?(): Promise<void> | void;
}

export type Providers = Partial<Record<Channel, MessageProvider>>;

/**
 * permanent: this recipient cannot be reached on this channel (try the next one);
 * transient: the provider may accept the same message later (retry with backoff).
 */
export type FailureKind = 'permanent' | 'transient';

/**
 * A classified provider failure. `code` is a provider error code or a short reason
 * (21211, 131026, SMTP_550, HTTP_503, TIMEOUT): never an address or the message, so it is safe
 * to store and log. The provider's own error text is deliberately dropped (it often echoes the address).
 */
export class ProviderError extends Error {
  constructor(
    readonly channel: Channel,
    readonly kind: FailureKind,
    readonly code: string,
  ) {
    super(`${channel} provider: ${kind} failure ${code}`);
    this.name = 'ProviderError';
  }
}
