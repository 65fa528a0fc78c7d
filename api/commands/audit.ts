import type { Context } from 'koa';
import { z } from 'zod';
import { auditAppender, sealChain } from '../../shared/audit/appender';
import { ChainRow, emptyChain, verifyRows } from '../../shared/audit/chain';
import type { Actor } from '../../shared/permissions';
import { problems } from '../http/problem';
import type { ApiDeps, ApiState } from '../http/state';

export interface AuditEntry {
  action: string;
  resourceType: string;
  resourceId: string | null;
  clinicId: string | null;
  actorUserId: string | null;
}

type AuditDeps = Pick<ApiDeps, 'dataSource'> & Partial<Pick<ApiDeps, 'config' | 'log'>>;
type Ctx = Context & { state: ApiState };

/** Reads of patient data: the only rows AUDIT_READS=false leaves out (to measure their cost). Break-glass reads never are. */
const isPatientRead = (e: AuditEntry) => e.resourceType === 'Patient' && /\.(read|list|search)(\.|$)/.test(e.action) && !e.action.endsWith('.break_glass');

/**
 * Appends one audit row for the clinic's hash chain (or, without a clinic, the platform chain) and
 * resolves once it is committed; the chain is sealed right after, off the request path
 * (shared/audit/appender.ts). Ids and action names only, never PHI. The database sets the time.
 */
export async function recordAudit(deps: AuditDeps, ctx: Ctx, e: AuditEntry): Promise<void> {
  if (deps.config?.AUDIT_READS === false && isPatientRead(e)) return;
  await auditAppender(deps.dataSource, deps.log ?? ctx.state.log).append({
    clinicId: e.clinicId, actorUserId: e.actorUserId, action: e.action, resourceType: e.resourceType, resourceId: e.resourceId,
    requestId: ctx.state.requestId ?? null, ip: ctx.ip || null,
  });
}

const UUID = z.uuid();
const SLUG = /^[a-z0-9-]{1,63}$/;

/**
 * A refused authorize call (the route's declared permission) or a refused clinic context, as
 * 'permission.denied'. A refused clinic context goes to the chain of the clinic asked for when it
 * exists (its auditors see who knocked), else to the platform chain.
 */
export async function recordDenial(
  deps: AuditDeps, ctx: Ctx,
  d: { actorUserId: string | null; clinicId: string | null; resourceType: string; resourceId: string | null },
): Promise<void> {
  await recordAudit(deps, ctx, { action: 'permission.denied', ...d });
}

export async function recordClinicDenial(deps: AuditDeps, ctx: Ctx, actorUserId: string, wanted: { id?: string; slug?: string } | null): Promise<void> {
  const ref = wanted?.id && UUID.safeParse(wanted.id).success ? { id: wanted.id } : wanted?.slug && SLUG.test(wanted.slug) ? { slug: wanted.slug } : null;
  const [clinic] = ref
    ? await deps.dataSource.query(ref.id ? 'SELECT id FROM clinics WHERE id = $1' : 'SELECT id FROM clinics WHERE slug = $1', [ref.id ?? ref.slug])
    : [];
  await recordDenial(deps, ctx, { actorUserId, clinicId: clinic?.id ?? null, resourceType: 'Clinic', resourceId: clinic?.id ?? ref?.id ?? ref?.slug ?? null });
}

// ───────────────────────────── reading the log ─────────────────────────────

/** Ids and positions go out as text (bigint); ORDER BY must name the table's column, or it would sort the text. */
const ROW_COLUMNS = `id::text AS id, chain_seq::text AS chain_seq, clinic_id, actor_user_id, action, resource_type, resource_id, request_id, ip,
  to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS occurred_at, prev_hash, hash`;

interface RawRow {
  id: string; chain_seq: string | null; clinic_id: string | null; actor_user_id: string | null; action: string; resource_type: string;
  resource_id: string | null; request_id: string | null; ip: string | null; occurred_at: string; prev_hash: string | null; hash: string | null;
}

const toRow = (r: RawRow): ChainRow & { chainSeq: string | null } => ({
  id: r.id, chainSeq: r.chain_seq, clinicId: r.clinic_id, actorUserId: r.actor_user_id, action: r.action, resourceType: r.resource_type,
  resourceId: r.resource_id, requestId: r.request_id, ip: r.ip, occurredAt: r.occurred_at, prevHash: r.prev_hash, hash: r.hash,
});

export const encodeAuditCursor = (id: string) => Buffer.from(JSON.stringify({ before: id })).toString('base64url');

function decodeAuditCursor(raw: string | undefined): string | null {
  if (!raw) return null;
  try {
    const c = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
    if (typeof c?.before === 'string' && /^[1-9]\d{0,18}$/.test(c.before)) return c.before;
  } catch {
    // fall through
  }
  throw problems.validation([{ field: 'query.cursor', message: 'Invalid cursor' }]);
}

export interface AuditQuery {
  from?: string; to?: string; actorUserId?: string; action?: string; resourceType?: string; resourceId?: string; limit: number; cursor?: string;
}

/** The clinic's audit rows, newest first, keyset-paginated by id. */
export async function listAuditLogs(deps: ApiDeps, ctx: Ctx, actor: Actor, query: AuditQuery) {
  const clinicId = actor.clinicId!;
  const args: unknown[] = [clinicId];
  const where = ['clinic_id = $1'];
  const add = (sql: (p: string) => string, value: unknown) => { args.push(value); where.push(sql(`$${args.length}`)); };
  if (query.from) add((p) => `occurred_at >= ${p}::timestamptz`, query.from);
  if (query.to) add((p) => `occurred_at < ${p}::timestamptz`, query.to);
  if (query.actorUserId) add((p) => `actor_user_id = ${p}::uuid`, query.actorUserId);
  if (query.action) add((p) => `action = ${p}`, query.action);
  if (query.resourceType) add((p) => `resource_type = ${p}`, query.resourceType);
  if (query.resourceId) add((p) => `resource_id = ${p}`, query.resourceId);
  const before = decodeAuditCursor(query.cursor);
  if (before) add((p) => `id < ${p}::bigint`, before);
  args.push(query.limit + 1);
  const rows: RawRow[] = await deps.dataSource.query(
    `SELECT ${ROW_COLUMNS} FROM audit_logs WHERE ${where.join(' AND ')} ORDER BY audit_logs.id DESC LIMIT $${args.length}`, args);
  const items = rows.slice(0, query.limit).map(toRow);
  await recordAudit(deps, ctx, { action: 'audit.read', resourceType: 'AuditLog', resourceId: null, clinicId, actorUserId: actor.userId });
  return { items, nextCursor: rows.length > query.limit ? encodeAuditCursor(items[items.length - 1].id) : null };
}

const PAGE = 5000;
const SEAL_PAGE = 1000;

export interface ChainReport {
  valid: boolean;
  checked: number;
  firstBrokenId?: string;
  reason?: string;
  /** The chain's last sealed row; also checked against the anchored heads (migration 1764262000000). */
  head: { id: string; seq: string; hash: string; occurredAt: string } | null;
  /** Rows appended after the seal this verification started with (chained by the next seal). */
  unsealed: number;
}

/**
 * Seals one chain (a clinic's, or with null the platform chain of rows without a clinic), then
 * walks it in chain order, in pages, in one snapshot, checking every hash with the TypeScript
 * implementation. Then every anchored head (audit_anchors, written by each seal, append-only and
 * out of the app role's reach) must still be the row at its position: one missing or different
 * means rows were cut off the end, which the chain alone cannot show (reason `anchor-mismatch`,
 * firstBrokenId the anchored row).
 */
export async function verifyChain(deps: Pick<ApiDeps, 'dataSource'>, clinicId: string | null): Promise<ChainReport> {
  // Seal the backlog as of now; rows appended meanwhile are reported as unsealed, not waited for.
  while ((await sealChain(deps.dataSource, clinicId, SEAL_PAGE)).sealed === SEAL_PAGE);
  // Two spellings rather than IS NOT DISTINCT FROM, which no index serves.
  const inChain = clinicId ? 'clinic_id = $1::uuid' : '(clinic_id IS NULL AND $1::uuid IS NULL)';
  return deps.dataSource.transaction('REPEATABLE READ', async (tx) => {
    await tx.query('SET TRANSACTION READ ONLY');
    let state = emptyChain();
    let after = '0';
    for (;;) {
      const rows: RawRow[] = await tx.query(
        `SELECT ${ROW_COLUMNS} FROM audit_logs WHERE ${inChain} AND audit_logs.chain_seq > $2::bigint
         ORDER BY audit_logs.clinic_id, audit_logs.chain_seq LIMIT ${PAGE}`, [clinicId, after]);
      state = verifyRows(state, rows.map(toRow));
      if (state.broken || rows.length < PAGE) break;
      after = rows[rows.length - 1].chain_seq!;
    }
    const [last]: RawRow[] = await tx.query(
      `SELECT ${ROW_COLUMNS} FROM audit_logs WHERE ${inChain} AND audit_logs.chain_seq IS NOT NULL
       ORDER BY audit_logs.clinic_id DESC, audit_logs.chain_seq DESC LIMIT 1`, [clinicId]);
    const [{ n: unsealed }]: { n: number }[] = await tx.query(`SELECT count(*)::int AS n FROM audit_logs WHERE ${inChain} AND hash IS NULL`, [clinicId]);
    const head = last ? { id: last.id, seq: last.chain_seq!, hash: last.hash!, occurredAt: last.occurred_at } : null;
    if (state.broken) return { valid: false, checked: state.checked, firstBrokenId: state.broken.id, reason: state.broken.reason, head, unsealed };
    const anchorChain = clinicId ? 'a.clinic_id = $1::uuid AND l.clinic_id = a.clinic_id' : '(a.clinic_id IS NULL AND $1::uuid IS NULL) AND l.clinic_id IS NULL';
    const [lost]: { head_id: string }[] = await tx.query(
      `SELECT a.head_id::text AS head_id FROM audit_anchors a
       WHERE ${clinicId ? 'a.clinic_id = $1::uuid' : '(a.clinic_id IS NULL AND $1::uuid IS NULL)'}
         AND NOT EXISTS (SELECT 1 FROM audit_logs l WHERE ${anchorChain} AND l.chain_seq = a.chain_seq AND l.hash = a.hash)
       ORDER BY a.chain_seq LIMIT 1`, [clinicId]);
    if (lost) return { valid: false, checked: state.checked, firstBrokenId: lost.head_id, reason: 'anchor-mismatch', head, unsealed };
    return { valid: true, checked: state.checked, head, unsealed };
  });
}

export async function verifyAuditLog(deps: ApiDeps, ctx: Ctx, actor: Actor): Promise<ChainReport> {
  const report = await verifyChain(deps, actor.clinicId!);
  await recordAudit(deps, ctx, { action: 'audit.verify', resourceType: 'AuditLog', resourceId: null, clinicId: actor.clinicId, actorUserId: actor.userId });
  return report;
}
