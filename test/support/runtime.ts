import { DefaultLogger, Runtime } from '@temporalio/worker';

/** Worker state changes at INFO drown test output; keep warnings and errors. */
export function installQuietRuntime(): void {
  try {
    Runtime.install({ logger: new DefaultLogger('WARN') });
  } catch {
    // Already installed in this module registry.
  }
}
