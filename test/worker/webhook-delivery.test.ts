import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { node, tracing } from '@opentelemetry/sdk-node';
import { Webhook } from 'standardwebhooks';
import request from 'supertest';
import { config, type Config } from '../../shared/config';
import {
  batchJobId,
  type DeliveryQueue,
  DELIVER_JOB,
  enqueueBatches,
  enqueueDeliveries,
  JOBS,
  jobOptions,
  QUEUES,
  requeueDeliveries,
} from '../../shared/queue/catalog';
import { createQueue } from '../../shared/queue/queues';
import { logger } from '../../shared/telemetry/logger';
import { deliveryIdOf } from '../../shared/ids';
import type { Processor } from '../../workers/deps';
import { startWebhookDelivery } from '../../workers/webhook-delivery';
import { redisConnections } from '../support/connections';
import { makeTestApp, type TestApp } from '../support/app';
import { asAdmin, entraUser, makeDirectory, scimClient, type TestDirectory } from '../support/factories';
import { startReceiver, type Receiver } from '../support/receiver';
import { freePort } from '../support/redis';
import { newId } from '../../shared/ids';

// Spans are recorded in memory, so the test sees the trace the worker continues and the
// traceparent it sends (the SDK itself is off in tests: OTEL_SDK_DISABLED).
const spans = new tracing.InMemorySpanExporter();
new node.NodeTracerProvider({ spanProcessors: [new tracing.SimpleSpanProcessor(spans)] }).register();

/** A short schedule (3 attempts in all) so retries and dead letters happen in well under a second. */
const SCHEDULE = '100ms,200ms';
const workerConfig: Config = Object.freeze({ ...config, WEBHOOK_RETRY_SCHEDULE: SCHEDULE, WEBHOOK_TIMEOUT_MS: 500 });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ids = (requests: readonly { headers: Record<string, unknown> }[]) => requests.map((r) => String(r.headers['webhook-id']));

describe('webhook delivery worker', () => {
  let t: TestApp;
  let queue: DeliveryQueue;
  let worker: Processor;
  const connections = redisConnections();
  const redis = connections.connect;
  const receivers: Receiver[] = [];
  const prefix = `test-webhook-delivery-${process.pid}-${Date.now().toString(36)}`;

  before(async () => {
    queue = createQueue(QUEUES.webhookDelivery, { connection: redis(), prefix });
    t = makeTestApp({ queues: { webhookDelivery: queue } });
    worker = await startWebhookDelivery({ repos: t.repos, redis, logger, config: workerConfig, queuePrefix: prefix });
  });
  after(async () => {
    await worker.close();
    await worker.close();
    await queue.obliterate({ force: true });
    await queue.close();
    connections.disconnectAll();
    for (const r of receivers) await r.close();
    await t.close();
  });

  const receiver = async () => {
    const r = await startReceiver();
    receivers.push(r);
    return r;
  };

  async function endpointFor(dir: TestDirectory, url: string, body: object = {}) {
    const res = await asAdmin(request(t.app).post(`/admin/v1/tenants/${dir.tenantId}/webhooks`))
      .send({ url, ...body })
      .expect(201);
    return res.body as { id: string; secret: string };
  }

  /** An event as a SCIM write leaves it (with the request's trace), plus its pending delivery. */
  async function eventWithDelivery(dir: TestDirectory, endpointId: string, options: { type?: string; trace?: Record<string, string>; batchId?: string } = {}) {
    const eventId = newId();
    const deliveryId = deliveryIdOf(endpointId, eventId);
    // One statement: a relay running in another test sees the event and its delivery together.
    await t.db.acrossTenants().exec(
      `WITH e AS (
         INSERT INTO events (id, tenant_id, directory_id, type, resource_type, resource_id, actor, data, trace_context)
         VALUES ($1, $2, $3, $4, 'User', gen_random_uuid(), 'api_key:test', $5, $6) RETURNING id, type)
       INSERT INTO webhook_deliveries (id, tenant_id, endpoint_id, event_id, event_type, batch_id) SELECT $7, $2, $8, e.id, e.type, $9 FROM e`,
      [
        eventId,
        dir.tenantId,
        dir.directoryId,
        options.type ?? 'user.created',
        JSON.stringify({ userName: `u-${eventId}@contoso.example` }),
        options.trace ?? null,
        deliveryId,
        endpointId,
        options.batchId ?? null,
      ],
    );
    return { eventId, deliveryId };
  }

  /** Fresh deliveries in one batch job, as the relay adds them; resolves once the job is done. */
  async function deliverBatch(batchId: string, deliveries: readonly { tenantId: string; deliveryId: string }[]) {
    await enqueueBatches(queue, [{ batchId, tenantIds: deliveries.map((d) => d.tenantId), deliveryIds: deliveries.map((d) => d.deliveryId) }]);
    for (let i = 0; i < 200; i++) {
      const job = await queue.getJob(batchJobId(batchId));
      if (job?.finishedOn) return job;
      await sleep(50);
    }
    throw new Error(`batch ${batchId} not done after 10 s`);
  }

  /** Enqueues as the relay does, through the job contract every producer uses. */
  const enqueue = (tenantId: string, deliveries: { deliveryId: string }[], trace?: Record<string, string>) =>
    enqueueDeliveries(
      queue,
      deliveries.map((d) => ({ deliveryId: d.deliveryId, tenantId, ...(trace ? { trace } : {}) })),
    );

  const deliveryRow = async (id: string) =>
    (
      await t.db
        .acrossTenants()
        .query<{ status: string; attempts: number; last_status: number | null; last_error: string | null }>(
          'SELECT status, attempts, last_status, last_error FROM webhook_deliveries WHERE id = $1',
          [id],
        )
    )[0];

  /** Polls until the delivery reaches `status` (bounded: 10 s). */
  async function until(id: string, status: string) {
    for (let i = 0; i < 200; i++) {
      const row = await deliveryRow(id);
      if (row?.status === status) return row;
      await sleep(50);
    }
    throw new Error(`delivery ${id} is ${(await deliveryRow(id))?.status}, not ${status}, after 10 s`);
  }

  const attemptsOf = (id: string) =>
    t.db
      .acrossTenants()
      .query<{ attempt: number; status_code: number | null; error: string | null; duration_ms: number; response_excerpt: string | null }>(
        'SELECT attempt, status_code, error, duration_ms, response_excerpt FROM webhook_attempts WHERE delivery_id = $1 ORDER BY attempt',
        [id],
      );

  const tenantEvents = (tenantId: string, type: string) =>
    t.db
      .acrossTenants()
      .query<{ directory_id: string | null; resource_id: string; data: { reason: string } }>(
        'SELECT directory_id, resource_id, data FROM events WHERE tenant_id = $1 AND type = $2',
        [tenantId, type],
      );

  const api = (path: string) => asAdmin(request(t.app).get(path)).expect(200);

  it('deliver › a pending delivery › the receiver gets a call that standardwebhooks verifies, with the event body and a traceparent continuing the trace', async () => {
    const rx = await receiver();
    rx.respond(() => ({ status: 200, body: 'thanks' }));
    const dir = await makeDirectory(t.app);
    const endpoint = await endpointFor(dir, rx.url);
    const traceId = randomUUID().replace(/-/g, '');
    const trace = { traceparent: `00-${traceId}-${'a1b2c3d4e5f60718'}-01` };
    const { eventId, deliveryId } = await eventWithDelivery(dir, endpoint.id, { trace });

    await enqueue(dir.tenantId, [{ deliveryId }], trace);
    const [call] = await rx.waitFor(1);

    const verified = new Webhook(endpoint.secret).verify(call.body, call.headers as Record<string, string>) as Record<string, unknown>;
    assert.equal(call.method, 'POST');
    assert.equal(call.headers['content-type'], 'application/json');
    assert.equal(call.headers['webhook-id'], eventId);
    assert.deepEqual(Object.keys(verified).sort(), ['data', 'directoryId', 'id', 'tenantId', 'timestamp', 'type']);
    assert.equal(verified.id, eventId);
    assert.equal(verified.type, 'user.created');
    assert.equal(verified.tenantId, dir.tenantId);
    assert.equal(verified.directoryId, dir.directoryId);
    assert.deepEqual(verified.data, { userName: `u-${eventId}@contoso.example` });
    const traceparent = String(call.headers.traceparent);
    assert.equal(traceparent.split('-')[1], traceId, 'same trace as the SCIM request');
    assert.notEqual(traceparent.split('-')[2], 'a1b2c3d4e5f60718', 'a child span, not the request span itself');

    const row = await until(deliveryId, 'delivered');
    assert.equal(row.attempts, 1);
    const [logged] = await attemptsOf(deliveryId);
    assert.equal(logged.status_code, 200);
    assert.equal(logged.response_excerpt, 'thanks');
    assert.ok(logged.duration_ms >= 0);
    const span = spans.getFinishedSpans().find((s) => s.name === 'webhook.deliver' && s.attributes['webhook.delivery.id'] === deliveryId);
    assert.equal(span?.spanContext().traceId, traceId);
    assert.equal(span?.attributes['webhook.endpoint.id'], endpoint.id);
    assert.equal(span?.attributes['event.type'], 'user.created');
  });

  it('deliver › a SCIM POST /Users › the receiver gets the user.created event the write committed, verified', async () => {
    const rx = await receiver();
    const dir = await makeDirectory(t.app);
    const endpoint = await endpointFor(dir, rx.url, { events: ['user.created'] });
    const created = await scimClient(t.app, dir.token).post('/Users', entraUser()).expect(201);
    const [event] = await t.db
      .acrossTenants()
      .query<{ id: string; data: unknown; occurred_at: Date; trace_context: Record<string, string> | null }>(
        `SELECT id, data, occurred_at, trace_context FROM events WHERE directory_id = $1 AND type = 'user.created'`,
        [dir.directoryId],
      );
    // What the relay does for this event (workers/outbox-relay.ts), done here so the test does not need it.
    const deliveryId = deliveryIdOf(endpoint.id, event.id);
    await t.db
      .acrossTenants()
      .exec(
        `INSERT INTO webhook_deliveries (id, tenant_id, endpoint_id, event_id, event_type) VALUES ($1, $2, $3, $4, 'user.created') ON CONFLICT DO NOTHING`,
        [deliveryId, dir.tenantId, endpoint.id, event.id],
      );
    await enqueue(dir.tenantId, [{ deliveryId }], event.trace_context ?? undefined);

    const [call] = await rx.waitFor(1);
    const body = new Webhook(endpoint.secret).verify(call.body, call.headers as Record<string, string>) as Record<string, unknown>;
    assert.equal(body.id, event.id);
    assert.equal(body.type, 'user.created');
    assert.equal(body.timestamp, event.occurred_at.toISOString());
    assert.deepEqual(body.data, event.data);
    assert.ok(JSON.stringify(body.data).includes(created.body.id));
  });

  it('deliver › the same job enqueued again after delivery › no second call', async () => {
    const rx = await receiver();
    const dir = await makeDirectory(t.app);
    const endpoint = await endpointFor(dir, rx.url);
    const { deliveryId } = await eventWithDelivery(dir, endpoint.id);
    await enqueue(dir.tenantId, [{ deliveryId }]);
    await until(deliveryId, 'delivered');
    // A relay that re-sends after its completed job was trimmed from Redis: a new job, same delivery.
    await queue.add(DELIVER_JOB, { deliveryId, tenantId: dir.tenantId }, { jobId: `${deliveryId}-again` });
    await sleep(400);
    assert.equal(rx.requests.length, 1);
  });

  it('deliver › receiver answering 503 › retried on the schedule, then a dead letter; replay after it is back delivers exactly the missed events', async () => {
    const rx = await receiver();
    const dir = await makeDirectory(t.app);
    const endpoint = await endpointFor(dir, rx.url);
    const delivered = await eventWithDelivery(dir, endpoint.id);
    await enqueue(dir.tenantId, [delivered]);
    await until(delivered.deliveryId, 'delivered');

    rx.respond(() => ({ status: 503, body: 'down for maintenance' }));
    const missedA = await eventWithDelivery(dir, endpoint.id, { type: 'user.updated' });
    const missedB = await eventWithDelivery(dir, endpoint.id, { type: 'user.deleted' });
    await enqueue(dir.tenantId, [missedA, missedB]);
    await until(missedA.deliveryId, 'dead');
    await until(missedB.deliveryId, 'dead');

    const log = await attemptsOf(missedA.deliveryId);
    assert.deepEqual(
      log.map((a) => [a.attempt, a.status_code]),
      [
        [1, 503],
        [2, 503],
        [3, 503],
      ],
    );
    assert.equal(log[0].response_excerpt, 'down for maintenance');
    const callTimes = rx.requests.filter((r) => r.headers['webhook-id'] === missedA.eventId).map((r) => r.receivedAt);
    assert.ok(callTimes[1] - callTimes[0] >= 70, 'the first retry waited ~100 ms (±20%)');
    assert.ok(callTimes[2] - callTimes[1] >= 150, 'the second retry waited ~200 ms (±20%)');
    const dead = await api(`/admin/v1/tenants/${dir.tenantId}/webhooks/${endpoint.id}/deliveries?status=dead`);
    assert.deepEqual(dead.body.data.map((d: { id: string }) => d.id).sort(), [missedA.deliveryId, missedB.deliveryId].sort());

    rx.respond(() => ({ status: 204 }));
    const before = rx.requests.length;
    await asAdmin(request(t.app).post(`/admin/v1/tenants/${dir.tenantId}/webhooks/${endpoint.id}/replay`))
      .send({ status: 'dead' })
      .expect(202);
    await until(missedA.deliveryId, 'delivered');
    await until(missedB.deliveryId, 'delivered');
    await sleep(200);
    const replayed = rx.requests.slice(before);
    assert.deepEqual(ids(replayed).sort(), [missedA.eventId, missedB.eventId].sort());
    for (const call of replayed) assert.ok(new Webhook(endpoint.secret).verify(call.body, call.headers as Record<string, string>));
    const detail = await api(`/admin/v1/tenants/${dir.tenantId}/webhooks/${endpoint.id}/deliveries/${missedB.deliveryId}`);
    assert.deepEqual(
      detail.body.attempts.map((a: { statusCode: number }) => a.statusCode),
      [503, 503, 503, 204],
    );
  });

  it('deliver › nothing listening on the port › each attempt logs the connection error, then a dead letter', async () => {
    const port = await freePort();
    const dir = await makeDirectory(t.app);
    const endpoint = await endpointFor(dir, `http://127.0.0.1:${port}/hook`);
    const { deliveryId } = await eventWithDelivery(dir, endpoint.id);
    await enqueue(dir.tenantId, [{ deliveryId }]);
    const row = await until(deliveryId, 'dead');
    assert.equal(row.attempts, 3);
    assert.equal(row.last_status, null);
    const log = await attemptsOf(deliveryId);
    assert.equal(log.length, 3);
    assert.ok(log.every((a) => a.status_code === null && /ECONNREFUSED/.test(a.error ?? '')));
  });

  it('deliver › a receiver slower than the timeout › the attempt is logged as timed out and retried', async () => {
    const rx = await receiver();
    rx.respond(async () => {
      if (rx.requests.length === 1) await sleep(1500);
      return { status: 200 };
    });
    const dir = await makeDirectory(t.app);
    const endpoint = await endpointFor(dir, rx.url);
    const { deliveryId } = await eventWithDelivery(dir, endpoint.id);
    await enqueue(dir.tenantId, [{ deliveryId }]);
    await until(deliveryId, 'delivered');
    const log = await attemptsOf(deliveryId);
    assert.deepEqual(
      log.map((a) => a.status_code),
      [null, 200],
    );
    assert.match(log[0].error ?? '', /500 ms/);
  });

  it("deliver › 429 with Retry-After › the next attempt waits the receiver's delay, not the schedule's", async () => {
    const rx = await receiver();
    rx.respond(() => (rx.requests.length === 1 ? { status: 429, headers: { 'retry-after': '1' } } : { status: 200 }));
    const dir = await makeDirectory(t.app);
    const endpoint = await endpointFor(dir, rx.url);
    const { deliveryId } = await eventWithDelivery(dir, endpoint.id);
    await enqueue(dir.tenantId, [{ deliveryId }]);
    const [first, second] = await rx.waitFor(2);
    assert.ok(second.receivedAt - first.receivedAt >= 950, `retried after ${second.receivedAt - first.receivedAt} ms`);
    await until(deliveryId, 'delivered');
    assert.deepEqual(
      (await attemptsOf(deliveryId)).map((a) => a.status_code),
      [429, 200],
    );
  });

  it('deliver › 410 Gone › no retry, the endpoint disabled with a reason and a tenant-level webhook_endpoint.disabled event; later deliveries are dead letters', async () => {
    const rx = await receiver();
    rx.respond(() => ({ status: 410 }));
    const dir = await makeDirectory(t.app);
    const endpoint = await endpointFor(dir, rx.url);
    const { deliveryId } = await eventWithDelivery(dir, endpoint.id);
    await enqueue(dir.tenantId, [{ deliveryId }]);
    await until(deliveryId, 'dead');
    await sleep(300);
    assert.equal(rx.requests.length, 1);
    const got = await api(`/admin/v1/tenants/${dir.tenantId}/webhooks/${endpoint.id}`);
    assert.equal(got.body.status, 'disabled');
    assert.match(got.body.statusReason, /410/);
    const events = await tenantEvents(dir.tenantId, 'webhook_endpoint.disabled');
    assert.equal(events.length, 1);
    assert.equal(events[0].directory_id, null);
    assert.equal(events[0].resource_id, endpoint.id);

    const later = await eventWithDelivery(dir, endpoint.id);
    await enqueue(dir.tenantId, [later]);
    const row = await until(later.deliveryId, 'dead');
    assert.equal(row.attempts, 0);
    assert.equal(row.last_error, 'endpoint disabled');
    assert.equal(rx.requests.length, 1);
  });

  it('deliver › during a secret rotation › both secrets verify; after the overlap only the new one', async () => {
    const rx = await receiver();
    const dir = await makeDirectory(t.app);
    const endpoint = await endpointFor(dir, rx.url);
    const rotated = await asAdmin(request(t.app).post(`/admin/v1/tenants/${dir.tenantId}/webhooks/${endpoint.id}/rotate-secret`))
      .send({ overlapSeconds: 3600 })
      .expect(200);
    const during = await eventWithDelivery(dir, endpoint.id);
    await enqueue(dir.tenantId, [during]);
    const [call] = await rx.waitFor(1);
    assert.equal(String(call.headers['webhook-signature']).split(' ').length, 2);
    assert.ok(new Webhook(endpoint.secret).verify(call.body, call.headers as Record<string, string>));
    assert.ok(new Webhook(rotated.body.secret).verify(call.body, call.headers as Record<string, string>));

    // The overlap ends (as if a day had passed).
    await t.db.acrossTenants().exec(`UPDATE webhook_endpoints SET previous_secret_expires_at = now() - interval '1 second' WHERE id = $1`, [endpoint.id]);
    const afterOverlap = await eventWithDelivery(dir, endpoint.id);
    await enqueue(dir.tenantId, [afterOverlap]);
    const [, later] = await rx.waitFor(2);
    assert.equal(String(later.headers['webhook-signature']).split(' ').length, 1);
    assert.ok(new Webhook(rotated.body.secret).verify(later.body, later.headers as Record<string, string>));
    assert.throws(() => new Webhook(endpoint.secret).verify(later.body, later.headers as Record<string, string>), { name: 'WebhookVerificationError' });
  });

  it('deliver › failing for longer than WEBHOOK_FAILING_AFTER › endpoint failing with one event; a success makes it active again', async () => {
    const rx = await receiver();
    rx.respond(() => ({ status: 500 }));
    const dir = await makeDirectory(t.app);
    const endpoint = await endpointFor(dir, rx.url);
    // Its deliveries have been failing for two hours (default threshold: 1 h).
    await t.db.acrossTenants().exec(`UPDATE webhook_endpoints SET failing_since = now() - interval '2 hours' WHERE id = $1`, [endpoint.id]);
    const failing = await eventWithDelivery(dir, endpoint.id);
    await enqueue(dir.tenantId, [failing]);
    await until(failing.deliveryId, 'dead');
    const got = await api(`/admin/v1/tenants/${dir.tenantId}/webhooks/${endpoint.id}`);
    assert.equal(got.body.status, 'failing');
    assert.equal((await tenantEvents(dir.tenantId, 'webhook_endpoint.failing')).length, 1, 'one event, not one per attempt');

    rx.respond(() => ({ status: 200 }));
    const ok = await eventWithDelivery(dir, endpoint.id);
    await enqueue(dir.tenantId, [ok]);
    await until(ok.deliveryId, 'delivered');
    const recovered = await api(`/admin/v1/tenants/${dir.tenantId}/webhooks/${endpoint.id}`);
    assert.equal(recovered.body.status, 'active');
    assert.equal(recovered.body.failingSince, null);
  });

  it('deliver › failing for longer than WEBHOOK_DISABLE_AFTER › endpoint disabled with an event, the delivery dead at once', async () => {
    const rx = await receiver();
    rx.respond(() => ({ status: 500 }));
    const dir = await makeDirectory(t.app);
    const endpoint = await endpointFor(dir, rx.url);
    await t.db.acrossTenants().exec(`UPDATE webhook_endpoints SET status = 'failing', failing_since = now() - interval '4 days' WHERE id = $1`, [endpoint.id]);
    const { deliveryId } = await eventWithDelivery(dir, endpoint.id);
    await enqueue(dir.tenantId, [{ deliveryId }]);
    const row = await until(deliveryId, 'dead');
    assert.equal(row.attempts, 1);
    const got = await api(`/admin/v1/tenants/${dir.tenantId}/webhooks/${endpoint.id}`);
    assert.equal(got.body.status, 'disabled');
    const events = await tenantEvents(dir.tenantId, 'webhook_endpoint.disabled');
    assert.equal(events.length, 1);
    assert.equal(events[0].directory_id, null);
  });

  it('deliver › a secret sealed under another key › nothing sent unsigned; each attempt logged with the reason, then a dead letter', async () => {
    const rx = await receiver();
    const dir = await makeDirectory(t.app);
    const endpoint = await endpointFor(dir, rx.url);
    await t.db.acrossTenants().exec(`UPDATE webhook_endpoints SET secret_ciphertext = '\\x01deadbeef'::bytea WHERE id = $1`, [endpoint.id]);
    const { deliveryId } = await eventWithDelivery(dir, endpoint.id);
    await enqueue(dir.tenantId, [{ deliveryId }]);
    await until(deliveryId, 'dead');
    const log = await attemptsOf(deliveryId);
    assert.equal(log.length, 3);
    assert.ok(log.every((a) => a.status_code === null && /WEBHOOK_ENCRYPTION_KEY/.test(a.error ?? '')));
    assert.equal(rx.requests.length, 0);
  });

  it("deliver › a job added without the contract's options › one attempt, then the delivery stays pending and due; requeued (as the sweeper does) it is retried until delivered", async () => {
    const rx = await receiver();
    rx.respond(() => (rx.requests.length < 3 ? { status: 502 } : { status: 200 }));
    const dir = await makeDirectory(t.app);
    const endpoint = await endpointFor(dir, rx.url);
    const { deliveryId } = await eventWithDelivery(dir, endpoint.id);
    await queue.add(DELIVER_JOB, { deliveryId, tenantId: dir.tenantId }, { jobId: deliveryId });
    for (let i = 0; i < 200 && (await queue.getJobState(deliveryId)) !== 'failed'; i++) await sleep(50);
    assert.equal(await queue.getJobState(deliveryId), 'failed', 'BullMQ gives up after its one attempt');
    const [row] = await t.db
      .acrossTenants()
      .query<{ status: string; attempts: number; due: boolean }>(
        'SELECT status, attempts, next_attempt_at IS NOT NULL AS due FROM webhook_deliveries WHERE id = $1',
        [deliveryId],
      );
    assert.deepEqual(row, { status: 'pending', attempts: 1, due: true }, 'PostgreSQL still knows the delivery is owed');

    const requeued = await requeueDeliveries(queue, [{ deliveryId, tenantId: dir.tenantId }]);
    assert.equal(requeued.added, 1, 'the failed job is replaced, not deduplicated away');
    await until(deliveryId, 'delivered');
    assert.deepEqual(
      (await attemptsOf(deliveryId)).map((a) => a.status_code),
      [502, 502, 200],
    );
  });

  it("deliver › a job naming another tenant's delivery › completes without a call", async () => {
    const rx = await receiver();
    const owner = await makeDirectory(t.app);
    const other = await makeDirectory(t.app);
    const endpoint = await endpointFor(owner, rx.url);
    const { deliveryId } = await eventWithDelivery(owner, endpoint.id);
    await queue.add(DELIVER_JOB, { deliveryId, tenantId: other.tenantId }, { jobId: `${deliveryId}-foreign` });
    for (let i = 0; i < 100 && !(await queue.getJob(`${deliveryId}-foreign`))?.finishedOn; i++) await sleep(50);
    assert.equal(await (await queue.getJob(`${deliveryId}-foreign`))?.getState(), 'completed');
    assert.equal(rx.requests.length, 0);
    assert.equal((await deliveryRow(deliveryId)).status, 'pending');
  });

  it('deliver › 120 deliveries of two tenants and 20 foreign jobs at once › read and logged in shared statements, each tenant kept to its own', async () => {
    const rx = await receiver();
    const a = await makeDirectory(t.app);
    const b = await makeDirectory(t.app);
    const endpointA = await endpointFor(a, rx.url);
    const endpointB = await endpointFor(b, rx.url);
    const ofA = await Promise.all(Array.from({ length: 60 }, () => eventWithDelivery(a, endpointA.id)));
    const ofB = await Promise.all(Array.from({ length: 60 }, () => eventWithDelivery(b, endpointB.id)));
    // Jobs naming A's deliveries as if they were B's, in the same moment as the real ones.
    const foreign = ofA
      .slice(0, 20)
      .map((d) => ({ name: DELIVER_JOB, data: { deliveryId: d.deliveryId, tenantId: b.tenantId }, opts: { jobId: `${d.deliveryId}-foreign` } }));
    await Promise.all([enqueue(a.tenantId, ofA), enqueue(b.tenantId, ofB), queue.addBulk(foreign)]);

    await rx.waitFor(120);
    for (const d of [...ofA, ...ofB]) await until(d.deliveryId, 'delivered');
    for (let i = 0; i < 100 && (await Promise.all(foreign.map((f) => queue.getJob(f.opts.jobId)))).some((j) => !j?.finishedOn); i++) await sleep(50);
    await sleep(200);
    const sent = ids(rx.requests);
    assert.equal(sent.length, 120, 'one call per delivery, none for a foreign job');
    assert.deepEqual(new Set(sent), new Set([...ofA, ...ofB].map((d) => d.eventId)));
    for (const request of rx.requests) {
      const body = JSON.parse(request.body) as { id: string; tenantId: string };
      const mine = ofA.some((d) => d.eventId === body.id) ? a.tenantId : b.tenantId;
      assert.equal(body.tenantId, mine);
    }
    const logged = await t.db
      .acrossTenants()
      .query<{ delivery_id: string; tenant_id: string; attempt: number }>(
        'SELECT delivery_id, tenant_id, attempt FROM webhook_attempts WHERE delivery_id = ANY ($1::uuid[])',
        [[...ofA, ...ofB].map((d) => d.deliveryId)],
      );
    assert.equal(logged.length, 120, 'one attempt logged per delivery');
    assert.ok(logged.every((l) => l.attempt === 1));
    assert.ok(logged.every((l) => l.tenant_id === (ofA.some((d) => d.deliveryId === l.delivery_id) ? a.tenantId : b.tenantId)));
  });

  it("deliver-batch › deliveries of two tenants and a pair naming another tenant's delivery › each called once within its event's trace and logged by the batch; nothing for the foreign pair, no job of their own", async () => {
    const rx = await receiver();
    const a = await makeDirectory(t.app);
    const b = await makeDirectory(t.app);
    const endpointA = await endpointFor(a, rx.url);
    const endpointB = await endpointFor(b, rx.url);
    const batchId = newId();
    const traceId = randomUUID().replace(/-/g, '');
    const traced = await eventWithDelivery(a, endpointA.id, { batchId, trace: { traceparent: `00-${traceId}-a1b2c3d4e5f60718-01` } });
    const ofA = [traced, ...(await Promise.all([1, 2].map(() => eventWithDelivery(a, endpointA.id, { batchId }))))];
    const ofB = await Promise.all([1, 2, 3].map(() => eventWithDelivery(b, endpointB.id, { batchId })));
    const pairs = [...ofA.map((d) => ({ ...d, tenantId: a.tenantId })), ...ofB.map((d) => ({ ...d, tenantId: b.tenantId }))];

    const job = await deliverBatch(batchId, [...pairs, { tenantId: b.tenantId, deliveryId: ofA[1].deliveryId }]);

    assert.equal(job.returnvalue, '6 delivered, 0 handed on');
    await sleep(200);
    assert.deepEqual(ids(rx.requests).sort(), pairs.map((d) => d.eventId).sort(), 'one call per delivery');
    for (const call of rx.requests) {
      const body = JSON.parse(call.body) as { id: string; tenantId: string };
      const endpoint = ofA.some((d) => d.eventId === body.id) ? endpointA : endpointB;
      assert.equal(body.tenantId, endpoint === endpointA ? a.tenantId : b.tenantId);
      assert.ok(new Webhook(endpoint.secret).verify(call.body, call.headers as Record<string, string>));
    }
    const tracedCall = rx.requests.find((r) => r.headers['webhook-id'] === traced.eventId);
    assert.equal(String(tracedCall?.headers.traceparent).split('-')[1], traceId, "the traced event's delivery continues its trace");
    for (const d of pairs) {
      assert.equal((await deliveryRow(d.deliveryId)).status, 'delivered');
      assert.deepEqual(
        (await attemptsOf(d.deliveryId)).map((x) => [x.attempt, x.status_code]),
        [[1, 200]],
      );
      assert.equal(await queue.getJob(d.deliveryId), undefined, 'delivered by the batch: no job of its own');
    }
  });

  it('deliver-batch › a receiver answering 503 beside one taking its delivery › the taken one delivered by the batch; the other goes on in its own job: the batch call logged as attempt 1 (never made twice), retried, then a dead letter', async () => {
    const ok = await receiver();
    const down = await receiver();
    down.respond(() => ({ status: 503, body: 'down' }));
    const dir = await makeDirectory(t.app);
    const good = await endpointFor(dir, ok.url);
    const bad = await endpointFor(dir, down.url);
    const batchId = newId();
    const taken = await eventWithDelivery(dir, good.id, { batchId });
    const refused = await eventWithDelivery(dir, bad.id, { batchId });

    const job = await deliverBatch(
      batchId,
      [taken, refused].map((d) => ({ tenantId: dir.tenantId, deliveryId: d.deliveryId })),
    );

    assert.equal(job.returnvalue, '1 delivered, 1 handed on');
    await until(taken.deliveryId, 'delivered');
    await until(refused.deliveryId, 'dead');
    await sleep(300);
    assert.equal(ok.requests.length, 1);
    assert.equal(down.requests.length, 3, 'three attempts in all, the batch call the first');
    assert.deepEqual(
      (await attemptsOf(refused.deliveryId)).map((x) => [x.attempt, x.status_code]),
      [
        [1, 503],
        [2, 503],
        [3, 503],
      ],
    );
    const own = await queue.getJob(refused.deliveryId);
    assert.equal(own?.name, DELIVER_JOB);
    assert.ok(own?.failedReason, 'its own job failed: the dead letter on the dashboard');
  });

  it("deliver-batch › an endpoint disabled after the relay stored its delivery › no call; a dead letter in the delivery's own failed job", async () => {
    const rx = await receiver();
    const dir = await makeDirectory(t.app);
    const endpoint = await endpointFor(dir, rx.url);
    const batchId = newId();
    const d = await eventWithDelivery(dir, endpoint.id, { batchId });
    await t.db.acrossTenants().exec(`UPDATE webhook_endpoints SET status = 'disabled' WHERE id = $1`, [endpoint.id]);

    const job = await deliverBatch(batchId, [{ tenantId: dir.tenantId, deliveryId: d.deliveryId }]);

    assert.equal(job.returnvalue, '0 delivered, 1 handed on');
    const row = await until(d.deliveryId, 'dead');
    assert.equal(row.last_error, 'endpoint disabled');
    for (let i = 0; i < 100 && !(await queue.getJob(d.deliveryId))?.failedReason; i++) await sleep(50);
    assert.equal((await queue.getJob(d.deliveryId))?.failedReason, 'endpoint disabled');
    assert.equal(rx.requests.length, 0);
  });

  it('deliver-batch › a never-tried delivery whose batch job waits, re-added as the sweeper and a replay do, and in its own job › left to the batch, which calls it once', async () => {
    const rx = await receiver();
    const dir = await makeDirectory(t.app);
    const endpoint = await endpointFor(dir, rx.url);
    const batchId = newId();
    const d = await eventWithDelivery(dir, endpoint.id, { batchId });
    const batch = { batchId, tenantIds: [dir.tenantId], deliveryIds: [d.deliveryId] };
    await queue.add(JOBS.webhookBatch.name, batch, { ...jobOptions(JOBS.webhookBatch, batch), delay: 700 });

    // The sweeper and a replay name the batch: the re-add leaves the delivery to it.
    assert.deepEqual(await requeueDeliveries(queue, [{ deliveryId: d.deliveryId, tenantId: dir.tenantId, batchId }]), { added: 0, promoted: 0, queued: 1 });
    // A job of its own all the same (a replay racing the relay's add): it finds the batch waiting.
    await enqueue(dir.tenantId, [d]);
    for (let i = 0; i < 100 && !(await queue.getJob(d.deliveryId))?.finishedOn; i++) await sleep(50);
    assert.equal((await queue.getJob(d.deliveryId))?.returnvalue, 'left to its batch');
    assert.equal(rx.requests.length, 0);

    await rx.waitFor(1);
    await until(d.deliveryId, 'delivered');
    await sleep(300);
    assert.equal(rx.requests.length, 1, 'called once, by the batch');
    assert.equal((await queue.getJob(batchJobId(batchId)))?.returnvalue, '1 delivered, 0 handed on');
  });

  it('deliver-batch › WEBHOOK_CONCURRENCY 2 and a batch of 6 to a slow receiver › never more than 2 calls in flight; all 6 delivered', async () => {
    const slottedPrefix = `${prefix}-slots`;
    const slottedQueue = createQueue(QUEUES.webhookDelivery, { connection: redis(), prefix: slottedPrefix });
    const slotted = await startWebhookDelivery({
      repos: t.repos,
      redis,
      logger,
      config: { ...workerConfig, WEBHOOK_CONCURRENCY: 2 },
      queuePrefix: slottedPrefix,
    });
    try {
      const rx = await receiver();
      let inFlight = 0;
      let most = 0;
      rx.respond(async () => {
        inFlight += 1;
        most = Math.max(most, inFlight);
        await sleep(100);
        inFlight -= 1;
        return { status: 204 };
      });
      const dir = await makeDirectory(t.app);
      const endpoint = await endpointFor(dir, rx.url);
      const batchId = newId();
      const six = await Promise.all(Array.from({ length: 6 }, () => eventWithDelivery(dir, endpoint.id, { batchId })));
      await enqueueBatches(slottedQueue, [{ batchId, tenantIds: six.map(() => dir.tenantId), deliveryIds: six.map((d) => d.deliveryId) }]);

      for (const d of six) await until(d.deliveryId, 'delivered');
      assert.equal(rx.requests.length, 6);
      assert.equal(most, 2, 'calls in flight at most');
    } finally {
      await slotted.close();
      await slottedQueue.obliterate({ force: true });
      await slottedQueue.close();
    }
  });

  it('POST webhooks/{id}/test › an endpoint filtered to user.created and failing, beside another › only it gets a webhook.test that standardwebhooks verifies; logged, and the endpoint active again', async () => {
    const tested = await receiver();
    const bystander = await receiver();
    const dir = await makeDirectory(t.app);
    const endpoint = await endpointFor(dir, tested.url, { events: ['user.created'] });
    await endpointFor(dir, bystander.url);
    await t.db.acrossTenants().exec(`UPDATE webhook_endpoints SET status = 'failing', failing_since = now() - interval '2 hours' WHERE id = $1`, [endpoint.id]);

    const sent = await asAdmin(request(t.app).post(`/admin/v1/tenants/${dir.tenantId}/webhooks/${endpoint.id}/test`)).expect(202);
    const [call] = await tested.waitFor(1);
    await until(sent.body.id, 'delivered');
    await sleep(300);

    const body = new Webhook(endpoint.secret).verify(call.body, call.headers as Record<string, string>) as Record<string, unknown>;
    assert.deepEqual(Object.keys(body).sort(), ['data', 'directoryId', 'id', 'tenantId', 'timestamp', 'type']);
    assert.equal(call.headers['webhook-id'], sent.body.eventId);
    assert.deepEqual(
      { id: body.id, type: body.type, tenantId: body.tenantId, directoryId: body.directoryId, webhookId: (body.data as { webhookId: string }).webhookId },
      { id: sent.body.eventId, type: 'webhook.test', tenantId: dir.tenantId, directoryId: null, webhookId: endpoint.id },
    );
    assert.ok(String((body.data as { message: string }).message).length > 0);
    assert.equal(tested.requests.length, 1);
    assert.equal(bystander.requests.length, 0);
    const logged = (await api(`/admin/v1/tenants/${dir.tenantId}/webhooks/${endpoint.id}/deliveries/${sent.body.id}`)).body;
    assert.deepEqual(
      logged.attempts.map((a: { attempt: number; statusCode: number }) => [a.attempt, a.statusCode]),
      [[1, 200]],
    );
    const health = (await api(`/admin/v1/tenants/${dir.tenantId}/webhooks/${endpoint.id}`)).body;
    assert.deepEqual([health.status, health.failingSince], ['active', null], 'a test is how an operator checks a fix');
  });

  it('POST webhooks/{id}/test › the receiver answering 503 once › retried on the schedule, each attempt logged; a replay sends it again under the same webhook-id', async () => {
    const rx = await receiver();
    rx.respond((req) => (rx.requests.indexOf(req) === 0 ? { status: 503, body: 'deploying' } : { status: 204 }));
    const dir = await makeDirectory(t.app);
    const endpoint = await endpointFor(dir, rx.url);
    const hook = `/admin/v1/tenants/${dir.tenantId}/webhooks/${endpoint.id}`;

    const sent = await asAdmin(request(t.app).post(`${hook}/test`)).expect(202);
    await until(sent.body.id, 'delivered');
    const logged = (await api(`${hook}/deliveries/${sent.body.id}`)).body;
    await asAdmin(request(t.app).post(`${hook}/deliveries/${sent.body.id}/replay`)).expect(202);
    const calls = await rx.waitFor(3);

    assert.deepEqual(
      logged.attempts.map((a: { attempt: number; statusCode: number; responseExcerpt: string | null }) => [a.attempt, a.statusCode, a.responseExcerpt]),
      [
        [1, 503, 'deploying'],
        [2, 204, null],
      ],
    );
    assert.deepEqual(ids(calls), [sent.body.eventId, sent.body.eventId, sent.body.eventId]);
    for (const c of calls)
      assert.equal((new Webhook(endpoint.secret).verify(c.body, c.headers as Record<string, string>) as { type: string }).type, 'webhook.test');
  });

  it('replay {after: cursor} › three delivered events › exactly the two after the cursor are sent again', async () => {
    const rx = await receiver();
    const dir = await makeDirectory(t.app);
    const endpoint = await endpointFor(dir, rx.url);
    const events = [await eventWithDelivery(dir, endpoint.id), await eventWithDelivery(dir, endpoint.id), await eventWithDelivery(dir, endpoint.id)];
    await enqueue(dir.tenantId, events);
    await rx.waitFor(3);
    let feed: { id: string; cursor: string }[] = [];
    for (let i = 0; i < 100 && feed.length < 3; i++) {
      feed = (await api(`/admin/v1/tenants/${dir.tenantId}/events`)).body.data;
      if (feed.length < 3) await sleep(50);
    }
    const cursor = feed.find((e) => e.id === events[0].eventId)!.cursor;
    for (const e of events) await until(e.deliveryId, 'delivered');

    await asAdmin(request(t.app).post(`/admin/v1/tenants/${dir.tenantId}/webhooks/${endpoint.id}/replay`))
      .send({ after: cursor })
      .expect(202);
    await rx.waitFor(5);
    await sleep(300);
    assert.deepEqual(ids(rx.requests.slice(3)).sort(), [events[1].eventId, events[2].eventId].sort());
  });
});
