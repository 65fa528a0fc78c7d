import Koa from 'koa';
import Router from '@koa/router';
import bodyParser from 'koa-bodyparser';
import { buildOpenApi, renderDocsPage } from './http/openapi';
import { problemHandler, requestContext, securityHeaders } from './http/middleware';
import { mountRoutes } from './http/mount';
import { authenticate } from './http/authenticate';
import { problems } from './http/problem';
import type { ApiDeps, ApiState } from './http/state';
import { apiRoutes } from './routes';
import { mountCodecRoutes } from './routes/codec';
import { detailedHealth } from './routes/operations';
import { loadAbility } from '../shared/actor';

const VERSION = '0.1.0';
const startedAt = Date.now();

export function createApp(deps: ApiDeps): Koa<ApiState> {
  const app = new Koa<ApiState>({ proxy: true });
  const router = new Router<ApiState>();
  const openapi = buildOpenApi(apiRoutes, { title: 'Clinic operations API', version: VERSION });
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
    await requirePlatformRead(ctx, 'Metrics');
    ctx.type = deps.metrics.registry.contentType;
    ctx.body = await deps.metrics.registry.metrics();
  });
  router.get('/openapi.json', (ctx) => { ctx.body = openapi; });
  router.get('/docs', (ctx) => { ctx.type = 'html'; ctx.body = docsPage; });
  mountRoutes(router, deps, apiRoutes);
  mountCodecRoutes(router, deps);

  app.use(requestContext(deps));
  app.use(problemHandler());
  app.use(securityHeaders());
  app.use(bodyParser({ enableTypes: ['json'], jsonLimit: deps.config.BODY_LIMIT, strict: true }));
  app.use(router.routes());
  app.use(router.allowedMethods({ throw: true }));
  return app;
}
