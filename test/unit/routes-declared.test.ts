import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import type Router from '@koa/router';
import { buildRouter, createApp } from '../../api/app';
import { createMetrics } from '../../api/http/metrics';
import { createRateLimiter } from '../../api/http/rate-limit';
import type { ApiDeps, ApiState } from '../../api/http/state';
import { apiRoutes } from '../../api/routes';
import { loadConfig } from '../../shared/config';
import { ACTIONS, SUBJECTS } from '../../shared/permissions';

/**
 * Every endpoint has a declared permission (SPEC §4, issue 3.3). A route added without one fails
 * here until it declares it, or is added below with the reason it needs none.
 */

/**
 * /api/v1 routes with `permission: null`, each with why. Only two kinds are acceptable:
 * - public: there is no caller yet (signing in, refreshing or ending a session by its token);
 * - own account: a signed-in user acting on their own account and nothing else.
 */
const NO_PERMISSION: Record<string, string> = {
  'POST /api/v1/auth/login': 'public: password sign-in',
  'POST /api/v1/auth/refresh': 'public: the refresh token is the credential',
  'POST /api/v1/auth/logout': 'public: the refresh token is the credential; ends only its own session',
  'POST /api/v1/auth/mfa/verify': 'public: the MFA token from login is the credential',
  'POST /api/v1/auth/otp/request': 'public: asks for a one-time code (same answer whether or not the account exists)',
  'POST /api/v1/auth/otp/verify': 'public: one-time code sign-in',
  'POST /api/v1/auth/password': 'own account: changes the caller\'s password (current password required)',
  'GET /api/v1/auth/me': 'own account: the caller and their memberships',
  'POST /api/v1/auth/mfa/totp/enroll': 'own account: the caller\'s second factor',
  'POST /api/v1/auth/mfa/totp/activate': 'own account: the caller\'s second factor',
  'POST /api/v1/payments/webhooks/stripe': 'public: Stripe calls it; the signature over the raw body (STRIPE_WEBHOOK_SECRET) is the credential',
  'GET /api/v1/clinics': 'own account: the clinics the caller belongs to (every clinic only where read Clinic is granted without one: platform roles)',
};

/**
 * Routes of api/app.ts outside apiRoutes, with their documented protection. `token: true` means a
 * request without a bearer token must be refused with 401.
 */
const OPERATIONS: Record<string, { protection: string; token: boolean }> = {
  'GET /health': { protection: 'public: liveness probe, no details', token: false },
  'GET /health/api': { protection: 'public: version and uptime only', token: false },
  'GET /health/detailed': { protection: 'platform: read Health (SUPER_ADMIN, SYSTEM_ADMIN)', token: true },
  'GET /metrics': { protection: 'platform: read Metrics (SUPER_ADMIN, SYSTEM_ADMIN)', token: true },
  'GET /openapi.json': { protection: 'public: the API description', token: false },
  'GET /docs': { protection: 'public: the API description as a page', token: false },
  'POST /codec/encode': { protection: 'staff who read patient data in the clinic the payload belongs to; platform payloads for platform roles (api/routes/codec.ts), audited', token: true },
  'POST /codec/decode': { protection: 'per payload: staff who read patients in its clinic; platform payloads for platform roles; others left sealed (api/routes/codec.ts), audited', token: true },
  'POST /codec/session': { protection: 'bearer token of staff who read patients somewhere (or a platform role): sets the Web UI codec cookie, audited', token: true },
  'GET /codec/session': { protection: 'codec cookie or bearer token of a live session: 204 for an authenticating proxy', token: true },
  'DELETE /codec/session': { protection: 'public: clears the caller\'s own codec cookie, nothing else', token: false },
  'GET /codec/sign-in': { protection: 'public: the sign-in page (it calls the public sign-in routes)', token: false },
  'GET /codec/sign-in.js': { protection: 'public: the sign-in page\'s script', token: false },
};

const key = (method: string, path: string) => `${method.toUpperCase()} ${path}`;

/** Dependencies that do no I/O: enough to build the app and reach the authentication step. */
function offlineDeps(): ApiDeps {
  const config = loadConfig({
    JWT_SECRET: 'x'.repeat(40), PHI_ENCRYPTION_KEYS: `v1:${Buffer.alloc(32, 7).toString('base64')}`, BLIND_INDEX_KEY: Buffer.alloc(32, 8).toString('base64'),
  });
  const unreachable = new Proxy({}, { get: (_t, p) => { throw new Error(`no I/O in this test (touched ${String(p)})`); } });
  return {
    config,
    // Not connected: the rate limiter fails open without calling it.
    redis: { status: 'end' } as unknown as ApiDeps['redis'],
    dataSource: unreachable as ApiDeps['dataSource'],
    temporal: unreachable as ApiDeps['temporal'],
    cache: unreachable as ApiDeps['cache'],
    log: pino({ level: 'silent' }),
    metrics: createMetrics(),
  };
}

function registered(router: Router<ApiState>): string[] {
  return router.stack.flatMap((layer) => layer.methods.filter((m) => m !== 'HEAD').map((m) => key(m, String(layer.path))));
}

describe('every /api/v1 route declares its permission', () => {
  it.each(apiRoutes.map((r) => [key(r.method, r.path), r] as const))('%s', (name, route) => {
    if (route.permission === null) {
      expect([name, NO_PERMISSION[name]]).toEqual([name, expect.any(String)]);
      // A route without a permission is public or about the caller's own account, never a clinic's data.
      expect(['public', 'user']).toContain(route.access);
      expect(NO_PERMISSION[name]).toMatch(route.access === 'public' ? /^public: / : /^own account: /);
    } else {
      const [action, subject] = route.permission;
      expect(ACTIONS).toContain(action);
      expect(SUBJECTS).toContain(subject);
      expect(subject).not.toBe('all');
      // Listed as exempt but declares one: the list is stale.
      expect(NO_PERMISSION[name]).toBeUndefined();
    }
  });

  it('has no stale or duplicate entries', () => {
    const names = apiRoutes.map((r) => key(r.method, r.path));
    expect(new Set(names).size).toBe(names.length);
    expect(Object.keys(NO_PERMISSION).filter((n) => !names.includes(n))).toEqual([]);
  });

  it('routes that act in a clinic always declare a permission', () => {
    const undeclared = apiRoutes.filter((r) => (r.access === 'clinic' || r.access === 'clinic-param') && r.permission === null);
    expect(undeclared.map((r) => key(r.method, r.path))).toEqual([]);
  });
});

describe('routes of api/app.ts outside apiRoutes', () => {
  const deps = offlineDeps();
  const router = buildRouter(deps, createRateLimiter(deps));
  let server: Server;
  let base: string;

  beforeAll(async () => {
    server = createServer(createApp(deps).callback());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('mounts every apiRoute', () => {
    const mounted = new Set(registered(router));
    expect(apiRoutes.map((r) => key(r.method, r.path)).filter((n) => !mounted.has(n))).toEqual([]);
  });

  it('are exactly the documented operations routes', () => {
    const api = new Set(apiRoutes.map((r) => key(r.method, r.path)));
    const others = registered(router).filter((n) => !api.has(n));
    expect(others.sort()).toEqual(Object.keys(OPERATIONS).sort());
  });

  it.each(Object.entries(OPERATIONS))('%s answers as documented without a token (%j)', async (name, { token }) => {
    const [method, path] = name.split(' ');
    const res = await fetch(`${base}${path}`, { method, ...(method === 'POST' ? { headers: { 'content-type': 'application/json' }, body: '{"payloads":[]}' } : {}) });
    if (token) {
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer');
    } else {
      expect(res.status).toBe(200);
    }
  });
});
