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
    // ctx.is: null when the request has no body at all, false when it has one of another type. An
    // empty body (Content-Length: 0, as a bodyless POST sends) carries nothing to misread.
    if (ctx.is('application/json', '+json') === false && ctx.request.length !== 0) throw unsupportedMediaType();
    await next();
  };
}
