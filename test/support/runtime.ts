import { DefaultLogger, LogEntry, makeTelemetryFilterString, Runtime } from '@temporalio/worker';

/**
 * One Temporal Runtime per test file (each file has its own module registry), with the SDK's and
 * core's log lines forwarded to one logger: warnings and errors are printed, and every
 * nondeterminism error (TMPRL1100) is kept, so the file's `afterAll` can fail on it. A journey that
 * meets one stops progressing in production, whatever the test itself asserted.
 */
const NONDETERMINISM = /TMPRL1100|[Nn]ondetermin/;
const seen: string[] = [];

function describe(entry: LogEntry): string {
  const meta = (entry.meta ?? {}) as Record<string, unknown>;
  const ids = [meta.workflowType, meta.workflowId ?? meta.workflow_id, meta.runId ?? meta.run_id].filter(Boolean).join(' ');
  const failure = meta.failure ?? meta.error;
  return `${entry.message}${ids ? ` (${ids})` : ''}${failure ? `: ${typeof failure === 'string' ? failure : JSON.stringify(failure)}` : ''}`;
}

export function installQuietRuntime(): void {
  const print = new DefaultLogger('WARN');
  const logger = new DefaultLogger('WARN', (entry) => {
    if (NONDETERMINISM.test(describe(entry))) seen.push(describe(entry));
    print.log(entry.level, entry.message, entry.meta);
  });
  try {
    Runtime.install({ logger, telemetryOptions: { logging: { forward: {}, filter: makeTelemetryFilterString({ core: 'WARN', other: 'ERROR' }) } } });
  } catch {
    // Already installed in this module registry.
  }
}

/** Nondeterminism errors logged since the runtime was installed (or the last call). */
export function takeNondeterminismErrors(): string[] {
  return seen.splice(0, seen.length);
}
