/**
 * The queue dashboard while Redis is down: bull-board's calls would wait in ioredis's offline
 * queue for minutes, so the dashboard answers 503 at once instead (a page for the browser, a
 * SCIM error for scripts), and works again once Redis is back. Redis here is a private
 * redis-server killed on purpose; the shared one is never touched.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { QUEUES } from '../../shared/queue/catalog';
import { createQueue } from '../../shared/queue/queues';
import { createRedis } from '../../shared/queue/redis';
import { ADMIN_TOKEN, makeTestApp, type TestApp } from '../support/app';
import { asAdmin } from '../support/factories';
import { startPrivateRedis, type PrivateRedis } from '../support/redis';

/** "At once": well under the minutes it took before, with room for a loaded test machine. */
const PROMPT_MS = 2_500;

describe('queue dashboard › Redis down', () => {
  let redis: PrivateRedis;
  let connection: ReturnType<typeof createRedis>;
  let queue: ReturnType<typeof createQueue<typeof QUEUES.webhookDelivery>>;
  let t: TestApp;
  let session: string;

  before(async () => {
    redis = await startPrivateRedis();
    connection = createRedis(redis.url);
    connection.on('error', () => undefined);
    queue = createQueue(QUEUES.webhookDelivery, { connection, prefix: `board-down-${process.pid}` });
    await queue.waitUntilReady();
    t = makeTestApp({ queues: { webhookDelivery: queue } });
    const login = await request(t.app).post('/admin/session').send({ token: ADMIN_TOKEN }).expect(201);
    session = (login.headers['set-cookie'] as unknown as string[])[0].split(';')[0];
  });
  after(async () => {
    await redis.close();
    await queue.close().catch(() => undefined);
    connection.disconnect();
    await t.close();
  });

  it('GET /admin/queues/api/queues › Redis up › 200', async () => {
    await asAdmin(request(t.app).get('/admin/queues/api/queues')).timeout(5_000).expect(200);
  });

  it('GET /admin/queues/ › Redis killed, browser signed in › 503 page at once, saying provisioning is unaffected', async () => {
    await redis.stop();
    const started = Date.now();
    const res = await request(t.app)
      .get('/admin/queues/')
      .set('Accept', 'text/html')
      .set('Cookie', session)
      .timeout(PROMPT_MS + 2_000);
    assert.equal(res.status, 503);
    assert.ok(Date.now() - started < PROMPT_MS, `answered after ${Date.now() - started} ms`);
    assert.match(res.headers['content-type'], /text\/html/);
    assert.match(res.text, /Redis/);
    assert.match(res.headers['content-security-policy'] ?? '', /frame-ancestors 'none'/);
    assert.equal(res.headers['cache-control'], 'no-store');
  });

  it('GET /admin/queues/api/queues › Redis killed, script with the admin token › 503 SCIM error at once', async () => {
    const started = Date.now();
    const res = await asAdmin(request(t.app).get('/admin/queues/api/queues')).timeout(PROMPT_MS + 2_000);
    assert.equal(res.status, 503);
    assert.ok(Date.now() - started < PROMPT_MS, `answered after ${Date.now() - started} ms`);
    assert.deepEqual(res.body.schemas, ['urn:ietf:params:scim:api:messages:2.0:Error']);
    assert.equal(res.headers['retry-after'], '10');
  });

  it('GET /admin/queues/ › Redis killed, no session › still sent to the sign-in (303), which needs no Redis', async () => {
    await request(t.app).get('/admin/queues/').set('Accept', 'text/html').timeout(PROMPT_MS).expect(303);
  });

  it('GET /admin/queues/api/queues › Redis back (empty) › 200 again', async () => {
    await redis.start();
    const deadline = Date.now() + 10_000;
    let status = 0;
    while (Date.now() < deadline) {
      status = (await asAdmin(request(t.app).get('/admin/queues/api/queues')).timeout(5_000)).status;
      if (status === 200) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(status, 200);
  });
});
