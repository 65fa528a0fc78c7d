import { Channel, DEFAULT_CHANNEL_ORDER } from '../../workflows/notification-api';

export const CHANNELS: readonly Channel[] = ['whatsapp', 'sms', 'email'];

/** Where a recipient can be reached. */
export interface ContactPoints {
  phone: string | null;
  email: string | null;
}

export const isChannel = (v: unknown): v is Channel => typeof v === 'string' && (CHANNELS as readonly string[]).includes(v);

/** WhatsApp and SMS go to the phone number, email to the email address. */
export function addressFor(channel: Channel, contact: ContactPoints): string | null {
  const raw = channel === 'email' ? contact.email : contact.phone;
  return raw && raw.trim() ? raw.trim() : null;
}

/**
 * The channels to try, in order: the request's list, else the recipient's stored preference, else
 * the default (SPEC §8). An explicit list is respected as given, even when empty (opted out);
 * unknown entries (preferences are free-form jsonb) are ignored. Channels the recipient has no
 * address for, or this deployment has no provider for, are dropped.
 */
export function chooseChannels(opts: {
  requested?: readonly unknown[] | null;
  preferred?: readonly unknown[] | null;
  contact: ContactPoints;
  enabled?: readonly Channel[];
}): Channel[] {
  const order = opts.requested ?? opts.preferred ?? DEFAULT_CHANNEL_ORDER;
  const chosen: Channel[] = [];
  for (const c of order) {
    if (!isChannel(c) || chosen.includes(c)) continue;
    if (opts.enabled && !opts.enabled.includes(c)) continue;
    if (addressFor(c, opts.contact)) chosen.push(c);
  }
  return chosen;
}
