import Ajv2020 from 'ajv/dist/2020';
import { adminToken, createClinic } from '../support/fixtures';
import { Api, client } from '../support/http';
import { Stack, startStack, testApp } from '../support/stack';

let stack: Stack;
let api: Api;
let su: string;

beforeAll(async () => {
  stack = await startStack({ queues: ['booking', 'notifications'] });
  api = client(stack.baseUrl);
  su = await adminToken(api);
});
afterAll(() => stack?.stop());

describe('operations endpoints', () => {
  it('GET /health and /health/api answer without auth', async () => {
    expect((await api.get('/health')).body).toEqual({ status: 'ok' });
    const res = await api.get('/health/api');
    expect(res.body).toMatchObject({ status: 'ok', version: expect.any(String), uptimeSeconds: expect.any(Number) });
    expect(res.headers.get('x-request-id')).toMatch(/[0-9a-f-]{36}/);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('GET /health/detailed reports each dependency with latency and the pollers per task queue', async () => {
    expect((await api.get('/health/detailed')).status).toBe(401);
    const res = await api.get('/health/detailed', su);
    expect(res.status).toBe(200);
    for (const dep of ['postgres', 'redis', 'temporal']) {
      expect(res.body.checks[dep]).toMatchObject({ status: 'up', latencyMs: expect.any(Number) });
    }
    expect(res.body.taskQueues.booking.pollers.workflow).toBeGreaterThan(0);
    expect(res.body.taskQueues.notifications.pollers.activity).toBeGreaterThan(0);
    // Other test files' workers share the run's dev server, so an unserved queue here may still have pollers.
    expect(res.body.taskQueues.payments.pollers).toEqual({ workflow: expect.any(Number), activity: expect.any(Number) });
  });

  it('keeps health details and metrics from clinic staff', async () => {
    const c = await createClinic(api, su, ['CLINIC_ADMIN']);
    expect((await api.get('/health/detailed', c.tokens.CLINIC_ADMIN)).status).toBe(403);
    expect((await api.get('/metrics', c.tokens.CLINIC_ADMIN)).status).toBe(403);
  });

  it('GET /metrics exposes a latency histogram per route template, and cache counters', async () => {
    await api.get('/health/api');
    const c = await createClinic(api, su, ['RECEPTIONIST']);
    await api.get('/api/v1/services', c.tokens.RECEPTIONIST, c.h);
    const res = await api.get('/metrics', su);
    expect(res.status).toBe(200);
    expect(res.body).toMatch(/http_request_duration_seconds_bucket\{[^}]*route="\/health\/api"/);
    expect(res.body).toMatch(/http_request_duration_seconds_count\{method="POST",route="\/api\/v1\/auth\/login",status="200"\}/);
    expect(res.body).toMatch(/cache_events_total\{cache="services",outcome="(hit|miss)"\}/);
  });

  it('serves an OpenAPI 3.1 document generated from the validation schemas, and a docs page', async () => {
    const res = await api.get('/openapi.json');
    expect(res.status).toBe(200);
    const doc = res.body;
    expect(doc.openapi).toBe('3.1.0');
    const booking = doc.paths['/api/v1/appointments'].post;
    expect(booking.requestBody.content['application/json'].schema.required).toEqual(expect.arrayContaining(['patientId', 'practitionerId', 'serviceId', 'locationId', 'startsAt']));
    expect(booking.responses['201']).toBeDefined();
    expect(booking['x-permission']).toEqual({ action: 'create', subject: 'Appointment' });
    expect(doc.paths['/api/v1/patients/{id}'].get.parameters).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'id', in: 'path' })]));
    // Every body schema in the document is itself valid JSON Schema 2020-12.
    const ajv = new Ajv2020({ strict: false, validateFormats: false });
    for (const ops of Object.values<Record<string, any>>(doc.paths)) {
      for (const op of Object.values<any>(ops)) {
        const schema = op.requestBody?.content['application/json'].schema;
        if (schema) expect(ajv.validateSchema(schema)).toBe(true);
      }
    }
    // The document and the validator agree: what the schema rejects, the API rejects.
    const validate = ajv.compile(booking.requestBody.content['application/json'].schema);
    expect(validate({ patientId: 'x' })).toBe(false);
    const docs = await api.get('/docs');
    expect(docs.headers.get('content-type')).toContain('text/html');
    expect(docs.body).toContain('/api/v1/appointments');
  });

  it('answers unknown routes, oversized and malformed bodies with problem+json, never 500', async () => {
    const unknown = await api.get('/api/v1/nothing-here', su);
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('content-type')).toContain('application/problem+json');
    const big = await api.call('POST', '/api/v1/auth/login', { raw: JSON.stringify({ email: 'a@b.co', password: 'x'.repeat(200_000) }) });
    expect(big.status).toBe(413);
    const wrongType = await api.call('POST', '/api/v1/auth/login', { raw: 'email=a', headers: { 'content-type': 'text/plain' } });
    expect(wrongType.status).toBe(415);
    const malformed = await api.call('POST', '/api/v1/auth/login', { raw: '{"email":' });
    expect(malformed.status).toBe(400);
  });
});

describe('dependencies down', () => {
  it('answers 503 problem+json while PostgreSQL is unreachable, and recovers when it returns', async () => {
    const { createAppDataSource } = await import('../../shared/db/data-source');
    const { createServer } = await import('node:http');
    const { tcpProxy } = await import('../support/tcp-proxy');
    const proxy = await tcpProxy(5432);
    const url = new URL(stack.deps.config.DATABASE_URL);
    url.port = String(proxy.port);
    const db = await createAppDataSource({ url: url.toString(), poolSize: 2, appRole: stack.deps.config.DATABASE_APP_ROLE }).initialize();
    const server = createServer(testApp(stack, {}, db).callback()).listen(0);
    const http = client(`http://127.0.0.1:${(server.address() as { port: number }).port}`);
    try {
      await proxy.cut();
      const res = await http.get('/api/v1/services', su, { 'x-clinic-id': 'any-slug' });
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('5');
      expect(res.body.type).toMatch(/service-unavailable$/);
      expect(JSON.stringify(res.body)).not.toMatch(/ECONNREFUSED|SELECT|at .*\.ts/);
      await proxy.restore();
      const back = await http.post('/api/v1/auth/login', { email: 'nobody@test.local', password: 'whatever' });
      expect(back.status).toBe(401);
    } finally {
      server.close();
      await proxy.cut();
      await db.destroy();
    }
  });

  it('keeps serving reads from PostgreSQL when Redis is down', async () => {
    const c = await createClinic(api, su, ['RECEPTIONIST']);
    const { createRedis } = await import('../../shared/redis');
    const { Cache } = await import('../../shared/cache');
    const { createServer } = await import('node:http');
    const deadRedis = createRedis('redis://127.0.0.1:1/0');
    deadRedis.on('error', () => undefined);
    const server = createServer(testApp(stack, { redis: deadRedis, cache: new Cache(deadRedis, stack.deps.log, stack.deps.metrics) }).callback()).listen(0);
    try {
      const port = (server.address() as { port: number }).port;
      const res = await client(`http://127.0.0.1:${port}`).get('/api/v1/services', c.tokens.RECEPTIONIST, c.h);
      expect(res.status).toBe(200);
      expect(res.body.items).toHaveLength(1);
    } finally {
      server.close();
      deadRedis.disconnect();
    }
  });
});
