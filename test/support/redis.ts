/**
 * A private redis-server for tests that stop Redis on purpose ("Redis down" scenarios): the
 * shared Redis on 6379 is never touched. Nothing is persisted (`--save '' --appendonly no`), so
 * a restart comes back empty, as a real failover to a fresh replica would.
 *
 *   const redis = await startPrivateRedis();   // redis.url → redis://127.0.0.1:<port>
 *   await redis.stop();                        // SIGKILL, like a crash
 *   await redis.start();                       // same port, empty
 *   await redis.close();                       // in after(); safe twice
 */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';

export interface PrivateRedis {
  readonly port: number;
  readonly url: string;
  /** Starts it again on the same port; resolves when it answers PING. */
  start(): Promise<void>;
  /** Kills it (SIGKILL) and resolves when the process has exited. */
  stop(): Promise<void>;
  /** Stops it for good. Safe to call twice. */
  close(): Promise<void>;
}

const START_TIMEOUT_MS = 10_000;

/** A TCP port free on 127.0.0.1 right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** redis-server ended before answering: most often its port was taken after freePort() chose it. */
class RedisExitedAtStart extends Error {}

export async function startPrivateRedis(): Promise<PrivateRedis> {
  // Suites run side by side, so a port found free may be taken before redis-server binds it.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOn(await freePort());
    } catch (err) {
      if (!(err instanceof RedisExitedAtStart) || attempt >= 3) throw err;
    }
  }
}

async function startOn(port: number): Promise<PrivateRedis> {
  let child: ChildProcess | undefined;
  let closed = false;

  const start = async () => {
    if (closed) throw new Error('private redis is closed');
    if (child) return;
    const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
      stdio: 'ignore',
    });
    child = proc;
    const exited = new Promise<never>((_, reject) =>
      proc.once('exit', () => {
        if (child === proc) child = undefined;
        reject(new RedisExitedAtStart(`redis-server on port ${port} exited before answering`));
      }),
    );
    exited.catch(() => undefined);
    await Promise.race([waitForPing(port, START_TIMEOUT_MS), exited]);
  };

  const stop = async () => {
    const proc = child;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill('SIGKILL');
    await exited;
  };

  let closing: Promise<void> | undefined;
  const close = () => {
    closed = true;
    closing ??= stop();
    return closing;
  };

  await start();
  return { port, url: `redis://127.0.0.1:${port}`, start, stop, close };
}

/** Resolves once a raw PING on the port gets +PONG; rejects after `timeoutMs`. */
async function waitForPing(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await pings(port)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`redis-server on port ${port} did not answer within ${timeoutMs} ms`);
}

function pings(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => done(data.toString().startsWith('+PONG')));
  });
}
