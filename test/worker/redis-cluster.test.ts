import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import type { Cluster } from 'ioredis';
import { Webhook } from 'standardwebhooks';
import request from 'supertest';
import { limiterRedis } from '../../services/api/middleware/rate-limit';
import { config } from '../../shared/config';
import { createDatabase } from '../../shared/db/sequelize';
import { LocalDiskExportStorage } from '../../shared/exports';
import { QUEUES } from '../../shared/queue/catalog';
import { watchQueues } from '../../shared/queue/metrics';
import { createQueue } from '../../shared/queue/queues';
import { checkRedisServer, createRedis, queuePrefixFor, type RedisClient } from '../../shared/queue/redis';
import { withTimeout } from '../../shared/polling-loop';
import { logger } from '../../shared/telemetry/logger';
import { metricsText } from '../../shared/telemetry/metrics';
import { startAuditExport } from '../../workers/audit-export';
import { startWorker } from '../../workers/main';
import { startOutboxRelay } from '../../workers/outbox-relay';
import { startWebhookDelivery } from '../../workers/webhook-delivery';
import { makeTestApp, type TestApp } from '../support/app';
import { asAdmin, entraUser, makeDirectory, scimClient } from '../support/factories';
import { eventually } from '../support/eventually';
import { createPrivateDatabase, type PrivateDatabase } from '../support/private-database';
import { startReceiver, type Receiver } from '../support/receiver';
import { startRedisCluster, type PrivateRedisCluster } from '../support/redis-cluster';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Every key on every master of the cluster whose name starts with `prefix`. */
async function keysByNode(cluster: Cluster, prefix: string): Promise<Map<string, string[]>> {
  const found = new Map<string, string[]>();
  // SCAN's MATCH is a glob: `{` and `}` are literal there, `*`, `?`, `[` and `\` are not.
  const pattern = `${prefix.replace(/[*?[\]\\]/g, (c) => `\\${c}`)}*`;
  for (const node of cluster.nodes('master')) {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      keys.push(...batch);
      cursor = next;
    } while (cursor !== '0');
    if (keys.length > 0) found.set(`${node.options.host}:${node.options.port}`, keys);
  }
  return found;
}

const keySlot = async (cluster: Cluster, key: string): Promise<number> => Number(await cluster.call('CLUSTER', 'KEYSLOT', key));

/**
 * The platform on a private 3-master Redis Cluster (test/support/redis-cluster.ts): the real app's
 * queues and limiters, and the worker's relay and processors, all through ioredis Cluster clients
 * built by createRedis from REDIS_CLUSTER_NODES-style seeds. The relay runs on a database of this
 * suite's own, so it never takes another suite's events.
 */
describe('Redis Cluster › queues, workers, limiters and checks on a 3-master cluster', { timeout: 60_000 }, () => {
  const prefix = `test-rcluster-${process.pid}-${Date.now().toString(36)}`;
  let cluster: PrivateRedisCluster;
  let database: PrivateDatabase;
  let t: TestApp;
  let connection: Cluster;
  let limits: RedisClient;
  let queuePrefix: string;
  let exportDir: string;
  let rx: Receiver;
  let worker: Awaited<ReturnType<typeof startWorker>>;
  const opened: RedisClient[] = [];
  const queues: Queue[] = [];
  let unwatch: () => void = () => undefined;

  before(async () => {
    [cluster, database] = await Promise.all([startRedisCluster(), createPrivateDatabase('rcluster')]);
    queuePrefix = queuePrefixFor(cluster.nodes, prefix);
    connection = createRedis(cluster.nodes) as Cluster;
    opened.push(connection);
    const appQueues = {
      auditExport: createQueue(QUEUES.auditExport, { connection, prefix: queuePrefix }),
      groupReconcile: createQueue(QUEUES.groupReconcile, { connection, prefix: queuePrefix }),
      webhookDelivery: createQueue(QUEUES.webhookDelivery, { connection, prefix: queuePrefix }),
    };
    queues.push(...Object.values(appQueues));
    unwatch = watchQueues(queues);
    limits = limiterRedis(cluster.nodes, { logger });
    opened.push(limits);
    exportDir = await mkdtemp(path.join(os.tmpdir(), 'scim-rcluster-export-'));
    rx = await startReceiver();
    t = makeTestApp({
      db: createDatabase({ url: database.url, poolMax: 5 }),
      queues: appQueues,
      redis: connection,
      exportStorage: new LocalDiskExportStorage(exportDir),
      rateLimits: { redis: limits, keyPrefix: `${prefix}:rl`, defaults: { requestsPerSecond: 1_000, burst: 1_000 } },
      // Failures are counted per X-Forwarded-For address, so this suite's other requests (all from
      // 127.0.0.1) are never the throttled ones.
      authThrottle: { redis: limits, keyPrefix: `${prefix}:authfail`, failures: 2 },
      trustProxy: 'loopback',
    });
    worker = await startWorker(
      {
        db: createDatabase({ url: database.url, poolMax: 5 }),
        queuePrefix,
        config: { ...config, EXPORT_DIR: exportDir },
        redis: () => {
          const c = createRedis(cluster.nodes);
          opened.push(c);
          return c;
        },
      },
      [startOutboxRelay, startWebhookDelivery, startAuditExport],
    );
  });
  after(async () => {
    unwatch();
    // Bounded, as the worker's own shutdown is: BullMQ's Worker.close() can wait for a connection
    // that is still reconnecting after the master's restart. Disconnecting ends whatever is left.
    await withTimeout(Promise.resolve(worker?.close()), 10_000, () => new Error('worker close')).catch(() => undefined);
    for (const c of opened) c.disconnect();
    await Promise.all(queues.map((q) => q.close()));
    await t?.close();
    await rx?.close();
    await cluster?.close();
    await database?.drop();
    if (exportDir) await rm(exportDir, { recursive: true, force: true });
  });

  it('POST /Users › queues and workers on the cluster › user.created delivered to the receiver, signed', async () => {
    const dir = await makeDirectory(t.app);
    const endpoint = await asAdmin(request(t.app).post(`/admin/v1/tenants/${dir.tenantId}/webhooks`))
      .send({ url: rx.url })
      .expect(201);

    const created = await scimClient(t.app, dir.token).post('/Users', entraUser()).expect(201);
    const [call] = await rx.waitFor(1, 20_000);

    const verified = new Webhook(endpoint.body.secret).verify(call.body, call.headers as Record<string, string>) as Record<string, unknown>;
    assert.equal(verified.type, 'user.created');
    assert.equal(verified.directoryId, dir.directoryId);
    assert.equal(verified.tenantId, dir.tenantId);
    assert.equal((verified.data as { resource: { id: string } }).resource.id, created.body.id);
  });

  it('POST exports › the job on the cluster › the audit export completes', async () => {
    const dir = await makeDirectory(t.app);
    await scimClient(t.app, dir.token).post('/Users', entraUser()).expect(201);

    const range = { from: new Date(Date.now() - 3_600_000).toISOString(), to: new Date(Date.now() + 60_000).toISOString() };
    const started = await asAdmin(request(t.app).post(`/admin/v1/tenants/${dir.tenantId}/exports`))
      .send(range)
      .expect(202);
    const deadline = Date.now() + 20_000;
    let status = started.body.status as string;
    while (status !== 'done' && status !== 'failed' && Date.now() < deadline) {
      await sleep(50);
      status = (await asAdmin(request(t.app).get(`/admin/v1/tenants/${dir.tenantId}/exports/${started.body.id}`)).expect(200)).body.status;
    }

    assert.equal(status, 'done');
  });

  it('keys of each queue › after jobs ran › all on one node, in the slot of the prefix’s hash tag', async () => {
    await rx.waitFor(1, 20_000); // the delivery test has run its jobs (node:test runs these in order)

    const byNode = await keysByNode(connection, queuePrefix);
    const keys = [...byNode.values()].flat();
    const slots = new Set(await Promise.all(keys.map((k) => keySlot(connection, k))));

    assert.ok(
      keys.some((k) => k.startsWith(`${queuePrefix}:${QUEUES.webhookDelivery}:`)),
      'the delivery queue has keys',
    );
    assert.ok(
      keys.some((k) => k.startsWith(`${queuePrefix}:${QUEUES.auditExport}:`)),
      'the export queue has keys',
    );
    assert.equal(byNode.size, 1, `every queue key on one node, found on ${[...byNode.keys()].join(', ')}`);
    assert.deepEqual([...slots], [await keySlot(connection, `{${prefix}}`)]);
  });

  it('the rate limiter › a directory over its limit, counted on the cluster › 429 with Retry-After, and the counters are cluster keys', async () => {
    const dir = await makeDirectory(t.app);
    await asAdmin(request(t.app).patch(`/admin/v1/directories/${dir.directoryId}`))
      .send({ rateLimit: { requestsPerSecond: 2, burst: 2 } })
      .expect(200);
    await sleep(1_100); // a fresh one-second window

    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await scimClient(t.app, dir.token).get('/Users?count=1')).status);
    const refused = await scimClient(t.app, dir.token).get('/Users?count=1');

    assert.deepEqual(statuses, [200, 200, 429]);
    assert.equal(refused.status, 429);
    assert.equal(refused.body.status, '429');
    assert.equal(refused.body.scimType, undefined);
    assert.ok(Number(refused.headers['retry-after']) >= 1);
    const counters = [...(await keysByNode(connection, `${prefix}:rl`)).values()].flat();
    assert.ok(counters.length > 0, 'the limiter counted in the cluster, not in its in-memory fallback');
  });

  it('the auth throttle › an address past its failures, counted on the cluster › 429; the counter is a cluster key', async () => {
    const badKey = 'scim_us_this-key-was-never-issued-00000000000000000';
    const from = (address: string) => scimClient(t.app, badKey).get('/Users').set('X-Forwarded-For', address);

    const failures = [(await from('203.0.113.9')).status, (await from('203.0.113.9')).status];
    const refused = await from('203.0.113.9');
    const other = await from('203.0.113.10');

    assert.deepEqual(failures, [401, 401]);
    assert.equal(refused.status, 429);
    assert.equal(refused.body.status, '429');
    assert.equal(refused.body.scimType, undefined);
    assert.equal(other.status, 401);
    const counters = [...(await keysByNode(connection, `${prefix}:authfail`)).values()].flat();
    assert.ok(counters.length > 0, 'the throttle counted in the cluster, not in its in-memory fallback');
  });

  it('GET /readyz › the app on the cluster › 200 ready, redis ok (CLUSTER INFO cluster_state:ok)', async () => {
    const res = await request(t.app).get('/readyz');

    assert.equal(res.status, 200);
    assert.equal(res.body.status, 'ready');
    assert.equal(res.body.checks.redis, 'ok');
  });

  it('queue dashboard and metrics › queues on the cluster › every queue listed with its counts; depth scraped', async () => {
    const board = await asAdmin(request(t.app).get('/admin/queues/api/queues')).expect(200);
    const names = (board.body.queues as { name: string }[]).map((q) => q.name).sort();
    const text = await metricsText();

    assert.deepEqual(names, Object.values(QUEUES).sort());
    assert.match(text, new RegExp(`scim_queue_jobs\\{queue="${QUEUES.webhookDelivery}",state="completed"\\} [1-9]`));
  });

  it('checkRedisServer › a cluster without persistence › each master named in the warning', async () => {
    const check = await checkRedisServer(connection, logger);

    assert.equal(check.checked, true);
    for (const port of cluster.ports)
      assert.ok(
        check.problems.some((p) => p.startsWith(`127.0.0.1:${port}: persistence is off`)),
        `master ${port} named`,
      );
  });

  it('createQueue › a cluster connection and a prefix without hash tag › refused when built', () => {
    assert.throws(() => createQueue(QUEUES.auditExport, { connection, prefix }), /needs a hash tag on a Redis Cluster/);
  });

  it('BullMQ itself › a cluster and a prefix without hash tag › the first add fails with CROSSSLOT (why the tag matters)', async () => {
    const untagged = new Queue(QUEUES.auditExport, { connection, prefix: `${prefix}-untagged` });
    try {
      await assert.rejects(untagged.add('export', {}), /CROSSSLOT/);
    } finally {
      await untagged.close();
    }
  });

  it('GET /readyz › the queues’ master killed, then back › 200 degraded, redis not ok; then ready, and deliveries resume', async () => {
    const dir = await makeDirectory(t.app);
    const endpoint = await asAdmin(request(t.app).post(`/admin/v1/tenants/${dir.tenantId}/webhooks`))
      .send({ url: rx.url })
      .expect(201);
    const slot = await keySlot(connection, queuePrefix);
    const port = connection.slots[slot].map((address) => Number(address.split(':')[1]))[0];
    await cluster.stopNode(port);

    const res = await eventually(
      'the cluster to report the lost master',
      async () => {
        const r = await request(t.app).get('/readyz');
        return r.body.checks.redis === 'ok' ? undefined : r;
      },
      15_000,
      200,
    );

    assert.equal(res.status, 200);
    assert.equal(res.body.status, 'degraded');
    assert.notEqual(res.body.checks.redis, 'ok');
    assert.equal(res.body.checks.postgres, 'ok');
    await cluster.restartNode(port);
    const back = await eventually(
      'the cluster to serve every slot again',
      async () => {
        const r = await request(t.app).get('/readyz');
        return r.body.checks.redis === 'ok' ? r : undefined;
      },
      15_000,
      200,
    );
    assert.equal(back.body.status, 'ready');
    // The restarted master came back empty; the jobs of this change are new ones.
    const before = rx.requests.length;
    const created = await scimClient(t.app, dir.token).post('/Users', entraUser()).expect(201);
    const calls = await rx.waitFor(before + 1, 30_000);
    const verified = new Webhook(endpoint.body.secret).verify(calls[before].body, calls[before].headers as Record<string, string>) as {
      data: { resource: { id: string } };
    };
    assert.equal(verified.data.resource.id, created.body.id);
  });
});
