import { subject } from '@casl/ability';
import type { Context } from 'koa';
import { z } from 'zod';
import { loadAbility } from '../../shared/actor';
import { AccessClaims, MFA_ENROLLMENT_SCOPE, verifyAccessToken } from '../../shared/auth/tokens';
import { checkSession } from '../commands/sessions';
import { Problem, problems } from './problem';
import { textProblem } from './text';
import type { ApiDeps, AuthState } from './state';

export function tokenSettings(deps: Pick<ApiDeps, 'config'>) {
  const c = deps.config;
  return { secret: c.JWT_SECRET, issuer: c.JWT_ISSUER, audience: c.JWT_AUDIENCE, ttlSeconds: c.JWT_ACCESS_TTL_SECONDS };
}

const isUuid = (v: string) => z.uuid().safeParse(v).success;

export const mfaEnrollmentRequired = () =>
  new Problem(403, 'mfa-enrollment-required', 'Second factor required', 'Your role requires TOTP: enrol with POST /api/v1/auth/mfa/totp/enroll, activate it, then refresh your tokens');

/**
 * A valid bearer token of a live session (revoked, idle and expired sessions are refused, see
 * commands/sessions.ts). Enrolment-only tokens pass only where the route allows them.
 */
export async function authenticate(deps: ApiDeps, ctx: Context, opts: { allowMfaEnrollment?: boolean } = {}): Promise<AuthState> {
  const header = ctx.get('authorization');
  const match = /^Bearer ([A-Za-z0-9_\-.]+)$/.exec(header);
  if (!match) throw problems.unauthorized();
  let claims: AccessClaims;
  try {
    claims = verifyAccessToken(tokenSettings(deps), match[1]);
  } catch {
    throw problems.unauthorized('The bearer token is invalid or expired');
  }
  if (!isUuid(claims.sid) || !isUuid(claims.sub) || (await checkSession(deps, claims.sid, claims.sub)) !== 'active') throw problems.unauthorized('The session has ended; sign in again');
  const mfaEnrollmentOnly = claims.scope === MFA_ENROLLMENT_SCOPE;
  if (mfaEnrollmentOnly && !opts.allowMfaEnrollment) throw mfaEnrollmentRequired();
  return { userId: claims.sub, sessionId: claims.sid, defaultClinicId: claims.clinic_id ?? null, mfaEnrollmentOnly };
}

/**
 * The clinic a request acts in, first match wins (SPEC §4): X-Clinic-ID header, clinicId query,
 * {slug}.<APP_BASE_HOST> subdomain, the token's default clinic. Returns a clinic id or a slug.
 */
export function requestedClinic(deps: ApiDeps, ctx: Context, auth: AuthState): { id?: string; slug?: string } | null {
  const header = ctx.get('x-clinic-id').trim();
  if (header) return clinicRef(header, 'header.X-Clinic-ID');
  const query = ctx.query.clinicId;
  if (typeof query === 'string' && query) return clinicRef(query, 'query.clinicId');
  const base = deps.config.APP_BASE_HOST.toLowerCase();
  const host = ctx.hostname.toLowerCase();
  if (host.endsWith(`.${base}`)) {
    const sub = host.slice(0, -(base.length + 1));
    if (sub && !sub.includes('.')) return { slug: sub };
  }
  return auth.defaultClinicId ? { id: auth.defaultClinicId } : null;
}

/** An id or a slug; text no slug can hold is refused here, before it reaches a query. */
function clinicRef(value: string, field: string): { id?: string; slug?: string } {
  const problem = textProblem(value);
  if (problem) throw problems.validation([{ field, message: problem }]);
  return isUuid(value) ? { id: value } : { slug: value };
}

/** Resolves the clinic to an id and the actor's roles in it; unknown or foreign clinic is 403. */
export async function enterClinic(deps: ApiDeps, auth: AuthState, wanted: { id?: string; slug?: string } | null) {
  if (!wanted) throw problems.forbidden('No clinic context: send X-Clinic-ID');
  const clinicId = await resolveClinicId(deps, wanted);
  const { actor, ability } = await loadAbility(deps.dataSource, auth.userId, clinicId);
  if (!clinicId || actor.roles.length === 0 || !ability.can('read', subject('Clinic', { id: clinicId, clinicId }))) {
    throw problems.forbidden('You have no access to this clinic');
  }
  return { actor, ability };
}

async function resolveClinicId(deps: ApiDeps, wanted: { id?: string; slug?: string }): Promise<string | null> {
  const key = wanted.id ? `clinic:id:${wanted.id}` : `clinic:slug:${wanted.slug}`;
  return deps.cache.getOrLoad('clinic-ref', key, 300, async () => {
    const rows = await deps.dataSource.query(
      wanted.id ? 'SELECT id FROM clinics WHERE id = $1' : 'SELECT id FROM clinics WHERE slug = $1',
      [wanted.id ?? wanted.slug],
    );
    return (rows[0]?.id as string | undefined) ?? null;
  });
}
