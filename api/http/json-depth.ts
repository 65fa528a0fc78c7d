import type { Middleware } from 'koa';
import { problems } from './problem';
import type { ApiState } from './state';

/**
 * Nesting depth of a parsed JSON value: a scalar is 0, `{}` and `[]` are 1. Iterative, so a
 * hostile body cannot overflow the stack; stops as soon as `max` is exceeded.
 */
export function jsonDepthExceeds(value: unknown, max: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth + 1 > max) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
    }
  }
  return false;
}

/**
 * Refuses bodies nested deeper than `max` (400 naming `body`), next to the body size limit: no
 * schema of this API nests more than a few levels, and deep structures are a cheap way to make
 * validators and loggers walk for long.
 */
export function jsonDepthLimit(max: number): Middleware<ApiState> {
  return async function jsonDepth(ctx, next) {
    const body = (ctx.request as { body?: unknown }).body;
    if (body !== undefined && jsonDepthExceeds(body, max)) {
      throw problems.validation([{ field: 'body', message: `must not nest objects or arrays more than ${max} levels deep` }]);
    }
    await next();
  };
}
