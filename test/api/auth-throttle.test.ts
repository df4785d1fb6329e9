import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import type { App } from 'supertest/types';
import { limiterRedis } from '../../services/api/middleware/rate-limit';
import { config } from '../../shared/config';
import { createDatabase, type Database } from '../../shared/db/sequelize';
import { QUEUES } from '../../shared/queue/catalog';
import { createQueue } from '../../shared/queue/queues';
import { createRedis } from '../../shared/queue/redis';
import { logger } from '../../shared/telemetry/logger';
import { ADMIN_TOKEN, makeTestApp, type TestApp } from '../support/app';
import { asAdmin, makeDirectory, scimClient } from '../support/factories';

const ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';
const BAD_KEY = 'scim_us_this-key-was-never-issued-00000000000000000';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function assertThrottled(res: request.Response): void {
  assert.equal(res.status, 429);
  assert.ok(Number(res.headers['retry-after']) >= 1, 'Retry-After in whole seconds, at least 1');
}

function assertScimThrottled(res: request.Response): void {
  assertThrottled(res);
  assert.deepEqual(res.body.schemas, [ERROR_SCHEMA]);
  assert.equal(res.body.status, '429');
  assert.equal(res.body.scimType, undefined);
}

// Each test builds its own app: the default throttle counts in the app's process, and every
// supertest request comes from 127.0.0.1.
describe('auth throttle › failed authentication per client address (defaults: 20 a minute)', () => {
  const opened: TestApp[] = [];
  const fresh = (overrides: Parameters<typeof makeTestApp>[0] = {}) => {
    const t = makeTestApp(overrides);
    opened.push(t);
    return t;
  };
  after(async () => {
    for (const t of opened) await t.close();
  });

  it('bad SCIM keys › the 21st from one address › 429 with Retry-After and a SCIM error; good keys from it refused while blocked', async () => {
    const t = fresh();
    const dir = await makeDirectory(t.app);
    // Successful requests are not counted.
    for (let i = 0; i < 25; i++) await scimClient(t.app, dir.token).get('/Users?count=1').expect(200);
    for (let i = 0; i < 20; i++) await scimClient(t.app, BAD_KEY).get('/Users').expect(401);
    assertScimThrottled(await scimClient(t.app, BAD_KEY).get('/Users'));
    assertScimThrottled(await scimClient(t.app, dir.token, '/scim/v1').get('/Users?count=1'));
  });

  it('requests without any token › many › 401 each, never counted', async () => {
    const t = fresh();
    for (let i = 0; i < 30; i++) await request(t.app).get('/scim/v2/Users').expect(401);
    const dir = await makeDirectory(t.app);
    await scimClient(t.app, dir.token).get('/Users?count=1').expect(200);
  });

  it('bad admin tokens › the 21st › 429 with a SCIM error; the right token refused while blocked', async () => {
    const t = fresh();
    for (let i = 0; i < 20; i++) {
      await request(t.app).get('/admin/v1/tenants').set('Authorization', `Bearer guess-${i}`).expect(401);
    }
    assertScimThrottled(await request(t.app).get('/admin/v1/tenants').set('Authorization', 'Bearer guess-21'));
    assertScimThrottled(await asAdmin(request(t.app).get('/admin/v1/tenants')));
  });

  it('failed console sign-ins › the 21st › 429 with Retry-After; the right token refused while blocked', async () => {
    const connection = createRedis(config.REDIS_URL);
    const queue = createQueue(QUEUES.auditExport, { connection, prefix: `scim-test-throttle-${process.pid}` });
    try {
      const t = fresh({ queues: { auditExport: queue } });
      for (let i = 0; i < 20; i++) {
        await request(t.app)
          .post('/admin/session')
          .send({ token: `guess-${i}` })
          .expect(401);
      }
      const refused = await request(t.app).post('/admin/session').send({ token: 'guess-21' });
      assertThrottled(refused);
      assert.match(refused.headers['content-type'], /application\/scim\+json/);
      assert.equal(refused.headers['set-cookie'], undefined);
      const right = await request(t.app).post('/admin/session').send({ token: ADMIN_TOKEN });
      assertThrottled(right);
      assert.equal(right.headers['set-cookie'], undefined, 'no session while blocked');
    } finally {
      await queue.close();
      connection.disconnect();
    }
  });

  it('one address blocked › another address (behind a trusted proxy) › still authenticates', async () => {
    const t = fresh({ trustProxy: 'loopback' });
    const dir = await makeDirectory(t.app);
    const from = (address: string, token: string) => scimClient(t.app, token).get('/Users?count=1').set('X-Forwarded-For', address);
    for (let i = 0; i < 20; i++) await from('203.0.113.7', BAD_KEY).expect(401);
    assertScimThrottled(await from('203.0.113.7', BAD_KEY));
    assertScimThrottled(await from('203.0.113.7', dir.token));
    await from('203.0.113.8', dir.token).expect(200);
    // Without trust proxy the header is ignored and the socket's address counts.
    const direct = fresh();
    for (let i = 0; i < 20; i++) await scimClient(direct.app, BAD_KEY).get('/Users').set('X-Forwarded-For', `198.51.100.${i}`).expect(401);
    assertScimThrottled(await scimClient(direct.app, BAD_KEY).get('/Users').set('X-Forwarded-For', '198.51.100.99'));
  });

  it('blocked address › the block has passed › may authenticate again', async () => {
    const t = fresh({ authThrottle: { failures: 2, blockSeconds: 1 } });
    const dir = await makeDirectory(t.app);
    for (let i = 0; i < 2; i++) await scimClient(t.app, BAD_KEY).get('/Users').expect(401);
    assertScimThrottled(await scimClient(t.app, BAD_KEY).get('/Users'));
    await sleep(1_100);
    await scimClient(t.app, dir.token).get('/Users?count=1').expect(200);
  });

  it('two API processes sharing Redis › failures on one › the other refuses the address on its next failure', async () => {
    const redis = limiterRedis(config.REDIS_URL, { logger });
    try {
      const authThrottle = { redis, keyPrefix: `scim-test:authfail:${process.pid}:${Date.now()}` };
      const a = fresh({ authThrottle });
      const b = fresh({ authThrottle });
      for (let i = 0; i < 20; i++) await scimClient(a.app, BAD_KEY).get('/Users').expect(401);
      assertScimThrottled(await scimClient(b.app, BAD_KEY).get('/Users'));
      assertScimThrottled(await asAdmin(request(b.app).get('/admin/v1/tenants')));
    } finally {
      redis.disconnect();
    }
  });
});

/** The Database the app uses, counting key lookups as they are sent to PostgreSQL. */
function countingKeyLookups(db: Database): { db: Database; lookups: () => number } {
  let lookups = 0;
  const counted: Database = {
    ...db,
    // Keys are resolved across tenants: the key is all a request has until it is resolved.
    acrossTenants() {
      const sql = db.acrossTenants();
      return {
        ...sql,
        query(text, bind, transaction) {
          if (text.includes('k.token_hash = $1')) lookups++;
          return sql.query(text, bind, transaction);
        },
      };
    },
  };
  return { db: counted, lookups: () => lookups };
}

describe('unknown keys › cached per process', () => {
  const real = createDatabase({ poolMax: 5 });
  const { db, lookups } = countingKeyLookups(real);
  let t: TestApp;
  before(() => {
    // The throttle would stop the flood first; this suite is about what reaches PostgreSQL.
    t = makeTestApp({ db, authThrottle: { failures: 1_000 } });
  });
  after(async () => {
    await t.close();
    await real.close();
  });

  it('a flood of one bad key › 100 requests › every one 401, at most one key lookup in PostgreSQL', async () => {
    const before = lookups();
    for (let i = 0; i < 100; i++) await scimClient(t.app, `${BAD_KEY}-flood`).get('/Users').expect(401);
    assert.ok(lookups() - before <= 1, `${lookups() - before} lookups`);
  });

  it('keys created and regenerated › first use › accepted at once', async () => {
    const dir = await makeDirectory(t.app as App);
    await scimClient(t.app, dir.token).get('/Users?count=1').expect(200);
    const second = await asAdmin(request(t.app).post(`/admin/v1/directories/${dir.directoryId}/keys`))
      .send({ name: 'second' })
      .expect(201);
    await scimClient(t.app, second.body.token).get('/Users?count=1').expect(200);
    const regenerated = await asAdmin(request(t.app).post(`/admin/v1/directories/${dir.directoryId}/keys/${dir.keyId}/regenerate`)).expect(201);
    await scimClient(t.app, regenerated.body.token).get('/Users?count=1').expect(200);
    await scimClient(t.app, dir.token).get('/Users?count=1').expect(401);
  });

  it('a revoked key › used again and again › stays refused', async () => {
    const dir = await makeDirectory(t.app);
    await asAdmin(request(t.app).delete(`/admin/v1/directories/${dir.directoryId}/keys/${dir.keyId}`)).expect(204);
    for (let i = 0; i < 3; i++) await scimClient(t.app, dir.token).get('/Users?count=1').expect(401);
  });
});
