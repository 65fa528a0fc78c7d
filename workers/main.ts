import fs from 'node:fs';
import path from 'node:path';
import { Client } from '@temporalio/client';
import { DefaultLogger, LogLevel, NativeConnection, Runtime, makeTelemetryFilterString } from '@temporalio/worker';
import { createActivities } from '../activities';
import { createAppointmentInvalidator } from '../shared/cache';
import { loadConfigOrExit } from '../shared/config';
import { phiKeysFor } from '../shared/crypto/patient-phi';
import { createAppDataSource } from '../shared/db/data-source';
import { createLogger } from '../shared/logger';
import { createRedis } from '../shared/redis';
import { createDataConverter } from '../shared/temporal/data-converter';
import { createStripe } from '../shared/payments/stripe';
import { ensurePurgeSchedule } from '../shared/temporal/maintenance-schedule';
import { closeProviders, createProviders } from '../shared/notify/providers';
import { createWorkers } from './create-workers';

/** One entry point for every worker fleet: WORKER_TASK_QUEUES picks the queues this process serves. */
async function main() {
  const config = loadConfigOrExit();
  const log = createLogger(config.LOG_LEVEL, 'worker');
  // SDK log lines join the process's JSON log stream (ids and states only; payloads are never logged).
  const sdkLog = log.child({ component: 'temporal-sdk' });
  const levels: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = { TRACE: 'trace', DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error' };
  Runtime.install({
    logger: new DefaultLogger('INFO', ({ level, message, meta }) => sdkLog[levels[level]](meta ?? {}, message)),
    telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'WARN' }) } },
  });

  const dataSource = await createAppDataSource({ url: config.DATABASE_URL, poolSize: config.DATABASE_POOL_SIZE, applicationName: 'clinic-worker', appRole: config.DATABASE_APP_ROLE }).initialize();
  const connection = await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS });
  const providers = createProviders(config);
  const redis = createRedis(config.REDIS_URL);
  redis.on('error', (err) => log.warn({ err: err.message }, 'redis error'));
  const dataConverter = createDataConverter(config.PHI_ENCRYPTION_KEYS);
  // Courses and series change their appointments through the appointments' own journeys (updates).
  const temporal = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE, dataConverter });
  const bundlePath = path.resolve(__dirname, '..', 'workflow-bundle.js');
  const workers = await createWorkers({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    queues: config.WORKER_TASK_QUEUES,
    activities: createActivities({
      dataSource, providers, phiKeyring: phiKeysFor(config).ring, stripe: createStripe({ secretKey: config.STRIPE_SECRET_KEY, apiBase: config.STRIPE_API_BASE }), log: log.child({ component: 'activities' }), temporal,
      // Appointment changes retire cached availability, day views and dashboards in every API process.
      onAppointmentChanged: createAppointmentInvalidator(redis, log.child({ component: 'cache' })),
    }),
    workflowBundle: fs.existsSync(bundlePath) ? { codePath: bundlePath } : undefined,
    concurrency: config.queueConcurrency,
    maxCachedWorkflows: config.WORKER_MAX_CACHED_WORKFLOWS,
    shutdownGraceSeconds: config.WORKER_SHUTDOWN_GRACE_SECONDS,
    dataConverter,
    log,
  });

  if (config.WORKER_TASK_QUEUES.includes('maintenance')) {
    const client = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE, dataConverter: createDataConverter(config.PHI_ENCRYPTION_KEYS) });
    await ensurePurgeSchedule(client, { everyMinutes: config.MAINTENANCE_PURGE_EVERY_MINUTES, graceHours: config.MAINTENANCE_PURGE_GRACE_HOURS }, log);
  }

  // Worker.run() installs SIGINT/SIGTERM handlers that drain in-flight tasks before resolving.
  log.info({ queues: config.WORKER_TASK_QUEUES }, 'workers polling');
  await Promise.all(workers.map((w) => w.run()));
  await connection.close();
  await closeProviders(providers);
  await dataSource.destroy();
  redis.disconnect();
  log.info('workers stopped');
}

main().catch((err) => {
  process.stderr.write(`worker failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
