import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { bundleWorkflowCode } from '@temporalio/worker';
import { createDataSource } from '../../shared/db/data-source';
import { ensureDatabase } from '../../shared/db/ensure-database';
import { workflowBundleConverters } from '../../shared/temporal/data-converter';
import { startTemporalDevServer } from './temporal-server';

/**
 * Once per run: a Temporal dev server, a fresh PostgreSQL database with migrations applied, and
 * the workflow bundle. Test files connect to these through the environment.
 */
export default async function globalSetup(): Promise<void> {
  const runId = `${process.pid}_${Date.now().toString(36)}`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clinic-test-'));
  process.env.TEST_RUN_DIR = dir;

  const cli = process.env.TEMPORAL_CLI_PATH;
  if (!cli) throw new Error('TEMPORAL_CLI_PATH is not set: run the tests with `npm test`');
  const temporal = await startTemporalDevServer(cli);
  process.env.TEMPORAL_ADDRESS = temporal.address;
  process.env.TEST_TEMPORAL_PID = String(temporal.process.pid);
  const connection = await Connection.connect({ address: temporal.address });
  // The server listens before its namespace is ready; wait until it answers.
  for (let i = 0; ; i++) {
    try {
      await connection.workflowService.describeNamespace({ namespace: 'default' });
      break;
    } catch (err) {
      if (i > 100) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  await connection.close();

  const base = process.env.TEST_DATABASE_BASE_URL ?? 'postgres://postgres@127.0.0.1:5432';
  process.env.DATABASE_URL = `${base}/clinic_test_${runId}`;
  await ensureDatabase(process.env.DATABASE_URL);
  const ds = await createDataSource({ url: process.env.DATABASE_URL, poolSize: 2 }).initialize();
  await ds.runMigrations({ transaction: 'each' });
  await ds.destroy();

  const { code } = await bundleWorkflowCode({ workflowsPath: require.resolve('../../workflows'), ...workflowBundleConverters, logger: { info() {}, warn() {}, error: console.error, debug() {}, trace() {}, log() {} } as never });
  process.env.TEST_WORKFLOW_BUNDLE = path.join(dir, 'workflow-bundle.js');
  fs.writeFileSync(process.env.TEST_WORKFLOW_BUNDLE, code);

  process.env.REDIS_URL ??= 'redis://127.0.0.1:6379/15';
  process.env.JWT_SECRET = 'test-secret-that-is-long-enough-for-hs256-0123456789';
  process.env.PHI_ENCRYPTION_KEYS = `test1:${Buffer.alloc(32, 1).toString('base64')},test2:${Buffer.alloc(32, 2).toString('base64')}`;
  process.env.BLIND_INDEX_KEY = Buffer.alloc(32, 3).toString('base64');
  process.env.LOG_LEVEL = process.env.LOG_LEVEL ?? 'silent';
  // Every test file signs in from 127.0.0.1 against one Redis: rate limits far above any file's traffic.
  // test/integration/rate-limit.test.ts starts its own API with low ones.
  // Tests stand in for the one proxy in front of the API: the X-Forwarded-For they send names the client.
  // test/integration/rate-limit.test.ts checks the default (0: the header is ignored) with its own API.
  process.env.TRUST_PROXY ??= '1';
  // A freshly started worker process on a loaded machine can take longer than production's deadline
  // for its first workflow task; test/integration/workflow-deadline.test.ts sets a short one itself.
  process.env.WORKFLOW_CALL_TIMEOUT_MS ??= '60000';
  for (const name of ['RATE_LIMIT_PER_IP', 'RATE_LIMIT_PER_USER', 'RATE_LIMIT_PER_CLINIC', 'RATE_LIMIT_LOGIN_PER_IP', 'RATE_LIMIT_LOGIN_PER_IDENTIFIER', 'RATE_LIMIT_LOGIN_BACKOFF_AFTER']) {
    process.env[name] ??= '1000000';
  }
}
