import type { AddressInfo } from 'node:net';
import { createServer, Server } from 'node:http';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { installQuietRuntime } from './runtime';
import { createActivities } from '../../activities';
import { createApp } from '../../api/app';
import { ensureBootstrapAdmin } from '../../api/bootstrap';
import { createMetrics } from '../../api/http/metrics';
import type { ApiDeps } from '../../api/http/state';
import { Cache } from '../../shared/cache';
import { loadConfig, TaskQueue } from '../../shared/config';
import { createDataSource } from '../../shared/db/data-source';
import { createLogger } from '../../shared/logger';
import { createRedis } from '../../shared/redis';
import { createWorkers } from '../../workers/create-workers';

export const ADMIN = { email: 'root@test.local', password: 'correct horse battery staple' };

export interface Stack {
  baseUrl: string;
  deps: ApiDeps;
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
  const dataSource = await createDataSource({ url: config.DATABASE_URL, poolSize: 30 }).initialize();
  const redis = createRedis(config.REDIS_URL);
  redis.on('error', () => undefined);
  installQuietRuntime();
  // The run's dev server (started once in global setup), through @temporalio/testing.
  const env = await TestWorkflowEnvironment.createFromExistingServer({ address: config.TEMPORAL_ADDRESS, namespace: config.TEMPORAL_NAMESPACE });
  const temporal = env.client;
  const metrics = createMetrics();
  const deps: ApiDeps = { config, dataSource, redis, temporal, log, metrics, cache: new Cache(redis, log, metrics) };
  await ensureBootstrapAdmin(dataSource, ADMIN.email, ADMIN.password, log);

  const workers = await createWorkers({
    connection: env.nativeConnection,
    namespace: config.TEMPORAL_NAMESPACE,
    queues: opts.queues ?? ['booking'],
    activities: createActivities({ dataSource }),
    workflowBundle: { codePath: process.env.TEST_WORKFLOW_BUNDLE! },
    concurrency: config.queueConcurrency,
    maxCachedWorkflows: 200,
    shutdownGraceSeconds: 1,
  });
  const running = workers.map((w) => w.run());

  const server: Server = createServer(createApp(deps).callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    baseUrl,
    deps,
    workers,
    async stop() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      workers.forEach((w) => w.shutdown());
      await Promise.all(running);
      await env.teardown();
      redis.disconnect();
      await dataSource.destroy();
    },
  };
}
