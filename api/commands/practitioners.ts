import { subject } from '@casl/ability';
import { Location, Practitioner, Schedule } from '../../entities';
import { cacheTags } from '../../shared/cache';
import { ClinicScope } from '../../shared/db/clinic-scope';
import { phiKeysFor } from '../../shared/crypto/patient-phi';
import { openUserPii } from '../../shared/crypto/user-pii';
import { PG, pgCode } from '../../shared/db/pg-errors';
import type { AppAbility } from '../../shared/permissions';
import { ScheduleException, validateSchedule, WeeklyRule } from '../../shared/scheduling';
import { FieldError, problems } from '../http/problem';
import type { ApiDeps } from '../http/state';
import { signalLeaveOverlaps } from './leave-notices';
import { In } from 'typeorm';

async function assertLocations(scope: ClinicScope, ids: string[], field: (i: number) => string) {
  const unique = [...new Set(ids)];
  const found = new Set((await scope.find(Location, { id: In(unique) })).map((l) => l.id));
  const errors: FieldError[] = ids.flatMap((id, i) => (found.has(id) ? [] : [{ field: field(i), message: 'not a location of this clinic' }]));
  if (errors.length) throw problems.unprocessable('unknown-location', 'Unknown location', errors);
}

export async function createPractitioner(deps: ApiDeps, clinicId: string, input: { userId: string; specialty?: string; locationIds: string[]; therapist: boolean }) {
  const scope = new ClinicScope(deps.dataSource, clinicId);
  const [isMember] = await deps.dataSource.query(`SELECT 1 FROM memberships WHERE user_id = $1 AND clinic_id = $2 AND status = 'ACTIVE' LIMIT 1`, [input.userId, clinicId]);
  if (!isMember) throw problems.unprocessable('not-a-member', 'The user is not a member of this clinic', [{ field: 'body.userId', message: 'not a member of this clinic' }]);
  await assertLocations(scope, input.locationIds, (i) => `body.locationIds.${i}`);
  try {
    return await scope.insert(Practitioner, { userId: input.userId, specialty: input.specialty ?? null, locationIds: [...new Set(input.locationIds)], therapist: input.therapist });
  } catch (err) {
    if (pgCode(err) === PG.UNIQUE_VIOLATION) throw problems.conflict('already-practitioner', 'This user is already a practitioner in this clinic');
    throw err;
  }
}

/** Names are sealed (shared/crypto/user-pii.ts), so they are sorted here, after opening. */
export async function listPractitioners(deps: ApiDeps, clinicId: string, locationId?: string) {
  const rows: { id: string; clinicId: string; userId: string; name: string; specialty: string | null; locationIds: string[]; therapist: boolean }[] = await deps.dataSource.query(
    `SELECT p.id, p.clinic_id AS "clinicId", p.user_id AS "userId", u.name, p.specialty, p.location_ids AS "locationIds", p.therapist
     FROM practitioners p JOIN users u ON u.id = p.user_id
     WHERE p.clinic_id = $1 AND ($2::uuid IS NULL OR $2::uuid = ANY (p.location_ids))
     ORDER BY p.id LIMIT 1000`, [clinicId, locationId ?? null]);
  const ring = phiKeysFor(deps.config).ring;
  return rows
    .map((r) => ({ ...r, name: openUserPii(ring, r.userId, r, ['name'] as const).name! }))
    .sort((x, y) => x.name.localeCompare(y.name) || x.id.localeCompare(y.id))
    .slice(0, 100);
}

export async function replaceSchedule(
  deps: ApiDeps, clinicId: string, ability: AppAbility, practitionerId: string,
  input: { rules: WeeklyRule[]; exceptions: ScheduleException[] },
) {
  const scope = new ClinicScope(deps.dataSource, clinicId);
  const practitioner = await scope.findOne(Practitioner, { id: practitionerId });
  if (!practitioner) throw problems.notFound('Practitioner');
  if (!ability.can('update', subject('Schedule', { clinicId, practitionerId }))) throw problems.forbidden();
  const ruleErrors = validateSchedule(input.rules, input.exceptions).map((e) => ({ field: `body.${e.path}`, message: e.message }));
  if (ruleErrors.length) throw problems.validation(ruleErrors);
  const allowed = new Set(practitioner.locationIds);
  const locationErrors: FieldError[] = [
    ...input.rules.map((r, i) => [r.locationId, `body.rules.${i}.locationId`] as const),
    ...input.exceptions.map((e, i) => [e.locationId, `body.exceptions.${i}.locationId`] as const),
  ].flatMap(([id, field]) => (id && !allowed.has(id) ? [{ field, message: 'the practitioner does not work at this location' }] : []));
  if (locationErrors.length) throw problems.unprocessable('location-not-assigned', 'Schedule names a location the practitioner is not assigned to', locationErrors);

  await deps.dataSource.query(
    `INSERT INTO schedules (clinic_id, practitioner_id, rules, exceptions) VALUES ($1, $2, $3, $4)
     ON CONFLICT (clinic_id, practitioner_id) DO UPDATE SET rules = EXCLUDED.rules, exceptions = EXCLUDED.exceptions, updated_at = now()`,
    [clinicId, practitionerId, JSON.stringify(input.rules), JSON.stringify(input.exceptions)],
  );
  await deps.cache.invalidateTags([cacheTags.practitioner(clinicId, practitionerId)]);
  await signalLeaveOverlaps(deps, clinicId, practitionerId, input.exceptions);
  const saved = (await scope.findOne(Schedule, { practitionerId }))!;
  return { practitionerId, rules: saved.rules, exceptions: saved.exceptions };
}
