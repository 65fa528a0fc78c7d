import Router from '@koa/router';
import { authenticate, enterClinic, requestedClinic } from './authenticate';
import { Problem, problems } from './problem';
import type { RouteDef } from './route';
import type { ApiDeps, ApiState, AuthState } from './state';
import { validate } from './validate';
import { serialise } from './serialise';
import { PLATFORM_NO_CLINIC } from './no-clinic';
import type { Actor } from '../../shared/permissions';
import { runInClinic } from '../../shared/db/tenant-context';
import { recordAudit, recordClinicDenial, recordDenial } from '../commands/audit';
import { withIdempotency } from '../commands/idempotency';
import type { RateLimiter } from './rate-limit';

/**
 * Runs each route as: auth → clinic context → validate → one authorize call → handler. Clinic
 * routes run the rest inside the clinic's tenant context, so their queries pass PostgreSQL's
 * row-level security for that clinic only. Both refusals (clinic context, authorize) are audited.
 * The rate limiter counts each request once its caller is known (IP, user, clinic: one Redis
 * round trip); a request refused before that (bad token, foreign clinic) still counts by IP and user.
 */
export function mountRoutes(router: Router<ApiState>, deps: ApiDeps, routes: RouteDef[], limiter: RateLimiter): void {
  for (const def of routes) {
    router[def.method](def.path, async (ctx) => {
      const params = validate(def.params, ctx.params, 'params');
      let auth: AuthState | null = null;
      let actor: Actor = PLATFORM_NO_CLINIC.actor;
      let ability = PLATFORM_NO_CLINIC.ability;
      try {
        auth = def.access === 'public' ? null : await authenticate(deps, ctx, { allowMfaEnrollment: def.allowDuringMfaEnrollment });
        if (auth && (def.access === 'clinic' || def.access === 'clinic-param')) {
          const wanted = def.access === 'clinic-param' ? { id: (params as { id: string }).id } : requestedClinic(deps, ctx, auth);
          try {
            ({ actor, ability } = await enterClinic(deps, auth, wanted));
          } catch (err) {
            if (err instanceof Problem && err.status === 403) await recordClinicDenial(deps, ctx, auth.userId, wanted);
            throw err;
          }
          ctx.state.log = ctx.state.log.child({ clinicId: actor.clinicId });
        } else if (auth && def.access === 'user') {
          ({ actor, ability } = await PLATFORM_NO_CLINIC.forUser(deps, auth.userId));
        }
      } catch (err) {
        await limiter.enforce(ctx, def.path, { userId: auth?.userId ?? null });
        throw err;
      }
      // A sign-in counts as a failure of its account until it succeeds (http/rate-limit.ts).
      const signIn = await limiter.enforce(ctx, def.path, { userId: auth?.userId ?? null, clinicId: actor.clinicId });
      if (signIn) ctx.state.signIn = signIn;
      if (auth) {
        ctx.state.auth = auth;
        ctx.state.actor = actor;
        ctx.state.ability = ability;
        ctx.state.log = ctx.state.log.child({ userId: auth.userId });
      }
      const run = async () => {
        const query = validate(def.query, ctx.query, 'query');
        const body = validate(def.body, ctx.request.body ?? {}, 'body');
        if (def.permission && !ability.can(def.permission[0], def.permission[1])) {
          const resourceId = (params as { id?: unknown } | undefined)?.id;
          await recordDenial(deps, ctx, {
            actorUserId: auth?.userId ?? null, clinicId: actor.clinicId, resourceType: def.permission[1], resourceId: typeof resourceId === 'string' ? resourceId : null,
          });
          throw problems.forbidden();
        }
        const input = { params, query, body, deps, ctx, auth: auth!, actor, ability };
        const result = def.idempotent
          ? await withIdempotency(deps, actor, ctx.get('idempotency-key') || undefined, { clinicId: actor.clinicId, body }, def.idempotent,
            (idempotencyKey) => def.handler({ ...input, idempotencyKey }))
          : await def.handler(input);
        if (def.audit) {
          await recordAudit(deps, ctx, {
            action: def.audit.action, resourceType: def.audit.resourceType, resourceId: auditedResource(params, result.body),
            clinicId: actor.clinicId, actorUserId: auth?.userId ?? null,
          });
        }
        const status = result.status ?? (result.body === undefined ? 204 : 200);
        const serialised = serialise(def, status, result.body);
        ctx.status = status;
        if (serialised !== undefined) ctx.body = serialised;
        for (const [k, v] of Object.entries(result.headers ?? {})) ctx.set(k, v);
      };
      await (actor.clinicId ? runInClinic(actor.clinicId, run) : run());
      await signIn?.succeeded();
    });
  }
}

/** The `:id` the route acted on, else the id of what it created, else none (a list). */
function auditedResource(params: unknown, body: unknown): string | null {
  const id = (params as { id?: unknown } | undefined)?.id ?? (body as { id?: unknown } | undefined)?.id;
  return typeof id === 'string' ? id : null;
}
