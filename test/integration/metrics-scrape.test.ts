import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import path from 'node:path';
import { parse, parseDocument } from 'yaml';
import { adminToken } from '../support/fixtures';
import { client } from '../support/http';
import { Stack, startStack, testApp } from '../support/stack';

/**
 * Prometheus scrapes /metrics with a static token (METRICS_TOKEN), not a 15-minute JWT (issue 9),
 * and the compose topology ships the scrape config that presents it.
 */
const TOKEN = 'scrape-token-0123456789abcdef0123456789abcdef';
const ROOT = path.join(__dirname, '../..');

let stack: Stack;
let server: Server;
let base: string;

beforeAll(async () => {
  stack = await startStack({ queues: [] });
  server = createServer(testApp(stack, { config: { ...stack.deps.config, METRICS_TOKEN: TOKEN } }).callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections(); });
  await stack?.stop();
});

describe('GET /metrics', () => {
  it('answers the static scrape token with the Prometheus text format', async () => {
    const res = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    expect(await res.text()).toContain('# TYPE http_request_duration_seconds histogram');
  });

  it('refuses another token, a prefix of it and none at all', async () => {
    for (const authorization of [`Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(0, -1)}`, TOKEN, '']) {
      const res = await client(base).call('GET', '/metrics', { headers: authorization ? { authorization } : {} });
      expect({ authorization, status: res.status }).toEqual({ authorization, status: 401 });
    }
  });

  it('still answers a platform admin signed in as usual, and no static token exists unless configured', async () => {
    const su = await adminToken(client(base));
    expect((await client(base).get('/metrics', su)).status).toBe(200);
    expect((await client(stack.baseUrl).call('GET', '/metrics', { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(401);
  });
});

describe('the compose topology', () => {
  it('runs Prometheus with a scrape config that presents the token to every API replica', () => {
    const compose = parseDocument(readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }).toJS({ maxAliasCount: -1 });
    const prom = compose.services.prometheus;
    const config = prom.configs.find((c: { target: string }) => c.target === '/etc/prometheus/prometheus.yml');
    expect(compose.configs[config.source].file).toBe('./prometheus.yml');
    expect(prom.secrets).toEqual(['metrics-token']);
    expect(compose.secrets['metrics-token']).toEqual({ environment: 'METRICS_TOKEN' });
    expect(compose.services.api.environment.METRICS_TOKEN).toMatch(/^\$\{METRICS_TOKEN:\?.+\}$/);

    const scrape = parse(readFileSync(path.join(ROOT, 'prometheus.yml'), 'utf8'));
    const job = scrape.scrape_configs.find((j: { job_name: string }) => j.job_name === 'clinic-api');
    expect(job.metrics_path).toBe('/metrics');
    expect(job.authorization).toEqual({ type: 'Bearer', credentials_file: '/run/secrets/metrics-token' });
    expect(job.dns_sd_configs).toEqual([expect.objectContaining({ names: ['api'], type: 'A', port: 8088 })]);
  });
});
