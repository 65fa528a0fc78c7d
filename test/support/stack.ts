import type { AddressInfo } from 'node:net';
import { createServer, Server } from 'node:http';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import type { DataSource } from 'typeorm';
import { installQuietRuntime } from './runtime';
import { createActivities } from '../../activities';
import { createApp } from '../../api/app';
import { ensureBootstrapAdmin } from '../../api/bootstrap';
import { createMetrics } from '../../api/http/metrics';
import type { ApiDeps } from '../../api/http/state';
import { Cache, createAppointmentInvalidator, localCacheOptions } from '../../shared/cache';
import { loadConfig, TaskQueue } from '../../shared/config';
import { phiKeysFor } from '../../shared/crypto/patient-phi';
import { createAppDataSource, createDataSource } from '../../shared/db/data-source';
import { createLogger } from '../../shared/logger';
import { closeProviders, createProviders } from '../../shared/notify/providers';
import { createRedis } from '../../shared/redis';
import { createDataConverter } from '../../shared/temporal/data-converter';
import { createWorkers } from '../../workers/create-workers';

export const ADMIN = { email: 'root@test.local', password: 'correct horse battery staple' };

export interface Stack {
  baseUrl: string;
  /**
   * The API's dependencies, except `dataSource`: the owner's login (a superuser, so not under
   * row-level security), for tests to arrange and assert on any clinic's rows directly.
   */
  deps: ApiDeps;
  /** What the API and the workers really use: role DATABASE_APP_ROLE, row-level security by tenant context. */
  appDataSource: DataSource;
  workers: Worker[];
  stop(): Promise<void>;
}

/**
 * The real thing, in process: API on a free port, workers on the run's Temporal dev server,
 * PostgreSQL and Redis. Each test file starts and stops its own.
 */
export async function startStack(opts: { queues?: TaskQueue[]; env?: Record<string, string> } = {}): Promise<Stack> {
  const config = loadConfig({ ...process.env, ...opts.env });
  const log = createLogger(config.LOG_LEVEL, 'test');
  const dataSource = await createAppDataSource({ url: config.DATABASE_URL, poolSize: 30, appRole: config.DATABASE_APP_ROLE }).initialize();
  const ownerDataSource = await createDataSource({ url: config.DATABASE_URL, poolSize: 5 }).initialize();
  const redis = createRedis(config.REDIS_URL);
  redis.on('error', () => undefined);
  installQuietRuntime();
  // The run's dev server (started once in global setup), through @temporalio/testing.
  // Client and workers share the payload codec, as api/main.ts and workers/main.ts do.
  const dataConverter = createDataConverter(config.PHI_ENCRYPTION_KEYS);
  const env = await TestWorkflowEnvironment.createFromExistingServer({ address: config.TEMPORAL_ADDRESS, namespace: config.TEMPORAL_NAMESPACE, client: { dataConverter } });
  const temporal = env.client;
  const metrics = createMetrics();
  const cache = new Cache(redis, log, metrics, { local: localCacheOptions(config) });
  const deps: ApiDeps = { config, dataSource, redis, temporal, log, metrics, cache };
  await ensureBootstrapAdmin(dataSource, ADMIN.email, ADMIN.password, log);

  // Provider settings (SMTP_URL, SMS_*, WHATSAPP_*) come from opts.env, e.g. pointing at local stand-ins.
  const providers = createProviders(config);
  const workers = await createWorkers({
    connection: env.nativeConnection,
    namespace: config.TEMPORAL_NAMESPACE,
    queues: opts.queues ?? ['booking'],
    activities: createActivities({
      dataSource, providers, phiKeyring: phiKeysFor(config).ring, log, onAppointmentChanged: createAppointmentInvalidator(redis, log), temporal,
    }),
    workflowBundle: { codePath: process.env.TEST_WORKFLOW_BUNDLE! },
    concurrency: config.queueConcurrency,
    maxCachedWorkflows: 200,
    shutdownGraceSeconds: 1,
    dataConverter,
  });
  const running = workers.map((w) => w.run());

  const server: Server = createServer(createApp(deps).callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    baseUrl,
    deps: { ...deps, dataSource: ownerDataSource },
    appDataSource: dataSource,
    workers,
    async stop() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      workers.forEach((w) => w.shutdown());
      await Promise.all(running);
      await env.teardown();
      await closeProviders(providers);
      await cache.close();
      redis.disconnect();
      await dataSource.destroy();
      await ownerDataSource.destroy();
    },
  };
}
