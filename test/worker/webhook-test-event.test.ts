import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Queue } from 'bullmq';
import { Webhook } from 'standardwebhooks';
import request from 'supertest';
import { config, type Config } from '../../shared/config';
import { outboxPositionFor } from '../../shared/events/outbox-relay';
import { type WebhookDeliveryJob, QUEUES } from '../../shared/queue/catalog';
import { createQueue } from '../../shared/queue/queues';
import { startWorker } from '../../workers/main';
import { startOutboxRelay } from '../../workers/outbox-relay';
import { startWebhookDelivery } from '../../workers/webhook-delivery';
import { redisConnections } from '../support/connections';
import { makeTestApp, type TestApp } from '../support/app';
import { eventually } from '../support/eventually';
import { asAdmin, entraUser, makeDirectory, scimClient, type TestDirectory } from '../support/factories';
import { startReceiver, type Receiver, type ReceivedRequest } from '../support/receiver';

/** A short schedule (3 attempts in all), so a retry happens in well under a second. */
const workerConfig: Config = Object.freeze({ ...config, WEBHOOK_RETRY_SCHEDULE: '100ms,200ms', WEBHOOK_TIMEOUT_MS: 500 });

interface Body {
  id: string;
  type: string;
  timestamp: string;
  tenantId: string;
  directoryId: string | null;
  data: { message: string; webhookId: string };
}

describe('webhook.test › through the relay and the delivery worker to real receivers', () => {
  let t: TestApp;
  let queue: Queue<WebhookDeliveryJob>;
  let worker: Awaited<ReturnType<typeof startWorker>>;
  const connections = redisConnections();
  const receivers: Receiver[] = [];
  const prefix = `test-webhook-test-event-${process.pid}-${Date.now().toString(36)}`;

  before(async () => {
    queue = createQueue(QUEUES.webhookDelivery, { connection: connections.connect(), prefix });
    t = makeTestApp({ queues: { webhookDelivery: queue } });
    // The relay and the delivery worker as the worker process runs them, on this suite's prefix.
    worker = await startWorker({ db: t.db, redis: connections.connect, queuePrefix: prefix, config: workerConfig }, [startOutboxRelay, startWebhookDelivery]);
  });
  after(async () => {
    await worker.close();
    await t.db.acrossTenants().exec('DELETE FROM outbox_positions WHERE name = $1', [outboxPositionFor(prefix)]);
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
  const admin = {
    get: (path: string) => asAdmin(request(t.app).get(path)).expect(200),
    post: (path: string, status: number, body: object = {}) => asAdmin(request(t.app).post(path)).send(body).expect(status),
  };
  const hooks = (dir: TestDirectory) => `/admin/v1/tenants/${dir.tenantId}/webhooks`;
  async function endpointFor(dir: TestDirectory, url: string, body: object = {}) {
    return (await admin.post(hooks(dir), 201, { url, ...body })).body as { id: string; secret: string };
  }
  const verify = (secret: string, call: ReceivedRequest) => new Webhook(secret).verify(call.body, call.headers as Record<string, string>) as Body;
  const typeOf = (call: ReceivedRequest) => (JSON.parse(call.body) as Body).type;
  const deliveryOf = (dir: TestDirectory, endpointId: string, deliveryId: string) =>
    eventually(`delivery ${deliveryId} delivered`, async () => {
      const res = await admin.get(`${hooks(dir)}/${endpointId}/deliveries/${deliveryId}`);
      return res.body.status === 'delivered' ? res.body : undefined;
    });

  it('POST test › a tenant with two endpoints, the tested one failing and filtered to user.created › only it gets a webhook.test that standardwebhooks verifies, logged, and it is active again; the other gets the next write, never the test', async () => {
    const tested = await receiver();
    const bystander = await receiver();
    const dir = await makeDirectory(t.app);
    const endpoint = await endpointFor(dir, tested.url, { events: ['user.created'] });
    const other = await endpointFor(dir, bystander.url);
    await t.db.acrossTenants().exec(`UPDATE webhook_endpoints SET status = 'failing', failing_since = now() - interval '2 hours' WHERE id = $1`, [endpoint.id]);

    const sent = await admin.post(`${hooks(dir)}/${endpoint.id}/test`, 202);
    const [call] = await tested.waitFor(1);
    // A write after the test: once the other endpoint has it, the relay has passed the test event.
    await scimClient(t.app, dir.token).post('/Users', entraUser()).expect(201);
    await bystander.waitFor(1);

    const body = verify(endpoint.secret, call);
    assert.deepEqual(Object.keys(body).sort(), ['data', 'directoryId', 'id', 'tenantId', 'timestamp', 'type']);
    assert.equal(call.headers['webhook-id'], sent.body.eventId);
    assert.deepEqual(
      { id: body.id, type: body.type, tenantId: body.tenantId, directoryId: body.directoryId, webhookId: body.data.webhookId },
      { id: sent.body.eventId, type: 'webhook.test', tenantId: dir.tenantId, directoryId: null, webhookId: endpoint.id },
    );
    assert.ok(body.data.message.length > 0);
    assert.ok(Math.abs(Date.parse(body.timestamp) - Date.now()) < 60_000);
    // Not an exact count: a relay of another test file serves this tenant too, and may send the write twice.
    assert.ok(bystander.requests.every((r) => typeOf(r) === 'user.created'));
    verify(other.secret, bystander.requests[0]);

    const delivered = await deliveryOf(dir, endpoint.id, sent.body.id);
    assert.deepEqual(
      delivered.attempts.map((a: { attempt: number; statusCode: number }) => [a.attempt, a.statusCode]),
      [[1, 200]],
    );
    const health = (await admin.get(`${hooks(dir)}/${endpoint.id}`)).body;
    assert.deepEqual([health.status, health.failingSince], ['active', null]);
    const otherLog = (await admin.get(`${hooks(dir)}/${other.id}/deliveries`)).body.data;
    assert.deepEqual(
      otherLog.map((d: { eventType: string }) => d.eventType),
      ['user.created'],
      'one delivery per (endpoint, event), whoever relays it',
    );
  });

  it('POST test › the receiver answering 503 once › retried on the schedule, each attempt in the log; a replay sends it again under the same webhook-id', async () => {
    const rx = await receiver();
    rx.respond((req) => (rx.requests.indexOf(req) === 0 ? { status: 503, body: 'deploying' } : { status: 204 }));
    const dir = await makeDirectory(t.app);
    const endpoint = await endpointFor(dir, rx.url);

    const sent = await admin.post(`${hooks(dir)}/${endpoint.id}/test`, 202);
    const delivered = await deliveryOf(dir, endpoint.id, sent.body.id);

    assert.deepEqual(
      delivered.attempts.map((a: { attempt: number; statusCode: number; responseExcerpt: string | null }) => [a.attempt, a.statusCode, a.responseExcerpt]),
      [
        [1, 503, 'deploying'],
        [2, 204, null],
      ],
    );
    await admin.post(`${hooks(dir)}/${endpoint.id}/deliveries/${sent.body.id}/replay`, 202);
    const calls = await rx.waitFor(3);
    assert.deepEqual(
      calls.map((c) => c.headers['webhook-id']),
      [sent.body.eventId, sent.body.eventId, sent.body.eventId],
    );
    for (const c of calls) assert.equal(verify(endpoint.secret, c).type, 'webhook.test');
  });
});
