import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { config } from '../../shared/config';
import { postgresCheck } from '../../shared/db/health';
import { createDatabase, type Database } from '../../shared/db/sequelize';
import { createRedis } from '../../shared/queue/redis';
import { redisCheck } from '../../shared/telemetry/health';
import { logger } from '../../shared/telemetry/logger';
import { startMetricsServer, type MetricsServer } from '../../workers/metrics-server';
import { makeTestApp, type TestApp } from '../support/app';

/** What a probe or a scraper sees of one answer. */
interface Seen {
  status: number;
  contentType: string | undefined;
  cacheControl: string | undefined;
  body: string;
}

/** The API (createApp through supertest) and a worker's metrics server, on the same database and Redis. */
function apiAndWorker(db: () => Database | undefined) {
  const redis = createRedis(config.REDIS_URL);
  let api: TestApp;
  let worker: MetricsServer;
  before(async () => {
    const given = db();
    api = makeTestApp({ redis, ...(given ? { db: given } : {}) });
    worker = await startMetricsServer({ port: 0, host: '127.0.0.1', checks: [postgresCheck(given ?? api.db), redisCheck(redis)], logger });
  });
  after(async () => {
    await worker.close();
    await api.close();
    redis.disconnect();
  });
  return async (path: string): Promise<{ api: Seen; worker: Seen }> => {
    const a = await request(api.app).get(path);
    const w = await fetch(`http://127.0.0.1:${worker.port}${path}`);
    return {
      api: { status: a.status, contentType: a.headers['content-type'], cacheControl: a.headers['cache-control'], body: a.text },
      worker: {
        status: w.status,
        contentType: w.headers.get('content-type') ?? undefined,
        cacheControl: w.headers.get('cache-control') ?? undefined,
        body: await w.text(),
      },
    };
  };
}

describe('health endpoints › the API and the worker answer alike', () => {
  describe('dependencies answer', () => {
    const answers = apiAndWorker(() => undefined);

    it('GET /healthz › same status, content type, caching and body', async () => {
      const seen = await answers('/healthz');
      assert.deepEqual(seen.worker, seen.api);
      assert.equal(seen.api.status, 200);
      assert.deepEqual(JSON.parse(seen.api.body), { status: 'ok' });
    });

    it('GET /readyz › same status, content type, caching and body', async () => {
      const seen = await answers('/readyz');
      assert.deepEqual(seen.worker, seen.api);
      assert.equal(seen.api.status, 200);
      assert.deepEqual(JSON.parse(seen.api.body), { status: 'ready', checks: { postgres: 'ok', redis: 'ok' } });
    });

    it('GET /metrics › same status, content type and caching, both the Prometheus text of the process', async () => {
      const seen = await answers('/metrics');
      const { body: apiBody, ...api } = seen.api;
      const { body: workerBody, ...worker } = seen.worker;
      assert.deepEqual(worker, api);
      assert.equal(api.status, 200);
      for (const body of [apiBody, workerBody]) assert.match(body, /^# TYPE scim_http_requests_total counter$/m);
    });
  });

  describe('PostgreSQL pool closed', () => {
    let closed: Database | undefined;
    before(async () => {
      closed = createDatabase({ poolMax: 1 });
      await closed.close();
    });
    const answers = apiAndWorker(() => closed);

    it('GET /readyz › both 503 with the same body naming postgres', async () => {
      const seen = await answers('/readyz');
      assert.deepEqual(seen.worker, seen.api);
      assert.equal(seen.api.status, 503);
      assert.deepEqual(JSON.parse(seen.api.body), { status: 'unavailable', checks: { postgres: 'failed', redis: 'ok' } });
    });
  });
});
