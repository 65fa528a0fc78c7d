import type { Context } from 'koa';
import type { Actor } from '../../shared/permissions';
import { decodeCursor, page } from '../http/pagination';
import type { ApiDeps, ApiState } from '../http/state';
import { recordAudit } from './audit';

export interface NotificationView {
  id: string;
  clinicId: string;
  recipient: { kind: 'patient' | 'user'; id: string };
  template: string;
  language: string;
  channel: string | null;
  status: 'PENDING' | 'SENT' | 'FAILED';
  attempts: number;
  providerMessageId: string | null;
  lastError: string | null;
  createdAt: Date;
  updatedAt: Date;
  sentAt: Date | null;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- raw pg row
const view = (r: Record<string, any>): NotificationView => ({
  id: r.id, clinicId: r.clinic_id, recipient: { kind: r.recipient_kind, id: r.recipient_id }, template: r.template, language: r.language,
  channel: r.channel, status: r.status, attempts: r.attempts, providerMessageId: r.provider_message_id, lastError: r.last_error,
  createdAt: r.created_at, updatedAt: r.updated_at, sentAt: r.sent_at,
});

/**
 * The clinic's outbox, newest first; with status=FAILED, the dead-letter view. Rows hold ids,
 * template names and provider codes only, so nothing here is PHI.
 */
export async function listNotifications(deps: ApiDeps, ctx: Context & { state: ApiState }, actor: Actor, query: { status?: string; limit: number; cursor?: string }) {
  const cursor = decodeCursor(query.cursor);
  const args: unknown[] = [actor.clinicId];
  const where = ['clinic_id = $1'];
  if (query.status) {
    args.push(query.status);
    where.push(`status = $${args.length}`);
  }
  if (cursor) {
    args.push(cursor.k, cursor.id);
    where.push(`(created_at, id) < ($${args.length - 1}::timestamptz, $${args.length}::uuid)`);
  }
  args.push(query.limit + 1);
  const rows = await deps.dataSource.query(
    `SELECT id, clinic_id, recipient_kind, recipient_id, template, language, channel, status, attempts, provider_message_id,
            last_error, created_at, updated_at, sent_at
     FROM notifications WHERE ${where.join(' AND ')}
     ORDER BY created_at DESC, id DESC LIMIT $${args.length}`,
    args,
  );
  // Which patient was told what, and when, is still about patients: audited like a patient list.
  await recordAudit(deps, ctx, { action: 'notification.list', resourceType: 'Notification', resourceId: null, clinicId: actor.clinicId, actorUserId: actor.userId });
  return page<NotificationView>(rows.map(view), query.limit, (n) => ({ k: n.createdAt.toISOString(), id: n.id }));
}
