import { subject } from '@casl/ability';
import type { Context } from 'koa';
import type { PatientPreferences } from '../../entities';
import type { Actor, AppAbility } from '../../shared/permissions';
import { problems } from '../http/problem';
import type { ApiDeps, ApiState } from '../http/state';
import { recordAudit } from './audit';

type Ctx = Context & { state: ApiState };

/**
 * Replaces a patient's message preferences (SPEC §7 PUT /patients/:id/preferences): channel order,
 * language and quiet hours, read by every notification and by the reminder planner. Staff who may
 * update the patient's record set them; a patient sets their own (the record linked to their user).
 */
export async function replacePatientPreferences(
  deps: ApiDeps, ctx: Ctx, actor: Actor, ability: AppAbility, patientId: string, preferences: PatientPreferences,
): Promise<PatientPreferences> {
  const clinicId = actor.clinicId!;
  const [row] = await deps.dataSource.query(`SELECT id, clinic_id, user_id FROM patients WHERE clinic_id = $1 AND id = $2`, [clinicId, patientId]);
  const record = row && subject('Patient', { id: row.id as string, clinicId: row.clinic_id as string, userId: row.user_id as string | null });
  // Not yours and not found look the same: no existence oracle.
  if (!record || !ability.can('read', record)) throw problems.notFound('Patient');
  const ownRecord = row.user_id !== null && row.user_id === actor.userId;
  if (!ownRecord && !ability.can('update', record, 'preferences')) throw problems.forbidden('You may not change this patient\'s preferences');
  const [[updated]] = await deps.dataSource.query(
    `UPDATE patients SET preferences = $3, updated_at = now() WHERE clinic_id = $1 AND id = $2 RETURNING preferences`,
    [clinicId, patientId, JSON.stringify(preferences)],
  );
  await recordAudit(deps, ctx, { action: 'patient.preferences.update', resourceType: 'Patient', resourceId: patientId, clinicId, actorUserId: actor.userId });
  return updated.preferences;
}
