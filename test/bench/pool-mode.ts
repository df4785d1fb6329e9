/**
 * What DATABASE_POOL_MODE=transaction costs per statement: a microbenchmark, not part of
 * `npm run bench`. Run on a migrated database (e.g. after a filtered `npm test`):
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/<db>_test node --import tsx test/bench/pool-mode.ts
 *
 * A directory with 1,000 users; each variant runs Entra's hot lookup (userName eq, through the
 * executor of shared/db/sequelize.ts) one at a time (latency) and 16 at a time (throughput), and a
 * two-statement write transaction one at a time:
 * - session, direct: today's default (role once per connection, scope only when it changes, named statements);
 * - transaction, direct: transaction mode's statements on PostgreSQL itself (the scoping's own cost);
 * - session via PgBouncer (pool_mode=session): PgBouncer's hop alone;
 * - transaction via PgBouncer (pool_mode=transaction): the whole cost;
 * - unnamed, direct: session scope but every statement unnamed (planned each time), on plain
 *   clients: how much of transaction mode's cost is the loss of named statements;
 * - naive via PgBouncer: BEGIN + scope, the statement, COMMIT as three round trips (what the
 *   pipelined prefix avoids), on a plain pg client.
 */
import { Client } from 'pg';
import { config } from '../../shared/config';
import { createDatabase, type Database } from '../../shared/db/sequelize';
import { makeTestApp } from '../support/app';
import { makeDirectory } from '../support/factories';
import { startPgBouncer } from '../support/pgbouncer';
import { prefillDirectory } from './prefill';

const LOOKUP = 'SELECT id, data FROM scim_users WHERE directory_id = $1 AND user_name_folded = lower($2)';
const SEQUENTIAL = Number(process.env.POOL_BENCH_N ?? 4_000);
const CONCURRENT = 16;

type Lookup = (userName: string) => Promise<unknown>;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function measure(name: string, lookup: Lookup, write: (() => Promise<unknown>) | undefined, userNames: string[]) {
  for (let i = 0; i < 300; i++) await lookup(userNames[i % userNames.length]);
  const times: number[] = [];
  for (let i = 0; i < SEQUENTIAL; i++) {
    const start = process.hrtime.bigint();
    await lookup(userNames[i % userNames.length]);
    times.push(Number(process.hrtime.bigint() - start) / 1e3);
  }
  times.sort((x, y) => x - y);
  let next = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: CONCURRENT }, async () => {
      while (next < SEQUENTIAL * 2) await lookup(userNames[next++ % userNames.length]);
    }),
  );
  const perSecond = (SEQUENTIAL * 2) / (Number(process.hrtime.bigint() - started) / 1e9);
  let writeMean = Number.NaN;
  if (write) {
    for (let i = 0; i < 100; i++) await write();
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < 1_000; i++) await write();
    writeMean = Number(process.hrtime.bigint() - t0) / 1e3 / 1_000;
  }
  const mean = times.reduce((s, x) => s + x, 0) / times.length;
  return { name, mean, p50: percentile(times, 50), p99: percentile(times, 99), perSecond, writeMean };
}

async function main() {
  const t = makeTestApp();
  const dir = await makeDirectory(t.app);
  const owner = new Client({ connectionString: config.DATABASE_DIRECT_URL });
  await owner.connect();
  const { userNames } = await prefillDirectory(owner, dir, `pm${Date.now().toString(36)}`, 1_000, []);
  await owner.end();
  await t.close();

  const bouncers = {
    transaction: await startPgBouncer({ poolSize: 4, poolMode: 'transaction' }),
    session: await startPgBouncer({ poolSize: 4, poolMode: 'session' }),
  };
  const results = [];
  const viaExecutor = async (name: string, db: Database) => {
    const scoped = db.forDirectory(dir);
    const lookup: Lookup = (userName) => scoped.query(LOOKUP, [dir.directoryId, userName]);
    const write = () =>
      scoped.transaction(async (tx) => {
        const [row] = await scoped.query<{ id: string }>(LOOKUP, [dir.directoryId, userNames[0]], tx);
        await scoped.exec('UPDATE scim_users SET version = version + 1 WHERE directory_id = $1 AND id = $2', [dir.directoryId, row.id], tx);
      });
    try {
      results.push(await measure(name, lookup, write, userNames));
    } finally {
      await db.close();
    }
  };
  await viaExecutor('session, direct', createDatabase({ poolMax: CONCURRENT, poolMode: 'session' }));
  await viaExecutor('transaction, direct', createDatabase({ poolMax: CONCURRENT, poolMode: 'transaction' }));
  await viaExecutor('session via PgBouncer', createDatabase({ url: bouncers.session.url, poolMax: CONCURRENT, poolMode: 'session' }));
  await viaExecutor('transaction via PgBouncer', createDatabase({ url: bouncers.transaction.url, poolMax: CONCURRENT, poolMode: 'transaction' }));

  // Plain clients, one per concurrent caller.
  const plainClients = (url: string) =>
    Promise.all(
      Array.from({ length: CONCURRENT }, async () => {
        const c = new Client({ connectionString: url });
        await c.connect();
        return c;
      }),
    );
  const direct = await plainClients(config.DATABASE_URL);
  for (const c of direct) await c.query(`SET ROLE scim_app; SELECT set_config('scim.directories', '${dir.directoryId}', false)`);
  const free = [...direct];
  const unnamed: Lookup = async (userName) => {
    const c = free.pop() as Client;
    try {
      await c.query(LOOKUP, [dir.directoryId, userName]);
    } finally {
      free.push(c);
    }
  };
  results.push(await measure('unnamed, direct', unnamed, undefined, userNames));
  await Promise.all(direct.map((c) => c.end()));

  // Three round trips per statement.
  const clients = await plainClients(bouncers.transaction.url);
  const idle = [...clients];
  const naive: Lookup = async (userName) => {
    const c = idle.pop() as Client;
    try {
      await c.query(`BEGIN; SET LOCAL ROLE scim_app; SELECT set_config('scim.directories', '${dir.directoryId}', true)`);
      await c.query(LOOKUP, [dir.directoryId, userName]);
      await c.query('COMMIT');
    } finally {
      idle.push(c);
    }
  };
  results.push(await measure('naive (3 round trips) via PgBouncer', naive, undefined, userNames));
  await Promise.all(clients.map((c) => c.end()));
  await bouncers.transaction.close();
  await bouncers.session.close();

  const base = results[0];
  console.log(`lookup: ${SEQUENTIAL} one at a time (µs), then ${SEQUENTIAL * 2} ${CONCURRENT} at a time; write: a 2-statement transaction, one at a time`);
  console.log('variant                               mean    p50    p99   ×mean   lookups/s   ×thru   write µs');
  for (const r of results) {
    console.log(
      `${r.name.padEnd(36)} ${r.mean.toFixed(0).padStart(5)} ${r.p50.toFixed(0).padStart(6)} ${r.p99.toFixed(0).padStart(6)} ${(r.mean / base.mean).toFixed(2).padStart(7)} ${r.perSecond.toFixed(0).padStart(11)} ${(r.perSecond / base.perSecond).toFixed(2).padStart(7)} ${Number.isNaN(r.writeMean) ? '     -' : r.writeMean.toFixed(0).padStart(10)}`,
    );
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
