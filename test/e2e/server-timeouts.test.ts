/**
 * The API's own server (services/api/server.ts) against clients that hold sockets: headers or a
 * body sent a byte at a time are cut (408, connection closed) once the timeouts pass, and an
 * answer given before the body was read (401, 413) closes the connection instead of reading the
 * rest. Raw sockets on a real listening server; the timeouts are shortened through the server
 * factory's options so each case takes a second or two, and one test pins the defaults.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startApi } from '../../services/api/server';

type Api = Awaited<ReturnType<typeof startApi>>;

const portOf = (api: Api) => (api.server.address() as net.AddressInfo).port;

/** A raw connection that records what the server sends and when it closes the connection. */
async function rawConnection(port: number) {
  const socket = net.connect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const opened = Date.now();
  let received = '';
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => (received += chunk));
  socket.on('error', () => undefined);
  const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now() - opened)));
  return { socket, closed, received: () => received };
}

/** Writes `piece` every `everyMs` until the socket closes or `stop()` says so. */
function trickle(socket: net.Socket, piece: string, everyMs: number, stop: () => boolean = () => false) {
  const timer = setInterval(() => {
    if (socket.destroyed || stop()) return clearInterval(timer);
    socket.write(piece);
  }, everyMs);
  socket.once('close', () => clearInterval(timer));
  return () => clearInterval(timer);
}

/** Resolves with the elapsed ms once closed, or rejects after `boundMs` (and destroys the socket). */
async function closedWithin(conn: Awaited<ReturnType<typeof rawConnection>>, boundMs: number): Promise<number> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      conn.socket.destroy();
      reject(new Error(`the server kept the connection open for ${boundMs} ms`));
    }, boundMs);
  });
  try {
    return await Promise.race([conn.closed, bound]);
  } finally {
    clearTimeout(timer);
  }
}

describe('API server › slow clients (headersTimeoutMs 500, requestTimeoutMs 1,000)', () => {
  let api: Api;
  before(async () => {
    api = await startApi({ port: 0, headersTimeoutMs: 500, requestTimeoutMs: 1_000 });
  });
  after(() => api.close());

  it('headers sent one line every 100 ms, never finished › 408 and the connection closed', async () => {
    const conn = await rawConnection(portOf(api));
    conn.socket.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\n');
    trickle(conn.socket, 'X-Slow: 1\r\n', 100);
    const elapsed = await closedWithin(conn, 4_000);
    assert.ok(elapsed >= 400, `closed after ${elapsed} ms, before the timeout`);
    assert.match(conn.received(), /^HTTP\/1\.1 408 /);
  });

  it('a declared body sent one byte every 100 ms › the connection closed once the request timeout passes', async () => {
    const conn = await rawConnection(portOf(api));
    conn.socket.write('POST /admin/session HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"token":"');
    trickle(conn.socket, 'a', 100);
    const elapsed = await closedWithin(conn, 5_000);
    assert.ok(elapsed >= 900, `closed after ${elapsed} ms, before the timeout`);
    assert.doesNotMatch(conn.received(), /^HTTP\/1\.1 [23]/);
  });

  it('a kept-alive connection idle longer than both timeouts › still usable (only keepAliveTimeout ends it)', async () => {
    const conn = await rawConnection(portOf(api));
    conn.socket.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n');
    await new Promise((r) => setTimeout(r, 1_500));
    conn.socket.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(conn.received().match(/HTTP\/1\.1 200 /g)?.length, 2);
    assert.equal(conn.socket.destroyed, false);
    conn.socket.destroy();
  });
});

describe('API server › answers given before the body was read (default timeouts)', () => {
  let api: Api;
  before(async () => {
    api = await startApi({ port: 0 });
  });
  after(() => api.close());

  it('defaults › headers 20 s, whole request 30 s, idle keep-alive 65 s (as README says)', () => {
    assert.equal(api.server.headersTimeout, 20_000);
    assert.equal(api.server.requestTimeout, 30_000);
    assert.equal(api.server.keepAliveTimeout, 65_000);
  });

  /** Streams a large declared body until the answer's head arrives, then stops sending. */
  async function earlyAnswer(head: string) {
    const conn = await rawConnection(portOf(api));
    conn.socket.write(head);
    trickle(conn.socket, 'x'.repeat(16_384), 20, () => conn.received().includes('\r\n\r\n'));
    const elapsed = await closedWithin(conn, 5_000);
    return { elapsed, response: conn.received() };
  }

  it('POST /scim/v2/Users without a token, 900 KB declared and streaming › 401 with Connection: close, and the connection closed', async () => {
    const { response } = await earlyAnswer(
      'POST /scim/v2/Users HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/scim+json\r\nContent-Length: 900000\r\n\r\n',
    );
    assert.match(response, /^HTTP\/1\.1 401 /);
    assert.match(response, /\r\nconnection: close\r\n/i);
  });

  it('POST /admin/session (console sign-in) with 100 KB declared (limit 4 KB) › 413 with Connection: close, and the connection closed', async () => {
    const { response } = await earlyAnswer(
      'POST /admin/session HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n',
    );
    assert.match(response, /^HTTP\/1\.1 413 /);
    assert.match(response, /\r\nconnection: close\r\n/i);
  });

  it('POST /scim/v2/Users with 2 MB declared (limit 1 MiB) › 413 with Connection: close before the body is read', async () => {
    const { response } = await earlyAnswer(
      'POST /scim/v2/Users HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/scim+json\r\nContent-Length: 2000000\r\n\r\n',
    );
    assert.match(response, /^HTTP\/1\.1 413 /);
    assert.match(response, /\r\nconnection: close\r\n/i);
  });

  it('startApi › headersTimeoutMs above requestTimeoutMs › refused when built', async () => {
    await assert.rejects(startApi({ port: 0, headersTimeoutMs: 5_000, requestTimeoutMs: 1_000 }), RangeError);
  });
});
