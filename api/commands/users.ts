import { subject } from '@casl/ability';
import type { Actor, AppAbility } from '../../shared/permissions';
import { isPlatformRole, Role } from '../../shared/permissions/roles';
import { hashPassword } from '../../shared/auth/passwords';
import { PG, pgCode } from '../../shared/db/pg-errors';
import { problems } from '../http/problem';
import type { ApiDeps } from '../http/state';

interface MemberView { id: string; email: string; name: string; phone: string | null; status: string; roles: Role[] }

async function member(deps: ApiDeps, clinicId: string, userId: string): Promise<MemberView | null> {
  const [row] = await deps.dataSource.query(
    `SELECT u.id, u.email, u.name, u.phone, u.status, array_agg(m.role ORDER BY m.role) AS roles
     FROM users u JOIN memberships m ON m.user_id = u.id AND m.clinic_id = $1
     WHERE u.id = $2 GROUP BY u.id`, [clinicId, userId]);
  return row ?? null;
}

export async function listClinicMembers(deps: ApiDeps, clinicId: string): Promise<MemberView[]> {
  return deps.dataSource.query(
    `SELECT u.id, u.email, u.name, u.phone, u.status, array_agg(m.role ORDER BY m.role) AS roles
     FROM users u JOIN memberships m ON m.user_id = u.id AND m.clinic_id = $1
     GROUP BY u.id ORDER BY u.name LIMIT 100`, [clinicId]);
}

/** Platform roles are granted by platform admins only, never through a clinic. */
function assertGrantable(role: Role) {
  if (isPlatformRole(role)) throw problems.unprocessable('role-not-grantable', 'Platform roles cannot be granted in a clinic', [{ field: 'body.role', message: 'not a clinic role' }]);
}

export async function addClinicMember(
  deps: ApiDeps, actor: Actor, ability: AppAbility,
  input: { email: string; name: string; role: Role; password?: string; phone?: string },
): Promise<MemberView> {
  const clinicId = actor.clinicId!;
  assertGrantable(input.role);
  if (!ability.can('create', subject('Membership', { clinicId }))) throw problems.forbidden();
  const passwordHash = input.password ? await hashPassword(input.password) : null;
  try {
    const userId: string = await deps.dataSource.transaction(async (tx) => {
      const [existing] = await tx.query(`SELECT id FROM users WHERE lower(email) = lower($1)`, [input.email]);
      const id = existing?.id ?? (await tx.query(
        `INSERT INTO users (email, name, phone, password_hash) VALUES ($1, $2, $3, $4) RETURNING id`,
        [input.email, input.name, input.phone ?? null, passwordHash],
      ))[0].id;
      await tx.query(`INSERT INTO memberships (user_id, clinic_id, role) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, [id, clinicId, input.role]);
      return id;
    });
    return (await member(deps, clinicId, userId))!;
  } catch (err) {
    if (pgCode(err) === PG.UNIQUE_VIOLATION) throw problems.conflict('phone-taken', 'Another user has this phone number');
    throw err;
  }
}

export async function updateClinicMember(
  deps: ApiDeps, actor: Actor, ability: AppAbility, userId: string, input: { role?: Role; status?: 'ACTIVE' | 'DISABLED' },
): Promise<MemberView> {
  const clinicId = actor.clinicId!;
  if (!(await member(deps, clinicId, userId))) throw problems.notFound('User');
  if (!ability.can('update', subject('Membership', { clinicId }))) throw problems.forbidden();
  if (userId === actor.userId) throw problems.unprocessable('self-change', 'You cannot change your own role or status');
  await deps.dataSource.transaction(async (tx) => {
    if (input.role) {
      assertGrantable(input.role);
      // The role replaces the user's roles in this clinic only; other clinics are untouched.
      await tx.query(`DELETE FROM memberships WHERE user_id = $1 AND clinic_id = $2`, [userId, clinicId]);
      await tx.query(`INSERT INTO memberships (user_id, clinic_id, role) VALUES ($1, $2, $3)`, [userId, clinicId, input.role]);
    }
    if (input.status) await tx.query(`UPDATE users SET status = $2, updated_at = now() WHERE id = $1`, [userId, input.status]);
  });
  return (await member(deps, clinicId, userId))!;
}
