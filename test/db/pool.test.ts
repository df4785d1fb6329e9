/**
 * The pool each process keeps (DB_POOL_MIN, default the pool's size): opened at start by `warm()`,
 * kept through quiet spells, while connections above it close when idle. A burst after a quiet
 * spell otherwise waited for new PostgreSQL backends (BENCHMARKS.md, session 10).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { Client } from 'pg';
import { config } from '../../shared/config';
import { createDatabase, type Database } from '../../shared/db/sequelize';
import { eventually } from '../support/eventually';

/** The database URL with an application_name only this test's connections carry. */
function tagged(name: string): string {
  const url = new URL(config.DATABASE_URL);
  url.searchParams.set('application_name', name);
  return url.toString();
}

describe('database pool › connections kept open', () => {
  let plain: Client;
  const opened: Database[] = [];
  const connectionsOf = async (name: string) =>
    Number((await plain.query<{ n: string }>('SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1', [name])).rows[0].n);

  before(async () => {
    plain = new Client({ connectionString: config.DATABASE_URL });
    await plain.connect();
  });
  after(async () => {
    await Promise.all(opened.map((db) => db.close()));
    await plain.end();
  });

  it('warm() opens the kept connections at once, and they outlive the idle timeout while those above them close', async () => {
    const name = `pool-test-${randomUUID().slice(0, 8)}`;
    const db = createDatabase({ url: tagged(name), poolMax: 5, poolMin: 3 });
    opened.push(db);
    assert.equal(await connectionsOf(name), 0, 'nothing is opened before warm()');
    assert.equal(await db.warm(), 3);
    assert.equal(await connectionsOf(name), 3);

    // Five statements at once take the pool to its size; the two above the kept three close once
    // idle for 10 s (sequelize-pool checks every second).
    await Promise.all(Array.from({ length: 5 }, () => db.acrossTenants().query('SELECT pg_sleep(0.2)')));
    assert.equal(await connectionsOf(name), 5);
    await delay(12_000);
    assert.equal(await connectionsOf(name), 3, 'the kept connections stay open through a quiet spell');
  });

  it('without poolMin the pool keeps DB_POOL_MIN connections, or the whole pool (a fixed pool) when it is unset', async () => {
    const name = `pool-test-${randomUUID().slice(0, 8)}`;
    const db = createDatabase({ url: tagged(name), poolMax: 4 });
    opened.push(db);
    assert.equal(await db.warm(), config.DB_POOL_MIN === undefined ? 4 : Math.min(4, config.DB_POOL_MIN));
  });

  it('warm() resolves with 0, without rejecting, when PostgreSQL does not answer', async () => {
    const db = createDatabase({ url: 'postgres://postgres@127.0.0.1:1/nothing', poolMax: 2, connectTimeoutMs: 500, acquireTimeoutMs: 1_000 });
    opened.push(db);
    assert.equal(await db.warm(), 0);
  });
});

/**
 * A TCP proxy on loopback in front of PostgreSQL that, while holding, keeps what the server sends
 * and then passes it on in one write: a client reads the server's answer to its startup and what
 * followed it in one chunk, as one does that was slow to read.
 */
async function holdingProxy(target: URL) {
  const held: { socket: Socket; chunks: Buffer[] }[] = [];
  let holding = true;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = tcpConnect(Number(target.port || 5432), target.hostname);
    const entry = { socket: client, chunks: [] as Buffer[] };
    held.push(entry);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => s.destroy());
      s.on('close', () => sockets.delete(s));
    }
    client.on('data', (c) => upstream.write(c));
    upstream.on('data', (c) => (holding ? entry.chunks.push(c) : client.write(c)));
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => {
      if (!holding) client.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as { port: number }).port,
    /** Bytes the server has sent and the proxy holds. */
    heldBytes: () => held.reduce((n, h) => n + h.chunks.reduce((m, c) => m + c.length, 0), 0),
    /** Passes on everything held, one write per connection, and from then on everything at once. */
    release() {
      holding = false;
      for (const h of held) {
        if (h.chunks.length > 0) h.socket.write(Buffer.concat(h.chunks));
        h.chunks = [];
        if (h.socket.readyState === 'open') h.socket.end();
      }
    },
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((r) => server.close(r));
    },
  };
}

describe('database pool › a backend terminated as its connection opens', () => {
  it('its error, read with the ready message, ends neither the process nor the pool: that acquire fails and the next connection works', async () => {
    const plain = new Client({ connectionString: config.DATABASE_URL });
    await plain.connect();
    const name = `pool-test-${randomUUID().slice(0, 8)}`;
    const target = new URL(config.DATABASE_URL);
    const proxy = await holdingProxy(target);
    const url = new URL(config.DATABASE_URL);
    url.host = `127.0.0.1:${proxy.port}`;
    url.searchParams.set('application_name', name);
    const db = createDatabase({ url: url.toString(), poolMax: 2, poolMin: 0, acquireTimeoutMs: 10_000 });
    try {
      const first = db.acrossTenants().query('SELECT 1 AS one');
      first.catch(() => undefined);
      // The backend is ready (its answer to the startup is held by the proxy); it is terminated,
      // and its FATAL message joins the held bytes behind ReadyForQuery.
      await eventually('the backend, ready', async () =>
        (await plain.query(`SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND state = 'idle'`, [name])).rowCount ? true : undefined,
      );
      const before = proxy.heldBytes();
      await plain.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [name]);
      await eventually('the termination message, held', async () => (proxy.heldBytes() > before ? true : undefined));
      proxy.release();

      await assert.rejects(first, 'the statement whose connection was terminated fails');
      assert.deepEqual(await db.acrossTenants().query('SELECT 1 AS one'), [{ one: 1 }]);
    } finally {
      await db.close();
      await proxy.close();
      await plain.end();
    }
  });
});
