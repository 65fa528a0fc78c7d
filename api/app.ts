import { createHash, timingSafeEqual } from 'node:crypto';
import Koa from 'koa';
import Router from '@koa/router';
import bodyParser from 'koa-bodyparser';
import { buildOpenApi, renderDocsPage } from './http/openapi';
import { problemHandler, requestContext, securityHeaders } from './http/middleware';
import { mountRoutes } from './http/mount';
import { authenticate } from './http/authenticate';
import { cors } from './http/cors';
import { jsonDepthLimit } from './http/json-depth';
import { jsonBodiesOnly } from './http/json-only';
import { problems } from './http/problem';
import { createRateLimiter, RateLimiter } from './http/rate-limit';
import type { ApiDeps, ApiState } from './http/state';
import { apiRoutes } from './routes';
import { mountCodecRoutes } from './routes/codec';
import { detailedHealth } from './routes/operations';
import { loadAbility } from '../shared/actor';

const VERSION = '0.1.0';
const startedAt = Date.now();

/** Constant-time comparison of `Bearer <token>` with METRICS_TOKEN (unset: no static token is accepted). */
function isScrapeToken(expected: string | undefined, header: string): boolean {
  if (!expected) return false;
  const given = createHash('sha256').update(header).digest();
  return timingSafeEqual(given, createHash('sha256').update(`Bearer ${expected}`).digest());
}

/** What GET /openapi.json serves: generated from the route table (the tests check every response against it). */
export const openApiDocument = () => buildOpenApi(apiRoutes, { title: 'Clinic operations API', version: VERSION });

/** Liveness probes: load balancers poll them, so they are never rate limited. */
const PROBES = new Set(['/health', '/health/api']);

/**
 * Every route of the API: the /api/v1 routes (apiRoutes, each with its declared permission) and
 * the operations routes below. test/unit/routes-declared.test.ts lists the latter with their
 * protection and fails when one is added without it.
 */
export function buildRouter(deps: ApiDeps, limiter: RateLimiter): Router<ApiState> {
  const router = new Router<ApiState>();
  const openapi = openApiDocument();
  const docsPage = renderDocsPage(openapi);

  /** Health and metrics details are for platform admins (SPEC §4). */
  const requirePlatformRead = async (ctx: Koa.Context, subject: 'Health' | 'Metrics') => {
    const auth = await authenticate(deps, ctx);
    const { ability } = await loadAbility(deps.dataSource, auth.userId, null);
    if (!ability.can('read', subject)) throw problems.forbidden();
  };

  router.get('/health', (ctx) => { ctx.body = { status: 'ok' }; });
  router.get('/health/api', (ctx) => {
    ctx.body = { status: 'ok', version: VERSION, uptimeSeconds: Math.round((Date.now() - startedAt) / 1000), pid: process.pid };
  });
  router.get('/health/detailed', async (ctx) => {
    await requirePlatformRead(ctx, 'Health');
    const report = await detailedHealth({ ...deps, namespace: deps.config.TEMPORAL_NAMESPACE });
    ctx.status = report.status === 'up' ? 200 : 503;
    ctx.body = report;
  });
  router.get('/metrics', async (ctx) => {
    // Prometheus presents the static METRICS_TOKEN; people present a platform admin's JWT.
    if (!isScrapeToken(deps.config.METRICS_TOKEN, ctx.get('authorization'))) await requirePlatformRead(ctx, 'Metrics');
    ctx.type = deps.metrics.registry.contentType;
    ctx.body = await deps.metrics.registry.metrics();
  });
  router.get('/openapi.json', (ctx) => { ctx.body = openapi; });
  router.get('/docs', (ctx) => { ctx.type = 'html'; ctx.body = docsPage; });
  mountRoutes(router, deps, apiRoutes, limiter);
  mountCodecRoutes(router, deps);
  return router;
}

export function createApp(deps: ApiDeps): Koa<ApiState> {
  // X-Forwarded-For only from the TRUST_PROXY proxies in front: the client address is the entry the
  // outermost of them appended, and entries a client wrote itself are ignored; with none, the header
  // is ignored altogether. Either way a client cannot dodge per-IP limits or forge the audit log's ip.
  const hops = deps.config.TRUST_PROXY;
  const app = new Koa<ApiState>({ proxy: hops > 0, maxIpsCount: hops });
  const limiter = createRateLimiter(deps);
  const router = buildRouter(deps, limiter);

  app.use(requestContext(deps));
  app.use(problemHandler());
  app.use(securityHeaders());
  app.use(cors(deps.config));
  // /api/v1 routes count their caller (IP, user, clinic) once the caller is known (http/mount.ts); the rest by IP here.
  app.use(async (ctx, next) => {
    if (!ctx.path.startsWith('/api/') && !PROBES.has(ctx.path)) await limiter.enforce(ctx, ctx.path, {});
    await next();
  });
  app.use(jsonBodiesOnly());
  app.use(bodyParser({ enableTypes: ['json'], jsonLimit: deps.config.BODY_LIMIT, strict: true }));
  app.use(jsonDepthLimit(deps.config.BODY_MAX_DEPTH));
  app.use(router.routes());
  app.use(router.allowedMethods({ throw: true }));
  return app;
}
