import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { Client } from 'pg';
import pino from 'pino';
import request from 'supertest';
import { config, type Config } from '../../shared/config';
import { createDatabase, type Database } from '../../shared/db/sequelize';
import { type DeliveryQueue, QUEUES } from '../../shared/queue/catalog';
import { createQueue } from '../../shared/queue/queues';
import type { Logger } from '../../shared/telemetry/logger';
import { parseRetrySchedule } from '../../shared/webhooks/retry-schedule';
import { startJobSweeper } from '../../workers/job-sweeper';
import { startWorker } from '../../workers/main';
import { startOutboxRelay } from '../../workers/outbox-relay';
import { startWebhookDelivery } from '../../workers/webhook-delivery';
import { makeTestApp, type TestApp } from '../support/app';
import { redisConnections } from '../support/connections';
import { eventually } from '../support/eventually';
import { asAdmin, entraUser, makeDirectory, scimClient } from '../support/factories';
import { createPrivateDatabase, type PrivateDatabase } from '../support/private-database';
import { startReceiver, type Receiver } from '../support/receiver';

/**
 * The retry schedule bounds a delivery's calls, whatever else may run it again: here two worker
 * processes share one queue, each with its relay and a sweeper that looks every few
 * milliseconds for deliveries overdue by one, so the sweeps race every retry's delayed job (and
 * promote it, or find it running). On a database of its own: the sweeper and the relay read
 * every tenant's rows, and on the shared one they would run the deliveries of suites beside it.
 */
const SCHEDULE = '30ms,60ms';
const ATTEMPTS = parseRetrySchedule(SCHEDULE).attempts;
const workerConfig: Config = Object.freeze({
  ...config,
  WEBHOOK_RETRY_SCHEDULE: SCHEDULE,
  WEBHOOK_TIMEOUT_MS: 1000,
  JOB_OVERDUE_AFTER: '1ms',
  JOB_SWEEP_INTERVAL: '5ms',
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The workers' log lines, read back to see what the sweepers did. */
function capturedLogger(): { logger: Logger; lines: () => Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const logger = pino({ level: 'debug', base: undefined }, stream) as unknown as Logger;
  return { logger, lines: () => lines };
}

interface Attempt {
  readonly attempt: number;
  readonly statusCode: number | null;
}
interface Delivery {
  readonly id: string;
  readonly eventId: string;
  readonly status: string;
  readonly attemptCount: number;
  readonly nextAttemptAt: string | null;
}

describe('delivery attempts under racing sweeps and two workers', () => {
  let database: PrivateDatabase;
  let db: Database;
  let t: TestApp;
  let queue: DeliveryQueue;
  let receiver: Receiver;
  const workers: { close(): Promise<void> }[] = [];
  const connections = redisConnections();
  const log = capturedLogger();
  const prefix = `test-delivery-attempts-${process.pid}-${Date.now().toString(36)}`;

  before(async () => {
    database = await createPrivateDatabase('attempts');
    db = createDatabase({ url: database.url, poolMax: 5 });
    queue = createQueue(QUEUES.webhookDelivery, { connection: connections.connect(), prefix });
    t = makeTestApp({ db, queues: { webhookDelivery: queue } });
    // A receiver that is down, answering a little late so sweeps also find attempts in flight.
    receiver = await startReceiver();
    receiver.respond(async () => {
      await sleep(Math.random() * 20);
      return { status: 500, body: 'receiver is down' };
    });
    for (let i = 0; i < 2; i++) {
      const worker = await startWorker({ db, redis: connections.connect, queuePrefix: prefix, config: workerConfig, logger: log.logger }, [
        startOutboxRelay,
        startWebhookDelivery,
        startJobSweeper,
      ]);
      workers.push(worker);
    }
  });
  after(async () => {
    for (const w of workers) await w.close();
    // The sweepers opened every queue on the prefix; none keeps a key.
    for (const name of [QUEUES.auditExport, QUEUES.groupReconcile]) {
      const other = createQueue(name, { connection: connections.connect(), prefix });
      await other.obliterate({ force: true }).catch(() => undefined);
      await other.close();
    }
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
    connections.disconnectAll();
    await receiver.close();
    await t.close();
    await database.drop();
  });

  /** A tenant whose endpoint (at the failing receiver) gets one user.created per user created. */
  async function failingDeliveries(users: number) {
    const dir = await makeDirectory(t.app);
    const endpoint = await asAdmin(request(t.app).post(`/admin/v1/tenants/${dir.tenantId}/webhooks`))
      .send({ url: receiver.url, events: ['user.created'] })
      .expect(201);
    const scim = scimClient(t.app, dir.token);
    for (let i = 0; i < users; i++) await scim.post('/Users', entraUser()).expect(201);
    const base = `/admin/v1/tenants/${dir.tenantId}/webhooks/${endpoint.body.id}/deliveries`;
    const list = async (): Promise<Delivery[]> => (await asAdmin(request(t.app).get(`${base}?limit=1000`)).expect(200)).body.data;
    const deliveries = await eventually(
      `${users} dead deliveries`,
      async () => {
        const all = await list();
        return all.length === users && all.every((d) => d.status === 'dead') ? all : undefined;
      },
      60_000,
    );
    // Sweeps go on meanwhile: a dead delivery must not be tried again, nor a late run logged.
    await sleep(300);
    const details = await Promise.all(
      deliveries.map(async (d) => (await asAdmin(request(t.app).get(`${base}/${d.id}`)).expect(200)).body as Delivery & { attempts: Attempt[] }),
    );
    return { details, tenantId: dir.tenantId, base };
  }

  /** Jobs the sweepers promoted, added, or found still queued or running, over the suite so far. */
  function sweeps(): { promoted: number; added: number; queued: number } {
    const total = { promoted: 0, added: 0, queued: 0 };
    for (const l of log.lines()) {
      if (l.component !== 'job-sweeper' || l.queue !== QUEUES.webhookDelivery) continue;
      total.promoted += Number(l.promoted ?? 0);
      total.added += Number(l.added ?? 0);
      total.queued += Number(l.queued ?? 0);
    }
    return total;
  }

  it('a delivery that always fails › gets 1 + retries attempts, numbered 1..n once each, then is dead', async () => {
    const { details } = await failingDeliveries(20);

    // The sweeps did race the retries: they promoted delayed retries, or found them running.
    const swept = sweeps();
    assert.ok(swept.promoted > 0 && swept.queued > 0, `sweeps: ${JSON.stringify(swept)}`);
    for (const d of details) {
      assert.equal(d.status, 'dead', d.id);
      assert.equal(d.attemptCount, ATTEMPTS, `delivery ${d.id}: ${d.attemptCount} attempts`);
      assert.equal(d.nextAttemptAt, null, d.id);
      assert.deepEqual(
        d.attempts.map((a) => a.attempt),
        Array.from({ length: ATTEMPTS }, (_, i) => i + 1),
        `delivery ${d.id}: attempts ${d.attempts.map((a) => a.attempt).join(',')}`,
      );
      assert.ok(
        d.attempts.every((a) => a.statusCode === 500),
        d.id,
      );
    }
  });

  it('two workers on one queue › each attempt is one call to the receiver, never two', async () => {
    const { details } = await failingDeliveries(20);

    const calls = new Map<string, number>();
    for (const r of receiver.requests) {
      const id = String(r.headers['webhook-id']);
      calls.set(id, (calls.get(id) ?? 0) + 1);
    }
    for (const d of details) assert.equal(calls.get(d.eventId), ATTEMPTS, `event ${d.eventId}: ${calls.get(d.eventId)} calls`);
  });

  it('a run that overlapped another (a stalled job run twice) › is logged, but never moves a dead delivery back to pending nor a delivered one back at all', async () => {
    const { details, tenantId, base } = await failingDeliveries(1);
    const [dead] = details;
    const webhooks = t.repos.forTenant(tenantId as never).webhooks;
    const late = { startedAt: new Date(), durationMs: 3, statusCode: 500, error: 'receiver answered 500' };

    const attempt = await webhooks.recordAttempt(dead.id, late, { status: 'pending', nextAttemptAt: new Date(Date.now() + 60_000) });

    assert.equal(attempt, ATTEMPTS + 1, 'the extra call is in the log');
    const after = (await asAdmin(request(t.app).get(`${base}/${dead.id}`)).expect(200)).body;
    assert.equal(after.status, 'dead');
    assert.equal(after.nextAttemptAt, null);

    // A late success still counts (the receiver has the event); after it, nothing moves it back.
    await webhooks.recordAttempt(dead.id, { ...late, statusCode: 200, error: undefined }, { status: 'delivered' });
    await webhooks.recordAttempt(dead.id, late, { status: 'dead' });
    const final = (await asAdmin(request(t.app).get(`${base}/${dead.id}`)).expect(200)).body;
    assert.equal(final.status, 'delivered');
    assert.equal(final.attemptCount, ATTEMPTS + 3);
  });

  it('a late failure recorded while another run commits a success on the same row › waits for it, then keeps it delivered', async () => {
    const { details, tenantId, base } = await failingDeliveries(1);
    const [dead] = details;
    const webhooks = t.repos.forTenant(tenantId as never).webhooks;
    // The other run: its success is written and holds the row until it commits.
    const other = new Client({ connectionString: database.url });
    await other.connect();
    try {
      await other.query('BEGIN');
      await other.query(`UPDATE webhook_deliveries SET status = 'delivered', delivered_at = now() WHERE id = $1`, [dead.id]);
      const late = { startedAt: new Date(), durationMs: 3, statusCode: 500, error: 'receiver answered 500' };
      const recorded = webhooks.recordAttempt(dead.id, late, { status: 'pending', nextAttemptAt: new Date(Date.now() + 60_000) });
      await eventually('the late record waiting for the row', async () => {
        // Inside a transaction PostgreSQL keeps the first look at pg_stat_activity until it ends:
        // without a fresh one, a first poll made before the wait began would be seen forever.
        await other.query('SELECT pg_stat_clear_snapshot()');
        const { rows } = await other.query(
          `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event = 'transactionid' AND query LIKE '%webhook_deliveries%'`,
        );
        return rows.length > 0 ? true : undefined;
      });
      await other.query('COMMIT');

      assert.equal(await recorded, ATTEMPTS + 1, 'the late call is logged');
    } finally {
      await other.end();
    }
    const after = (await asAdmin(request(t.app).get(`${base}/${dead.id}`)).expect(200)).body;
    assert.equal(after.status, 'delivered', 'decided on the row as committed, not as it was when the statement began');
    assert.equal(after.nextAttemptAt, null);
  });
});
