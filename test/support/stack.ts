import type { AddressInfo } from 'node:net';
import { createServer, Server } from 'node:http';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import type { DataSource } from 'typeorm';
import { replayWorkflowsSince } from './replay-check';
import { installQuietRuntime, takeNondeterminismErrors } from './runtime';
import { login } from './fixtures';
import { Api, client } from './http';
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
import { createStripe } from '../../shared/payments/stripe';
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
export interface StackOptions {
  queues?: TaskQueue[];
  env?: Record<string, string>;
  /**
   * 0: every workflow task is a replay of the history so far (what a worker restart or a cache
   * eviction does), so a nondeterminism shows at once. Core evicts a cached run to make room for
   * another's task, which drops local activities in flight; one workflow task at a time avoids that.
   */
  maxCachedWorkflows?: number;
}

export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const startedAt = new Date();
  const replayEveryTask = opts.maxCachedWorkflows === 0;
  const config = loadConfig({
    ...process.env,
    ...(replayEveryTask ? { WORKER_BOOKING_MAX_CONCURRENT_WORKFLOW_TASKS: '1', WORKER_NOTIFICATIONS_MAX_CONCURRENT_WORKFLOW_TASKS: '1' } : {}),
    ...opts.env,
  });
  const log = createLogger(config.LOG_LEVEL, 'test');
  const dataSource = await createAppDataSource({ url: config.DATABASE_URL, poolSize: 30, appRole: config.DATABASE_APP_ROLE }).initialize();
  await assertUnderRowLevelSecurity(dataSource);
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
  await ensureBootstrapAdmin(dataSource, phiKeysFor(config), ADMIN.email, ADMIN.password, log);

  // Provider settings (SMTP_URL, SMS_*, WHATSAPP_*) come from opts.env, e.g. pointing at local stand-ins.
  const providers = createProviders(config);
  const workers = await createWorkers({
    connection: env.nativeConnection,
    namespace: config.TEMPORAL_NAMESPACE,
    // A booking journey hands its messages to the notifications queue and ends only once they are handed over.
    queues: opts.queues ?? ['booking', 'notifications'],
    activities: createActivities({
      dataSource, providers, phiKeyring: phiKeysFor(config).ring, stripe: createStripe({ secretKey: config.STRIPE_SECRET_KEY, apiBase: config.STRIPE_API_BASE }), log, onAppointmentChanged: createAppointmentInvalidator(redis, log), temporal,
    }),
    workflowBundle: { codePath: process.env.TEST_WORKFLOW_BUNDLE! },
    concurrency: config.queueConcurrency,
    maxCachedWorkflows: opts.maxCachedWorkflows ?? 200,
    // A nondeterminism fails the workflow (and so the test waiting on it) instead of retrying its task forever.
    workflowFailureErrorTypes: { '*': ['NondeterminismError'] },
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
      // Every workflow this file started, replayed whole: what a worker restart would meet.
      const replayFailures = await replayWorkflowsSince(temporal, startedAt);
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
      const nondeterminism = [...takeNondeterminismErrors(), ...replayFailures];
      if (nondeterminism.length) throw new Error(`Nondeterminism (TMPRL1100) during this file:\n${nondeterminism.join('\n')}`);
    },
  };
}

/** The API and the workers must meet row-level security: a superuser or BYPASSRLS role would pass every policy. */
async function assertUnderRowLevelSecurity(ds: DataSource): Promise<void> {
  const [role] = await ds.query(`SELECT current_user AS name, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user`);
  if (!role || role.rolsuper || role.rolbypassrls) throw new Error(`the test API would run as ${role?.name}, which is not under row-level security`);
}

/**
 * Another API process over the stack's services (other config, a dead Redis…). It runs as the app
 * role, like the stack's own: `overrides` cannot bring the owner's DataSource back in, and another
 * DataSource (e.g. through a proxy) must be one createAppDataSource made. Tests build extra APIs
 * only through this (test/unit/test-apis.test.ts checks it).
 */
export function testApp(stack: Stack, overrides: Omit<Partial<ApiDeps>, 'dataSource'> = {}, dataSource: DataSource = stack.appDataSource) {
  const { dataSource: _ignored, ...rest } = overrides as Partial<ApiDeps>;
  const role = (dataSource.options as { extra?: { options?: string } }).extra?.options;
  if (dataSource !== stack.appDataSource && role !== `-c role=${stack.deps.config.DATABASE_APP_ROLE}`) {
    throw new Error('a test API must act as the app role: make its DataSource with createAppDataSource');
  }
  return createApp({ ...stack.deps, ...rest, dataSource });
}

export interface StackFixture {
  readonly stack: Stack;
  /** JSON client of the stack's API. */
  readonly api: Api;
  /** The bootstrap super admin's access token. */
  readonly su: string;
}

/**
 * The set-up every integration file repeats: a stack started before the file's tests (options may
 * be a function, read then, e.g. to point at stand-in servers another beforeAll started), the API
 * client and the super admin's token, and the stack stopped after them. Stopping fails the file when
 * a nondeterminism error was logged or a workflow it started does not replay.
 */
export function useStack(options: StackOptions | (() => StackOptions) = {}): StackFixture {
  let state: { stack: Stack; api: Api; su: string } | null = null;
  const get = () => {
    if (!state) throw new Error('useStack: the stack is started in beforeAll; use it inside tests and hooks');
    return state;
  };
  beforeAll(async () => {
    const stack = await startStack(typeof options === 'function' ? options() : options);
    const api = client(stack.baseUrl);
    state = { stack, api, su: '' };
    state.su = await login(api, ADMIN.email, ADMIN.password);
  }, 120_000);
  afterAll(async () => {
    const s = state;
    state = null;
    await s?.stack.stop();
  }, 120_000);
  return {
    get stack() { return get().stack; },
    get api() { return get().api; },
    get su() { return get().su; },
  };
}
