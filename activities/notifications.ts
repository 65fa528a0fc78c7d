import { ApplicationFailure, ApplicationFailureCategory } from '@temporalio/common';
import type { DataSource } from 'typeorm';
import { PG, pgCode } from '../shared/db/pg-errors';
import type { Keyring } from '../shared/crypto/keyring';
import type { Logger } from '../shared/logger';
import { addressFor, chooseChannels } from '../shared/notify/channels';
import { ProviderError, Providers } from '../shared/notify/providers';
import { readSecret, wipeSecret } from '../shared/notify/message-secrets';
import { render, Rendered, secretParamsOf, TemplateError } from '../shared/notify/templates';
import type { Channel, MessageOutcome, MessageRequest } from '../workflows/notification-api';
import { NotificationFailure } from '../workflows/notification-api';
import { loadRecipient } from './recipients';

export interface NotificationActivityDeps {
  dataSource: DataSource;
  /** Adapters per channel (built once from config). A channel without one is never chosen. */
  providers?: Providers;
  /** Opens the patient's sealed phone and email (PHI at rest) and a message's sealed secret. */
  phiKeyring?: Keyring;
  log?: Logger;
}

interface OutboxRow {
  id: string;
  recipient_kind: string;
  recipient_id: string;
  template: string;
  status: 'PENDING' | 'SENT' | 'FAILED';
  channel: Channel | null;
  attempts: number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const outcomeOf = (row: Pick<OutboxRow, 'id' | 'status' | 'channel'>): MessageOutcome => ({
  notificationId: row.id,
  status: row.status === 'SENT' ? 'SENT' : 'FAILED',
  channel: row.status === 'SENT' ? row.channel : null,
});

/** Expected end states, not faults: never retried, benign (no error logs or failure metrics). */
const finalFailure = (type: keyof typeof NotificationFailure, message: string, outcome?: MessageOutcome) =>
  ApplicationFailure.create({
    type, message, nonRetryable: true, category: ApplicationFailureCategory.BENIGN, details: outcome ? [outcome] : undefined,
  });

export function createNotificationActivities({ dataSource, providers = {}, phiKeyring, log }: NotificationActivityDeps) {
  const enabled = (Object.keys(providers) as Channel[]).filter((c) => providers[c]);

  async function claimRow(req: MessageRequest, language: string): Promise<OutboxRow> {
    const cols = `id, recipient_kind, recipient_id::text AS recipient_id, template, status, channel, attempts`;
    const inserted: OutboxRow[] = await dataSource.query(
      `INSERT INTO notifications (clinic_id, recipient_kind, recipient_id, template, language, idempotency_key)
       VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (idempotency_key) DO NOTHING
       RETURNING ${cols}`,
      [req.clinicId, req.recipient.kind, req.recipient.id, req.template, language, req.idempotencyKey],
    ).catch((err: unknown) => {
      if (pgCode(err) === PG.FOREIGN_KEY_VIOLATION) throw finalFailure('INVALID_MESSAGE', 'Unknown clinic');
      throw err;
    });
    if (inserted.length) return inserted[0];
    const [existing]: OutboxRow[] = await dataSource.query(`SELECT ${cols} FROM notifications WHERE idempotency_key = $1`, [req.idempotencyKey]);
    // Taken, yet invisible: row-level security hides another clinic's row.
    if (!existing) throw finalFailure('INVALID_MESSAGE', 'Idempotency key already used for a message of another clinic');
    return existing;
  }

  async function currentOutcome(id: string): Promise<MessageOutcome> {
    const [row] = await dataSource.query(`SELECT id, status, channel FROM notifications WHERE id = $1`, [id]);
    return outcomeOf(row);
  }

  /** Marks the row FAILED and throws the final failure; a row some earlier attempt SENT stays SENT and is returned. */
  async function failFinally(id: string, type: keyof typeof NotificationFailure, lastError: string): Promise<MessageOutcome> {
    const [rows] = await dataSource.query(
      `UPDATE notifications SET status = 'FAILED', last_error = $2, updated_at = now() WHERE id = $1 AND status <> 'SENT'
       RETURNING id, status, channel`,
      [id, lastError.slice(0, 200)],
    );
    if (!rows.length) return currentOutcome(id);
    log?.warn({ notificationId: id, reason: lastError }, 'notification failed');
    throw finalFailure(type, `Notification ${id} not delivered: ${lastError}`, outcomeOf(rows[0]));
  }

  /** Marks the row FAILED without a failure to retry or report (the workflow returns the outcome); SENT stays SENT. */
  async function giveUp(id: string, reason: string): Promise<MessageOutcome> {
    const [rows] = await dataSource.query(
      `UPDATE notifications SET status = 'FAILED', last_error = $2, updated_at = now() WHERE id = $1 AND status <> 'SENT'
       RETURNING id, status, channel`,
      [id, reason],
    );
    if (!rows.length) return currentOutcome(id);
    log?.warn({ notificationId: id, reason }, 'notification not delivered');
    return outcomeOf(rows[0]);
  }

  /** A secret in the params has already leaked into Temporal's history: refused, so the caller gets fixed. */
  function assertSecretsByReference(req: MessageRequest): void {
    const secretParams = secretParamsOf(req.template);
    const inParams = secretParams.filter((name) => req.params && Object.hasOwn(req.params, name));
    if (inParams.length) throw finalFailure('INVALID_MESSAGE', `${req.template}: ${inParams.join(', ')} must come from secretRef, never from params`);
    if (secretParams.length && !req.secretRef) throw finalFailure('INVALID_MESSAGE', `${req.template}: secretRef is required`);
    if (req.secretRef && (req.secretRef.kind !== 'otp-challenge' || !UUID.test(req.secretRef.id ?? '') || !secretParams.length)) {
      throw finalFailure('INVALID_MESSAGE', `${req.template}: secretRef is not a valid reference for this template`);
    }
  }

  async function deliverOnce(req: MessageRequest): Promise<MessageOutcome> {
    const recipient = await loadRecipient(dataSource, req.recipient, req.clinicId, phiKeyring);
    // Read at send time into this execution's memory only; null when gone (sent and wiped, expired, used).
    const secret = req.secretRef ? await readSecret(dataSource, phiKeyring!, req.secretRef) : undefined;
    let rendered: Rendered | null = null;
    let invalid: string | null = null;
    try {
      rendered = render(req.template, recipient?.preferences.language, { ...req.params, ...secret });
    } catch (err) {
      if (!(err instanceof TemplateError)) throw err;
      invalid = err.message.includes('Unknown template') ? 'UNKNOWN_TEMPLATE' : 'INVALID_PARAMS';
    }

    const row = await claimRow(req, rendered?.language ?? 'en');
    if (row.recipient_kind !== req.recipient.kind || row.recipient_id !== req.recipient.id.toLowerCase() || row.template !== req.template) {
      throw finalFailure('INVALID_MESSAGE', `Idempotency key already used for another message (notification ${row.id})`);
    }
    if (row.status === 'SENT') return outcomeOf(row);
    // Never sent without its secret: no empty or stale code goes out. Not a fault, so not retried.
    if (secret === null) return giveUp(row.id, 'SECRET_GONE');
    if (invalid || !rendered) return failFinally(row.id, 'INVALID_MESSAGE', invalid ?? 'INVALID_PARAMS');
    if (!recipient) return failFinally(row.id, 'BAD_RECIPIENT', 'RECIPIENT_NOT_FOUND');

    const channels = chooseChannels({ requested: req.channels, preferred: recipient.preferences.channels, contact: recipient.contact, enabled });
    if (!channels.length) return failFinally(row.id, 'BAD_RECIPIENT', 'NO_CHANNEL');

    // One attempt per activity execution; a FAILED row asked for again is tried afresh.
    const [claimed] = await dataSource.query(
      `UPDATE notifications SET attempts = attempts + 1, status = 'PENDING', updated_at = now() WHERE id = $1 AND status <> 'SENT'
       RETURNING attempts`,
      [row.id],
    );
    if (!claimed.length) return currentOutcome(row.id);

    const errors: string[] = [];
    for (const channel of channels) {
      try {
        const sent = await providers[channel]!.send({
          to: addressFor(channel, recipient.contact)!, subject: rendered.subject, text: rendered.text, idempotencyKey: row.id,
        });
        await dataSource.query(
          `UPDATE notifications SET status = 'SENT', channel = $2, provider_message_id = $3, sent_at = now(), updated_at = now(),
                  last_error = $4
           WHERE id = $1`,
          [row.id, channel, sent.providerMessageId, errors.length ? errors.join(' ') : null],
        );
        log?.info({ notificationId: row.id, channel, attempt: claimed[0].attempts }, 'notification sent');
        return { notificationId: row.id, status: 'SENT', channel };
      } catch (err) {
        if (!(err instanceof ProviderError)) throw err;
        errors.push(`${channel}:${err.code}`);
        if (err.kind === 'transient') {
          await dataSource.query(`UPDATE notifications SET last_error = $2, updated_at = now() WHERE id = $1`, [row.id, errors.join(' ')]);
          log?.info({ notificationId: row.id, channel, code: err.code }, 'notification provider unavailable; will retry');
          throw ApplicationFailure.retryable(`${channel} provider unavailable (${err.code})`, 'PROVIDER_UNAVAILABLE');
        }
      }
    }
    return failFinally(row.id, 'BAD_RECIPIENT', errors.join(' '));
  }

  return {
    /**
     * Delivers one message, at most once, through the first channel that accepts it. Idempotent by
     * request.idempotencyKey: the outbox row is claimed with ON CONFLICT, a SENT row is returned as
     * is, and every provider call carries the row id as its idempotency key, so a retry after the
     * provider accepted but before the row said so gets the first send's id instead of a second message.
     *
     * Transient provider failure → retryable error (Temporal backs off); permanent refusal → next
     * channel; no channel left → row FAILED and a non-retryable BAD_RECIPIENT carrying the outcome.
     *
     * A message with a secret (`secretRef`) reads it at send time and wipes it at any end, sent or
     * finally failed; a transient failure keeps it for the retry (the provider idempotency key still
     * makes that retry a replay). A retry that finds the secret gone, its message not SENT, sends
     * nothing and ends FAILED with SECRET_GONE; one that finds the message SENT returns SENT.
     */
    async deliverMessage(req: MessageRequest): Promise<MessageOutcome> {
      if (!UUID.test(req.recipient?.id ?? '') || (req.clinicId !== null && !UUID.test(req.clinicId))
        || !req.idempotencyKey || req.idempotencyKey.length > 200) {
        throw finalFailure('INVALID_MESSAGE', 'Recipient and clinic must be uuids and the idempotency key 1-200 characters');
      }
      assertSecretsByReference(req);
      const ref = req.secretRef;
      if (!ref) return deliverOnce(req);
      // A deployment bug, not a property of this message: retried, then dead-lettered.
      if (!phiKeyring) throw new Error('Notification activities need the PHI keyring to open a message secret');
      try {
        const outcome = await deliverOnce(req);
        await wipeSecret(dataSource, ref);
        return outcome;
      } catch (err) {
        if (err instanceof ApplicationFailure && err.nonRetryable) await wipeSecret(dataSource, ref);
        throw err;
      }
    },

    /**
     * Dead-letters a message whose retries ran out (the workflow calls it). Idempotent; a SENT row
     * stays SENT. `clinicId` puts the activity in the row's tenant context (row-level security).
     */
    async markNotificationUndelivered(req: { idempotencyKey: string; clinicId: string | null; reason: string }): Promise<MessageOutcome | null> {
      const [row] = await dataSource.query(`SELECT id FROM notifications WHERE idempotency_key = $1`, [req.idempotencyKey]);
      if (!row) return null;
      const [rows] = await dataSource.query(
        `UPDATE notifications SET status = 'FAILED', updated_at = now(),
                last_error = left(concat_ws(' ', last_error, $2::text), 200)
         WHERE id = $1 AND status = 'PENDING'
         RETURNING id, status, channel`,
        [row.id, req.reason],
      );
      if (rows.length) {
        log?.warn({ notificationId: row.id, reason: req.reason }, 'notification dead-lettered');
        return outcomeOf(rows[0]);
      }
      return currentOutcome(row.id);
    },
  };
}

export type NotificationActivities = ReturnType<typeof createNotificationActivities>;
