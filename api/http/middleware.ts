import { randomUUID } from 'node:crypto';
import type { Middleware } from 'koa';
import { Problem, problems } from './problem';
import type { ApiDeps, ApiState } from './state';
import { pgCode } from '../../shared/db/pg-errors';
import { ResponseSchemaError } from './serialise';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Request id (accepted from the caller when well-formed), per-request child logger, access log and latency histogram. */
export function requestContext(deps: ApiDeps): Middleware<ApiState> {
  return async function requestContext(ctx, next) {
    const incoming = ctx.get('x-request-id');
    const requestId = REQUEST_ID.test(incoming) ? incoming : randomUUID();
    ctx.state.requestId = requestId;
    ctx.state.log = deps.log.child({ requestId });
    ctx.set('X-Request-ID', requestId);
    const started = process.hrtime.bigint();
    try {
      await next();
    } finally {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const route = (ctx as unknown as { _matchedRoute?: string })._matchedRoute ?? 'unmatched';
      deps.metrics.httpDuration.observe({ method: ctx.method, route, status: String(ctx.status) }, seconds);
      // Path templates only: concrete paths may carry identifiers, never query strings (they may carry PHI).
      ctx.state.log.info({ method: ctx.method, route, status: ctx.status, ms: Math.round(seconds * 1e4) / 10 }, 'request');
    }
  };
}

/** Turns every thrown error into problem+json; only unexpected errors are logged as errors. */
export function problemHandler(): Middleware<ApiState> {
  return async function problemHandler(ctx, next) {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) throw problems.notFound('Route');
    } catch (err) {
      const problem = toProblem(err);
      if (problem.status >= 500) ctx.state.log?.error({ err: describe(err) }, 'request failed');
      ctx.status = problem.status;
      ctx.type = 'application/problem+json';
      ctx.body = problem.toJSON();
      for (const [k, v] of Object.entries(problem.headers ?? {})) ctx.set(k, v);
    }
  };
}

function toProblem(err: unknown): Problem {
  if (err instanceof Problem) return err;
  // Errors thrown by Koa middleware (body parser, router) carry an HTTP status.
  const status = (err as { status?: unknown })?.status;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    if (status === 413) return problems.payloadTooLarge();
    if (status === 415) return new Problem(415, 'unsupported-media-type', 'Unsupported media type', 'Send application/json');
    if (status === 405) return new Problem(405, 'method-not-allowed', 'Method not allowed');
    return problems.badRequest('Body is not valid JSON');
  }
  const code = pgCode(err);
  if (code === '57P01' || code === '57P03' || code === '08006' || code === '08001' || /ECONNREFUSED|Connection terminated|timeout exceeded when trying to connect/i.test(String((err as Error)?.message))) {
    return problems.unavailable('A dependency is unavailable; retry shortly');
  }
  return new Problem(500, 'internal', 'Internal server error', 'Something went wrong; the request id identifies it in our logs');
}

/** Error description for logs: message and stack, never bound SQL parameters (they may be PHI). */
function describe(err: unknown) {
  const e = err as Error & { code?: string; issues?: unknown };
  return { name: e?.name, message: e?.message, code: e?.code, stack: e?.stack, ...(e instanceof ResponseSchemaError ? { issues: e.issues } : {}) };
}

/**
 * Set before the rest runs, so they survive into problem responses: an error thrown below skips
 * everything after `await next()` here (problemHandler, outside, answers it). A handler may still
 * set its own Cache-Control; nothing here reads the request's.
 */
export function securityHeaders(): Middleware<ApiState> {
  return async function securityHeaders(ctx, next) {
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('X-Frame-Options', 'DENY');
    ctx.set('Referrer-Policy', 'no-referrer');
    ctx.set('Strict-Transport-Security', 'max-age=31536000; includeSubDomains');
    if (!ctx.path.startsWith('/docs')) ctx.set('Content-Security-Policy', "default-src 'none'; frame-ancestors 'none'");
    ctx.set('Cache-Control', 'no-store');
    await next();
  };
}
