import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { Writable } from 'node:stream';
import pino from 'pino';
import request from 'supertest';
import type { App } from 'supertest/types';
import { limiterRedis } from '../../services/api/middleware/rate-limit';
import { config } from '../../shared/config';
import { logger, type Logger } from '../../shared/telemetry/logger';
import { makeTestApp, type TestApp } from '../support/app';
import { asAdmin, entraUser, makeDirectory, scimClient, type TestDirectory } from '../support/factories';
import { startPrivateRedis, type PrivateRedis } from '../support/redis';

const ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';
/** Counters of this run only, on the shared Redis (they expire within 10 s anyway). */
const keyPrefix = `scim-test:rl:${process.pid}:${Date.now()}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const setLimit = (app: App, dir: TestDirectory, rateLimit: unknown) =>
  asAdmin(request(app).patch(`/admin/v1/directories/${dir.directoryId}`)).send({ rateLimit });

/** Sends n list requests at once and returns their statuses in order. */
async function burst(app: App, token: string, n: number): Promise<number[]> {
  const responses = await Promise.all(Array.from({ length: n }, () => scimClient(app, token).get('/Users?count=1')));
  return responses.map((r) => r.status).sort();
}

/** Waits until the one-second window that ended a test's burst is over. */
const nextWindow = () => sleep(1_100);

describe('rate limits › per directory, counted in Redis', () => {
  const redis = limiterRedis(config.REDIS_URL, { logger });
  let a: TestApp;
  let b: TestApp;
  before(async () => {
    // Two API processes sharing the counters, with a platform default high enough for the setup.
    const rateLimits = { redis, keyPrefix, defaults: { requestsPerSecond: 1_000, burst: 1_000 } };
    a = makeTestApp({ rateLimits });
    b = makeTestApp({ rateLimits });
    await sleep(300); // both auth-change listeners connected
  });
  after(async () => {
    await a.close();
    await b.close();
    redis.disconnect();
  });

  it('a directory over its limit › the next request › 429 with Retry-After and a SCIM error, then it recovers', async () => {
    const dir = await makeDirectory(a.app);
    await setLimit(a.app, dir, { requestsPerSecond: 3, burst: 3 }).expect(200);
    await nextWindow();
    assert.deepEqual(await burst(a.app, dir.token, 3), [200, 200, 200]);
    const refused = await scimClient(a.app, dir.token).get('/Users?count=1').expect(429);
    assert.ok(Number(refused.headers['retry-after']) >= 1, 'Retry-After in whole seconds, at least 1');
    assert.match(refused.headers['content-type'], /application\/scim\+json/);
    assert.deepEqual(refused.body.schemas, [ERROR_SCHEMA]);
    assert.equal(refused.body.status, '429');
    assert.equal(refused.body.scimType, undefined);
    // Writes are limited too, on either base path.
    await scimClient(a.app, dir.token, '/scim/v1').post('/Users', entraUser()).expect(429);
    await sleep(Number(refused.headers['retry-after']) * 1000 + 100);
    await scimClient(a.app, dir.token).get('/Users?count=1').expect(200);
  });

  it('a directory Redis has refused › its next requests in the window › refused before routing, same 429; another directory unaffected', async () => {
    const overLimitCount = async () => {
      const text = (await request(a.app).get('/metrics').expect(200)).text;
      const lines = text.split('\n').filter((l) => l.startsWith('scim_http_requests_total{') && l.includes('route="over_rate_limit"'));
      return lines.reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
    };
    const [dir, other] = [await makeDirectory(a.app), await makeDirectory(a.app)];
    await setLimit(a.app, dir, { requestsPerSecond: 1, burst: 1 }).expect(200);
    // Within one window: allowed, refused by Redis (the process learns the block), refused by the
    // gate. The gate knows only keys this process has cached, and on a loaded machine a key's
    // resolution can land beside the limit change's notification and not be cached: up to three
    // windows are tried, and one must show the third request answered by the gate alone.
    let gated: request.Response | undefined;
    for (let attempt = 0; attempt < 3 && !gated; attempt++) {
      const before = await overLimitCount();
      await nextWindow();
      await scimClient(a.app, dir.token).get('/Users?count=1').expect(200);
      await scimClient(a.app, dir.token).get('/Users?count=1').expect(429);
      const third = await scimClient(a.app, dir.token).get('/Users?count=1').expect(429);
      if ((await overLimitCount()) === before + 1) gated = third;
    }
    assert.ok(gated, 'the third answered by the gate, never routed');
    assert.deepEqual(gated.body.schemas, [ERROR_SCHEMA]);
    assert.ok(Number(gated.headers['retry-after']) >= 1);
    assert.equal(gated.headers['cache-control'], 'no-store');
    assert.equal(gated.headers['x-content-type-options'], 'nosniff');
    await scimClient(a.app, other.token).get('/Users?count=1').expect(200);
    // A key revoked meanwhile is not the gate's to answer: it is unauthorised, not over a limit.
    const keys = await asAdmin(request(a.app).get(`/admin/v1/directories/${dir.directoryId}/keys`)).expect(200);
    await asAdmin(request(a.app).delete(`/admin/v1/directories/${dir.directoryId}/keys/${keys.body.data[0].id}`)).expect(204);
    await scimClient(a.app, dir.token).get('/Users?count=1').expect(401);
  });

  it('a limit of 100/s › 103 requests in one window › taken from Redis in leases of 5, never more than the limit admitted', async () => {
    const dir = await makeDirectory(a.app);
    await setLimit(a.app, dir, { requestsPerSecond: 100, burst: 100 }).expect(200);
    await nextWindow();
    const statuses = await burst(a.app, dir.token, 103);
    const admitted = statuses.filter((s) => s === 200).length;
    assert.ok(admitted <= 100 && admitted >= 95, `${admitted} admitted`);
    assert.equal(statuses.length - admitted, statuses.filter((s) => s === 429).length);
    // Per-request counting would leave 103 in Redis; leases move it in fives.
    assert.equal(Number(await redis.get(`${keyPrefix}:s:${dir.directoryId}`)) % 5, 0);
  });

  it('two API processes › one directory › the limit holds across both', async () => {
    const dir = await makeDirectory(a.app);
    await setLimit(a.app, dir, { requestsPerSecond: 4, burst: 4 }).expect(200);
    await nextWindow();
    assert.deepEqual(await burst(a.app, dir.token, 2), [200, 200]);
    assert.deepEqual(await burst(b.app, dir.token, 2), [200, 200]);
    await scimClient(b.app, dir.token).get('/Users?count=1').expect(429);
    await scimClient(a.app, dir.token).get('/Users?count=1').expect(429);
  });

  it('burst above the rate › the first second takes the burst, the next only the rate', async () => {
    const dir = await makeDirectory(a.app);
    await setLimit(a.app, dir, { requestsPerSecond: 2, burst: 6 }).expect(200);
    await nextWindow();
    assert.deepEqual(await burst(a.app, dir.token, 6), [200, 200, 200, 200, 200, 200]);
    await scimClient(a.app, dir.token).get('/Users?count=1').expect(429);
    // The 4 extra requests are spent for the pool's 10 s window: the next second allows the rate.
    await nextWindow();
    assert.deepEqual(await burst(a.app, dir.token, 3), [200, 200, 429]);
  });

  it('one directory at its limit › another directory › unaffected', async () => {
    const noisy = await makeDirectory(a.app);
    const quiet = await makeDirectory(a.app);
    await setLimit(a.app, noisy, { requestsPerSecond: 2, burst: 2 }).expect(200);
    await nextWindow();
    const statuses = await burst(a.app, noisy.token, 10);
    assert.equal(statuses.filter((s) => s === 429).length, 8);
    assert.deepEqual(await burst(a.app, quiet.token, 10), Array(10).fill(200));
  });

  it('PATCH /admin/v1/directories/{id} › limit set, then null › shown in GET, applies at once in another process, null goes back to the default', async () => {
    const dir = await makeDirectory(a.app);
    const fresh = await asAdmin(request(a.app).get(`/admin/v1/directories/${dir.directoryId}`)).expect(200);
    assert.equal(fresh.body.rateLimit, null);
    // B caches the key (and the limit with it) before the change.
    await scimClient(b.app, dir.token).get('/Users?count=1').expect(200);
    const patched = await setLimit(a.app, dir, { requestsPerSecond: 2 }).expect(200);
    assert.deepEqual(patched.body.rateLimit, { requestsPerSecond: 2, burst: 4 }, 'burst defaults to twice the rate');
    const shown = await asAdmin(request(a.app).get(`/admin/v1/directories/${dir.directoryId}`)).expect(200);
    assert.deepEqual(shown.body.rateLimit, { requestsPerSecond: 2, burst: 4 });
    await nextWindow();
    assert.deepEqual(await burst(b.app, dir.token, 5), [200, 200, 200, 200, 429]);

    const cleared = await setLimit(a.app, dir, null).expect(200);
    assert.equal(cleared.body.rateLimit, null);
    await nextWindow();
    assert.deepEqual(await burst(b.app, dir.token, 12), Array(12).fill(200));
  });

  it('PATCH /admin/v1/directories/{id} › impossible limits › 400 invalidValue; unknown directory › 404', async () => {
    const dir = await makeDirectory(a.app);
    for (const rateLimit of [{ requestsPerSecond: 10, burst: 5 }, { requestsPerSecond: 0 }, { requestsPerSecond: 1.5 }, { burst: 10 }, 'fast', undefined]) {
      const res = await setLimit(a.app, dir, rateLimit).expect(400);
      assert.equal(res.body.scimType, 'invalidValue', JSON.stringify(rateLimit));
    }
    await asAdmin(request(a.app).patch('/admin/v1/directories/0190b1a4-0000-7000-8000-000000000000')).send({ rateLimit: null }).expect(404);
    await request(a.app).patch(`/admin/v1/directories/${dir.directoryId}`).send({ rateLimit: null }).expect(401);
  });
});

describe('rate limits › Redis down', () => {
  let privateRedis: PrivateRedis;
  let redis: ReturnType<typeof limiterRedis>;
  let t: TestApp;
  before(async () => {
    privateRedis = await startPrivateRedis();
    redis = limiterRedis(privateRedis.url, { logger });
    t = makeTestApp({ rateLimits: { redis, keyPrefix, defaults: { requestsPerSecond: 1_000, burst: 1_000 } } });
  });
  after(async () => {
    await t.close();
    redis.disconnect();
    await privateRedis.close();
  });

  it('Redis killed › SCIM reads and writes › answer 200/201 promptly, limited per process meanwhile', { timeout: 10_000 }, async () => {
    const dir = await makeDirectory(t.app);
    await scimClient(t.app, dir.token).get('/Users?count=1').expect(200);
    await privateRedis.stop();
    const started = Date.now();
    await scimClient(t.app, dir.token).get('/Users?count=1').expect(200);
    await scimClient(t.app, dir.token).post('/Users', entraUser()).expect(201);
    await scimClient(t.app, dir.token).get('/Users?count=1').expect(200);
    assert.ok(Date.now() - started < 1_500, `three requests took ${Date.now() - started} ms`);

    // The in-memory fallback still enforces the directory's limit.
    await setLimit(t.app, dir, { requestsPerSecond: 2, burst: 2 }).expect(200);
    await nextWindow();
    assert.deepEqual(await burst(t.app, dir.token, 3), [200, 200, 429]);
  });
});

/** A TCP relay to Redis that can go silent: connections stay open, but nothing reaches Redis any more. */
async function silenceableRelay(port: number) {
  const sockets = new Set<{ client: net.Socket; upstream: net.Socket }>();
  const server = net.createServer((client) => {
    const upstream = net.connect(port, '127.0.0.1');
    const pair = { client, upstream };
    sockets.add(pair);
    for (const socket of [client, upstream]) socket.on('error', () => undefined);
    client.pipe(upstream);
    upstream.pipe(client);
    client.once('close', () => upstream.destroy());
    upstream.once('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `redis://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    silence: () => {
      for (const { client } of sockets) client.unpipe();
    },
    close: () => {
      for (const { client, upstream } of sockets) {
        client.destroy();
        upstream.destroy();
      }
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('rate limits › Redis restarted empty', () => {
  let privateRedis: PrivateRedis;
  let redis: ReturnType<typeof limiterRedis>;
  let t: TestApp;
  before(async () => {
    privateRedis = await startPrivateRedis();
    redis = limiterRedis(privateRedis.url, { logger });
    t = makeTestApp({ rateLimits: { redis, keyPrefix, defaults: { requestsPerSecond: 1_000, burst: 1_000 } } });
  });
  after(async () => {
    await t.close();
    redis.disconnect();
    await privateRedis.close();
  });

  it('Redis killed and started again without data › the limiter reconnects › counts in Redis again', { timeout: 15_000 }, async () => {
    const dir = await makeDirectory(t.app);
    await privateRedis.stop();
    await scimClient(t.app, dir.token).get('/Users?count=1').expect(200);
    await privateRedis.start();
    for (let i = 0; i < 100 && redis.status !== 'ready'; i++) await sleep(100);
    assert.equal(redis.status, 'ready');
    await nextWindow(); // the lease taken from the in-memory fallback ends with its window
    await scimClient(t.app, dir.token).get('/Users?count=1').expect(200);
    // The counter's script is loaded again into the empty server (EVALSHA falls back to EVAL).
    assert.equal(await redis.exists(`${keyPrefix}:s:${dir.directoryId}`), 1);
  });
});

describe('rate limits › Redis hangs', () => {
  let privateRedis: PrivateRedis;
  let relay: Awaited<ReturnType<typeof silenceableRelay>>;
  let redis: ReturnType<typeof limiterRedis>;
  let t: TestApp;
  before(async () => {
    privateRedis = await startPrivateRedis();
    relay = await silenceableRelay(privateRedis.port);
    redis = limiterRedis(relay.url, { logger });
    t = makeTestApp({ rateLimits: { redis, keyPrefix, defaults: { requestsPerSecond: 1_000, burst: 1_000 } } });
  });
  after(async () => {
    await t.close();
    redis.disconnect();
    await relay.close();
    await privateRedis.close();
  });

  it('Redis connected but answering nothing › SCIM requests › each answers within a few hundred ms', { timeout: 10_000 }, async () => {
    const dir = await makeDirectory(t.app);
    await scimClient(t.app, dir.token).get('/Users?count=1').expect(200);
    assert.equal(redis.status, 'ready');
    relay.silence();
    for (const send of [
      () => scimClient(t.app, dir.token).get('/Users?count=1').expect(200),
      () => scimClient(t.app, dir.token).post('/Users', entraUser()).expect(201),
    ]) {
      const started = Date.now();
      await send();
      assert.ok(Date.now() - started < 600, `answered in ${Date.now() - started} ms`);
    }
  });
});

describe('rate limits › logging', () => {
  const redis = limiterRedis(config.REDIS_URL, { logger });
  const chunks: string[] = [];
  const captured = pino(
    { level: 'info', base: undefined, formatters: { level: (label) => ({ level: label }) } },
    new Writable({
      write(chunk, _enc, done) {
        chunks.push(String(chunk));
        done();
      },
    }),
  ) as unknown as Logger;
  let t: TestApp;
  before(() => {
    t = makeTestApp({ logger: captured, rateLimits: { redis, keyPrefix, defaults: { requestsPerSecond: 1_000, burst: 1_000 } } });
  });
  after(async () => {
    await t.close();
    redis.disconnect();
  });

  it('requests over the limit › their log lines › one summary at info with the directory, no line per request, no stack trace', async () => {
    const dir = await makeDirectory(t.app);
    await setLimit(t.app, dir, { requestsPerSecond: 1, burst: 1 }).expect(200);
    await nextWindow();
    chunks.length = 0;
    assert.deepEqual(await burst(t.app, dir.token, 4), [200, 429, 429, 429]);
    const lines = chunks
      .join('')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const summaries = lines.filter((l) => l['directory.id'] === dir.directoryId && l.msg === 'directory over its rate limit: requests answered 429');
    assert.equal(summaries.length, 1, 'one line for the three refusals of this interval');
    assert.equal(summaries[0].level, 'info');
    assert.equal(summaries[0].refused, 1, 'the first refusal is logged at once; the rest are counted into the next line');
    assert.equal(lines.filter((l) => l.status === 429 && l.level !== 'debug').length, 0, 'no per-request line above debug');
    assert.ok(!chunks.join('').includes('"stack"'), 'no stack trace');
  });
});
