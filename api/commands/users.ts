import { randomUUID } from 'node:crypto';
import { subject } from '@casl/ability';
import type { Context } from 'koa';
import type { Actor, AppAbility } from '../../shared/permissions';
import { isPlatformRole, Role } from '../../shared/permissions/roles';
import { hashPassword } from '../../shared/auth/passwords';
import { phiKeysFor } from '../../shared/crypto/patient-phi';
import { emailIndex, openUserPii, sealUserPii } from '../../shared/crypto/user-pii';
import { PG, pgCode, pgConstraint } from '../../shared/db/pg-errors';
import { problems } from '../http/problem';
import type { ApiDeps, ApiState } from '../http/state';
import { recordAudit } from './audit';
import { revokeUserSessions } from './sessions';

type Ctx = Context & { state: ApiState };
export type Status = 'ACTIVE' | 'DISABLED';

/** A member as their clinic sees them: `status` is the membership's in this clinic, not the account's. */
interface MemberView { id: string; email: string; name: string; phone: string | null; status: Status; roles: Role[] }

// One user may hold several role rows in a clinic; they share one status (kept so by the writes below).
const MEMBER_COLUMNS = `u.id, u.email, u.name, u.phone,
  CASE WHEN bool_or(m.status = 'DISABLED') THEN 'DISABLED' ELSE 'ACTIVE' END AS status,
  array_agg(m.role ORDER BY m.role) AS roles`;

/** Name, email and phone are sealed at rest (shared/crypto/user-pii.ts): opened here, for the view only. */
function opened(deps: ApiDeps, row: MemberView): MemberView {
  const pii = openUserPii(phiKeysFor(deps.config).ring, row.id, row, ['name', 'email', 'phone'] as const);
  return { ...row, name: pii.name!, email: pii.email!, phone: pii.phone };
}

async function member(deps: ApiDeps, clinicId: string, userId: string): Promise<MemberView | null> {
  const [row] = await deps.dataSource.query(
    `SELECT ${MEMBER_COLUMNS}
     FROM users u JOIN memberships m ON m.user_id = u.id AND m.clinic_id = $1
     WHERE u.id = $2 GROUP BY u.id`, [clinicId, userId]);
  return row ? opened(deps, row) : null;
}

/** In the order they joined the clinic (names are sealed, so the database cannot sort by them). */
export async function listClinicMembers(deps: ApiDeps, clinicId: string): Promise<MemberView[]> {
  const rows: MemberView[] = await deps.dataSource.query(
    `SELECT ${MEMBER_COLUMNS}
     FROM users u JOIN memberships m ON m.user_id = u.id AND m.clinic_id = $1
     GROUP BY u.id ORDER BY min(m.created_at), u.id LIMIT 100`, [clinicId]);
  return rows.map((r) => opened(deps, r));
}

/** Platform roles are granted by platform admins only, never through a clinic. */
function assertGrantable(role: Role) {
  if (isPlatformRole(role)) throw problems.unprocessable('role-not-grantable', 'Platform roles cannot be granted in a clinic', [{ field: 'body.role', message: 'not a clinic role' }]);
}

/**
 * Adds a membership in the actor's clinic; an existing email gains it (SPEC §7). The account itself
 * is never touched: for an existing email the name, phone and password sent are ignored, and the
 * answer is built from what the admin sent plus the membership, so it reads the same whether the
 * account was new or not and tells nothing about an account the clinic did not know (its name,
 * phone, status, other clinics). A membership that exists keeps its status: re-adding a member the
 * clinic disabled does not enable them.
 */
export async function addClinicMember(
  deps: ApiDeps, ctx: Ctx, actor: Actor, ability: AppAbility,
  input: { email: string; name: string; role: Role; password?: string; phone?: string },
): Promise<MemberView> {
  const clinicId = actor.clinicId!;
  assertGrantable(input.role);
  if (!ability.can('create', subject('Membership', { clinicId }))) throw problems.forbidden();
  const passwordHash = input.password ? await hashPassword(input.password) : null;
  const keys = phiKeysFor(deps.config);
  try {
    const { userId, roles, status } = await deps.dataSource.transaction(async (tx) => {
      const [existing] = await tx.query(`SELECT id FROM users WHERE email_index = $1`, [emailIndex(keys.blindIndexKey, input.email)]);
      let id: string = existing?.id;
      if (!id) {
        id = randomUUID();
        const pii = sealUserPii(keys, id, { name: input.name, email: input.email, phone: input.phone ?? null });
        await tx.query(
          `INSERT INTO users (id, email, name, phone, email_index, phone_index, pii_key_id, password_hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
          [id, pii.email, pii.name, pii.phone, pii.emailIndex, pii.phoneIndex, pii.piiKeyId, passwordHash]);
      }
      // Serialises concurrent adds of one user to one clinic, so they agree on the status.
      await tx.query(`SELECT pg_advisory_xact_lock(hashtextextended('membership:' || $1 || ':' || $2, 0))`, [id, clinicId]);
      await tx.query(
        `INSERT INTO memberships (user_id, clinic_id, role, status)
         VALUES ($1, $2, $3, COALESCE((SELECT status FROM memberships WHERE user_id = $1 AND clinic_id = $2 LIMIT 1), 'ACTIVE'))
         ON CONFLICT DO NOTHING`, [id, clinicId, input.role]);
      const [m] = await tx.query(
        `SELECT array_agg(role ORDER BY role) AS roles, CASE WHEN bool_or(status = 'DISABLED') THEN 'DISABLED' ELSE 'ACTIVE' END AS status
         FROM memberships WHERE user_id = $1 AND clinic_id = $2`, [id, clinicId]);
      return { userId: id, roles: m.roles as Role[], status: m.status as Status };
    });
    await recordAudit(deps, ctx, { action: 'membership.created', resourceType: 'Membership', resourceId: userId, clinicId, actorUserId: actor.userId });
    return { id: userId, email: input.email, name: input.name, phone: input.phone ?? null, status, roles };
  } catch (err) {
    if (pgCode(err) === PG.UNIQUE_VIOLATION) {
      // The same email added twice at once: the loser retries and finds the account.
      if (pgConstraint(err) === 'users_email_index_key') throw problems.conflict('user-being-added', 'This email is being added right now; retry');
      throw problems.conflict('phone-taken', 'Another user has this phone number');
    }
    throw err;
  }
}

/**
 * Changes a member's role or status in the actor's clinic, and nothing outside it: the rows changed
 * are this clinic's memberships of the user. The account (its status, its platform roles, its other
 * clinics) is out of reach from a clinic, whoever asks; platform admins change accounts through
 * PATCH /accounts/:id.
 */
export async function updateClinicMember(
  deps: ApiDeps, ctx: Ctx, actor: Actor, ability: AppAbility, userId: string, input: { role?: Role; status?: Status },
): Promise<MemberView> {
  const clinicId = actor.clinicId!;
  if (!(await member(deps, clinicId, userId))) throw problems.notFound('User');
  if (!ability.can('update', subject('Membership', { clinicId }))) throw problems.forbidden();
  if (userId === actor.userId) throw problems.unprocessable('self-change', 'You cannot change your own role or status');
  if (input.role) assertGrantable(input.role);
  await deps.dataSource.transaction(async (tx) => {
    await tx.query(`SELECT pg_advisory_xact_lock(hashtextextended('membership:' || $1 || ':' || $2, 0))`, [userId, clinicId]);
    if (input.status) {
      await tx.query(`UPDATE memberships SET status = $3, updated_at = now() WHERE user_id = $1 AND clinic_id = $2`, [userId, clinicId, input.status]);
    }
    if (input.role) {
      // The role replaces the user's roles in this clinic only, keeping the membership's status.
      const [deleted] = await tx.query(`DELETE FROM memberships WHERE user_id = $1 AND clinic_id = $2 RETURNING status`, [userId, clinicId]);
      const status = (deleted as { status: Status }[]).some((r) => r.status === 'DISABLED') ? 'DISABLED' : 'ACTIVE';
      await tx.query(`INSERT INTO memberships (user_id, clinic_id, role, status) VALUES ($1, $2, $3, $4)`, [userId, clinicId, input.role, status]);
    }
  });
  const action = input.status === 'DISABLED' ? 'membership.disabled' : input.status === 'ACTIVE' ? 'membership.enabled' : 'membership.updated';
  await recordAudit(deps, ctx, { action, resourceType: 'Membership', resourceId: userId, clinicId, actorUserId: actor.userId });
  return (await member(deps, clinicId, userId))!;
}

export interface AccountView { id: string; status: Status }

/**
 * The global account's status: platform admins only (the route's `update User` outside any clinic
 * is theirs alone). Disabling ends every session of the account at once. Nobody changes their own
 * account, and only a SUPER_ADMIN changes an account that holds SUPER_ADMIN.
 */
export async function updateAccount(
  deps: ApiDeps, ctx: Ctx, actor: Actor, userId: string, input: { status: Status },
): Promise<AccountView> {
  if (userId === actor.userId) throw problems.unprocessable('self-change', 'You cannot change your own account status');
  const [target] = await deps.dataSource.query(
    `SELECT u.id, EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = u.id AND m.role = 'SUPER_ADMIN') AS super_admin
     FROM users u WHERE u.id = $1`, [userId]);
  if (!target) throw problems.notFound('User');
  if (target.super_admin && !actor.roles.includes('SUPER_ADMIN')) throw problems.forbidden('Only a SUPER_ADMIN changes a SUPER_ADMIN account');
  await deps.dataSource.query(`UPDATE users SET status = $2, updated_at = now() WHERE id = $1`, [userId, input.status]);
  if (input.status === 'DISABLED') await revokeUserSessions(deps, userId, 'user-disabled');
  await recordAudit(deps, ctx, {
    action: input.status === 'DISABLED' ? 'user.disabled' : 'user.enabled', resourceType: 'User', resourceId: userId, clinicId: null, actorUserId: actor.userId,
  });
  return { id: userId, status: input.status };
}
