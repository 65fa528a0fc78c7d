import { randomUUID } from 'node:crypto';
import { subject } from '@casl/ability';
import type { Context } from 'koa';
import { openText, sealText } from '../../shared/crypto/keyring';
import { phiKeysFor } from '../../shared/crypto/patient-phi';
import { openUserPii } from '../../shared/crypto/user-pii';
import type { Actor, AppAbility } from '../../shared/permissions';
import { deliverMessageWorkflowId, NOTIFICATIONS_TASK_QUEUE, type MessageRequest } from '../../workflows/notification-api';
import { decodeCursor, page } from '../http/pagination';
import { problems } from '../http/problem';
import type { ApiDeps, ApiState } from '../http/state';
import { recordAudit } from './audit';

/**
 * Break-glass (SPEC §7, §8): a clinician states why they must read a patient outside their normal
 * rights (a pharmacist or lab technician reading clinical notes in an emergency, or any future
 * care-team restriction) and gets a grant on that one patient for BREAK_GLASS_MINUTES. The grant
 * is audited ('patient.break_glass', then 'patient.read.break_glass' for each read under it,
 * api/commands/patients.ts) and reported to the clinic's compliance officers through the
 * notification journey. Who may ask is the CASL rule `breakGlass` on Patient (clinical staff).
 */
type Ctx = Context & { state: ApiState };

export interface GrantView {
  id: string;
  patientId: string;
  userId: string;
  grantedAt: string;
  expiresAt: string;
  /** Users the report went to: the clinic's compliance officers (its admins when it has none). */
  reportedTo: number;
}

/** The reason is free text about a patient: sealed like PHI, bound to its grant. */
const reasonAad = (grantId: string) => `break_glass_grants.reason:${grantId}`;

interface Facts {
  mrn: string | null;
  patient_user_id: string | null;
  clinic_name: string;
  timezone: string;
  staff_name: string;
  officers: string[];
  admins: string[];
}

/** Everything the grant and its report need, in one round trip; null mrn: no such patient in this clinic. */
async function loadFacts(deps: ApiDeps, actor: Actor, patientId: string): Promise<Facts> {
  const [row] = await deps.dataSource.query(
    `SELECT
       (SELECT mrn FROM patients WHERE clinic_id = $1 AND id = $2) AS mrn,
       (SELECT user_id FROM patients WHERE clinic_id = $1 AND id = $2) AS patient_user_id,
       c.name AS clinic_name, c.timezone,
       (SELECT name FROM users WHERE id = $3) AS staff_name,
       COALESCE((SELECT array_agg(DISTINCT m.user_id) FROM memberships m JOIN users u ON u.id = m.user_id AND u.status = 'ACTIVE'
                 WHERE m.clinic_id = $1 AND m.status = 'ACTIVE' AND m.role = 'COMPLIANCE_OFFICER'), '{}') AS officers,
       COALESCE((SELECT array_agg(DISTINCT m.user_id) FROM memberships m JOIN users u ON u.id = m.user_id AND u.status = 'ACTIVE'
                 WHERE m.clinic_id = $1 AND m.status = 'ACTIVE' AND m.role = 'CLINIC_ADMIN'), '{}') AS admins
     FROM clinics c WHERE c.id = $1`,
    [actor.clinicId, patientId, actor.userId],
  );
  return row;
}

export async function breakGlass(deps: ApiDeps, ctx: Ctx, actor: Actor, ability: AppAbility, patientId: string, reason: string): Promise<GrantView> {
  const clinicId = actor.clinicId!;
  const facts = await loadFacts(deps, actor, patientId);
  if (!facts.mrn) throw problems.notFound('Patient');
  if (!ability.can('breakGlass', subject('Patient', { id: patientId, clinicId, userId: facts.patient_user_id }))) throw problems.forbidden();
  // Audited before anything is granted: an attempt that fails later still shows in the log.
  await recordAudit(deps, ctx, { action: 'patient.break_glass', resourceType: 'Patient', resourceId: patientId, clinicId, actorUserId: actor.userId });

  const recipients = facts.officers.length ? facts.officers : facts.admins;
  const id = randomUUID();
  const ring = phiKeysFor(deps.config).ring;
  const staffName = openUserPii(ring, actor.userId, { name: facts.staff_name }, ['name'] as const).name ?? '';
  // The grant exists only if its report is on its way: the journeys start inside the transaction,
  // so a Temporal outage refuses the grant (503) instead of granting silently.
  const grant = await deps.dataSource.transaction(async (tx) => {
    const [row] = await tx.query(
      // Milliseconds, as JavaScript dates hold them: the list's (granted_at, id) cursor round-trips exactly.
      `INSERT INTO break_glass_grants (id, clinic_id, patient_id, user_id, reason, granted_at, expires_at, request_id)
       SELECT $1, $2, $3, $4, $5, t, t + make_interval(mins => $6), $7 FROM date_trunc('milliseconds', now()) AS t
       RETURNING granted_at, expires_at`,
      [id, clinicId, patientId, actor.userId, sealText(ring, reason, reasonAad(id)), deps.config.BREAK_GLASS_MINUTES, ctx.state.requestId ?? null],
    );
    const grantedAt = (row.granted_at as Date).toISOString();
    const expiresAt = (row.expires_at as Date).toISOString();
    await Promise.all(recipients.map((userId) => startReport(deps, {
      idempotencyKey: `break-glass-${id}-${userId}`,
      clinicId,
      recipient: { kind: 'user', id: userId },
      template: 'break-glass-report',
      params: {
        clinicName: facts.clinic_name, staffName, mrn: facts.mrn!, grantedAt, expiresAt, timezone: facts.timezone, grantId: id,
      },
      // A report to read at a desk: email first.
      channels: ['email', 'sms', 'whatsapp'],
    })));
    return { grantedAt, expiresAt };
  });
  ctx.state.log.warn({ grantId: id, patientId, reportedTo: recipients.length }, 'break-glass access granted');
  return { id, patientId, userId: actor.userId, ...grant, reportedTo: recipients.length };
}

async function startReport(deps: ApiDeps, request: MessageRequest): Promise<void> {
  try {
    // Bounded: an emergency must get its answer (granted or not) in seconds, not after the client's retries.
    await deps.temporal.withDeadline(Date.now() + 3000, () => deps.temporal.workflow.start('deliverMessage', {
      taskQueue: NOTIFICATIONS_TASK_QUEUE, workflowId: deliverMessageWorkflowId(request.idempotencyKey), args: [request],
    }));
  } catch (err) {
    throw Object.assign(problems.unavailable('The compliance report of this access cannot be sent right now, so access is not granted; retry shortly'), { cause: err });
  }
}

/** The actor's live grant on a patient, if any: one indexed lookup. */
export async function activeGrant(deps: Pick<ApiDeps, 'dataSource'>, actor: Actor, patientId: string): Promise<{ id: string; expiresAt: Date } | null> {
  const [row] = await deps.dataSource.query(
    `SELECT id, expires_at FROM break_glass_grants
     WHERE clinic_id = $1 AND patient_id = $2 AND user_id = $3 AND expires_at > now()
     ORDER BY expires_at DESC LIMIT 1`,
    [actor.clinicId, patientId, actor.userId],
  );
  return row ? { id: row.id, expiresAt: row.expires_at } : null;
}

/** The clinic's grants with their stated reasons, newest first, for oversight (auditors, compliance, admins). */
export async function listGrants(deps: ApiDeps, ctx: Ctx, actor: Actor, q: { patientId?: string; userId?: string; limit: number; cursor?: string }) {
  const cursor = decodeCursor(q.cursor);
  const rows: Array<{ id: string; patient_id: string; user_id: string; reason: string; granted_at: Date; expires_at: Date; request_id: string | null }> =
    await deps.dataSource.query(
      `SELECT id, patient_id, user_id, reason, granted_at, expires_at, request_id FROM break_glass_grants
       WHERE clinic_id = $1 AND ($2::uuid IS NULL OR patient_id = $2) AND ($3::uuid IS NULL OR user_id = $3)
         AND ($4::timestamptz IS NULL OR (granted_at, id) < ($4, $5::uuid))
       ORDER BY granted_at DESC, id DESC LIMIT $6`,
      [actor.clinicId, q.patientId ?? null, q.userId ?? null, cursor?.k ?? null, cursor?.id ?? null, q.limit + 1],
    );
  const ring = phiKeysFor(deps.config).ring;
  const result = page(rows, q.limit, (r) => ({ k: r.granted_at.toISOString(), id: r.id }));
  await recordAudit(deps, ctx, { action: 'break_glass.list', resourceType: 'BreakGlassGrant', resourceId: q.patientId ?? null, clinicId: actor.clinicId, actorUserId: actor.userId });
  return {
    items: result.items.map((r) => ({
      id: r.id, patientId: r.patient_id, userId: r.user_id, reason: openText(ring, r.reason, reasonAad(r.id)),
      grantedAt: r.granted_at.toISOString(), expiresAt: r.expires_at.toISOString(), active: r.expires_at.getTime() > Date.now(), requestId: r.request_id,
    })),
    nextCursor: result.nextCursor,
  };
}
