/**
 * The pool each process keeps (DB_POOL_MIN, default the pool's size): opened at start by `warm()`,
 * kept through quiet spells, while connections above it close when idle. A burst after a quiet
 * spell otherwise waited for new PostgreSQL backends (BENCHMARKS.md, session 10).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { Client } from 'pg';
import { config } from '../../shared/config';
import { createDatabase, type Database } from '../../shared/db/sequelize';

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
