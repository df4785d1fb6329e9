import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Redis } from 'ioredis';
import request from 'supertest';
import { config, type Config } from '../../shared/config';
import { repositoriesFor } from '../../shared/db/repositories';
import { createDatabase, type Database } from '../../shared/db/sequelize';
import { type DeliveryQueue, QUEUES, enqueueDeliveries } from '../../shared/queue/catalog';
import { createQueue } from '../../shared/queue/queues';
import { createRedis } from '../../shared/queue/redis';
import { logger } from '../../shared/telemetry/logger';
import { DeliverySweep } from '../../shared/db/repositories/delivery-sweep';
import { watchOverdue } from '../../shared/queue/metrics';
import { METRICS, registry } from '../../shared/telemetry/metrics';
import { deliveryIdOf } from '../../shared/ids';
import { JobSweeper, startJobSweeper } from '../../workers/job-sweeper';
import { startWorker } from '../../workers/main';
import { startWebhookDelivery } from '../../workers/webhook-delivery';
import { makeTestApp, type TestApp } from '../support/app';
import { asAdmin, makeDirectory, type TestDirectory } from '../support/factories';
import { startPgProxy } from '../support/pg-proxy';
import { startReceiver, type Receiver } from '../support/receiver';
import { startPrivateRedis, type PrivateRedis } from '../support/redis';
import { eventually } from '../support/eventually';
import { newId } from '../../shared/ids';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The grace period of this file's sweepers. A test strands its own deliveries and then ages them
 * past it ("as if two hours had passed"), so the sweepers here only ever find this file's rows:
 * other test files' pending deliveries in the same database are minutes old at most.
 */
const OVERDUE_AFTER_MS = 3600_000;
const ageOverdue = (db: Database, deliveryIds: readonly string[]) =>
  db
    .acrossTenants()
    .exec(`UPDATE webhook_deliveries SET next_attempt_at = now() - interval '2 hours' WHERE id = ANY ($1::uuid[]) AND status = 'pending'`, [deliveryIds]);

/** Three attempts in all within a third of a second; 1 s per call at most. */
const workerConfig: Config = Object.freeze({
  ...config,
  WEBHOOK_RETRY_SCHEDULE: '100ms,200ms',
  WEBHOOK_TIMEOUT_MS: 1000,
  JOB_OVERDUE_AFTER: '1h',
  JOB_SWEEP_INTERVAL: '200ms',
});

function sample(text: string, name: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
}

describe('durable deliveries', () => {
  let t: TestApp;
  let redis: PrivateRedis;
  let cleanups: (() => Promise<unknown>)[] = [];
  let prefixes = 0;

  before(async () => {
    t = makeTestApp();
    redis = await startPrivateRedis();
  });
  afterEach(async () => {
    for (const clean of cleanups.reverse()) await clean();
    cleanups = [];
  });
  after(async () => {
    await redis.close();
    await t.close();
  });

  /** A fresh prefix and a queue on the private Redis to enqueue to and read back. */
  function privateQueue(): { prefix: string; queue: DeliveryQueue; connection: Redis } {
    const prefix = `test-durable-${process.pid}-${++prefixes}`;
    const connection = createRedis(redis.url);
    const queue = createQueue(QUEUES.webhookDelivery, { connection, prefix });
    cleanups.push(async () => {
      await queue.close();
      connection.disconnect();
    });
    return { prefix, queue, connection };
  }

  /** The worker process's delivery processor (and the sweeper), in-process, on the private Redis. */
  async function startDeliveryWorker(prefix: string, options: { db?: Database; sweeper?: boolean } = {}) {
    const connections: Redis[] = [];
    const worker = await startWorker(
      {
        queuePrefix: prefix,
        config: workerConfig,
        redis: () => {
          const c = createRedis(redis.url);
          connections.push(c);
          return c;
        },
        ...(options.db ? { db: options.db } : { db: t.db }),
      },
      options.sweeper === false ? [startWebhookDelivery] : [startWebhookDelivery, startJobSweeper],
    );
    let closed = false;
    const close = async () => {
      if (closed) return;
      closed = true;
      await worker.close();
      for (const c of connections) c.disconnect();
    };
    cleanups.push(close);
    return { close };
  }

  async function receiver(): Promise<Receiver> {
    const rx = await startReceiver();
    cleanups.push(() => rx.close());
    return rx;
  }

  async function endpointFor(dir: TestDirectory, url: string): Promise<string> {
    const res = await asAdmin(request(t.app).post(`/admin/v1/tenants/${dir.tenantId}/webhooks`))
      .send({ url })
      .expect(201);
    return res.body.id as string;
  }

  /** Events and their pending deliveries, as the relay leaves them (one statement each). */
  async function deliveries(dir: TestDirectory, endpointId: string, n: number) {
    const made: { eventId: string; deliveryId: string }[] = [];
    for (let i = 0; i < n; i++) {
      const eventId = newId();
      const deliveryId = deliveryIdOf(endpointId, eventId);
      await t.db.acrossTenants().exec(
        `WITH e AS (
           INSERT INTO events (id, tenant_id, directory_id, type, resource_type, resource_id, actor, data)
           VALUES ($1, $2, $3, 'user.created', 'User', gen_random_uuid(), 'api_key:test', '{}') RETURNING id, type)
         INSERT INTO webhook_deliveries (id, tenant_id, endpoint_id, event_id, event_type) SELECT $4, $2, $5, e.id, e.type FROM e`,
        [eventId, dir.tenantId, dir.directoryId, deliveryId, endpointId],
      );
      made.push({ eventId, deliveryId });
    }
    return made;
  }

  const rows = (ids: readonly string[]) =>
    t.db
      .acrossTenants()
      .query<{ id: string; status: string; attempts: number; next_attempt_at: Date | null; tenant_id: string }>(
        'SELECT id, status, attempts, next_attempt_at, tenant_id FROM webhook_deliveries WHERE id = ANY ($1::uuid[]) ORDER BY id',
        [ids],
      );
  const attemptsOf = (id: string) =>
    t.db
      .acrossTenants()
      .query<{ attempt: number; status_code: number | null }>('SELECT attempt, status_code FROM webhook_attempts WHERE delivery_id = $1 ORDER BY attempt', [
        id,
      ]);

  const allDelivered = (ids: readonly string[], timeoutMs?: number) =>
    eventually(`${ids.length} deliveries delivered`, async () => ((await rows(ids)).every((r) => r.status === 'delivered') ? true : undefined), timeoutMs);

  const callsFor = (rx: Receiver, eventId: string) => rx.requests.filter((r) => r.headers['webhook-id'] === eventId);

  const overdueMetric = async () => sample(await registry.metrics(), METRICS.deliveriesOverdue);

  it('Redis restarted empty while jobs wait (no worker running) › the overdue metric shows them, the sweeper re-drives them, each event reaches the receiver once', async () => {
    const { prefix, queue } = privateQueue();
    const rx = await receiver();
    const dir = await makeDirectory(t.app);
    const endpoint = await endpointFor(dir, rx.url);
    const made = await deliveries(dir, endpoint, 5);
    const ids = made.map((d) => d.deliveryId);
    await enqueueDeliveries(
      queue,
      ids.map((deliveryId) => ({ deliveryId, tenantId: dir.tenantId })),
    );
    assert.equal(await queue.getWaitingCount(), 5);

    await redis.stop();
    await redis.start();
    await eventually('the queue connection back', async () => ((await queue.getWaitingCount()) === 0 ? true : undefined));
    // Time passes: the jobs are gone, the deliveries are owed and overdue.
    await ageOverdue(t.db, ids);
    const unwatch = watchOverdue({ deliveries: new DeliverySweep(t.db), overdueAfterMs: OVERDUE_AFTER_MS });
    cleanups.push(async () => unwatch());
    assert.equal(await overdueMetric(), 5, 'the API sees the stranded deliveries');

    await startDeliveryWorker(prefix);
    await allDelivered(ids);
    await sleep(300);
    for (const d of made) assert.equal(callsFor(rx, d.eventId).length, 1, 'each event reaches the receiver once');
    assert.equal(rx.requests.length, 5);
    assert.equal(await overdueMetric(), 0, 'nothing stranded any more');
    for (const r of await rows(ids)) assert.equal(r.attempts, 1);
  });

  it('Redis restarted empty while retries are pending (receiver answered 500) › delivered once it answers 200, attempts counting only real calls', async () => {
    const { prefix, queue: producer } = privateQueue();
    const rx = await receiver();
    const seen = new Set<string>();
    // The first call of each event fails; every later call succeeds.
    rx.respond((req) => {
      const id = String(req.headers['webhook-id']);
      if (seen.has(id)) return { status: 200 };
      seen.add(id);
      return { status: 500 };
    });
    const dir = await makeDirectory(t.app);
    const endpoint = await endpointFor(dir, rx.url);
    const made = await deliveries(dir, endpoint, 3);
    const ids = made.map((d) => d.deliveryId);
    // A long first retry, so the retries are still waiting in Redis when it dies.
    const slowConfig = { ...workerConfig, WEBHOOK_RETRY_SCHEDULE: '1h,1h' };
    const connections: Redis[] = [];
    const worker = await startWorker(
      {
        queuePrefix: prefix,
        config: slowConfig,
        db: t.db,
        redis: () => {
          const c = createRedis(redis.url);
          connections.push(c);
          return c;
        },
      },
      [startWebhookDelivery, startJobSweeper],
    );
    cleanups.push(async () => {
      await worker.close();
      for (const c of connections) c.disconnect();
    });
    await enqueueDeliveries(
      producer,
      ids.map((deliveryId) => ({ deliveryId, tenantId: dir.tenantId })),
    );
    await eventually('a failed first attempt of each', async () => ((await rows(ids)).every((r) => r.attempts === 1) ? true : undefined));
    // The attempt is recorded before BullMQ moves the failed job to its delayed set.
    await eventually('the retries waiting in Redis', async () => ((await producer.getDelayedCount()) === 3 ? true : undefined));

    await redis.stop();
    await redis.start();
    // The hour has passed: each retry is due, and overdue by the grace.
    await t.db.acrossTenants().exec(`UPDATE webhook_deliveries SET next_attempt_at = now() - interval '2 hours' WHERE id = ANY ($1::uuid[])`, [ids]);

    await allDelivered(ids);
    for (const d of made) {
      assert.equal(callsFor(rx, d.eventId).length, 2);
      assert.deepEqual(
        (await attemptsOf(d.deliveryId)).map((a) => [a.attempt, a.status_code]),
        [
          [1, 500],
          [2, 200],
        ],
      );
    }
  });

  it('PostgreSQL cut for longer than the receiver schedule › delivered after restore, one call and one recorded attempt', async () => {
    const { prefix, queue } = privateQueue();
    const rx = await receiver();
    const dir = await makeDirectory(t.app);
    const endpoint = await endpointFor(dir, rx.url);
    const [made] = await deliveries(dir, endpoint, 1);
    const proxy = await startPgProxy(config.DATABASE_URL);
    const workerDb = createDatabase({ url: proxy.url, poolMax: 3 });
    cleanups.push(() => proxy.close());
    cleanups.push(() => workerDb.close());
    await startDeliveryWorker(prefix, { db: workerDb, sweeper: false });

    proxy.cut();
    await enqueueDeliveries(queue, [{ deliveryId: made.deliveryId, tenantId: dir.tenantId }]);
    // Three attempts would take 0.3 s on the receiver's schedule; the outage lasts 2.5 s.
    await sleep(2500);
    const job = await queue.getJob(made.deliveryId);
    assert.ok((job?.attemptsMade ?? 0) >= 3, `the job ran ${job?.attemptsMade} times while PostgreSQL was away`);
    assert.equal(rx.requests.length, 0, 'nothing is sent without the delivery read');
    proxy.restore();

    await allDelivered([made.deliveryId]);
    assert.equal(rx.requests.length, 1);
    assert.deepEqual(
      (await attemptsOf(made.deliveryId)).map((a) => [a.attempt, a.status_code]),
      [[1, 200]],
    );
    assert.equal((await rows([made.deliveryId]))[0].attempts, 1);
  });

  it('PostgreSQL cut while the receiver answers › the answer is recorded after restore, without calling the receiver again', async () => {
    const { prefix, queue } = privateQueue();
    const rx = await receiver();
    const proxy = await startPgProxy(config.DATABASE_URL);
    const workerDb = createDatabase({ url: proxy.url, poolMax: 3 });
    cleanups.push(() => proxy.close());
    cleanups.push(() => workerDb.close());
    rx.respond(async () => {
      proxy.cut();
      await sleep(100);
      return { status: 202, body: 'accepted' };
    });
    const dir = await makeDirectory(t.app);
    const endpoint = await endpointFor(dir, rx.url);
    const [made] = await deliveries(dir, endpoint, 1);
    await startDeliveryWorker(prefix, { db: workerDb, sweeper: false });

    await enqueueDeliveries(queue, [{ deliveryId: made.deliveryId, tenantId: dir.tenantId }]);
    await rx.waitFor(1);
    await sleep(1500);
    assert.equal((await rows([made.deliveryId]))[0].status, 'pending', 'not recorded while PostgreSQL is away');
    proxy.restore();

    await allDelivered([made.deliveryId]);
    await sleep(200);
    assert.equal(rx.requests.length, 1, 'one call');
    assert.deepEqual(
      (await attemptsOf(made.deliveryId)).map((a) => [a.attempt, a.status_code]),
      [[1, 202]],
    );
  });

  it('two sweepers at once › each overdue delivery enqueued once, a second pass finds nothing, other rows untouched', async () => {
    const { prefix, queue, connection } = privateQueue();
    const dir = await makeDirectory(t.app);
    const other = await makeDirectory(t.app);
    const endpoint = await endpointFor(dir, 'http://127.0.0.1:9/hook');
    const otherEndpoint = await endpointFor(other, 'http://127.0.0.1:9/hook');
    const stranded = (await deliveries(dir, endpoint, 30)).map((d) => d.deliveryId);
    await ageOverdue(t.db, stranded);
    // Another tenant's: one pending but not yet overdue, one delivered long ago.
    const [fresh, done] = (await deliveries(other, otherEndpoint, 2)).map((d) => d.deliveryId);
    await t.db
      .acrossTenants()
      .exec(`UPDATE webhook_deliveries SET status = 'delivered', attempts = 1, next_attempt_at = NULL, updated_at = now() - interval '1 day' WHERE id = $1`, [
        done,
      ]);
    const otherBefore = await rows([fresh, done]);

    const sweepers = [0, 1].map(() => {
      const db = createDatabase({ poolMax: 2 });
      const own = createRedis(redis.url);
      const q = createQueue(QUEUES.webhookDelivery, { connection: own, prefix });
      cleanups.push(async () => {
        await q.close();
        own.disconnect();
        await db.close();
      });
      return new JobSweeper({
        operator: repositoriesFor(db, config).operator,
        queues: { webhookDelivery: q },
        connection: own,
        logger,
        overdueAfterMs: OVERDUE_AFTER_MS,
        intervalMs: 1000,
        batchSize: 4,
      });
    });
    const passes = await Promise.all(sweepers.map(async (s) => (await s.sweepOnce())[QUEUES.webhookDelivery]!));

    assert.equal(passes[0].overdue + passes[1].overdue, 30, `passes: ${JSON.stringify(passes)}`);
    assert.equal(passes[0].added + passes[1].added, 30);
    const jobs = await queue.getJobs(['waiting'], 0, -1);
    assert.deepEqual(jobs.map((j) => j.id).sort(), [...stranded].sort());
    for (const job of jobs) assert.equal('tenantId' in job.data && job.data.tenantId, dir.tenantId);
    // BullMQ logs every add: a delivery enqueued twice would show as "duplicated".
    const stream = await connection.xrange(`${prefix}:${QUEUES.webhookDelivery}:events`, '-', '+');
    const events = stream.map(([, f]) => Object.fromEntries(f.flatMap((v, i) => (i % 2 === 0 ? [[v, f[i + 1]]] : []))));
    assert.equal(events.filter((e) => e.event === 'added').length, 30);
    assert.equal(events.filter((e) => e.event === 'duplicated').length, 0);

    const again = await Promise.all(sweepers.map(async (s) => (await s.sweepOnce())[QUEUES.webhookDelivery]!));
    assert.deepEqual(
      again.map((p) => p.overdue),
      [0, 0],
      'once re-driven they are due now, not overdue',
    );
    assert.deepEqual(await rows([fresh, done]), otherBefore, "the other tenant's rows are untouched");
    for (const r of await rows(stranded)) assert.deepEqual([r.status, r.attempts, r.tenant_id], ['pending', 0, dir.tenantId]);
  });

  it('sweeper › Redis down › its claims are given back: the deliveries stay overdue, as they were, for the next pass', async () => {
    const { prefix } = privateQueue();
    const dir = await makeDirectory(t.app);
    const endpoint = await endpointFor(dir, 'http://127.0.0.1:9/hook');
    const stranded = (await deliveries(dir, endpoint, 2)).map((d) => d.deliveryId);
    await ageOverdue(t.db, stranded);
    const own = createRedis(redis.url);
    const q = createQueue(QUEUES.webhookDelivery, { connection: own, prefix });
    await q.waitUntilReady();
    const sweeper = new JobSweeper({
      operator: t.repos.operator,
      queues: { webhookDelivery: q },
      connection: own,
      logger,
      overdueAfterMs: OVERDUE_AFTER_MS,
      intervalMs: 1000,
      redisTimeoutMs: 500,
    });
    cleanups.push(async () => {
      await q.close();
      own.disconnect();
    });
    const before = await rows(stranded);

    await redis.stop();
    try {
      await assert.rejects(sweeper.sweepOnce());
      assert.deepEqual(await rows(stranded), before, 'due as before the claim');
    } finally {
      await redis.start();
    }
    await eventually('the sweeper connection back', async () => (own.status === 'ready' ? true : undefined));
    const pass = await sweeper.sweepOnce();
    assert.equal(pass[QUEUES.webhookDelivery]?.added, 2);
  });

  it('overdue metric › PostgreSQL unreadable › the series is left out, not 0', async () => {
    const closed = createDatabase({ poolMax: 1 });
    await closed.close();
    const unwatch = watchOverdue({ deliveries: new DeliverySweep(closed), overdueAfterMs: OVERDUE_AFTER_MS });
    try {
      assert.equal(await overdueMetric(), undefined);
    } finally {
      unwatch();
    }
  });
});
