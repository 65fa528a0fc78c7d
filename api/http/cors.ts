import type { Middleware } from 'koa';
import type { Config } from '../../shared/config';
import type { ApiState } from './state';

/**
 * CORS from configuration, the one place the API answers browsers of other origins:
 * - /codec/*: the Temporal Web UI's origin only (TEMPORAL_UI_URL), with credentials, for its
 *   remote payload codec (api/routes/codec.ts);
 * - everything else: the CORS_ORIGINS frontends, bearer tokens only (no cookies, so no credentials).
 * Origins match exactly; anything else gets no CORS headers and the browser blocks the response.
 */
export interface CorsPolicy {
  origins: ReadonlySet<string>;
  methods: string;
  allowHeaders: string;
  exposeHeaders: string;
  credentials: boolean;
  maxAgeSeconds: number;
}

export function corsPolicies(config: Pick<Config, 'CORS_ORIGINS' | 'TEMPORAL_UI_URL'>): (path: string) => CorsPolicy {
  const codec: CorsPolicy = {
    origins: new Set([new URL(config.TEMPORAL_UI_URL).origin]),
    methods: 'POST, OPTIONS',
    allowHeaders: 'Authorization, Content-Type, X-Namespace',
    exposeHeaders: 'X-Request-ID',
    credentials: true,
    maxAgeSeconds: 600,
  };
  const api: CorsPolicy = {
    // URL normalises case and default ports, as browsers do in the Origin header.
    origins: new Set(config.CORS_ORIGINS.map((o) => new URL(o).origin)),
    methods: 'GET, POST, PUT, PATCH, DELETE, OPTIONS',
    allowHeaders: 'Authorization, Content-Type, X-Clinic-ID, Idempotency-Key, X-Request-ID',
    // Retry-After tells a frontend when to come back from a 429 or 503.
    exposeHeaders: 'Retry-After, X-Request-ID',
    credentials: false,
    maxAgeSeconds: 600,
  };
  return (path) => (path.startsWith('/codec/') ? codec : api);
}

/** Sets CORS headers before the rest runs, so error responses carry them too; answers allowed preflights itself. */
export function cors(config: Pick<Config, 'CORS_ORIGINS' | 'TEMPORAL_UI_URL'>): Middleware<ApiState> {
  const policyFor = corsPolicies(config);
  return async function corsMiddleware(ctx, next) {
    const origin = ctx.get('origin');
    if (!origin) return next();
    ctx.vary('Origin');
    const policy = policyFor(ctx.path);
    if (!policy.origins.has(origin)) return next();
    ctx.set('Access-Control-Allow-Origin', origin);
    if (policy.credentials) ctx.set('Access-Control-Allow-Credentials', 'true');
    if (ctx.method === 'OPTIONS' && ctx.get('access-control-request-method')) {
      ctx.set('Access-Control-Allow-Methods', policy.methods);
      ctx.set('Access-Control-Allow-Headers', policy.allowHeaders);
      ctx.set('Access-Control-Max-Age', String(policy.maxAgeSeconds));
      ctx.status = 204;
      return;
    }
    ctx.set('Access-Control-Expose-Headers', policy.exposeHeaders);
    await next();
  };
}
