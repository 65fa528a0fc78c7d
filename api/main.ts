import { Client, Connection } from '@temporalio/client';
import { createServer } from 'node:http';
import { Cache, localCacheOptions } from '../shared/cache';
import { loadConfigOrExit } from '../shared/config';
import { createAppDataSource } from '../shared/db/data-source';
import { createLogger } from '../shared/logger';
import { createRedis } from '../shared/redis';
import { createDataConverter } from '../shared/temporal/data-converter';
import { createApp } from './app';
import { ensureBootstrapAdmin } from './bootstrap';
import { createMetrics } from './http/metrics';
import { phiKeysFor } from '../shared/crypto/patient-phi';

async function main() {
  const config = loadConfigOrExit();
  const log = createLogger(config.LOG_LEVEL, 'api');
  const dataSource = await createAppDataSource({ url: config.DATABASE_URL, poolSize: config.DATABASE_POOL_SIZE, applicationName: 'clinic-api', appRole: config.DATABASE_APP_ROLE }).initialize();
  const redis = createRedis(config.REDIS_URL);
  redis.on('error', (err) => log.warn({ err: err.message }, 'redis error'));
  const connection = await Connection.connect({ address: config.TEMPORAL_ADDRESS });
  const temporal = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE, dataConverter: createDataConverter(config.PHI_ENCRYPTION_KEYS) });
  const metrics = createMetrics();
  const deps = {
    config, dataSource, redis, temporal, log, metrics,
    cache: new Cache(redis, log, metrics, { local: localCacheOptions(config) }),
  };

  await ensureBootstrapAdmin(dataSource, phiKeysFor(config), config.BOOTSTRAP_ADMIN_EMAIL, config.BOOTSTRAP_ADMIN_PASSWORD, log);
  const server = createServer(createApp(deps).callback());
  server.keepAliveTimeout = 65_000;
  server.listen(config.PORT, () => log.info({ port: config.PORT }, 'api listening'));

  const shutdown = (signal: string) => {
    log.info({ signal }, 'shutting down');
    server.close(async () => {
      await Promise.allSettled([dataSource.destroy(), deps.cache.close(), redis.quit(), connection.close()]);
      process.exit(0);
    });
    setTimeout(() => process.exit(1), 15_000).unref();
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err) => {
  process.stderr.write(`api failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
