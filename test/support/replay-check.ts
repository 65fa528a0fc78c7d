import fs from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import { createDataConverter } from '../../shared/temporal/data-converter';

/**
 * Replays the whole history of every workflow started on the run's dev server since `since`
 * (running or closed) with the workflow bundle under test: a nondeterminism a live worker would
 * only meet after an eviction or a restart shows here. Returns one line per failing history.
 */
export async function replayWorkflowsSince(temporal: Client, since: Date): Promise<string[]> {
  const histories = temporal.workflow.list({ query: `StartTime >= "${since.toISOString()}"` }).intoHistories({ bufferLimit: 10 });
  const failures: string[] = [];
  const options = { workflowBundle: { codePath: process.env.TEST_WORKFLOW_BUNDLE! }, dataConverter: createDataConverter(process.env.PHI_ENCRYPTION_KEYS!) };
  for await (const result of Worker.runReplayHistories(options, histories)) {
    if (result.error) {
      failures.push(`${result.workflowId}: ${result.error.message}`);
      if (process.env.TEST_KEEP_FAILED_HISTORIES) {
        const h = await temporal.workflow.getHandle(result.workflowId, result.runId).fetchHistory();
        fs.writeFileSync(path.join(process.env.TEST_KEEP_FAILED_HISTORIES, `${result.workflowId}.json`), JSON.stringify(h));
      }
    }
  }
  return failures;
}
