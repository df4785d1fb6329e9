import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { config } from '../../shared/config';
import type { TenantId } from '../../shared/ids';
import { type DeliveryQueue, DELIVER_JOB, MAX_JOB_RUNS, QUEUES } from '../../shared/queue/catalog';
import { createQueue } from '../../shared/queue/queues';
import { createRedis } from '../../shared/queue/redis';
import { makeTestApp, type TestApp } from '../support/app';
import { asAdmin, entraUser, makeDirectory, scimClient, type TestDirectory } from '../support/factories';
import { startPrivateRedis } from '../support/redis';
import { UUID_V7 } from '../../shared/db/sql';

const HOOK_URL = 'http://127.0.0.1:9/hook';

interface EventRow {
  id: string;
  type: string;
  directory_id: string | null;
  endpoint_id: string | null;
  actor: string | null;
  data: { message: string; webhookId: string };
}

describe('admin API › POST /tenants/{tenantId}/webhooks/{webhookId}/test', () => {
  let t: TestApp;
  let bare: TestApp;
  let queue: DeliveryQueue;
  const connection = createRedis(config.REDIS_URL);
  const prefix = `test-webhook-test-${process.pid}-${Date.now().toString(36)}`;

  before(() => {
    queue = createQueue(QUEUES.webhookDelivery, { connection, prefix });
    t = makeTestApp({ queues: { webhookDelivery: queue } });
    bare = makeTestApp();
  });
  after(async () => {
    await queue.obliterate({ force: true });
    await queue.close();
    connection.disconnect();
    await t.close();
    await bare.close();
  });

  const base = (tenantId: string) => `/admin/v1/tenants/${tenantId}/webhooks`;
  const testPath = (tenantId: string, webhookId: string) => `${base(tenantId)}/${webhookId}/test`;
  const get = (path: string) => asAdmin(request(t.app).get(path));
  const post = (path: string, body: object = {}) => asAdmin(request(t.app).post(path)).send(body);
  const create = async (dir: TestDirectory, body: object = {}) =>
    (await post(base(dir.tenantId), { url: HOOK_URL, ...body }).expect(201)).body as { id: string; secret: string };

  const sql = () => t.db.acrossTenants();
  const eventsAddressedTo = (endpointId: string) =>
    sql().query<EventRow>('SELECT id, type, directory_id, endpoint_id, actor, data FROM events WHERE endpoint_id = $1', [endpointId]);
  const deliveriesOfEvent = (eventId: string) =>
    sql().query<{ id: string; endpoint_id: string; status: string }>('SELECT id, endpoint_id, status FROM webhook_deliveries WHERE event_id = $1', [eventId]);
  const tenantTestEvents = (tenantId: string) =>
    sql().query<{ id: string }>(`SELECT id FROM events WHERE tenant_id = $1 AND type = 'webhook.test'`, [tenantId]);

  /** The tenant's events feed, polled while other sessions' open transactions hold the fence. */
  async function feedAtLeast(tenantId: string, n: number) {
    for (let i = 0; i < 100; i++) {
      const res = await get(`/admin/v1/tenants/${tenantId}/events?limit=100`).expect(200);
      if (res.body.data.length >= n) return res.body.data as { id: string; type: string; cursor: string }[];
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`fewer than ${n} events became visible`);
  }

  it('POST test › an endpoint whose filter omits webhook.test, beside another endpoint › 202 with its pending delivery, one job by the delivery contract, and no delivery for the other endpoint', async () => {
    const dir = await makeDirectory(t.app);
    const tested = await create(dir, { events: ['user.created'] });
    const other = await create(dir);

    const res = await post(testPath(dir.tenantId, tested.id)).expect(202);

    assert.equal(res.body.endpointId, tested.id);
    assert.equal(res.body.eventType, 'webhook.test');
    assert.equal(res.body.status, 'pending');
    assert.equal(res.body.attemptCount, 0);
    assert.deepEqual(res.body.attempts, []);
    assert.equal(res.headers.location, `/admin/v1/tenants/${dir.tenantId}/webhooks/${tested.id}/deliveries/${res.body.id}`);
    const [event] = await eventsAddressedTo(tested.id);
    assert.equal(event.id, res.body.eventId);
    assert.equal(event.type, 'webhook.test');
    assert.equal(event.directory_id, null);
    assert.equal(event.actor, 'operator');
    assert.equal(event.data.webhookId, tested.id);
    assert.ok(event.data.message.length > 0);
    assert.deepEqual(
      (await deliveriesOfEvent(event.id)).map((d) => [d.id, d.endpoint_id]),
      [[res.body.id, tested.id]],
    );
    assert.deepEqual(await eventsAddressedTo(other.id), []);
    const job = await queue.getJob(res.body.id);
    assert.equal(job?.name, DELIVER_JOB);
    assert.deepEqual(job?.data, { deliveryId: res.body.id, tenantId: dir.tenantId });
    assert.equal(job?.opts.attempts, MAX_JOB_RUNS, 'the job contract of every delivery');
  });

  it('POST test › then the delivery log › lists the test delivery and answers it by id, as the Location says', async () => {
    const dir = await makeDirectory(t.app);
    const endpoint = await create(dir);
    const sent = await post(testPath(dir.tenantId, endpoint.id)).expect(202);

    const log = await get(`${base(dir.tenantId)}/${endpoint.id}/deliveries`).expect(200);
    const one = await get(sent.headers.location).expect(200);

    assert.deepEqual(
      log.body.data.map((d: { id: string; eventType: string }) => [d.id, d.eventType]),
      [[sent.body.id, 'webhook.test']],
    );
    assert.equal(one.body.id, sent.body.id);
    assert.equal(one.body.eventId, sent.body.eventId);
  });

  it('POST test › twice › two events and two deliveries, each with its own id', async () => {
    const dir = await makeDirectory(t.app);
    const endpoint = await create(dir);
    const first = await post(testPath(dir.tenantId, endpoint.id)).expect(202);
    const second = await post(testPath(dir.tenantId, endpoint.id)).expect(202);
    assert.notEqual(first.body.id, second.body.id);
    assert.notEqual(first.body.eventId, second.body.eventId);
    assert.equal((await eventsAddressedTo(endpoint.id)).length, 2);
  });

  it('POST test › a failing endpoint › 202: a test is how an operator checks a fix', async () => {
    const dir = await makeDirectory(t.app);
    const endpoint = await create(dir);
    await sql().exec(`UPDATE webhook_endpoints SET status = 'failing', failing_since = now() - interval '2 hours' WHERE id = $1`, [endpoint.id]);

    const res = await post(testPath(dir.tenantId, endpoint.id)).expect(202);
    assert.equal(res.body.status, 'pending');
  });

  it('POST test › a disabled endpoint › 409 without scimType, nothing written or enqueued', async () => {
    const dir = await makeDirectory(t.app);
    const endpoint = await create(dir);
    await asAdmin(request(t.app).patch(`${base(dir.tenantId)}/${endpoint.id}`))
      .send({ status: 'disabled' })
      .expect(200);

    const res = await post(testPath(dir.tenantId, endpoint.id)).expect(409);

    assert.equal(res.body.status, '409');
    assert.equal(res.body.scimType, undefined);
    assert.match(res.body.detail, /disabled/);
    assert.deepEqual(await eventsAddressedTo(endpoint.id), []);
    assert.equal((await queue.getJobs(['waiting', 'delayed'])).filter((j) => 'tenantId' in j.data && j.data.tenantId === dir.tenantId).length, 0);
  });

  it("POST test › another tenant's webhook id › 404 exactly like an unknown id, nothing written for the owner", async () => {
    const owner = await makeDirectory(t.app);
    const other = await makeDirectory(t.app);
    const endpoint = await create(owner);
    const unknown = randomUUID();

    const foreign = await post(testPath(other.tenantId, endpoint.id)).expect(404);
    const missing = await post(testPath(other.tenantId, unknown)).expect(404);

    assert.equal(foreign.body.scimType, undefined);
    assert.deepEqual(
      { ...foreign.body, detail: foreign.body.detail.replace(endpoint.id, '<id>') },
      { ...missing.body, detail: missing.body.detail.replace(unknown, '<id>') },
    );
    assert.deepEqual(await eventsAddressedTo(endpoint.id), []);
    assert.deepEqual(await tenantTestEvents(other.tenantId), []);
  });

  it('POST test › an unknown tenant, or a webhook id that is not a UUID › 404', async () => {
    const dir = await makeDirectory(t.app);
    const endpoint = await create(dir);
    assert.equal((await post(testPath(randomUUID(), endpoint.id)).expect(404)).body.status, '404');
    assert.equal((await post(testPath(dir.tenantId, 'not-a-uuid')).expect(404)).body.status, '404');
    assert.deepEqual(await eventsAddressedTo(endpoint.id), []);
  });

  it('POST test › without the admin token › 401, nothing written', async () => {
    const dir = await makeDirectory(t.app);
    const endpoint = await create(dir);
    await request(t.app).post(testPath(dir.tenantId, endpoint.id)).expect(401);
    assert.deepEqual(await eventsAddressedTo(endpoint.id), []);
  });

  it('POST test › an API built without the delivery queue › 503, nothing written', async () => {
    const dir = await makeDirectory(bare.app);
    const created = await asAdmin(request(bare.app).post(base(dir.tenantId)))
      .send({ url: HOOK_URL })
      .expect(201);
    const res = await asAdmin(request(bare.app).post(testPath(dir.tenantId, created.body.id))).expect(503);
    assert.equal(res.body.status, '503');
    assert.deepEqual(await eventsAddressedTo(created.body.id), []);
  });

  it('POST test › Redis down › 202 once the enqueue bound passes, the delivery pending and due in PostgreSQL for the sweeper', async () => {
    const redis = await startPrivateRedis();
    const own = createRedis(redis.url);
    const downQueue = createQueue(QUEUES.webhookDelivery, { connection: own, prefix });
    const down = makeTestApp({ queues: { webhookDelivery: downQueue } });
    try {
      await downQueue.waitUntilReady();
      const dir = await makeDirectory(down.app);
      const created = await asAdmin(request(down.app).post(base(dir.tenantId)))
        .send({ url: HOOK_URL })
        .expect(201);
      await redis.stop();

      const started = Date.now();
      const res = await asAdmin(request(down.app).post(testPath(dir.tenantId, created.body.id)))
        .timeout(15_000)
        .expect(202);

      assert.ok(Date.now() - started < 8000, 'bounded by the enqueue timeout, not by Redis coming back');
      assert.equal(res.body.status, 'pending');
      const [row] = await sql().query<{ status: string; due: boolean }>(
        'SELECT status, next_attempt_at <= now() AS due FROM webhook_deliveries WHERE id = $1',
        [res.body.id],
      );
      assert.deepEqual(row, { status: 'pending', due: true });
    } finally {
      await downQueue.close();
      own.disconnect();
      await down.close();
      await redis.close();
    }
  });

  it("POST test › between two SCIM writes › the tenant's events feed and audit export rows hold the writes only", async () => {
    const dir = await makeDirectory(t.app);
    const endpoint = await create(dir);
    const scim = scimClient(t.app, dir.token);
    await scim.post('/Users', entraUser()).expect(201);
    const sent = await post(testPath(dir.tenantId, endpoint.id)).expect(202);
    await scim.post('/Users', entraUser()).expect(201);

    const feed = await feedAtLeast(dir.tenantId, 2);
    // Read again once both writes are visible: the test event committed between them.
    const again = await get(`/admin/v1/tenants/${dir.tenantId}/events?limit=100`).expect(200);
    const rows = t.repos.forTenant(dir.tenantId as TenantId).exportRows;
    const lines = await rows.snapshot(async (tx) => {
      const all: string[] = [];
      for await (const batch of rows.lineBatches(tx, { from: new Date(Date.now() - 3600_000), to: new Date(Date.now() + 60_000) }, 100)) all.push(...batch);
      return all;
    });

    assert.deepEqual(
      feed.map((e) => e.type),
      ['user.created', 'user.created'],
    );
    assert.ok(!again.body.data.some((e: { id: string }) => e.id === sent.body.eventId));
    assert.deepEqual(
      lines.map((l) => JSON.parse(l).type),
      ['user.created', 'user.created'],
    );
  });

  it('POST replay {after: cursor} › a test event after the cursor › not replayed: the cursor walks the feed, which does not hold it', async () => {
    const dir = await makeDirectory(t.app);
    const endpoint = await create(dir);
    const scim = scimClient(t.app, dir.token);
    await scim.post('/Users', entraUser()).expect(201);
    const [first] = await feedAtLeast(dir.tenantId, 1);
    await post(testPath(dir.tenantId, endpoint.id)).expect(202);
    await scim.post('/Users', entraUser()).expect(201);
    await feedAtLeast(dir.tenantId, 2);

    const res = await post(`${base(dir.tenantId)}/${endpoint.id}/replay`, { after: first.cursor }).expect(202);

    assert.equal(res.body.replayed, 1, 'the second user.created only');
  });

  for (const [method, situation] of [
    ['post', 'POST webhooks'],
    ['patch', 'PATCH webhook'],
  ] as const) {
    it(`${situation} › events naming webhook.test › 400 invalidValue: a filter cannot choose tests, which are sent whatever it says`, async () => {
      const dir = await makeDirectory(t.app);
      const path = method === 'post' ? base(dir.tenantId) : `${base(dir.tenantId)}/${(await create(dir)).id}`;
      const res = await asAdmin(request(t.app)[method](path))
        .send({ url: HOOK_URL, events: ['user.created', 'webhook.test'] })
        .expect(400);
      assert.equal(res.body.scimType, 'invalidValue');
    });
  }

  it('DELETE webhook › after a test › its test event goes with it', async () => {
    const dir = await makeDirectory(t.app);
    const endpoint = await create(dir);
    const sent = await post(testPath(dir.tenantId, endpoint.id)).expect(202);

    await asAdmin(request(t.app).delete(`${base(dir.tenantId)}/${endpoint.id}`)).expect(204);

    assert.deepEqual(await sql().query('SELECT id FROM events WHERE id = $1', [sent.body.eventId]), []);
  });

  it('events table › a webhook.test for no endpoint, or a change addressed to one › refused by PostgreSQL', async () => {
    const dir = await makeDirectory(t.app);
    const endpoint = await create(dir);
    const insert = (type: string, endpointId: string | null) =>
      sql().exec(
        `INSERT INTO events (id, tenant_id, directory_id, type, resource_type, resource_id, data, endpoint_id)
         VALUES (${UUID_V7}, $1, NULL, $2, 'WebhookEndpoint', $3, '{}', $4)`,
        [dir.tenantId, type, endpoint.id, endpointId],
      );
    await assert.rejects(insert('webhook.test', null), /events_addressed_check/);
    await assert.rejects(insert('user.created', endpoint.id), /events_addressed_check/);
    assert.deepEqual(await tenantTestEvents(dir.tenantId), []);
  });
});
