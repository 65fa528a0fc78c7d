import net from 'node:net';

/**
 * A TCP proxy in front of a real service, to cut it off and bring it back mid-test
 * (the database "going down" without touching the shared server).
 */
export async function tcpProxy(targetPort: number, targetHost = '127.0.0.1') {
  const sockets = new Set<net.Socket>();
  let server: net.Server | null = null;
  let port = 0;

  const listen = () => new Promise<void>((resolve) => {
    server = net.createServer((client) => {
      const upstream = net.connect(targetPort, targetHost);
      for (const s of [client, upstream]) {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
        s.on('error', () => s.destroy());
      }
      client.pipe(upstream).pipe(client);
    });
    server.listen(port, '127.0.0.1', () => {
      port = (server!.address() as net.AddressInfo).port;
      resolve();
    });
  });

  await listen();
  return {
    get port() { return port; },
    /** Refuses new connections and drops open ones (again: nothing to do). */
    async cut() {
      await new Promise<void>((resolve) => {
        if (server) server.close(() => resolve());
        else resolve();
        sockets.forEach((s) => s.destroy());
      });
      server = null;
    },
    restore: listen,
  };
}
