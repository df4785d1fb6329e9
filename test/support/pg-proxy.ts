/**
 * A TCP proxy in front of the test PostgreSQL, for "database down" scenarios: the shared server
 * on 5432 is never stopped (other suites use it), the proxy is cut instead. A cut drops every
 * open connection and refuses new ones, as a crashed or restarting server would; `restore()`
 * accepts connections again.
 *
 *   const pg = await startPgProxy(config.DATABASE_URL);   // pg.url → the same database via the proxy
 *   pg.cut();                                              // every connection dropped, new ones refused
 *   pg.restore();
 *   await pg.close();                                      // in after(); safe twice
 */
import net from 'node:net';

export interface PgProxy {
  /** `databaseUrl` with its host and port replaced by the proxy's. */
  readonly url: string;
  readonly port: number;
  /** Destroys every proxied connection and refuses new ones until restore(). */
  cut(): void;
  restore(): void;
  /** Stops listening and drops every connection. Safe to call twice. */
  close(): Promise<void>;
}

export async function startPgProxy(databaseUrl: string): Promise<PgProxy> {
  const target = new URL(databaseUrl);
  const upstream = { host: target.hostname || '127.0.0.1', port: Number(target.port || 5432) };
  const open = new Set<net.Socket>();
  let down = false;

  const server = net.createServer((client) => {
    if (down) {
      // A refused connection, as close as a listening socket gets: reset at once.
      client.resetAndDestroy();
      return;
    }
    const server = net.connect(upstream);
    for (const socket of [client, server]) {
      open.add(socket);
      socket.once('close', () => open.delete(socket));
      socket.on('error', () => undefined);
    }
    client.pipe(server);
    server.pipe(client);
    client.once('close', () => server.destroy());
    server.once('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;

  const url = new URL(databaseUrl);
  url.hostname = '127.0.0.1';
  url.port = String(port);

  const dropAll = () => {
    for (const socket of open) socket.destroy();
    open.clear();
  };
  let closing: Promise<void> | undefined;
  return {
    url: url.toString(),
    port,
    cut: () => {
      down = true;
      dropAll();
    },
    restore: () => {
      down = false;
    },
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        down = true;
        dropAll();
        server.close(() => resolve());
      })),
  };
}
