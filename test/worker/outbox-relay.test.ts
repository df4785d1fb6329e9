import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Redis } from 'ioredis';
import { Client } from 'pg';
import { config } from '../../shared/config';
import { repositoriesFor } from '../../shared/db/repositories';
import { createDatabase, type Database } from '../../shared/db/sequelize';
import { OutboxRelay, outboxBacklog, outboxPositionFor } from '../../shared/events/outbox-relay';
import { DELIVER_BATCH_JOB, DELIVERIES_PER_BATCH, type DeliveryQueue, batchJobId, QUEUES } from '../../shared/queue/catalog';
import { createQueue } from '../../shared/queue/queues';
import { createRedis } from '../../shared/queue/redis';
import { logger } from '../../shared/telemetry/logger';
import { deliveryIdOf, type TenantId } from '../../shared/ids';
import { startOutboxRelay } from '../../workers/outbox-relay';
import { startWorker } from '../../workers/main';
import { makeTestApp, type TestApp } from '../support/app';
import { entraUser, GROUP_SCHEMA, makeDirectory, patchOp, scimClient, type TestDirectory } from '../support/factories';
import { startPrivateRedis } from '../support/redis';
import { eventually } from '../support/eventually';
import { UUID_V7 } from '../../shared/db/sql';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `work`, or a failure naming `what` after `ms` (a shutdown that never ends must not hang the run). */
function within<T>(ms: number, what: string, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

let prefixes = 0;
const newPrefix = () => `test-relay-${process.pid}-${Date.now().toString(36)}-${++prefixes}`;

interface EventRow {
  id: string;
  type: string;
  seq: string;
  txid: string;
}

/** A delivery on the queue, and the job that makes its first attempt (a batch's, or its own). */
interface EnqueuedDelivery {
  readonly deliveryId: string;
  readonly tenantId: string;
  readonly jobId: string | undefined;
  readonly name: string;
  readonly batchId: string | undefined;
}

describe('outbox relay', () => {
  let t: TestApp;
  /** Redis for reading queues back (the shared one: every test has its own prefix). */
  let reader: Redis;
  /** Closed after each test, in reverse order. */
  let cleanups: (() => Promise<unknown>)[] = [];

  before(() => {
    t = makeTestApp();
    reader = createRedis(config.REDIS_URL);
  });
  afterEach(async () => {
    for (const clean of cleanups.reverse()) await clean();
    cleanups = [];
  });
  after(async () => {
    reader.disconnect();
    await t.close();
  });

  /** A queue on `prefix` to read jobs back; obliterated (our prefix only) after the test. */
  function readQueue(prefix: string, connection: Redis = reader): DeliveryQueue {
    const queue = createQueue(QUEUES.webhookDelivery, { connection, prefix });
    cleanups.push(async () => {
      if (connection.status === 'ready') await queue.obliterate({ force: true });
      await queue.close();
    });
    return queue;
  }

  /** The relay as the worker process runs it (workers/outbox-relay.ts), on its own prefix. */
  async function startRelayWorker(prefix: string, overrides: { db?: Database; redisUrl?: string } = {}) {
    const connections: Redis[] = [];
    const worker = await startWorker(
      {
        queuePrefix: prefix,
        redis: () => {
          const c = createRedis(overrides.redisUrl ?? config.REDIS_URL);
          connections.push(c);
          return c;
        },
        ...(overrides.db ? { db: overrides.db } : {}),
      },
      [startOutboxRelay],
    );
    cleanups.push(async () => {
      await worker.close();
      for (const c of connections) c.disconnect();
      await t.db.acrossTenants().exec('DELETE FROM outbox_positions WHERE name = $1', [outboxPositionFor(prefix)]);
    });
    // The relay's position row is created by its first pass; writes made after it are relayed.
    await eventually('the relay position row', async () => {
      const rows = await t.db.acrossTenants().query('SELECT 1 FROM outbox_positions WHERE name = $1', [outboxPositionFor(prefix)]);
      return rows.length > 0 ? true : undefined;
    });
    return worker;
  }

  async function insertEndpoint(tenantId: string, options: { status?: string; eventTypes?: string[] } = {}): Promise<string> {
    const [row] = await t.db.acrossTenants().query<{ id: string }>(
      `INSERT INTO webhook_endpoints (id, tenant_id, url, event_types, secret_ciphertext, status)
       VALUES (gen_random_uuid(), $1, 'http://127.0.0.1:9/hook', $2::text[], '\\x00'::bytea, $3)
       RETURNING id`,
      [tenantId, options.eventTypes ?? null, options.status ?? 'active'],
    );
    return row.id;
  }

  const tenantEvents = (tenantId: string) =>
    t.db
      .acrossTenants()
      .query<EventRow>('SELECT id, type, seq::text AS seq, txid::text AS txid FROM events WHERE tenant_id = $1 ORDER BY txid, seq', [tenantId]);

  /** Waits until the relay's position is at or past every event of these tenants. */
  const relayedPast = (prefix: string, tenantIds: string[], timeoutMs?: number) =>
    eventually(
      "the relay to pass the tenants' events",
      async () => {
        const [row] = await t.db.acrossTenants().query<{ done: boolean }>(
          `SELECT NOT EXISTS (
             SELECT 1 FROM events e, outbox_positions p
              WHERE p.name = $1 AND e.tenant_id = ANY ($2::uuid[]) AND (e.txid, e.seq) > (p.txid, p.seq)
           ) AS done`,
          [outboxPositionFor(prefix), tenantIds],
        );
        return row.done ? true : undefined;
      },
      timeoutMs,
    );

  /**
   * Each delivery of these tenants on the queue (other test files' tenants may share the
   * database), with the job that makes its first attempt: its batch's, or its own.
   */
  async function jobsOf(queue: DeliveryQueue, tenantIds: string[]): Promise<EnqueuedDelivery[]> {
    const jobs = await queue.getJobs(['waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed'], 0, -1);
    return jobs
      .flatMap(({ id, name, data }): EnqueuedDelivery[] =>
        'deliveryIds' in data
          ? data.deliveryIds.map((deliveryId, i) => ({ deliveryId, tenantId: data.tenantIds[i], jobId: id, name, batchId: data.batchId }))
          : [{ deliveryId: data.deliveryId, tenantId: data.tenantId, jobId: id, name, batchId: undefined }],
      )
      .filter((d) => tenantIds.includes(d.tenantId));
  }

  async function writeSomeChanges(dir: TestDirectory) {
    const scim = scimClient(t.app, dir.token);
    const user = await scim.post('/Users', entraUser()).expect(201);
    await scim.patch(`/Users/${user.body.id}`, patchOp({ op: 'replace', path: 'displayName', value: 'Renamed' })).expect(200);
    await scim.post('/Groups', { schemas: [GROUP_SCHEMA], displayName: `g-${Date.now()}-${Math.random()}` }).expect(201);
    await scim.delete(`/Users/${user.body.id}`).expect(204);
  }

  it('relay › SCIM writes for a tenant with two endpoints › one delivery row per (endpoint, event), each in exactly one batch job, which its row names', async () => {
    const prefix = newPrefix();
    const queue = readQueue(prefix);
    await startRelayWorker(prefix);
    const dir = await makeDirectory(t.app);
    const endpoints = [await insertEndpoint(dir.tenantId), await insertEndpoint(dir.tenantId)];

    await writeSomeChanges(dir);
    await relayedPast(prefix, [dir.tenantId]);

    const events = await tenantEvents(dir.tenantId);
    assert.deepEqual(
      events.map((e) => e.type),
      ['user.created', 'user.updated', 'group.created', 'user.deleted'],
    );
    const expected = events.flatMap((e) => endpoints.map((w) => deliveryIdOf(w, e.id))).sort();
    const jobs = await jobsOf(queue, [dir.tenantId]);
    assert.deepEqual(jobs.map((j) => j.deliveryId).sort(), expected);
    // Not their status: a delivery worker of another test file running at the same time may
    // already be trying them (every relay serves every tenant).
    const rows = await t.db
      .acrossTenants()
      .query<{ id: string; endpoint_id: string; event_id: string; event_type: string; batch_id: string }>(
        'SELECT id, endpoint_id, event_id, event_type, batch_id FROM webhook_deliveries WHERE tenant_id = $1',
        [dir.tenantId],
      );
    assert.deepEqual(rows.map((r) => r.id).sort(), expected);
    for (const r of rows) {
      assert.equal(r.id, deliveryIdOf(r.endpoint_id, r.event_id));
      assert.equal(r.event_type, events.find((e) => e.id === r.event_id)?.type);
      const job = jobs.find((j) => j.deliveryId === r.id);
      assert.equal(job?.name, DELIVER_BATCH_JOB);
      assert.equal(job.batchId, r.batch_id, 'the row names the batch job that has it');
      assert.equal(job.jobId, batchJobId(r.batch_id));
    }
  });

  it("relay › an event stored with a trace carrier › the delivery's batch job finds that carrier with it", async () => {
    const prefix = newPrefix();
    const queue = readQueue(prefix);
    await startRelayWorker(prefix);
    const dir = await makeDirectory(t.app);
    const endpoint = await insertEndpoint(dir.tenantId);
    const carrier = { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', tracestate: 'vendor=abc' };

    const [event] = await t.db.acrossTenants().query<{ id: string }>(
      `INSERT INTO events (id, tenant_id, directory_id, type, resource_type, resource_id, data, trace_context)
       VALUES (${UUID_V7}, $1, $2, 'user.created', 'User', gen_random_uuid(), '{}', $3::jsonb) RETURNING id`,
      [dir.tenantId, dir.directoryId, JSON.stringify(carrier)],
    );
    await relayedPast(prefix, [dir.tenantId]);

    const deliveryId = deliveryIdOf(endpoint, event.id);
    const [job] = await jobsOf(queue, [dir.tenantId]);
    assert.equal(job?.deliveryId, deliveryId);
    // What the delivery worker loads for each delivery of a batch: the event with its carrier.
    const target = await t.repos.forTenant(dir.tenantId as TenantId).webhooks.loadDeliveryTarget(deliveryId);
    assert.deepEqual(target?.event.trace, carrier);
  });

  it('relay › endpoints subscribed to some event types › each gets only its types', async () => {
    const prefix = newPrefix();
    const queue = readQueue(prefix);
    await startRelayWorker(prefix);
    const dir = await makeDirectory(t.app);
    const usersOnly = await insertEndpoint(dir.tenantId, { eventTypes: ['user.created'] });
    const groupsAndDeletes = await insertEndpoint(dir.tenantId, { eventTypes: ['group.created', 'user.deleted'] });

    await writeSomeChanges(dir);
    await relayedPast(prefix, [dir.tenantId]);

    const events = await tenantEvents(dir.tenantId);
    const typeOf = new Map(events.map((e) => [e.id, e.type]));
    const rows = await t.db
      .acrossTenants()
      .query<{ endpoint_id: string; event_id: string }>('SELECT endpoint_id, event_id FROM webhook_deliveries WHERE tenant_id = $1', [dir.tenantId]);
    const typesFor = (endpoint: string) =>
      rows
        .filter((r) => r.endpoint_id === endpoint)
        .map((r) => typeOf.get(r.event_id))
        .sort();
    assert.deepEqual(typesFor(usersOnly), ['user.created']);
    assert.deepEqual(typesFor(groupsAndDeletes), ['group.created', 'user.deleted']);
    const jobs = await jobsOf(queue, [dir.tenantId]);
    assert.deepEqual(jobs.map((j) => j.deliveryId).sort(), rows.map((r) => deliveryIdOf(r.endpoint_id, r.event_id)).sort());
  });

  it("relay › a webhook.test addressed to one endpoint, then SCIM writes › the position passes it; no delivery or job for the tenant's other endpoint, which gets every write", async () => {
    const prefix = newPrefix();
    const queue = readQueue(prefix);
    await startRelayWorker(prefix);
    const dir = await makeDirectory(t.app);
    const tested = await insertEndpoint(dir.tenantId, { eventTypes: ['user.created'] });
    const other = await insertEndpoint(dir.tenantId);

    // As POST …/webhooks/{id}/test writes it: the event and its one delivery, in one statement.
    const test = await t.repos.forTenant(dir.tenantId as TenantId).webhooks.createTestDelivery(tested, { actor: 'operator', data: {} });
    await writeSomeChanges(dir);
    await relayedPast(prefix, [dir.tenantId]);

    const events = await tenantEvents(dir.tenantId);
    const testEvent = events.find((e) => e.type === 'webhook.test');
    assert.ok(test && testEvent);
    assert.equal(deliveryIdOf(tested, testEvent.id), test.deliveryId);
    const [{ endpoints }] = await t.db
      .acrossTenants()
      .query<{ endpoints: string[] }>('SELECT array_agg(endpoint_id) AS endpoints FROM webhook_deliveries WHERE event_id = $1', [testEvent.id]);
    assert.deepEqual(endpoints, [tested]);
    const changes = events.filter((e) => e !== testEvent);
    const jobs = await jobsOf(queue, [dir.tenantId]);
    assert.deepEqual(
      jobs.map((j) => j.deliveryId).sort(),
      [...changes.map((e) => deliveryIdOf(other, e.id)), ...changes.filter((e) => e.type === 'user.created').map((e) => deliveryIdOf(tested, e.id))].sort(),
      "the relay enqueued the writes, and not the test (its job is the API's)",
    );
  });

  it('relay › a disabled and a failing endpoint › the disabled one gets nothing, the failing one still gets every event', async () => {
    const prefix = newPrefix();
    const queue = readQueue(prefix);
    await startRelayWorker(prefix);
    const dir = await makeDirectory(t.app);
    const disabled = await insertEndpoint(dir.tenantId, { status: 'disabled' });
    const failing = await insertEndpoint(dir.tenantId, { status: 'failing' });

    await writeSomeChanges(dir);
    await relayedPast(prefix, [dir.tenantId]);

    const events = await tenantEvents(dir.tenantId);
    const jobs = await jobsOf(queue, [dir.tenantId]);
    assert.deepEqual(jobs.map((j) => j.deliveryId).sort(), events.map((e) => deliveryIdOf(failing, e.id)).sort());
    const [{ n }] = await t.db.acrossTenants().query<{ n: number }>('SELECT count(*)::int AS n FROM webhook_deliveries WHERE endpoint_id = $1', [disabled]);
    assert.equal(n, 0);
  });

  it("relay › two tenants writing at once › an endpoint only ever gets its own tenant's events", async () => {
    const prefix = newPrefix();
    const queue = readQueue(prefix);
    await startRelayWorker(prefix);
    const a = await makeDirectory(t.app);
    const b = await makeDirectory(t.app);
    const silent = await makeDirectory(t.app);
    const endpointA = await insertEndpoint(a.tenantId);
    const endpointB = await insertEndpoint(b.tenantId);

    await Promise.all([writeSomeChanges(a), writeSomeChanges(b), writeSomeChanges(silent)]);
    await relayedPast(prefix, [a.tenantId, b.tenantId, silent.tenantId]);

    const eventsA = await tenantEvents(a.tenantId);
    const eventsB = await tenantEvents(b.tenantId);
    const rows = await t.db
      .acrossTenants()
      .query<{ endpoint_id: string; event_id: string; tenant_id: string }>(
        'SELECT endpoint_id, event_id, tenant_id FROM webhook_deliveries WHERE endpoint_id = ANY ($1::uuid[])',
        [[endpointA, endpointB]],
      );
    const eventsFor = (endpoint: string) =>
      rows
        .filter((r) => r.endpoint_id === endpoint)
        .map((r) => r.event_id)
        .sort();
    assert.deepEqual(eventsFor(endpointA), eventsA.map((e) => e.id).sort());
    assert.deepEqual(eventsFor(endpointB), eventsB.map((e) => e.id).sort());
    const jobs = await jobsOf(queue, [a.tenantId, b.tenantId, silent.tenantId]);
    assert.equal(jobs.length, eventsA.length + eventsB.length);
    for (const job of jobs) {
      const row = rows.find((r) => deliveryIdOf(r.endpoint_id, r.event_id) === job.deliveryId);
      assert.ok(row, `delivery ${job.deliveryId} has its row`);
      assert.equal(job.tenantId, row.tenant_id);
    }
    assert.ok(!jobs.some((j) => j.tenantId === silent.tenantId), 'a tenant without endpoints gets no jobs');
  });

  it('relay › two relays on one position while writes stream in › every delivery enqueued once, the position only moves forward', async () => {
    const prefix = newPrefix();
    const queue = readQueue(prefix);
    const positionName = outboxPositionFor(prefix);
    // Two "processes": each its own pool and Redis connection; small batches make them contend.
    const relays = [0, 1].map(() => {
      const db = createDatabase({ poolMax: 3 });
      const connection = createRedis(config.REDIS_URL);
      const relayQueue = createQueue(QUEUES.webhookDelivery, { connection, prefix });
      const relay = new OutboxRelay({
        operator: repositoriesFor(db, config).operator,
        queue: relayQueue,
        connection,
        logger,
        positionName,
        batchSize: 10,
        pollIntervalMs: 5,
      }).start();
      cleanups.push(async () => {
        await relay.close();
        await relayQueue.close();
        connection.disconnect();
        await db.close();
      });
      return relay;
    });
    cleanups.push(() => t.db.acrossTenants().exec('DELETE FROM outbox_positions WHERE name = $1', [positionName]));
    assert.equal(relays.length, 2);
    await eventually('the position row', async () =>
      (await t.db.acrossTenants().query('SELECT 1 FROM outbox_positions WHERE name = $1', [positionName])).length > 0 ? true : undefined,
    );
    const dir = await makeDirectory(t.app);
    const endpoint = await insertEndpoint(dir.tenantId);

    // Sample the position while the relays run.
    const positions: [bigint, bigint][] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const [p] = await t.db
          .acrossTenants()
          .query<{ txid: string; seq: string }>('SELECT txid::text AS txid, seq::text AS seq FROM outbox_positions WHERE name = $1', [positionName]);
        positions.push([BigInt(p.txid), BigInt(p.seq)]);
        await sleep(3);
      }
    })();
    const scim = scimClient(t.app, dir.token);
    for (let round = 0; round < 10; round++) {
      await Promise.all([0, 1, 2, 3].map(() => scim.post('/Users', entraUser()).expect(201)));
    }
    // Generous: these small batches also carry whatever other test files write meanwhile.
    await relayedPast(prefix, [dir.tenantId], 60_000);
    sampling = false;
    await sampler;

    const events = await tenantEvents(dir.tenantId);
    assert.equal(events.length, 40);
    const expected = events.map((e) => deliveryIdOf(endpoint, e.id)).sort();
    const enqueued = await jobsOf(queue, [dir.tenantId]);
    assert.deepEqual(enqueued.map((j) => j.deliveryId).sort(), expected);
    // BullMQ records every add in the queue's event stream: a second relay re-adding a job
    // would show as "duplicated" there, even though the job itself is de-duplicated.
    const stream = await reader.xrange(`${prefix}:${QUEUES.webhookDelivery}:events`, '-', '+');
    const fields = stream.map(([, f]) => Object.fromEntries(f.flatMap((v, i) => (i % 2 === 0 ? [[v, f[i + 1]]] : []))));
    const ours = new Set(enqueued.map((j) => j.jobId));
    assert.equal(fields.filter((f) => f.event === 'duplicated' && ours.has(f.jobId)).length, 0);
    assert.equal(fields.filter((f) => f.event === 'added' && ours.has(f.jobId)).length, ours.size);
    assert.ok(positions.length > 10, 'the sampler saw the position move');
    for (let i = 1; i < positions.length; i++) {
      const [prev, cur] = [positions[i - 1], positions[i]];
      assert.ok(cur[0] > prev[0] || (cur[0] === prev[0] && cur[1] >= prev[1]), `position went back at sample ${i}`);
    }
  });

  it('relay › a pass whose commit fails after its jobs were added, then more writes › the same batch is added again as it was, the new rows go to a new one', async () => {
    const prefix = newPrefix();
    const queue = readQueue(prefix);
    const positionName = outboxPositionFor(prefix);
    const operator = repositoriesFor(t.db, config).operator;
    // The pass's last statement fails once, as a lost commit would: its transaction rolls back.
    let failures = 1;
    const flaky = Object.create(operator) as typeof operator;
    flaky.outbox = (name: string) => {
      const outbox = operator.outbox(name);
      const advance = outbox.advancePosition.bind(outbox);
      outbox.advancePosition = async (to, tx) => {
        if (failures-- > 0) throw new Error('the commit was lost');
        return advance(to, tx);
      };
      return outbox;
    };
    const relay = new OutboxRelay({ operator: flaky, queue, logger, positionName });
    cleanups.push(() => t.db.acrossTenants().exec('DELETE FROM outbox_positions WHERE name = $1', [positionName]));
    await relay.relayOnce();
    const dir = await makeDirectory(t.app);
    const endpoint = await insertEndpoint(dir.tenantId);
    const scim = scimClient(t.app, dir.token);
    const before = [];
    for (let i = 0; i < 3; i++) before.push(await scim.post('/Users', entraUser()).expect(201));
    // Other test files' events are relayed too: passes until this tenant's events are in.
    const relayAll = async () => {
      for (let pass = 0; pass < 50; pass++) if ((await relay.relayOnce()).kind === 'idle') return;
    };
    await assert.rejects(relayAll(), /the commit was lost/);
    const first = await jobsOf(queue, [dir.tenantId]);
    assert.equal(first.length, 3, 'the failed pass had added its batch');

    for (let i = 0; i < 2; i++) await scim.post('/Users', entraUser()).expect(201);
    await relayAll();
    await relayedPast(prefix, [dir.tenantId]);

    const events = await tenantEvents(dir.tenantId);
    const jobs = await jobsOf(queue, [dir.tenantId]);
    assert.deepEqual(jobs.map((j) => j.deliveryId).sort(), events.map((e) => deliveryIdOf(endpoint, e.id)).sort(), 'each delivery in exactly one job');
    const rows = await t.db
      .acrossTenants()
      .query<{ id: string; batch_id: string }>('SELECT id, batch_id FROM webhook_deliveries WHERE tenant_id = $1', [dir.tenantId]);
    for (const r of rows) assert.equal(jobs.find((j) => j.deliveryId === r.id)?.batchId, r.batch_id);
    const firstBatch = first[0].batchId;
    assert.deepEqual(
      jobs.filter((j) => j.batchId === firstBatch).map((j) => j.deliveryId),
      first.map((j) => j.deliveryId),
      "the first pass's batch, unchanged",
    );
    assert.equal(new Set(jobs.map((j) => j.batchId)).size, 2, 'the two later writes in a batch of their own');
    assert.ok(DELIVERIES_PER_BATCH >= 3);
    assert.ok(before.length === 3);
  });

  it('relay › a transaction that took a lower sequence commits late › its event is relayed, never skipped', async () => {
    const prefix = newPrefix();
    const queue = readQueue(prefix);
    await startRelayWorker(prefix);
    const dir = await makeDirectory(t.app);
    const endpoint = await insertEndpoint(dir.tenantId);
    const scim = scimClient(t.app, dir.token);

    const slow = new Client({ connectionString: config.DATABASE_URL });
    await slow.connect();
    let slowEventId: string;
    try {
      await slow.query('BEGIN');
      const inserted = await slow.query<{ id: string }>(
        `INSERT INTO events (id, tenant_id, directory_id, type, resource_type, resource_id, data)
         VALUES (${UUID_V7}, $1, $2, 'user.updated', 'User', gen_random_uuid(), '{"slow":true}') RETURNING id`,
        [dir.tenantId, dir.directoryId],
      );
      slowEventId = inserted.rows[0].id;
      // A fast writer takes a higher sequence number and commits first.
      const fast = await scim.post('/Users', entraUser()).expect(201);
      const [fastEvent] = await t.db.acrossTenants().query<{ id: string }>('SELECT id FROM events WHERE resource_id = $1', [fast.body.id]);
      await sleep(500);
      assert.deepEqual(await jobsOf(queue, [dir.tenantId]), [], 'nothing past an open transaction is relayed');
      assert.ok(fastEvent);
      await slow.query('COMMIT');
    } finally {
      await slow.end();
    }

    await relayedPast(prefix, [dir.tenantId]);
    const events = await tenantEvents(dir.tenantId);
    assert.equal(events.length, 2);
    assert.equal(events[0].id, slowEventId);
    const jobs = await jobsOf(queue, [dir.tenantId]);
    assert.deepEqual(jobs.map((j) => j.deliveryId).sort(), events.map((e) => deliveryIdOf(endpoint, e.id)).sort());
  });

  it('relay › Redis killed mid-stream and restarted › SCIM writes keep succeeding and every event written meanwhile is enqueued', async () => {
    const redis = await startPrivateRedis();
    cleanups.push(() => redis.close());
    const prefix = newPrefix();
    await startRelayWorker(prefix, { redisUrl: redis.url });
    const own = createRedis(redis.url);
    cleanups.push(async () => own.disconnect());
    const queue = readQueue(prefix, own);
    const dir = await makeDirectory(t.app);
    const endpoint = await insertEndpoint(dir.tenantId);
    const scim = scimClient(t.app, dir.token);
    const jobIdsOf = async (resourceIds: string[]) => {
      const rows = await t.db.acrossTenants().query<{ id: string }>('SELECT id FROM events WHERE resource_id = ANY ($1::uuid[]) ORDER BY seq', [resourceIds]);
      return rows.map((r) => deliveryIdOf(endpoint, r.id));
    };
    const allEnqueued = (ids: string[], timeoutMs?: number) =>
      eventually(
        `${ids.length} deliveries enqueued`,
        async () => {
          const enqueued = new Set((await jobsOf(queue, [dir.tenantId])).map((j) => j.deliveryId));
          return ids.every((id) => enqueued.has(id)) ? true : undefined;
        },
        timeoutMs,
      );

    const before: string[] = [];
    for (let i = 0; i < 3; i++) before.push((await scim.post('/Users', entraUser()).expect(201)).body.id);
    await allEnqueued(await jobIdsOf(before));

    await redis.stop();
    const during: string[] = [];
    for (let i = 0; i < 5; i++) during.push((await scim.post('/Users', entraUser()).expect(201)).body.id);
    // Let the relay fail a few passes against the dead Redis.
    await sleep(1000);
    const backlog = await outboxBacklog(t.repos.operator, outboxPositionFor(prefix));
    assert.ok(backlog.events >= 5, `the events wait in PostgreSQL (backlog ${backlog.events})`);
    assert.ok(backlog.oldestAgeSeconds > 0);

    await redis.start();
    const afterwards: string[] = [];
    for (let i = 0; i < 2; i++) afterwards.push((await scim.post('/Users', entraUser()).expect(201)).body.id);
    const expected = await jobIdsOf([...during, ...afterwards]);
    assert.equal(expected.length, 7);
    await allEnqueued(expected, 30_000);
    await relayedPast(prefix, [dir.tenantId]);
    const jobs = await jobsOf(queue, [dir.tenantId]);
    // The restarted Redis is empty: exactly the events written since the crash are on it.
    assert.deepEqual(jobs.map((j) => j.deliveryId).sort(), [...expected].sort());
  });

  it('relay › its PostgreSQL connections terminated while events stream in › it recovers and relays every event', async () => {
    const prefix = newPrefix();
    const queue = readQueue(prefix);
    const appName = `relay-${prefix}`.slice(0, 63);
    const url = new URL(config.DATABASE_URL);
    url.searchParams.set('application_name', appName);
    const relayDb = createDatabase({ url: url.toString(), poolMax: 3 });
    cleanups.push(() => relayDb.close());
    await startRelayWorker(prefix, { db: relayDb });
    const dir = await makeDirectory(t.app);
    const endpoint = await insertEndpoint(dir.tenantId);
    const scim = scimClient(t.app, dir.token);

    const owner = new Client({ connectionString: config.DATABASE_URL });
    await owner.connect();
    cleanups.push(() => owner.end());
    let killed = 0;
    for (let round = 0; round < 5; round++) {
      await scim.post('/Users', entraUser()).expect(201);
      // As the login role: the relay's sessions are its own, beyond what scim_app may signal.
      const { rows } = await owner.query<{ ok: boolean }>(
        'SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()',
        [appName],
      );
      killed += rows.filter((r) => r.ok).length;
      await sleep(30);
    }
    assert.ok(killed >= 1, 'the relay had connections to terminate');

    await relayedPast(prefix, [dir.tenantId]);
    const events = await tenantEvents(dir.tenantId);
    assert.equal(events.length, 5);
    const jobs = await jobsOf(queue, [dir.tenantId]);
    assert.deepEqual(jobs.map((j) => j.deliveryId).sort(), events.map((e) => deliveryIdOf(endpoint, e.id)).sort());
  });

  it('startOutboxRelay › closed twice › both resolve and events written afterwards wait in the outbox', async () => {
    const prefix = newPrefix();
    const queue = readQueue(prefix);
    const connection = createRedis(config.REDIS_URL);
    cleanups.push(async () => {
      connection.disconnect();
      await t.db.acrossTenants().exec('DELETE FROM outbox_positions WHERE name = $1', [outboxPositionFor(prefix)]);
    });
    const processor = await startOutboxRelay({ repos: t.repos, redis: () => connection, logger, config, queuePrefix: prefix });
    await eventually('the relay position row', async () =>
      (await t.db.acrossTenants().query('SELECT 1 FROM outbox_positions WHERE name = $1', [outboxPositionFor(prefix)])).length > 0 ? true : undefined,
    );
    const dir = await makeDirectory(t.app);
    await insertEndpoint(dir.tenantId);
    const scim = scimClient(t.app, dir.token);
    await scim.post('/Users', entraUser()).expect(201);
    await relayedPast(prefix, [dir.tenantId]);

    await within(10_000, 'close() twice', Promise.all([processor.close(), processor.close()]));
    await within(10_000, 'close() again', Promise.resolve(processor.close()));
    await scim.post('/Users', entraUser()).expect(201);
    await sleep(500);

    assert.equal((await jobsOf(queue, [dir.tenantId])).length, 1, 'only the event from before the close was enqueued');
    const [{ n }] = await t.db.acrossTenants().query<{ n: number }>(
      `SELECT count(*)::int AS n FROM events e, outbox_positions p
        WHERE p.name = $1 AND e.tenant_id = $2 AND (e.txid, e.seq) > (p.txid, p.seq)`,
      [outboxPositionFor(prefix), dir.tenantId],
    );
    assert.equal(n, 1, 'the later event waits past the position');
  });

  it('outboxBacklog › an hour-old event past the position › counted, with its age; once passed › no longer counted', async () => {
    const positionName = `webhooks:backlog-${newPrefix()}`;
    const dir = await makeDirectory(t.app);
    // A position at the newest event so far; then an event stamped an hour ago lands behind it.
    await t.db
      .acrossTenants()
      .exec('INSERT INTO outbox_positions (name, txid, seq) SELECT $1, txid, seq FROM events ORDER BY txid DESC, seq DESC LIMIT 1', [positionName]);
    cleanups.push(() => t.db.acrossTenants().exec('DELETE FROM outbox_positions WHERE name = $1', [positionName]));
    const [old] = await t.db.acrossTenants().query<{ txid: string; seq: string }>(
      `INSERT INTO events (id, tenant_id, directory_id, type, resource_type, resource_id, data, occurred_at)
       VALUES (${UUID_V7}, $1, $2, 'user.created', 'User', gen_random_uuid(), '{}', now() - interval '1 hour')
       RETURNING txid::text AS txid, seq::text AS seq`,
      [dir.tenantId, dir.directoryId],
    );

    const behind = await outboxBacklog(t.repos.operator, positionName);
    assert.ok(behind.events >= 1);
    assert.ok(behind.oldestAgeSeconds >= 3600 && behind.oldestAgeSeconds < 3600 + 60, `oldest ${behind.oldestAgeSeconds} s`);

    await t.db.acrossTenants().exec('UPDATE outbox_positions SET txid = $2::text::xid8, seq = $3::bigint WHERE name = $1', [positionName, old.txid, old.seq]);
    const passed = await outboxBacklog(t.repos.operator, positionName);
    // Only events other tests wrote since (none when this file runs alone) can remain.
    assert.ok(passed.oldestAgeSeconds < 3600, `oldest ${passed.oldestAgeSeconds} s`);
  });
});
