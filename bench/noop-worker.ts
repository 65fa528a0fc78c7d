/**
 * The no-op baseline's worker (bench/booking.ts starts it as its own process, like the booking
 * worker): serves NOOP_TASK_QUEUE with the no-op journey, with the same payload codec and cache size.
 */
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { loadConfigOrExit } from '../shared/config';
import { createDataConverter, workflowBundleConverters } from '../shared/temporal/data-converter';
import { NOOP_TASK_QUEUE } from './noop-workflow';

async function main() {
  const config = loadConfigOrExit();
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const quiet = { info() {}, warn() {}, error: console.error, debug() {}, trace() {}, log() {} } as never;
  const { code } = await bundleWorkflowCode({ workflowsPath: require.resolve('./noop-workflow'), ...workflowBundleConverters, logger: quiet });
  const worker = await Worker.create({
    connection: await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS }),
    taskQueue: NOOP_TASK_QUEUE,
    workflowBundle: { code },
    dataConverter: createDataConverter(config.PHI_ENCRYPTION_KEYS),
    maxCachedWorkflows: config.WORKER_MAX_CACHED_WORKFLOWS,
    workflowTaskPollerBehavior: { type: 'autoscaling' },
  });
  process.stdout.write('noop worker polling\n');
  await worker.run();
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
