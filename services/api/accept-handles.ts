import { spawn } from 'node:child_process';
import cluster from 'node:cluster';
import type { Server as HttpServer } from 'node:http';
import { Server } from 'node:net';
import type { Logger } from '../../shared/telemetry/logger';

/** Longest the start waits for the extra handles; without them the API still serves on its own. */
const HELPER_TIMEOUT_MS = 5_000;

/**
 * Sends back the handle it is given, `count` times, then leaves. Each pass over the IPC channel
 * gives the receiver a new descriptor of the same listening socket (SCM_RIGHTS). A raw handle is
 * sent, not a net.Server, so the helper never listens, and never takes a connection, itself.
 */
const HELPER_SOURCE = `process.on('message', (count, handle) => {
  for (let i = 0; i < count; i++) process.send(i, handle);
  process.send('done', () => process.disconnect());
});`;

/** What a net.Server keeps of its options, keepAliveInitialDelay in seconds (Node's net.js). */
interface SocketOptions {
  readonly allowHalfOpen: boolean;
  readonly noDelay: boolean;
  readonly keepAlive: boolean;
  readonly keepAliveInitialDelay: number;
  readonly highWaterMark: number;
}

/** What the API listens on besides its server's own handle; close() stops them taking connections. */
export interface AcceptHandles {
  readonly count: number;
  close(): Promise<void>;
}

/**
 * More handles on the HTTP server's listening socket, so a busy process takes in a burst of new
 * connections in a few event-loop iterations instead of one iteration each.
 *
 * Since libuv 1.45 (Node.js 20) a listening handle accepts one connection per iteration of the
 * event loop. Under load an iteration of the API lasts tens of milliseconds, and Entra opens
 * several connections per tenant at once when its cycle starts; they waited seconds in the
 * kernel's queue (BENCHMARKS.md, session 12). Every handle here is a descriptor of the same
 * socket in this process's epoll set, and each takes one connection per iteration, which it
 * hands to the HTTP server as if the server had accepted it (so timeouts, keep-alive and
 * closeIdleConnections apply as to any other).
 *
 * Node.js 20 has no dup() and no SO_REUSEPORT for TCP, so the descriptors come from a helper
 * process that hands the socket back over IPC (about 0.1 s at the start). Nothing is added in a
 * cluster's processes (WEB_CONCURRENCY above 1: the primary accepts and hands connections on),
 * nor when the helper cannot run, which is logged and costs only the speed of a burst.
 *
 * @param total handles in all, the server's own included (HTTP_ACCEPT_HANDLES); 1 adds none.
 */
export async function addAcceptHandles(server: HttpServer, total: number, logger: Logger): Promise<AcceptHandles> {
  const none: AcceptHandles = { count: 1, close: async () => undefined };
  // A cluster worker's server holds the primary's stand-in (round-robin) or its handle, and a
  // worker's listen() asks the primary: one process only.
  if (total <= 1 || cluster.isWorker) return none;
  const extras: Server[] = [];
  try {
    const handles = await handlesFromHelper((server as unknown as { _handle: object })._handle, total - 1);
    // The HTTP server's own socket options (net.Server applies them as it accepts): without
    // them a connection taken in here would send with Nagle's delay and close on half-close.
    const { allowHalfOpen, noDelay, keepAlive, keepAliveInitialDelay, highWaterMark } = server as unknown as SocketOptions;
    const options = { allowHalfOpen, noDelay, keepAlive, keepAliveInitialDelay: keepAliveInitialDelay * 1000, highWaterMark };
    for (const handle of handles) {
      const extra = new Server(options);
      extra.on('connection', (socket) => server.emit('connection', socket));
      // An accept that fails (out of descriptors) is the same error the server's own handle
      // would meet; the handle keeps listening.
      extra.on('error', (err) => logger.warn({ err }, 'an extra accept handle failed to take a connection'));
      extra.listen(handle);
      extras.push(extra);
    }
  } catch (err) {
    for (const extra of extras) extra.close();
    logger.warn({ err }, 'no extra accept handles: the API takes one new connection per event-loop iteration');
    return none;
  }
  return {
    count: 1 + extras.length,
    // Each resolves once the connections it accepted have ended (the HTTP server closes idle ones).
    close: () => Promise.all(extras.map((extra) => new Promise<void>((resolve) => extra.close(() => resolve())))).then(() => undefined),
  };
}

/** `count` new descriptors of `handle`'s socket, through a short-lived helper process. */
function handlesFromHelper(handle: object, count: number): Promise<object[]> {
  return new Promise((resolve, reject) => {
    // No environment: NODE_OPTIONS (a loader, an inspector) is nothing the helper needs.
    const helper = spawn(process.execPath, ['-e', HELPER_SOURCE], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], env: {} });
    const received: object[] = [];
    let settled = false;
    const fail = (err: Error) => {
      // An error and then the exit both report the one failure.
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      helper.kill();
      // Descriptors already here are sockets of ours: closed, not leaked.
      for (const h of received) (h as { close(): void }).close();
      reject(err);
    };
    const timer = setTimeout(() => fail(new Error(`the helper gave no handles within ${HELPER_TIMEOUT_MS} ms`)), HELPER_TIMEOUT_MS);
    helper.once('error', fail);
    helper.once('exit', (code) => {
      if (received.length < count) fail(new Error(`the helper left (code ${code}) after ${received.length} of ${count} handles`));
    });
    helper.on('message', (message, got) => {
      if (message !== 'done') {
        if (got) received.push(got);
        return;
      }
      if (received.length !== count) return fail(new Error(`the helper sent ${received.length} of ${count} handles`));
      settled = true;
      clearTimeout(timer);
      resolve(received);
    });
    helper.send(count, handle as never);
  });
}
