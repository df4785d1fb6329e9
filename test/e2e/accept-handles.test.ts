/**
 * Extra handles on the API's listening socket (services/api/accept-handles.ts): Node.js 20 takes
 * one new connection per handle and event-loop iteration, so a busy process took a burst of new
 * connections one iteration each. Counted directly: connections wait in the kernel's queue while
 * the loop is blocked, and the next iteration's poll takes in one per handle. Then the real API
 * (startApi) with extra handles: requests on the connections they took in, and a shutdown after
 * which nothing listens any more.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:http';
import net from 'node:net';
import { type AcceptHandles, addAcceptHandles } from '../../services/api/accept-handles';
import { startApi } from '../../services/api/server';
import { logger } from '../../shared/telemetry/logger';

const portOf = (server: net.Server) => (server.address() as net.AddressInfo).port;

/** Blocks the event loop, as a busy iteration of the API does. */
function busy(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until);
}

/**
 * Opens `count` connections while the loop is blocked (the kernel completes their handshakes and
 * queues them), and counts those the server took in by the end of the next iteration's poll.
 */
async function takenInOneIteration(server: Server, count: number): Promise<{ taken: number; sockets: net.Socket[] }> {
  let taken = 0;
  const onConnection = () => (taken += 1);
  server.on('connection', onConnection);
  const sockets = Array.from({ length: count }, () => net.connect({ host: '127.0.0.1', port: portOf(server) }).on('error', () => undefined));
  busy(100);
  // The first setImmediate runs in this iteration's check phase; the second after the next poll.
  const afterNextPoll = await new Promise<number>((resolve) => setImmediate(() => setImmediate(() => resolve(taken))));
  server.off('connection', onConnection);
  return { taken: afterNextPoll, sockets };
}

describe('accept handles › a burst of 20 new connections while the loop is busy', () => {
  const servers: Server[] = [];
  const extras: AcceptHandles[] = [];
  const sockets: net.Socket[] = [];
  after(async () => {
    for (const socket of sockets) socket.destroy();
    for (const server of servers) server.close();
    await Promise.all(extras.map((handles) => handles.close()));
  });

  async function listening(total: number) {
    const server = createServer((_req, res) => res.end('ok'));
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const handles = await addAcceptHandles(server, total, logger);
    extras.push(handles);
    return { server, handles };
  }

  it('one handle (HTTP_ACCEPT_HANDLES=1) › one connection taken in per iteration, no helper', async () => {
    const { server, handles } = await listening(1);
    assert.equal(handles.count, 1);
    const burst = await takenInOneIteration(server, 20);
    sockets.push(...burst.sockets);
    assert.equal(burst.taken, 1);
  });

  it('eight handles › eight connections taken in per iteration, every one handed to the HTTP server', async () => {
    const { server, handles } = await listening(8);
    assert.equal(handles.count, 8);
    const burst = await takenInOneIteration(server, 20);
    sockets.push(...burst.sockets);
    assert.equal(burst.taken, 8);
  });

  it("eight handles › a connection taken in by an extra handle gets the HTTP server's socket options (no Nagle delay, half-open allowed)", async () => {
    const { server } = await listening(8);
    const accepted: net.Socket[] = [];
    server.on('connection', (socket: net.Socket) => accepted.push(socket));
    const burst = await takenInOneIteration(server, 8);
    sockets.push(...burst.sockets);
    // net.Server keeps the server that accepted a socket in `socket._server` (the HTTP server then
    // claims `socket.server`), and applies that server's options to it.
    const acceptedBy = new Set(accepted.map((socket) => (socket as unknown as { _server: net.Server })._server));
    assert.equal(acceptedBy.size, 8);
    for (const origin of acceptedBy) {
      const { noDelay, allowHalfOpen } = origin as unknown as { noDelay: boolean; allowHalfOpen: boolean };
      assert.deepEqual({ noDelay, allowHalfOpen }, { noDelay: true, allowHalfOpen: true });
    }
  });
});

/** GET path on a connection of its own; resolves with the status. */
function getOnNewConnection(port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false, headers: { connection: 'keep-alive' } }, (res) => {
      res.resume();
      res.once('end', () => resolve(res.statusCode ?? 0));
    });
    req.once('error', reject);
    req.end();
  });
}

describe('accept handles › the API (startApi, 4 handles)', () => {
  it('30 connections opened at once while the loop is busy › each answered; after close() nothing listens on the port', async () => {
    const api = await startApi({ port: 0, acceptHandles: 4 });
    const port = portOf(api.server);
    let closed = false;
    try {
      const answers = Array.from({ length: 30 }, () => getOnNewConnection(port, '/healthz'));
      busy(100);
      assert.deepEqual(await Promise.all(answers), Array(30).fill(200));
      await api.close();
      closed = true;
      // The extra handles are closed with the server's own: the socket listens no more.
      await assert.rejects(getOnNewConnection(port, '/healthz'), { code: 'ECONNREFUSED' });
    } finally {
      if (!closed) await api.close();
    }
  });
});
