import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';

export interface StripeMock {
  apiBase: string;
  stop(): Promise<void>;
}

const freePort = () => new Promise<number>((resolve, reject) => {
  const srv = net.createServer();
  srv.once('error', reject);
  srv.listen(0, '127.0.0.1', () => {
    const { port } = srv.address() as net.AddressInfo;
    srv.close(() => resolve(port));
  });
});

/** Stripe's own mock server (built once from its Go module by scripts/stripe-mock.sh) on a free port, for one test file. */
export async function startStripeMock(): Promise<StripeMock> {
  const bin = execFileSync('bash', [path.resolve(__dirname, '../../scripts/stripe-mock.sh')], { encoding: 'utf8' }).trim();
  const port = await freePort();
  const child: ChildProcess = spawn(bin, ['-http-addr', `127.0.0.1:${port}`], { stdio: 'ignore' });
  const deadline = Date.now() + 30_000;
  for (;;) {
    const up = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (up) break;
    if (Date.now() > deadline) { child.kill(); throw new Error('stripe-mock did not start'); }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    apiBase: `http://127.0.0.1:${port}`,
    stop: () => new Promise<void>((resolve) => { child.once('exit', () => resolve()); child.kill(); }),
  };
}
