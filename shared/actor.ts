import type { DataSource, EntityManager } from 'typeorm';
import { Actor, AppAbility, defineAbilityFor } from './permissions';
import { ROLES, Role } from './permissions/roles';
import { runInClinic } from './db/tenant-context';

/**
 * Resolves who is acting in which clinic: roles held there (plus platform roles), and the
 * practitioner/patient records that make "own" rules work. One round trip; used by the API and
 * by activities, so both decide with the same facts. Runs in the clinic's tenant context: the
 * practitioner and patient rows are behind row-level security; platform roles (no clinic) come
 * through user_memberships(), the one cross-clinic read of memberships. A disabled account holds no role
 * anywhere; a disabled membership none in its clinic, so every session stops working there at once.
 */
export async function loadActor(db: DataSource | EntityManager, userId: string, clinicId: string | null): Promise<Actor> {
  const [row] = await runInClinic(clinicId, () => db.query(
    `SELECT
       COALESCE((SELECT array_agg(role) FROM user_memberships($1)
                 WHERE status = 'ACTIVE' AND (clinic_id IS NULL OR clinic_id = $2)), '{}') AS roles,
       COALESCE((SELECT array_agg(id) FROM practitioners WHERE clinic_id = $2 AND user_id = $1), '{}') AS practitioner_ids,
       COALESCE((SELECT array_agg(id) FROM patients WHERE clinic_id = $2 AND user_id = $1), '{}') AS patient_ids,
       (SELECT status FROM users WHERE id = $1) AS status`,
    [userId, clinicId],
  ));
  const active = row?.status === 'ACTIVE';
  const roles = (active ? (row.roles as string[]) : []).filter((r): r is Role => (ROLES as readonly string[]).includes(r));
  return {
    userId,
    clinicId,
    roles,
    practitionerIds: active ? row.practitioner_ids : [],
    patientIds: active ? row.patient_ids : [],
  };
}

export async function loadAbility(db: DataSource | EntityManager, userId: string, clinicId: string | null): Promise<{ actor: Actor; ability: AppAbility }> {
  const actor = await loadActor(db, userId, clinicId);
  return { actor, ability: defineAbilityFor(actor) };
}
