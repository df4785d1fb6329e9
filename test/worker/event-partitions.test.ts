/**
 * The events table's partitions (migration 0014) and their upkeep on the workers: the coming
 * months made ahead, idempotently and by any number of workers at once; expired months dropped
 * with their finished deliveries, never while a delivery is pending or an export runs over them;
 * row-level security on every partition. On a database of its own: retention drops whole months.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client } from 'pg';
import { v7 as uuidv7 } from 'uuid';
import { config } from '../../shared/config';
import { EVENT_PARTITIONS_AHEAD, EventPartitions } from '../../shared/db/repositories/event-partitions';
import { createDatabase, type Database } from '../../shared/db/sequelize';
import { logger } from '../../shared/telemetry/logger';
import { PartitionUpkeep, startEventPartitions } from '../../workers/event-partitions';
import { startWorker } from '../../workers/main';
import { eventually } from '../support/eventually';
import { createPrivateDatabase, type PrivateDatabase } from '../support/private-database';

/** The partition of the month `k` months after the current one (UTC), as migration 0014 names it. */
const monthName = (k: number) => {
  const now = new Date();
  const start = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + k, 1));
  return `events_p${start.toISOString().slice(0, 10).replaceAll('-', '')}`;
};

describe('event partitions', () => {
  let database: PrivateDatabase;
  let owner: Client;
  let db: Database;
  let other: Database;
  const tenantId = uuidv7();
  const endpointId = uuidv7();

  const partitions = async () =>
    (await owner.query<{ name: string }>(`SELECT inhrelid::regclass::text AS name FROM pg_inherits WHERE inhparent = 'events'::regclass ORDER BY 1`)).rows.map(
      (r) => r.name,
    );
  /** An event of the test's tenant at `at`, with a delivery in `status` and one attempt; returns the delivery id. */
  const eventWithDelivery = async (at: Date, status: 'pending' | 'delivered' | 'dead') => {
    const eventId = uuidv7({ msecs: at.getTime() });
    const deliveryId = uuidv7();
    await owner.query(
      `INSERT INTO events (id, tenant_id, type, resource_type, resource_id, data, occurred_at) VALUES ($1, $2, 'user.created', 'User', $1, '{}', $3)`,
      [eventId, tenantId, at],
    );
    await owner.query(`INSERT INTO webhook_deliveries (id, tenant_id, endpoint_id, event_id, event_type, status) VALUES ($1, $2, $3, $4, 'user.created', $5)`, [
      deliveryId,
      tenantId,
      endpointId,
      eventId,
      status,
    ]);
    await owner.query(`INSERT INTO webhook_attempts (delivery_id, tenant_id, attempt, started_at) VALUES ($1, $2, 1, now())`, [deliveryId, tenantId]);
    return deliveryId;
  };
  /** Removes an (empty) partition as an operator would: a table referenced by a foreign key is detached first. */
  const dropPartition = (name: string) => owner.query(`ALTER TABLE events DETACH PARTITION ${name}; DROP TABLE ${name}`);
  const upkeep = (retentionDays: number, on = db) => new PartitionUpkeep({ partitions: new EventPartitions(on), logger, retentionDays });

  before(async () => {
    database = await createPrivateDatabase('partitions');
    owner = new Client({ connectionString: database.url });
    await owner.connect();
    db = createDatabase({ url: database.url, poolMax: 2 });
    other = createDatabase({ url: database.url, poolMax: 2 });
    await owner.query(`INSERT INTO tenants (id, name) VALUES ($1, 'partitions')`, [tenantId]);
    await owner.query(`INSERT INTO webhook_endpoints (id, tenant_id, url, secret_ciphertext) VALUES ($1, $2, 'http://127.0.0.1:9/', '\\x00')`, [
      endpointId,
      tenantId,
    ]);
  });
  after(async () => {
    await db?.close();
    await other?.close();
    await owner?.end();
    await database?.drop();
  });

  it('a migrated database › the current month and the next ones have their partitions', async () => {
    const names = await partitions();
    for (let k = 0; k <= EVENT_PARTITIONS_AHEAD; k++) assert.ok(names.includes(monthName(k)), `${monthName(k)} missing from ${names.join(', ')}`);
  });

  it('a worker starting with the last month ahead missing › its upkeep makes it; a second pass makes nothing', async () => {
    await dropPartition(monthName(EVENT_PARTITIONS_AHEAD));
    const worker = await startWorker({ db, config: { ...config, EVENTS_RETENTION_DAYS: 0 } }, [startEventPartitions]);
    try {
      await eventually('the partition made at start', async () => ((await partitions()).includes(monthName(EVENT_PARTITIONS_AHEAD)) ? true : undefined));
    } finally {
      await worker.close();
    }
    assert.deepEqual(await upkeep(0).upkeepOnce(), { created: [], expired: [] });
  });

  it('two workers running upkeep at once › both succeed and each month is made once', async () => {
    await dropPartition(monthName(1));
    await dropPartition(monthName(2));
    const [a, b] = await Promise.all([upkeep(0).upkeepOnce(), upkeep(0, other).upkeepOnce()]);
    assert.deepEqual([...a.created, ...b.created].sort(), [monthName(1), monthName(2)]);
    assert.ok((await partitions()).includes(monthName(2)));
  });

  it('every partition › row-level security enabled and forced, with the parent policy; unscoped it reads nothing', async () => {
    const { rows } = await owner.query<{ name: string; enabled: boolean; forced: boolean; same: boolean }>(
      `SELECT c.relname AS name, c.relrowsecurity AS enabled, c.relforcerowsecurity AS forced,
              EXISTS (SELECT 1 FROM pg_policy p, pg_policy parent
                       WHERE p.polrelid = c.oid AND parent.polrelid = 'events'::regclass AND p.polname = parent.polname
                         AND pg_get_expr(p.polqual, p.polrelid) = pg_get_expr(parent.polqual, parent.polrelid)
                         AND pg_get_expr(p.polwithcheck, p.polrelid) = pg_get_expr(parent.polwithcheck, parent.polrelid)) AS same
         FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'events'::regclass`,
    );
    assert.ok(rows.length > EVENT_PARTITIONS_AHEAD);
    assert.deepEqual(
      rows.filter((r) => !(r.enabled && r.forced && r.same)),
      [],
    );
    await eventWithDelivery(new Date(), 'delivered');
    const [{ n }] = await db.acrossTenants().query<{ n: number }>(`SELECT count(*)::int AS n FROM ${monthName(0)}`);
    assert.equal(n, 1, 'the operator scope reads the partition');
    const scimApp = new Client({ connectionString: database.url });
    await scimApp.connect();
    try {
      await scimApp.query('SET ROLE scim_app');
      assert.equal((await scimApp.query(`SELECT count(*)::int AS n FROM ${monthName(0)}`)).rows[0].n, 0);
    } finally {
      await scimApp.end();
    }
  });

  it('an event at a time no partition covers › refused, not stored', async () => {
    await assert.rejects(
      owner.query(`INSERT INTO events (id, tenant_id, type, resource_type, resource_id, data) VALUES ($1, $2, 'user.created', 'User', $1, '{}')`, [
        uuidv7({ msecs: Date.UTC(2200, 0, 1) }),
        tenantId,
      ]),
      (err: { code?: string }) => err.code === '23514',
    );
  });

  it('retention › drops an expired month with its finished deliveries, keeps one with a pending delivery or under a running export', async () => {
    await owner.query(`SELECT events_partition_create('2024-01-01Z', '2024-02-01Z'), events_partition_create('2024-02-01Z', '2024-03-01Z')`);
    const delivered = await eventWithDelivery(new Date('2024-01-10Z'), 'delivered');
    const dead = await eventWithDelivery(new Date('2024-01-20Z'), 'dead');
    const pending = await eventWithDelivery(new Date('2024-02-10Z'), 'pending');
    const recent = await eventWithDelivery(new Date(), 'delivered');

    const first = await upkeep(400).upkeepOnce();
    assert.deepEqual(first.expired, [
      { partition: 'events_p20240101', outcome: 'dropped', deliveries: 2 },
      { partition: 'events_p20240201', outcome: 'deliveries pending', deliveries: 0 },
    ]);
    const deliveries = (await owner.query<{ id: string }>('SELECT id FROM webhook_deliveries')).rows.map((r) => r.id);
    assert.ok(!deliveries.includes(delivered) && !deliveries.includes(dead), 'the dropped month’s deliveries are gone');
    assert.ok(deliveries.includes(pending) && deliveries.includes(recent));
    const attempts = await owner.query('SELECT 1 FROM webhook_attempts WHERE delivery_id = ANY ($1::uuid[])', [[delivered, dead]]);
    assert.equal(attempts.rowCount, 0);
    assert.ok(!(await partitions()).includes('events_p20240101'));

    await owner.query(`UPDATE webhook_deliveries SET status = 'dead' WHERE id = $1`, [pending]);
    const exportId = uuidv7();
    await owner.query(`INSERT INTO audit_exports (id, tenant_id, from_time, to_time, status) VALUES ($1, $2, '2024-02-05Z', '2024-03-01Z', 'running')`, [
      exportId,
      tenantId,
    ]);
    assert.deepEqual((await upkeep(400).upkeepOnce()).expired, [{ partition: 'events_p20240201', outcome: 'export in progress', deliveries: 0 }]);

    await owner.query(`UPDATE audit_exports SET status = 'done' WHERE id = $1`, [exportId]);
    assert.deepEqual((await upkeep(400).upkeepOnce()).expired, [{ partition: 'events_p20240201', outcome: 'dropped', deliveries: 1 }]);
    assert.equal(
      (await owner.query('SELECT 1 FROM webhook_deliveries WHERE id = ANY ($1::uuid[])', [[pending, recent]])).rowCount,
      1,
      'only the recent one is left',
    );
  });

  it('retention 0 › keeps every month', async () => {
    await owner.query(`SELECT events_partition_create('2023-01-01Z', '2023-02-01Z')`);
    assert.deepEqual((await upkeep(0).upkeepOnce()).expired, []);
    assert.ok((await partitions()).includes('events_p20230101'));
  });
});
