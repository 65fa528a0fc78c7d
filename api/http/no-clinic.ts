import { loadAbility } from '../../shared/actor';
import { defineAbilityFor } from '../../shared/permissions';
import type { ApiDeps } from './state';

/** Actor for routes outside a clinic: only platform roles (SUPER_ADMIN, SYSTEM_ADMIN) grant anything there. */
export const PLATFORM_NO_CLINIC = {
  actor: { userId: '', clinicId: null, roles: [], practitionerIds: [], patientIds: [] },
  ability: defineAbilityFor({ userId: '', clinicId: null, roles: [], practitionerIds: [], patientIds: [] }),
  forUser: (deps: ApiDeps, userId: string) => loadAbility(deps.dataSource, userId, null),
};
