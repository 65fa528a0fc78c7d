import type { DataConverter } from '@temporalio/common';
import { NativeConnection, Worker, WorkerOptions } from '@temporalio/worker';
import type { Config, TaskQueue } from '../shared/config';
import type { Logger } from '../shared/logger';

/** Which workflow types run on which queue; activities are registered on every queue this process serves. */
const QUEUES_WITH_WORKFLOWS: readonly TaskQueue[] = ['booking', 'therapy', 'notifications', 'payments', 'maintenance'];

export interface WorkerSetup {
  connection: NativeConnection;
  namespace: string;
  queues: readonly TaskQueue[];
  activities: object;
  /** Pre-built bundle (production, tests) or the source path (development). */
  workflowBundle: { code: string } | { codePath: string } | undefined;
  concurrency: Config['queueConcurrency'];
  maxCachedWorkflows: number;
  shutdownGraceSeconds: number;
  /** The payload codec (and failure converter) shared with every client: see shared/temporal/data-converter.ts. */
  dataConverter: DataConverter;
  /** Tests: error types that fail the workflow instead of its task (e.g. NondeterminismError). */
  workflowFailureErrorTypes?: WorkerOptions['workflowFailureErrorTypes'];
  log?: Logger;
}

export async function createWorkers(setup: WorkerSetup): Promise<Worker[]> {
  return Promise.all(
    setup.queues.map((taskQueue) => {
      const withWorkflows = QUEUES_WITH_WORKFLOWS.includes(taskQueue);
      const options: WorkerOptions = {
        connection: setup.connection,
        namespace: setup.namespace,
        taskQueue,
        activities: setup.activities,
        dataConverter: setup.dataConverter,
        ...(withWorkflows
          ? setup.workflowBundle
            ? { workflowBundle: setup.workflowBundle }
            : { workflowsPath: require.resolve('../workflows') }
          : {}),
        ...setup.concurrency[taskQueue],
        maxCachedWorkflows: withWorkflows ? setup.maxCachedWorkflows : 0,
        // Each booking is a new journey, so most workflow tasks arrive on the normal (non-sticky)
        // queue: autoscaling pollers follow the backlog instead of the default 8:2 sticky split.
        workflowTaskPollerBehavior: { type: 'autoscaling' },
        shutdownGraceTime: `${setup.shutdownGraceSeconds}s`,
        ...(setup.workflowFailureErrorTypes ? { workflowFailureErrorTypes: setup.workflowFailureErrorTypes } : {}),
      };
      return Worker.create(options);
    }),
  );
}
