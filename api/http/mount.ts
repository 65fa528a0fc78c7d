import Router from '@koa/router';
import { authenticate, enterClinic, requestedClinic } from './authenticate';
import { problems } from './problem';
import type { RouteDef } from './route';
import type { ApiDeps, ApiState } from './state';
import { validate } from './validate';
import { PLATFORM_NO_CLINIC } from './no-clinic';
import type { Actor } from '../../shared/permissions';

/** Runs each route as: auth → clinic context → validate → one authorize call → handler. */
export function mountRoutes(router: Router<ApiState>, deps: ApiDeps, routes: RouteDef[]): void {
  for (const def of routes) {
    router[def.method](def.path, async (ctx) => {
      const params = validate(def.params, ctx.params, 'params');
      const auth = def.access === 'public' ? null : authenticate(deps, ctx);
      let actor: Actor = PLATFORM_NO_CLINIC.actor;
      let ability = PLATFORM_NO_CLINIC.ability;
      if (auth && (def.access === 'clinic' || def.access === 'clinic-param')) {
        const wanted = def.access === 'clinic-param' ? { id: (params as { id: string }).id } : requestedClinic(deps, ctx, auth);
        ({ actor, ability } = await enterClinic(deps, auth, wanted));
        ctx.state.log = ctx.state.log.child({ clinicId: actor.clinicId });
      } else if (auth && def.access === 'user') {
        ({ actor, ability } = await PLATFORM_NO_CLINIC.forUser(deps, auth.userId));
      }
      if (auth) {
        ctx.state.auth = auth;
        ctx.state.actor = actor;
        ctx.state.ability = ability;
        ctx.state.log = ctx.state.log.child({ userId: auth.userId });
      }
      const query = validate(def.query, ctx.query, 'query');
      const body = validate(def.body, ctx.request.body ?? {}, 'body');
      if (def.permission && !ability.can(def.permission[0], def.permission[1])) throw problems.forbidden();
      const result = await def.handler({ params, query, body, deps, ctx, auth: auth!, actor, ability });
      ctx.status = result.status ?? (result.body === undefined ? 204 : 200);
      if (result.body !== undefined) ctx.body = result.body;
      for (const [k, v] of Object.entries(result.headers ?? {})) ctx.set(k, v);
    });
  }
}
