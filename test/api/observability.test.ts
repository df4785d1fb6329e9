import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import pino from 'pino';
import request from 'supertest';
import type { Queue } from 'bullmq';
import { config } from '../../shared/config';
import { repositoriesFor } from '../../shared/db/repositories';
import { createDatabase } from '../../shared/db/sequelize';
import { QUEUES } from '../../shared/queue/catalog';
import { createQueue } from '../../shared/queue/queues';
import { createRedis } from '../../shared/queue/redis';
import type { Logger } from '../../shared/telemetry/logger';
import { watchOutbox } from '../../shared/events/metrics';
import { watchQueues } from '../../shared/queue/metrics';
import { METRICS } from '../../shared/telemetry/metrics';
import { ADMIN_TOKEN, makeTestApp, type TestApp } from '../support/app';
import { asAdmin, entraUser, makeDirectory, scimClient, type TestDirectory } from '../support/factories';
import { freePort } from '../support/redis';

/** The value of one sample in Prometheus text format, or undefined when the series is absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => found[k] === v)) return Number(match[3]);
  }
  return undefined;
}

/** A JSON logger whose lines the test can read. */
function capturedLogger(): { logger: Logger; lines: () => Array<Record<string, unknown>> } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      chunks.push(String(chunk));
      done();
    },
  });
  const logger = pino({ level: 'debug', base: undefined, formatters: { level: (label) => ({ level: label }) } }, stream) as unknown as Logger;
  return {
    logger,
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

describe('observability › health, readiness, metrics, request ids', () => {
  let t: TestApp;
  let dir: TestDirectory;
  const redis = createRedis(config.REDIS_URL);
  const captured = capturedLogger();
  before(async () => {
    t = makeTestApp({ redis, logger: captured.logger });
    dir = await makeDirectory(t.app);
  });
  after(async () => {
    await t.close();
    redis.disconnect();
  });

  it('GET /healthz › dependencies not consulted › 200 ok without auth', async () => {
    const res = await request(t.app).get('/healthz').expect(200);
    assert.deepEqual(res.body, { status: 'ok' });
  });

  it('GET /readyz › PostgreSQL and Redis answer › 200 with both checks ok', async () => {
    const res = await request(t.app).get('/readyz').expect(200);
    assert.deepEqual(res.body, { status: 'ready', checks: { postgres: 'ok', redis: 'ok' } });
  });

  it('GET /readyz › Redis does not answer › 200 degraded, naming redis: SCIM needs only PostgreSQL', async () => {
    const deadRedis = createRedis(`redis://127.0.0.1:${await freePort()}`);
    deadRedis.on('error', () => {});
    const app = makeTestApp({ redis: deadRedis });
    try {
      const started = Date.now();
      const res = await request(app.app).get('/readyz').expect(200);
      assert.equal(res.body.status, 'degraded');
      assert.equal(res.body.checks.postgres, 'ok');
      assert.notEqual(res.body.checks.redis, 'ok');
      assert.ok(Date.now() - started < 3_000, 'the probe is bounded by its short timeout');
    } finally {
      deadRedis.disconnect();
      await app.close();
    }
  });

  it('GET /readyz › PostgreSQL pool closed › 503 naming postgres', async () => {
    const closedDb = createDatabase({ poolMax: 1 });
    await closedDb.close();
    const app = makeTestApp({ db: closedDb, redis });
    try {
      const res = await request(app.app).get('/readyz').expect(503);
      assert.equal(res.body.checks.postgres, 'failed');
      assert.equal(res.body.checks.redis, 'ok');
    } finally {
      await app.close();
    }
  });

  it('x-request-id › a sane incoming id › echoed in the response and carried by the log line', async () => {
    const res = await request(t.app).get(`/no-such-endpoint-${randomUUID()}`).set('x-request-id', 'edge-7f3a.b1:42').expect(404);
    assert.equal(res.headers['x-request-id'], 'edge-7f3a.b1:42');
    const line = captured.lines().find((l) => l.request_id === 'edge-7f3a.b1:42' && l.msg === 'request');
    assert.ok(line, 'a request line carries the request id');
    assert.equal(line.level, 'info', '4xx log at info');
    assert.equal(line.status, 404);
    assert.equal(line.route, 'unmatched');
  });

  it('x-request-id › absent › a fresh UUID is returned', async () => {
    const res = await request(t.app).get('/healthz').expect(200);
    assert.match(res.headers['x-request-id'], /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  });

  for (const [situation, value] of [
    ['with spaces and quotes', 'a b "c"'],
    ['longer than 128 characters', 'x'.repeat(129)],
  ] as const) {
    it(`x-request-id › ${situation} › replaced by a generated id`, async () => {
      const res = await request(t.app).get('/healthz').set('x-request-id', value).expect(200);
      assert.notEqual(res.headers['x-request-id'], value);
      assert.match(res.headers['x-request-id'], /^[0-9a-f-]{36}$/);
    });
  }

  it('request log › a 5xx (database gone) › logged at error with the request id', async () => {
    const { logger, lines } = capturedLogger();
    const closedDb = createDatabase({ poolMax: 1 });
    await closedDb.close();
    const app = makeTestApp({ db: closedDb, logger });
    try {
      await request(app.app).get('/scim/v2/Users').set('Authorization', `Bearer ${dir.token}`).set('x-request-id', 'five-hundred').expect(500);
      const line = lines().find((l) => l.msg === 'request' && l.request_id === 'five-hundred');
      assert.ok(line);
      assert.equal(line.level, 'error');
      assert.equal(line.status, 500);
    } finally {
      await app.close();
    }
  });

  it('GET /metrics › after SCIM requests › counted by route template, never by raw id', async () => {
    const scim = scimClient(t.app, dir.token);
    const before =
      sample((await request(t.app).get('/metrics').expect(200)).text, METRICS.httpRequests, { method: 'GET', route: '/scim/v2/Users/:id', status: '4xx' }) ?? 0;
    const missingId = randomUUID();
    await scim.get(`/Users/${missingId}`).expect(404);
    await scim.post('/Users', entraUser()).expect(201);
    await request(t.app).get(`/unknown/${missingId}`).expect(404);

    const res = await request(t.app).get('/metrics').expect(200);
    assert.match(res.headers['content-type'], /^text\/plain; version=0\.0\.4/);
    // The 404 left the router through the error handler: the template must still be whole.
    assert.equal(sample(res.text, METRICS.httpRequests, { method: 'GET', route: '/scim/v2/Users/:id', status: '4xx' }), before + 1);
    assert.ok((sample(res.text, METRICS.httpRequests, { method: 'POST', route: '/scim/v2/Users/', status: '2xx' }) ?? 0) >= 1);
    assert.ok((sample(res.text, METRICS.httpRequests, { method: 'GET', route: 'unmatched', status: '4xx' }) ?? 0) >= 1);
    assert.ok((sample(res.text, `${METRICS.httpDuration}_count`, { method: 'POST', route: '/scim/v2/Users/', status: '2xx' }) ?? 0) >= 1);
    assert.ok(!res.text.includes(missingId), 'no raw id in any label');
    assert.ok(!res.text.includes(dir.tenantId) && !res.text.includes(dir.directoryId), 'no tenant or directory in any label');
  });

  it('GET /metrics › a client-invented HTTP method › folded into OTHER', async () => {
    await request(t.app).propfind('/healthz');
    const text = (await request(t.app).get('/metrics').expect(200)).text;
    assert.ok((sample(text, METRICS.httpRequests, { method: 'OTHER' }) ?? 0) >= 1);
    assert.equal(sample(text, METRICS.httpRequests, { method: 'PROPFIND' }), undefined);
  });

  it('GET /metrics › outbox watched › backlog and oldest age reported', async () => {
    const unwatch = watchOutbox(t.repos.operator);
    try {
      await scimClient(t.app, dir.token).post('/Users', entraUser()).expect(201);
      const text = (await request(t.app).get('/metrics').expect(200)).text;
      const backlog = sample(text, METRICS.outboxBacklog);
      assert.ok(backlog !== undefined && Number.isInteger(backlog) && backlog >= 0);
      const oldest = sample(text, METRICS.outboxOldest);
      assert.ok(oldest !== undefined && oldest >= 0);
    } finally {
      unwatch();
    }
  });

  it('GET /metrics › outbox unreadable › series absent and a collect error counted, scrape still 200', async () => {
    const closedDb = createDatabase({ poolMax: 1 });
    await closedDb.close();
    const unwatch = watchOutbox(repositoriesFor(closedDb, config).operator);
    try {
      const errorsBefore = sample((await request(t.app).get('/metrics')).text, METRICS.collectErrors, { source: 'outbox' }) ?? 0;
      const text = (await request(t.app).get('/metrics').expect(200)).text;
      assert.equal(sample(text, METRICS.outboxBacklog), undefined);
      assert.equal(sample(text, METRICS.collectErrors, { source: 'outbox' }), errorsBefore + 1);
    } finally {
      unwatch();
    }
  });
});

describe('observability › queue depth metrics', () => {
  const prefix = `obs-metrics-${process.pid}-${Date.now().toString(36)}`;
  const connection = createRedis(config.REDIS_URL);
  let queue: Queue;
  let t: TestApp;
  before(() => {
    t = makeTestApp();
    queue = createQueue(QUEUES.auditExport, { connection, prefix });
  });
  after(async () => {
    await queue.obliterate({ force: true });
    await queue.close();
    connection.disconnect();
    await t.close();
  });

  it('GET /metrics › jobs waiting and delayed › depth by state and the oldest waiting age', async () => {
    await queue.add('export', { exportId: randomUUID(), tenantId: randomUUID() });
    await queue.add('export', { exportId: randomUUID(), tenantId: randomUUID() });
    await queue.add('export', { exportId: randomUUID(), tenantId: randomUUID() }, { delay: 60_000 });
    await new Promise((r) => setTimeout(r, 1_100));
    const unwatch = watchQueues([queue]);
    try {
      const text = (await request(t.app).get('/metrics').expect(200)).text;
      assert.equal(sample(text, METRICS.queueJobs, { queue: QUEUES.auditExport, state: 'waiting' }), 2);
      assert.equal(sample(text, METRICS.queueJobs, { queue: QUEUES.auditExport, state: 'delayed' }), 1);
      assert.equal(sample(text, METRICS.queueJobs, { queue: QUEUES.auditExport, state: 'active' }), 0);
      const age = sample(text, METRICS.queueOldestWaiting, { queue: QUEUES.auditExport });
      assert.ok(age !== undefined && age >= 1 && age < 30, `oldest waiting age ${age}`);
    } finally {
      unwatch();
    }
  });

  it('GET /metrics › Redis unreachable › queue series absent, collect error counted, answered within the bound', async () => {
    const dead = createRedis(`redis://127.0.0.1:${await freePort()}`);
    dead.on('error', () => {});
    const deadQueue = createQueue(QUEUES.auditExport, { connection: dead, prefix });
    const unwatch = watchQueues([deadQueue]);
    try {
      const errorsBefore = sample((await request(t.app).get('/metrics')).text, METRICS.collectErrors, { source: 'queues' }) ?? 0;
      const started = Date.now();
      const text = (await request(t.app).get('/metrics').expect(200)).text;
      assert.ok(Date.now() - started < 4_000);
      assert.equal(sample(text, METRICS.queueJobs, { queue: QUEUES.auditExport, state: 'waiting' }), undefined);
      assert.equal(sample(text, METRICS.collectErrors, { source: 'queues' }), errorsBefore + 1);
    } finally {
      unwatch();
      dead.disconnect();
      await deadQueue.close();
    }
  });
});

describe('observability › /admin/queues dashboard', () => {
  const prefix = `obs-board-${process.pid}-${Date.now().toString(36)}`;
  const connection = createRedis(config.REDIS_URL);
  const queues = {
    webhookDelivery: createQueue(QUEUES.webhookDelivery, { connection, prefix }),
    groupReconcile: createQueue(QUEUES.groupReconcile, { connection, prefix }),
    auditExport: createQueue(QUEUES.auditExport, { connection, prefix }),
  };
  let t: TestApp;
  before(() => {
    t = makeTestApp({ queues });
  });
  after(async () => {
    await Promise.all(Object.values(queues).map((q) => q.close()));
    connection.disconnect();
    await t.close();
  });

  it('GET /admin/queues/api/queues › no credentials › 401 with WWW-Authenticate Bearer', async () => {
    const res = await request(t.app).get('/admin/queues/api/queues').expect(401);
    assert.match(res.headers['www-authenticate'], /^Bearer realm="admin"/);
  });

  it('GET /admin/queues/api/queues › wrong bearer token › 401', async () => {
    await request(t.app).get('/admin/queues/api/queues').set('Authorization', 'Bearer not-the-admin-token-at-all').expect(401);
  });

  it('GET /admin/queues/api/queues › admin bearer token › every queue in QUEUES listed', async () => {
    const res = await asAdmin(request(t.app).get('/admin/queues/api/queues')).expect(200);
    const names = (res.body.queues as Array<{ name: string }>).map((q) => q.name).sort();
    assert.deepEqual(names, Object.values(QUEUES).sort());
  });

  it("GET /admin/queues/ › a browser without a session › sent to the console's sign-in, which returns it here", async () => {
    const res = await request(t.app).get('/admin/queues/').set('Accept', 'text/html').expect(303);
    assert.equal(res.headers.location, '/admin/console/?next=%2Fadmin%2Fqueues%2F');
  });

  it('POST /admin/session › wrong token › 401 and no cookie', async () => {
    const res = await request(t.app).post('/admin/session').send({ token: 'wrong-token-0123456789' }).expect(401);
    assert.equal(res.headers['set-cookie'], undefined);
  });

  it('POST /admin/session › admin token › HttpOnly SameSite=Strict cookie on the operator pages opens the dashboard', async () => {
    const res = await request(t.app).post('/admin/session').send({ token: ADMIN_TOKEN }).expect(201);
    const cookie = (res.headers['set-cookie'] as unknown as string[])[0];
    assert.match(cookie, /; Path=\/admin(;|$)/);
    assert.match(cookie, /; HttpOnly(;|$)/);
    assert.match(cookie, /; SameSite=Strict(;|$)/);
    assert.match(cookie, /; Secure(;|$)/, 'PUBLIC_BASE_URL is https in tests');
    assert.ok(!cookie.includes(ADMIN_TOKEN), 'the cookie is not the token');
    const session = cookie.split(';')[0];

    const page = await request(t.app).get('/admin/queues/').set('Accept', 'text/html').set('Cookie', session).expect(200);
    assert.match(page.headers['content-type'], /text\/html/);
    await request(t.app).get('/admin/queues/api/queues').set('Cookie', session).expect(200);
    // The page's scripts (relative to <base href="/admin/queues/">) load with the same session.
    const script = /src="(static\/js\/[^"]+\.js)"/.exec(page.text)?.[1];
    assert.ok(script, 'the dashboard page references its scripts');
    await request(t.app).get(`/admin/queues/${script}`).set('Cookie', session).expect(200);
    await request(t.app).get(`/admin/queues/${script}`).expect(401);
  });

  it('GET /admin/queues/api/queues › tampered or expired session cookie › 401', async () => {
    const res = await request(t.app).post('/admin/session').send({ token: ADMIN_TOKEN }).expect(201);
    const [name, value] = (res.headers['set-cookie'] as unknown as string[])[0].split(';')[0].split('=');
    const [expires, nonce, mac] = value.split('.');
    const longer = `${name}=${Number(expires) + 86_400}.${nonce}.${mac}`;
    const expired = `${name}=${Math.floor(Date.now() / 1000) - 10}.${nonce}.${mac}`;
    await request(t.app).get('/admin/queues/api/queues').set('Cookie', longer).expect(401);
    await request(t.app).get('/admin/queues/api/queues').set('Cookie', expired).expect(401);
  });

  it('PUT /admin/queues/api/queues/:name/pause › admin › refused: the dashboard is read-only', async () => {
    const res = await asAdmin(request(t.app).put(`/admin/queues/api/queues/${QUEUES.webhookDelivery}/pause`));
    assert.equal(res.status, 405);
    assert.equal(await queues.webhookDelivery.isPaused(), false);
  });
});
