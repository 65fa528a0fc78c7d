import type { Middleware } from 'koa';
import { Problem } from './problem';
import type { ApiState } from './state';

export const unsupportedMediaType = () =>
  new Problem(415, 'unsupported-media-type', 'Unsupported media type', 'Request bodies must be JSON: send Content-Type: application/json');

/**
 * Any request that carries a body must say it is JSON. The body parser only reads JSON, and a
 * form-encoded or text body would otherwise reach the route as `{}` and be answered 200 for a
 * change it never made.
 */
export function jsonBodiesOnly(): Middleware<ApiState> {
  return async function jsonBodiesOnly(ctx, next) {
    // ctx.is: null when the request has no body at all, false when it has one of another type.
    if (ctx.is('application/json', '+json') === false) throw unsupportedMediaType();
    await next();
  };
}
