import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Worker } from 'bullmq';
import request from 'supertest';
import { config } from '../../shared/config';
import { type DeliveryQueue, type WebhookDeliveryJob, QUEUES, DELIVER_JOB, MAX_JOB_RUNS } from '../../shared/queue/catalog';
import { createQueue } from '../../shared/queue/queues';
import { createRedis } from '../../shared/queue/redis';
import { deliveryIdOf } from '../../shared/ids';
import { makeTestApp, type TestApp } from '../support/app';
import { startPrivateRedis } from '../support/redis';
import { asAdmin, makeDirectory, type TestDirectory } from '../support/factories';
import { newId } from '../../shared/ids';

const HOOK_URL = 'http://127.0.0.1:9/hook';

describe('admin API › webhooks', () => {
  let t: TestApp;
  let bare: TestApp;
  let queue: DeliveryQueue;
  const connection = createRedis(config.REDIS_URL);
  const prefix = `test-webhooks-admin-${process.pid}-${Date.now().toString(36)}`;

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
  const create = (tenantId: string, body: object = { url: HOOK_URL }) => asAdmin(request(t.app).post(base(tenantId))).send(body);
  const get = (path: string) => asAdmin(request(t.app).get(path));
  const post = (path: string, body: object = {}) => asAdmin(request(t.app).post(path)).send(body);
  const patch = (path: string, body: object) => asAdmin(request(t.app).patch(path)).send(body);

  /** An event written straight to the outbox table, as a SCIM write would. */
  async function insertEvent(dir: TestDirectory, type: string): Promise<string> {
    const id = newId();
    await t.db.acrossTenants().exec(
      `INSERT INTO events (id, tenant_id, directory_id, type, resource_type, resource_id, data)
       VALUES ($1, $2, $3, $4, 'User', gen_random_uuid(), '{"n":1}')`,
      [id, dir.tenantId, dir.directoryId, type],
    );
    return id;
  }

  /**
   * An event and its delivery row as the relay writes it (optionally already dead or delivered
   * after some attempts), in one statement: a relay running in another test sees both at once.
   */
  async function eventWithDelivery(dir: TestDirectory, endpointId: string, options: { type?: string; status?: string; attempts?: number } = {}) {
    const eventId = newId();
    const id = deliveryIdOf(endpointId, eventId);
    await t.db.acrossTenants().exec(
      `WITH e AS (
         INSERT INTO events (id, tenant_id, directory_id, type, resource_type, resource_id, data)
         VALUES ($4, $2, $6, $7, 'User', gen_random_uuid(), '{"n":1}') RETURNING id, type)
       INSERT INTO webhook_deliveries (id, tenant_id, endpoint_id, event_id, event_type, status, attempts)
       SELECT $1, $2, $3, e.id, e.type, $5, $8 FROM e`,
      [id, dir.tenantId, endpointId, eventId, options.status ?? 'pending', dir.directoryId, options.type ?? 'user.created', options.attempts ?? 0],
    );
    return id;
  }

  /** The delivery's job as a worker leaves it: completed (delivered) or failed (a dead letter). */
  async function finishedJob(deliveryId: string, tenantId: string, state: 'completed' | 'failed') {
    // Taken by hand (no processor): earlier tests' waiting jobs are dropped first, so this is the next one.
    await queue.drain();
    await queue.add(DELIVER_JOB, { deliveryId, tenantId }, { jobId: deliveryId });
    const own = createRedis(config.REDIS_URL);
    const worker = new Worker<WebhookDeliveryJob>(QUEUES.webhookDelivery, null, { connection: own, prefix, autorun: false });
    try {
      const token = randomUUID();
      const job = await worker.getNextJob(token);
      assert.equal(job?.id, deliveryId);
      if (state === 'completed') await job!.moveToCompleted('delivered', token, false);
      else await job!.moveToFailed(new Error('receiver answered 503; no attempts left'), token, false);
    } finally {
      await worker.close();
      own.disconnect();
    }
    assert.equal(await queue.getJobState(deliveryId), state);
  }

  /** The tenant's events feed, polled while other sessions' open transactions hold the fence. */
  async function feedAtLeast(tenantId: string, n: number) {
    for (let i = 0; i < 100; i++) {
      const res = await get(`/admin/v1/tenants/${tenantId}/events?limit=100`).expect(200);
      if (res.body.data.length >= n) return res.body.data as { id: string; cursor: string }[];
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`fewer than ${n} events became visible`);
  }

  it('POST webhooks › a loopback URL outside production › 201 with a whsec_ secret, shown only in this answer', async () => {
    const dir = await makeDirectory(t.app);
    const created = await create(dir.tenantId, { url: HOOK_URL, description: 'vendor app' }).expect(201);
    assert.match(created.body.secret, /^whsec_[A-Za-z0-9+/]+=*$/);
    assert.equal(created.body.url, HOOK_URL);
    assert.equal(created.body.events, null);
    assert.equal(created.body.status, 'active');
    assert.equal(created.body.description, 'vendor app');

    const one = await get(`${base(dir.tenantId)}/${created.body.id}`).expect(200);
    const list = await get(base(dir.tenantId)).expect(200);
    assert.equal(one.body.id, created.body.id);
    assert.equal('secret' in one.body, false);
    assert.deepEqual(
      list.body.data.map((e: { id: string }) => e.id),
      [created.body.id],
    );
    assert.equal(JSON.stringify(list.body).includes(created.body.secret), false);
  });

  it('POST webhooks › the stored row › holds the secret only encrypted', async () => {
    const dir = await makeDirectory(t.app);
    const created = await create(dir.tenantId).expect(201);
    const [row] = await t.db
      .acrossTenants()
      .query<{ secret_ciphertext: Buffer }>('SELECT secret_ciphertext FROM webhook_endpoints WHERE id = $1', [created.body.id]);
    const secretBytes = Buffer.from(created.body.secret.slice('whsec_'.length), 'base64');
    assert.equal(row.secret_ciphertext.includes(secretBytes), false);
    assert.equal(row.secret_ciphertext.toString('latin1').includes(created.body.secret), false);
  });

  it('POST webhooks › an event filter from the catalog › stored and returned', async () => {
    const dir = await makeDirectory(t.app);
    const created = await create(dir.tenantId, { url: HOOK_URL, events: ['user.created', 'group.user_added'] }).expect(201);
    assert.deepEqual(created.body.events, ['user.created', 'group.user_added']);
  });

  for (const [situation, body] of [
    ['an event type outside the catalog', { url: HOOK_URL, events: ['user.exploded'] }],
    ['an empty event list', { url: HOOK_URL, events: [] }],
    ['an event type twice', { url: HOOK_URL, events: ['user.created', 'user.created'] }],
    ['no url', {}],
    ['a private address', { url: 'http://10.0.0.8/hook' }],
    ['the cloud metadata address', { url: 'http://169.254.169.254/latest' }],
    ['an IPv4-mapped private IPv6 address', { url: 'http://[::ffff:192.168.1.5]/hook' }],
    ['a scheme other than http(s)', { url: 'ftp://127.0.0.1/hook' }],
    ['credentials in the URL', { url: 'http://user:pw@127.0.0.1/hook' }],
    ['an unknown field', { url: HOOK_URL, secret: 'whsec_mine' }],
  ] as const) {
    it(`POST webhooks › ${situation} › 400 invalidValue`, async () => {
      const dir = await makeDirectory(t.app);
      const res = await create(dir.tenantId, body).expect(400);
      assert.equal(res.body.scimType, 'invalidValue');
    });
  }

  it('POST webhooks › without the admin token › 401', async () => {
    const dir = await makeDirectory(t.app);
    await request(t.app).post(base(dir.tenantId)).send({ url: HOOK_URL }).expect(401);
  });

  it('PATCH webhook › url, events, description › changed; events null means every type again', async () => {
    const dir = await makeDirectory(t.app);
    const created = await create(dir.tenantId, { url: HOOK_URL, events: ['user.created'] }).expect(201);
    const path = `${base(dir.tenantId)}/${created.body.id}`;
    const changed = await patch(path, { url: 'http://127.0.0.1:10/other', events: ['user.deleted'], description: 'moved' }).expect(200);
    assert.equal(changed.body.url, 'http://127.0.0.1:10/other');
    assert.deepEqual(changed.body.events, ['user.deleted']);
    assert.equal(changed.body.description, 'moved');
    assert.equal('secret' in changed.body, false);
    const reset = await patch(path, { events: null }).expect(200);
    assert.equal(reset.body.events, null);
    assert.equal(reset.body.url, 'http://127.0.0.1:10/other', 'fields not sent are kept');
  });

  it('PATCH webhook › disable, then enable › disabled with a reason, then active with the failure history cleared', async () => {
    const dir = await makeDirectory(t.app);
    const created = await create(dir.tenantId).expect(201);
    const path = `${base(dir.tenantId)}/${created.body.id}`;
    const disabled = await patch(path, { status: 'disabled' }).expect(200);
    assert.equal(disabled.body.status, 'disabled');
    assert.ok(disabled.body.statusReason);
    await t.db.acrossTenants().exec(`UPDATE webhook_endpoints SET failing_since = now() - interval '2 hours' WHERE id = $1`, [created.body.id]);
    const enabled = await patch(path, { status: 'active' }).expect(200);
    assert.equal(enabled.body.status, 'active');
    assert.equal(enabled.body.statusReason, null);
    assert.equal(enabled.body.failingSince, null);
  });

  for (const [situation, body] of [
    ['status failing (only the worker sets it)', { status: 'failing' }],
    ['a private url', { url: 'http://192.168.0.10/' }],
    ['an unknown event type', { events: ['nope'] }],
  ] as const) {
    it(`PATCH webhook › ${situation} › 400 invalidValue`, async () => {
      const dir = await makeDirectory(t.app);
      const created = await create(dir.tenantId).expect(201);
      const res = await patch(`${base(dir.tenantId)}/${created.body.id}`, body).expect(400);
      assert.equal(res.body.scimType, 'invalidValue');
    });
  }

  it('DELETE webhook › an existing endpoint › 204, then 404 for it and its deliveries', async () => {
    const dir = await makeDirectory(t.app);
    const created = await create(dir.tenantId).expect(201);
    const path = `${base(dir.tenantId)}/${created.body.id}`;
    await asAdmin(request(t.app).delete(path)).expect(204);
    await get(path).expect(404);
    await get(`${path}/deliveries`).expect(404);
    await asAdmin(request(t.app).delete(path)).expect(404);
  });

  it('POST rotate-secret › default overlap › a new secret, the old one signing for about a day', async () => {
    const dir = await makeDirectory(t.app);
    const created = await create(dir.tenantId).expect(201);
    const rotated = await post(`${base(dir.tenantId)}/${created.body.id}/rotate-secret`).expect(200);
    assert.match(rotated.body.secret, /^whsec_/);
    assert.notEqual(rotated.body.secret, created.body.secret);
    const expires = Date.parse(rotated.body.previousSecretExpiresAt) - Date.now();
    assert.ok(expires > 23 * 3600_000 && expires <= 24 * 3600_000, `overlap ${expires} ms`);
    const after = await get(`${base(dir.tenantId)}/${created.body.id}`).expect(200);
    assert.equal('secret' in after.body, false);
  });

  it('POST rotate-secret › overlapSeconds 0 › the old secret stops at once', async () => {
    const dir = await makeDirectory(t.app);
    const created = await create(dir.tenantId).expect(201);
    const rotated = await post(`${base(dir.tenantId)}/${created.body.id}/rotate-secret`, { overlapSeconds: 0 }).expect(200);
    assert.equal(rotated.body.previousSecretExpiresAt, null);
  });

  it('POST rotate-secret › a negative or week-plus overlap › 400 invalidValue', async () => {
    const dir = await makeDirectory(t.app);
    const created = await create(dir.tenantId).expect(201);
    for (const overlapSeconds of [-1, 8 * 24 * 3600, 'soon']) {
      const res = await post(`${base(dir.tenantId)}/${created.body.id}/rotate-secret`, { overlapSeconds }).expect(400);
      assert.equal(res.body.scimType, 'invalidValue');
    }
  });

  it("webhooks › another tenant's endpoint and delivery › 404 on every route, and nothing changes", async () => {
    const owner = await makeDirectory(t.app);
    const other = await makeDirectory(t.app);
    const created = await create(owner.tenantId).expect(201);
    const deliveryId = await eventWithDelivery(owner, created.body.id, { status: 'dead', attempts: 3 });
    const foreign = `${base(other.tenantId)}/${created.body.id}`;
    await get(foreign).expect(404);
    await patch(foreign, { status: 'disabled' }).expect(404);
    await post(`${foreign}/rotate-secret`).expect(404);
    await get(`${foreign}/deliveries`).expect(404);
    await get(`${foreign}/deliveries/${deliveryId}`).expect(404);
    await post(`${foreign}/deliveries/${deliveryId}/replay`).expect(404);
    await post(`${foreign}/replay`, { status: 'dead' }).expect(404);
    await asAdmin(request(t.app).delete(foreign)).expect(404);
    assert.deepEqual((await get(base(other.tenantId)).expect(200)).body.data, []);
    // The owner's endpoint is untouched: same status, same secret (a rotation would have replaced it).
    const [row] = await t.db
      .acrossTenants()
      .query<{ status: string; previous_secret_ciphertext: Buffer | null }>('SELECT status, previous_secret_ciphertext FROM webhook_endpoints WHERE id = $1', [
        created.body.id,
      ]);
    assert.equal(row.status, 'active');
    assert.equal(row.previous_secret_ciphertext, null);
    const [delivery] = await t.db.acrossTenants().query<{ status: string }>('SELECT status FROM webhook_deliveries WHERE id = $1', [deliveryId]);
    assert.equal(delivery.status, 'dead');
  });

  it('webhooks › an unknown tenant, endpoint or delivery id, or one that is not a UUID › 404', async () => {
    const dir = await makeDirectory(t.app);
    const created = await create(dir.tenantId).expect(201);
    await get(base(randomUUID())).expect(404);
    await get(`${base(dir.tenantId)}/${randomUUID()}`).expect(404);
    await get(`${base(dir.tenantId)}/not-a-uuid`).expect(404);
    await get(`${base(dir.tenantId)}/${created.body.id}/deliveries/${randomUUID()}`).expect(404);
  });

  it('GET deliveries › a status filter and paging › every matching delivery once, newest first', async () => {
    const dir = await makeDirectory(t.app);
    const created = await create(dir.tenantId).expect(201);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(await eventWithDelivery(dir, created.body.id, { status: i % 2 ? 'dead' : 'delivered' }));
    const path = `${base(dir.tenantId)}/${created.body.id}/deliveries`;

    const seen: string[] = [];
    const pages: [number, boolean][] = [];
    let after: string | null | undefined;
    for (let page = 0; page < 10; page++) {
      const res = await get(`${path}?limit=2${after ? `&after=${after}` : ''}`).expect(200);
      seen.push(...res.body.data.map((d: { id: string }) => d.id));
      pages.push([res.body.data.length, res.body.hasMore]);
      assert.equal(res.body.next === null, !res.body.hasMore, 'next is given exactly when more follows');
      after = res.body.next;
      if (!after) break;
    }
    assert.deepEqual([...seen].sort(), [...ids].sort());
    assert.equal(new Set(seen).size, 5);
    assert.deepEqual(pages, [
      [2, true],
      [2, true],
      [1, false],
    ]);
    const exact = await get(`${path}?limit=5`).expect(200);
    assert.deepEqual([exact.body.data.length, exact.body.hasMore, exact.body.next], [5, false, null], 'a page that ends exactly at the last delivery');

    const dead = await get(`${path}?status=dead`).expect(200);
    assert.deepEqual(dead.body.data.map((d: { id: string }) => d.id).sort(), [ids[1], ids[3]].sort());
    assert.ok(dead.body.data.every((d: { status: string }) => d.status === 'dead'));
  });

  it('GET deliveries › an unknown status or a cursor this API never issued › 400 invalidValue', async () => {
    const dir = await makeDirectory(t.app);
    const created = await create(dir.tenantId).expect(201);
    const path = `${base(dir.tenantId)}/${created.body.id}/deliveries`;
    assert.equal((await get(`${path}?status=lost`).expect(400)).body.scimType, 'invalidValue');
    assert.equal((await get(`${path}?after=bogus`).expect(400)).body.scimType, 'invalidValue');
  });

  it('GET delivery › with logged attempts › the delivery and its attempts in order', async () => {
    const dir = await makeDirectory(t.app);
    const created = await create(dir.tenantId).expect(201);
    const deliveryId = await eventWithDelivery(dir, created.body.id, { status: 'pending', attempts: 2 });
    await t.db.acrossTenants().exec(
      `INSERT INTO webhook_attempts (delivery_id, tenant_id, attempt, started_at, duration_ms, status_code, error, response_excerpt)
       VALUES ($1, $2, 2, now(), 12, 503, 'receiver answered 503', 'busy'), ($1, $2, 1, now(), 5000, NULL, 'timed out', NULL)`,
      [deliveryId, dir.tenantId],
    );
    const res = await get(`${base(dir.tenantId)}/${created.body.id}/deliveries/${deliveryId}`).expect(200);
    assert.equal(res.body.id, deliveryId);
    assert.equal(res.body.attemptCount, 2);
    assert.deepEqual(
      res.body.attempts.map((a: { attempt: number; statusCode: number | null }) => [a.attempt, a.statusCode]),
      [
        [1, null],
        [2, 503],
      ],
    );
    assert.equal(res.body.attempts[1].responseExcerpt, 'busy');
  });

  it('POST replay {status: dead} › two dead letters and one delivered › both dead ones enqueued as replays and shown pending', async () => {
    const dir = await makeDirectory(t.app);
    const created = await create(dir.tenantId).expect(201);
    const deadA = await eventWithDelivery(dir, created.body.id, { status: 'dead', attempts: 12 });
    const deadB = await eventWithDelivery(dir, created.body.id, { type: 'user.deleted', status: 'dead', attempts: 3 });
    const done = await eventWithDelivery(dir, created.body.id, { type: 'user.updated', status: 'delivered', attempts: 1 });

    const res = await post(`${base(dir.tenantId)}/${created.body.id}/replay`, { status: 'dead' }).expect(202);
    assert.equal(res.body.replayed, 2);
    const jobA = await queue.getJob(deadA);
    const jobB = await queue.getJob(deadB);
    assert.deepEqual(jobA?.data, { deliveryId: deadA, tenantId: dir.tenantId });
    assert.deepEqual(jobB?.data, { deliveryId: deadB, tenantId: dir.tenantId });
    assert.equal(jobA?.opts.attempts, MAX_JOB_RUNS, 'the job contract: BullMQ retries, PostgreSQL counts the budget');
    assert.equal(await queue.getJob(done), undefined);
    const rows = await t.db
      .acrossTenants()
      .query<{ id: string; status: string; retry_base: number; attempts: number }>(
        'SELECT id, status, retry_base, attempts FROM webhook_deliveries WHERE id = ANY ($1::uuid[])',
        [[deadA, deadB, done]],
      );
    assert.deepEqual(Object.fromEntries(rows.map((r) => [r.id, r.status])), { [deadA]: 'pending', [deadB]: 'pending', [done]: 'delivered' });
    const a = rows.find((r) => r.id === deadA)!;
    assert.deepEqual([a.attempts, a.retry_base], [12, 12], 'a new run of retries starts; attempt numbers keep counting');
  });

  it('POST delivery replay › a delivered delivery whose job completed › its job replaced by a waiting one; twice before any attempt › one job', async () => {
    const dir = await makeDirectory(t.app);
    const created = await create(dir.tenantId).expect(201);
    const id = await eventWithDelivery(dir, created.body.id, { status: 'delivered', attempts: 1 });
    await finishedJob(id, dir.tenantId, 'completed');
    const path = `${base(dir.tenantId)}/${created.body.id}/deliveries/${id}/replay`;
    const res = await post(path).expect(202);
    await post(path).expect(202);
    assert.equal(res.body.id, id);
    assert.equal(res.body.status, 'pending');
    const jobs = (await queue.getJobs(['waiting', 'delayed', 'active', 'completed', 'failed'])).filter(
      (j) => 'deliveryId' in j.data && j.data.deliveryId === id,
    );
    assert.deepEqual(
      jobs.map((j) => j.id),
      [id],
    );
    assert.equal(await queue.getJobState(id), 'waiting');
  });

  it('POST replay {status: dead} › a dead letter whose job failed › the dashboard no longer lists it as failed, and the admin API shows no dead letter', async () => {
    const dir = await makeDirectory(t.app);
    const created = await create(dir.tenantId).expect(201);
    const id = await eventWithDelivery(dir, created.body.id, { status: 'dead', attempts: 3 });
    await finishedJob(id, dir.tenantId, 'failed');
    const failedBefore = (await queue.getFailed(0, -1)).map((j) => j.id);
    assert.ok(failedBefore.includes(id));

    await post(`${base(dir.tenantId)}/${created.body.id}/replay`, { status: 'dead' }).expect(202);

    const failedAfter = (await queue.getFailed(0, -1)).map((j) => j.id);
    assert.ok(!failedAfter.includes(id), 'bull-board reads this failed set');
    assert.equal(await queue.getJobState(id), 'waiting');
    const dead = await get(`${base(dir.tenantId)}/${created.body.id}/deliveries?status=dead`).expect(200);
    assert.deepEqual(dead.body.data, []);
  });

  it('POST replay {after: cursor} › later events, some filtered out › deliveries created for exactly the subscribed ones after the cursor', async () => {
    const dir = await makeDirectory(t.app);
    const created = await create(dir.tenantId, { url: HOOK_URL, events: ['user.created', 'user.deleted'] }).expect(201);
    const first = await insertEvent(dir, 'user.created');
    const skipped = await insertEvent(dir, 'group.created');
    const third = await insertEvent(dir, 'user.deleted');
    const fourth = await insertEvent(dir, 'user.created');
    const feed = await feedAtLeast(dir.tenantId, 4);
    const cursor = feed.find((e) => e.id === first)!.cursor;

    const res = await post(`${base(dir.tenantId)}/${created.body.id}/replay`, { after: cursor }).expect(202);
    assert.equal(res.body.replayed, 2);
    // Rows are read per event: a relay running in another test may add the first event's row.
    const rows = await t.db
      .acrossTenants()
      .query<{ event_id: string; status: string }>('SELECT event_id, status FROM webhook_deliveries WHERE endpoint_id = $1 AND event_id = ANY ($2::uuid[])', [
        created.body.id,
        [skipped, third, fourth],
      ]);
    assert.deepEqual(
      rows.map((r) => [r.event_id, r.status]).sort(),
      [
        [third, 'pending'],
        [fourth, 'pending'],
      ].sort(),
    );
    const jobs = (await queue.getJobs(['waiting', 'delayed', 'active', 'completed', 'failed'])).filter(
      (j) => 'tenantId' in j.data && j.data.tenantId === dir.tenantId,
    );
    assert.deepEqual(jobs.map((j) => j.id).sort(), [third, fourth].map((e) => deliveryIdOf(created.body.id, e)).sort());
  });

  for (const [situation, body] of [
    ['neither status nor after', {}],
    ['a status other than dead', { status: 'delivered' }],
    ['a cursor this API never issued', { after: 'not-a-cursor' }],
  ] as const) {
    it(`POST replay › ${situation} › 400 invalidValue`, async () => {
      const dir = await makeDirectory(t.app);
      const created = await create(dir.tenantId).expect(201);
      const res = await post(`${base(dir.tenantId)}/${created.body.id}/replay`, body).expect(400);
      assert.equal(res.body.scimType, 'invalidValue');
    });
  }

  it('POST replay › a disabled endpoint › 409, nothing enqueued', async () => {
    const dir = await makeDirectory(t.app);
    const created = await create(dir.tenantId).expect(201);
    const id = await eventWithDelivery(dir, created.body.id, { status: 'dead', attempts: 2 });
    await patch(`${base(dir.tenantId)}/${created.body.id}`, { status: 'disabled' }).expect(200);
    await post(`${base(dir.tenantId)}/${created.body.id}/replay`, { status: 'dead' }).expect(409);
    assert.equal(await queue.getJob(id), undefined);
  });

  it('POST replay {status: dead} › Redis down › 202 once the enqueue bound passes, the deliveries pending and due in PostgreSQL for the sweeper', async () => {
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
      const ids = [
        await eventWithDelivery(dir, created.body.id, { status: 'dead', attempts: 3 }),
        await eventWithDelivery(dir, created.body.id, { status: 'dead', attempts: 12 }),
      ];
      await redis.stop();

      const started = Date.now();
      const res = await asAdmin(request(down.app).post(`${base(dir.tenantId)}/${created.body.id}/replay`))
        .timeout(15_000)
        .send({ status: 'dead' })
        .expect(202);
      assert.equal(res.body.replayed, 2);
      assert.ok(Date.now() - started < 8000, 'bounded by the enqueue timeout, not by Redis coming back');
      // Not the due time or attempts: a worker process of an e2e test may relay and try these
      // events meanwhile (every relay serves every tenant); it can only keep them pending.
      const rows = await t.db
        .acrossTenants()
        .query<{ id: string; status: string; retry_base: number }>('SELECT id, status, retry_base FROM webhook_deliveries WHERE id = ANY ($1::uuid[])', [ids]);
      assert.deepEqual(
        Object.fromEntries(rows.map((r) => [r.id, [r.status, r.retry_base]])),
        { [ids[0]]: ['pending', 3], [ids[1]]: ['pending', 12] },
        'restarted in PostgreSQL: a new run of retries from the attempts so far',
      );
    } finally {
      await downQueue.close();
      own.disconnect();
      await down.close();
      await redis.close();
    }
  });

  it('POST replay › an API built without the delivery queue › 503', async () => {
    const dir = await makeDirectory(bare.app);
    const created = await asAdmin(request(bare.app).post(base(dir.tenantId)))
      .send({ url: HOOK_URL })
      .expect(201);
    await asAdmin(request(bare.app).post(`${base(dir.tenantId)}/${created.body.id}/replay`))
      .send({ status: 'dead' })
      .expect(503);
  });
});
