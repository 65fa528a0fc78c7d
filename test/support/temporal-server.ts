import { ChildProcess, spawn } from 'node:child_process';
import net from 'node:net';

export const SEARCH_ATTRIBUTES = ['ClinicId', 'PatientId', 'PractitionerId', 'AppointmentId', 'JourneyKind'];

/**
 * A namespace of its own for workflow tests with stubbed activities (test/workflow): their workers
 * serve the real queue names without taking tasks meant for the real stack's workers.
 */
export const STUB_NAMESPACE = 'workflow-stubs';

/**
 * One machine, one task-queue partition: the dev server's default of 4 partitions makes polls miss
 * tasks sitting in another partition, which showed as ~2 s p99 outliers in bench/booking.ts.
 */
export const SINGLE_PARTITION = ['matching.numTaskqueueReadPartitions=1', 'matching.numTaskqueueWritePartitions=1']
  .flatMap((v) => ['--dynamic-config-value', v]);

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => { s.end(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`Temporal dev server did not listen on ${port} within ${timeoutMs} ms`);
}

/** The real Temporal CLI dev server, in memory, on free ports; one for the whole test run. */
export async function startTemporalDevServer(cliPath: string, dbFile?: string): Promise<{ address: string; process: ChildProcess; port: number }> {
  const port = await freePort();
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--headless', '--log-level', 'error',
    ...(dbFile ? ['--db-filename', dbFile] : []),
    '--namespace', STUB_NAMESPACE,
    ...SINGLE_PARTITION,
    ...SEARCH_ATTRIBUTES.flatMap((a) => ['--search-attribute', `${a}=Keyword`])];
  const child = spawn(cliPath, args, { stdio: ['ignore', 'ignore', 'inherit'], detached: true });
  await waitForPort(port, 60_000);
  return { address: `127.0.0.1:${port}`, process: child, port };
}
