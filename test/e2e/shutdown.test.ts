import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { createDatabase, type Database } from '../../shared/db/sequelize';
import { ADMIN_TOKEN } from '../support/app';
import { ENTERPRISE, USER_SCHEMA } from '../support/factories';
import { freePort, startPrivateRedis, type PrivateRedis } from '../support/redis';
import { logLines, spawnEntry, waitForStatus, type Spawned } from './processes';

/** server.ts's drain bound, plus the time to close connections and exit. */
const EXIT_BOUND_MS = 15_000;
/** Enough sequential creates to keep one request busy across the signal (each its own transaction). */
const BULK_OPERATIONS = 600;

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  at: number;
}

function send(port: number, method: string, path: string, headers: Record<string, string>, body?: string, agent?: http.Agent) {
  let written!: () => void;
  const sent = new Promise<void>((resolve) => (written = resolve));
  const answered = new Promise<Answer>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers, agent }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text, at: Date.now() }));
    });
    req.on('error', reject);
    req.on('finish', () => written());
    req.end(body);
  });
  return { sent, answered };
}

/** Resolves with the error code of a fresh TCP connection attempt, or 'connected'. */
function connectOutcome(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
  });
}

/** BULK_OPERATIONS creates of users named `<prefix>-<i>@contoso.example`. */
function bulkOf(prefix: string) {
  return {
    schemas: ['urn:ietf:params:scim:api:messages:2.0:BulkRequest'],
    Operations: Array.from({ length: BULK_OPERATIONS }, (_, i) => ({
      method: 'POST',
      path: '/Users',
      bulkId: `u${i}`,
      data: { schemas: [USER_SCHEMA, ENTERPRISE], userName: `${prefix}-${i}@contoso.example`, active: true },
    })),
  };
}

describe('API process › SIGTERM › graceful shutdown', () => {
  let redis: PrivateRedis;
  let api: Spawned;
  let port: number;
  let db: Database;
  before(async () => {
    redis = await startPrivateRedis();
    db = createDatabase({ poolMax: 1 });
  });
  // Each test signals its own API process.
  beforeEach(async () => {
    port = await freePort();
    api = spawnEntry('services/api/server.ts', {
      PORT: String(port),
      REDIS_URL: redis.url,
      ADMIN_TOKEN,
      OTEL_SDK_DISABLED: 'true',
    });
    await waitForStatus(`http://127.0.0.1:${port}/readyz`, 200, 30_000, api);
  });
  afterEach(() => api?.kill());
  after(async () => {
    await redis?.close();
    await db?.close();
  });

  it('SIGTERM › a slow /Bulk in flight, an idle keep-alive socket › the request completes 2xx with Connection: close, new connections are refused, exit 0 in bound, no error logged', async () => {
    const admin = { Authorization: `Bearer ${ADMIN_TOKEN}`, 'Content-Type': 'application/json' };
    const tenant = JSON.parse((await send(port, 'POST', '/admin/v1/tenants', admin, JSON.stringify({ name: `shutdown-${Date.now()}` })).answered).body);
    const directory = JSON.parse(
      (await send(port, 'POST', `/admin/v1/tenants/${tenant.id}/directories`, admin, JSON.stringify({ name: 'shutdown', provider: 'entra' })).answered).body,
    );
    const scim = { Authorization: `Bearer ${directory.key.token}`, 'Content-Type': 'application/scim+json' };

    // An idle kept-alive connection: the server must close it rather than take a request on it.
    const idle = net.connect({ host: '127.0.0.1', port });
    const idleClosed = new Promise<number>((resolve) => idle.once('close', () => resolve(Date.now())));
    idle.on('error', () => {});
    await new Promise<void>((resolve) => idle.once('connect', () => resolve()));
    const firstAnswer = new Promise<string>((resolve) => idle.once('data', (d) => resolve(String(d))));
    idle.write(`GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: keep-alive\r\n\r\n`);
    assert.match(await firstAnswer, /^HTTP\/1\.1 200/);

    const suffix = Date.now().toString(36);
    const bulk = bulkOf(`drain-${suffix}`);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const slow = send(port, 'POST', '/scim/v2/Bulk', scim, JSON.stringify(bulk), agent);
    await slow.sent;
    await new Promise((r) => setTimeout(r, 150));

    const signalledAt = Date.now();
    api.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    const fresh = await connectOutcome(port);

    const answer = await slow.answered;
    const { code, signal } = await api.exited(EXIT_BOUND_MS);
    const exitedAt = Date.now();
    agent.destroy();

    assert.ok(answer.at > signalledAt, `the /Bulk must still be running at SIGTERM (took too little: make BULK_OPERATIONS larger)`);
    assert.equal(answer.status, 200);
    const results = JSON.parse(answer.body).Operations as Array<{ status: string }>;
    assert.equal(results.length, BULK_OPERATIONS);
    assert.ok(
      results.every((r) => r.status === '201'),
      'every operation of the in-flight request was carried out',
    );
    assert.equal(answer.headers.connection, 'close', 'the client is told not to reuse the connection');
    assert.equal(fresh, 'ECONNREFUSED', 'no new connection is accepted once draining');
    assert.ok((await idleClosed) - signalledAt < 2_000, 'the idle keep-alive socket is closed by the server');

    assert.deepEqual({ code, signal }, { code: 0, signal: null });
    assert.ok(exitedAt - signalledAt < EXIT_BOUND_MS);
    const errors = logLines(api.output()).filter((l) => l.level === 'error' || l.level === 'fatal');
    assert.deepEqual(errors, [], 'nothing failed during shutdown');
    assert.doesNotMatch(api.output(), /connection manager was closed/i);

    const [stored] = await db.acrossTenants().query<{ n: number }>(`SELECT count(*)::int AS n FROM scim_users WHERE user_name LIKE $1`, [`drain-${suffix}-%`]);
    assert.equal(stored.n, BULK_OPERATIONS);
  });

  it('SIGTERM › a slow /Bulk whose client has gone away › the drain waits for its work, which completes; exit 0, no error logged', async () => {
    const admin = { Authorization: `Bearer ${ADMIN_TOKEN}`, 'Content-Type': 'application/json' };
    const tenant = JSON.parse((await send(port, 'POST', '/admin/v1/tenants', admin, JSON.stringify({ name: `abandoned-${Date.now()}` })).answered).body);
    const directory = JSON.parse(
      (await send(port, 'POST', `/admin/v1/tenants/${tenant.id}/directories`, admin, JSON.stringify({ name: 'abandoned', provider: 'entra' })).answered).body,
    );
    const suffix = Date.now().toString(36);
    const body = JSON.stringify(bulkOf(`gone-${suffix}`));
    // The client sends the whole request, then disconnects without reading the answer.
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.on('error', () => {});
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.write(
      `POST /scim/v2/Bulk HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${directory.key.token}\r\n` +
        `Content-Type: application/scim+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    await new Promise((r) => setTimeout(r, 300));
    socket.destroy();
    await new Promise((r) => setTimeout(r, 100));

    api.child.kill('SIGTERM');
    const { code, signal } = await api.exited(EXIT_BOUND_MS);

    assert.deepEqual({ code, signal }, { code: 0, signal: null });
    const errors = logLines(api.output()).filter((l) => l.level === 'error' || l.level === 'fatal');
    assert.deepEqual(errors, [], 'nothing failed during shutdown');
    assert.doesNotMatch(api.output(), /connection manager was closed/i);
    const [stored] = await db.acrossTenants().query<{ n: number }>(`SELECT count(*)::int AS n FROM scim_users WHERE user_name LIKE $1`, [`gone-${suffix}-%`]);
    assert.equal(stored.n, BULK_OPERATIONS, 'the abandoned request still ran to its end before the pool closed');
  });
});
