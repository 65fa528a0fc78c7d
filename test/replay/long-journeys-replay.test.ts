import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { createDataConverter } from '../../shared/temporal/data-converter';
import { installQuietRuntime } from '../support/runtime';
import { runLongJourneysToRecord } from './record-long-journeys';

/**
 * The course and series journeys replay their recorded histories (TMPRL1100 is a failure).
 * `RECORD_HISTORIES=1 npm test -- test/replay` records new ones; an existing file is never
 * overwritten. (test/replay/booking-replay.test.ts replays every file in the folder too.)
 */
const DIR = path.join(__dirname, 'histories');

function exportHistory(name: string, workflowId: string, runId?: string): void {
  const file = path.join(DIR, `${name}.json`);
  if (fs.existsSync(file)) return;
  const json = execFileSync(process.env.TEMPORAL_CLI_PATH!, [
    'workflow', 'show', '--workflow-id', workflowId, ...(runId ? ['--run-id', runId] : []), '--output', 'json', '--address', process.env.TEMPORAL_ADDRESS!,
  ]);
  fs.writeFileSync(file, json);
}

describe('long journeys replay', () => {
  beforeAll(async () => {
    installQuietRuntime();
    if (!process.env.RECORD_HISTORIES) return;
    const { runs, stop } = await runLongJourneysToRecord();
    try {
      for (const [name, run] of Object.entries(runs)) exportHistory(name, run.workflowId, run.runId);
    } finally {
      await stop();
    }
  }, 300_000);

  const files = () => fs.readdirSync(DIR).filter((f) => /^(therapy|series)-.*\.json$/.test(f));

  it('has recorded histories of the course and of series, one of them continued as new', () => {
    expect(files().filter((f) => f.startsWith('therapy-')).length).toBeGreaterThanOrEqual(1);
    expect(files().filter((f) => f.startsWith('series-')).length).toBeGreaterThanOrEqual(2);
    const continued = JSON.parse(fs.readFileSync(path.join(DIR, 'series-encrypted-continued-as-new.json'), 'utf8'));
    expect(continued.events.at(-1).eventType).toBe('EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW');
  });

  it('replays each without non-determinism', async () => {
    for (const file of files()) {
      const history = historyFromJSON(JSON.parse(fs.readFileSync(path.join(DIR, file), 'utf8')));
      await expect(Worker.runReplayHistory({ workflowBundle: { codePath: process.env.TEST_WORKFLOW_BUNDLE! }, dataConverter: createDataConverter(process.env.PHI_ENCRYPTION_KEYS!) }, history, file))
        .resolves.toBeUndefined();
    }
  });
});
