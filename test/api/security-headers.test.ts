/**
 * Response headers that keep personal data out of caches and pages out of frames: no-store and
 * nosniff on every API answer (errors included), HSTS only behind an https PUBLIC_BASE_URL, and
 * on the queue dashboard a CSP that allows this origin only and a page that asks no third party
 * for anything (bull-board's Google Fonts link is dropped).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import request, { type Response } from 'supertest';
import { config } from '../../shared/config';
import { QUEUES } from '../../shared/queue/catalog';
import { createQueue } from '../../shared/queue/queues';
import { createRedis } from '../../shared/queue/redis';
import { ADMIN_TOKEN, makeTestApp, type TestApp } from '../support/app';
import { asAdmin, entraUser, makeDirectory, scimClient, type TestDirectory } from '../support/factories';

const HSTS = 'max-age=31536000; includeSubDomains';

function assertApiHeaders(res: Response, hsts: boolean) {
  assert.equal(res.headers['cache-control'], 'no-store');
  assert.equal(res.headers['x-content-type-options'], 'nosniff');
  assert.equal(res.headers['strict-transport-security'], hsts ? HSTS : undefined);
}

/** Absolute references to another origin: http(s)://… or protocol-relative //host. */
function foreignReferences(text: string): string[] {
  return [...text.matchAll(/(?:https?:)?\/\/[a-z0-9.-]+\.[a-z]{2,}[^\s"')]*/gi)].map((m) => m[0]).filter((url) => !url.includes('www.w3.org/'));
}

describe('security headers › API responses (PUBLIC_BASE_URL is https in tests)', () => {
  let t: TestApp;
  let dir: TestDirectory;
  before(async () => {
    t = makeTestApp();
    dir = await makeDirectory(t.app);
  });
  after(() => t.close());

  it('POST and GET /scim/v2/Users › 201 and 200 › no-store, nosniff and HSTS', async () => {
    const scim = scimClient(t.app, dir.token);
    const created = await scim.post('/Users', entraUser()).expect(201);
    assertApiHeaders(created, true);
    assertApiHeaders(await scim.get(`/Users/${created.body.id}`).expect(200), true);
  });

  it('GET /scim/v1/Users › no or a wrong token › 401 with the same headers', async () => {
    assertApiHeaders(await request(t.app).get('/scim/v1/Users').expect(401), true);
    assertApiHeaders(await request(t.app).get('/scim/v1/Users').set('Authorization', 'Bearer scim_us_nope').expect(401), true);
  });

  it('GET /scim/v2/Users/<unknown> and an unknown path › 404 with the same headers', async () => {
    const scim = scimClient(t.app, dir.token);
    assertApiHeaders(await scim.get('/Users/00000000-0000-7000-8000-000000000000').expect(404), true);
    assertApiHeaders(await request(t.app).get('/nowhere').expect(404), true);
  });

  it('POST /scim/v2/Users › body over the limit › 413 with the same headers', async () => {
    const scim = scimClient(t.app, dir.token);
    assertApiHeaders(await scim.post('/Users', { userName: 'x'.repeat(1_100_000) }).expect(413), true);
  });

  it('GET /admin/v1/tenants › 200 and 401 › no-store, nosniff and HSTS', async () => {
    assertApiHeaders(await asAdmin(request(t.app).get('/admin/v1/tenants')).expect(200), true);
    assertApiHeaders(await request(t.app).get('/admin/v1/tenants').expect(401), true);
  });

  it('GET /healthz, /readyz and /metrics › no-store and nosniff', async () => {
    for (const path of ['/healthz', '/readyz', '/metrics']) assertApiHeaders(await request(t.app).get(path).expect(200), true);
  });
});

describe('security headers › PUBLIC_BASE_URL over plain http', () => {
  let t: TestApp;
  before(() => {
    t = makeTestApp({ publicBaseUrl: 'http://localhost:3000' });
  });
  after(() => t.close());

  it('GET /scim/v2/Users and /healthz › no Strict-Transport-Security (it would pin a host that has no TLS)', async () => {
    assertApiHeaders(await request(t.app).get('/scim/v2/Users').expect(401), false);
    assertApiHeaders(await request(t.app).get('/healthz').expect(200), false);
  });
});

describe('security headers › /admin/queues dashboard', () => {
  const prefix = `headers-board-${process.pid}-${Date.now().toString(36)}`;
  const connection = createRedis(config.REDIS_URL);
  const queues = { webhookDelivery: createQueue(QUEUES.webhookDelivery, { connection, prefix }) };
  let t: TestApp;
  let session: string;
  before(async () => {
    t = makeTestApp({ queues });
    const login = await request(t.app).post('/admin/session').send({ token: ADMIN_TOKEN }).expect(201);
    session = (login.headers['set-cookie'] as unknown as string[])[0].split(';')[0];
  });
  after(async () => {
    await queues.webhookDelivery.close();
    connection.disconnect();
    await t.close();
  });

  const assertPageHeaders = (res: Response) => {
    const csp = res.headers['content-security-policy'] ?? '';
    assert.match(csp, /(^|;)default-src 'self'(;|$)/);
    assert.match(csp, /(^|;)script-src 'self'(;|$)/);
    assert.match(csp, /(^|;)connect-src 'self'(;|$)/);
    assert.match(csp, /(^|;)frame-ancestors 'none'(;|$)/);
    assert.equal(res.headers['x-frame-options'], 'DENY');
    assert.equal(res.headers['referrer-policy'], 'no-referrer');
    assert.equal(res.headers['x-content-type-options'], 'nosniff');
  };

  it("GET /admin/queues/ › no session › to the console's sign-in, no-store", async () => {
    const res = await request(t.app).get('/admin/queues/').set('Accept', 'text/html').expect(303);
    assert.equal(res.headers['cache-control'], 'no-store');
  });

  for (const path of ['/admin/console/', '/admin/console/tenants/x', '/setup']) {
    it(`GET ${path} › the built page › strict CSP: nothing inline, nothing of another origin, no frames`, async () => {
      const res = await request(t.app).get(path).expect(200);
      const csp = res.headers['content-security-policy'] ?? '';
      assert.match(csp, /(^|;)default-src 'none'(;|$)/);
      assert.match(csp, /(^|;)script-src 'self'(;|$)/);
      assert.match(csp, /(^|;)style-src 'self'(;|$)/);
      assert.match(csp, /(^|;)frame-ancestors 'none'(;|$)/);
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
      assert.equal(res.headers['x-frame-options'], 'DENY');
      assert.equal(res.headers['referrer-policy'], 'no-referrer');
      assert.equal(res.headers['cache-control'], 'no-cache');
      assert.deepEqual(foreignReferences(res.text), []);
      assert.doesNotMatch(res.text, /<script>|<style>| style=/, 'nothing inline');
      for (const asset of [...res.text.matchAll(/(?:href|src)="(\/ui\/[^"]+)"/g)].map((m) => m[1])) {
        const file = await request(t.app).get(asset).expect(200);
        assert.match(file.headers['cache-control'] ?? '', /immutable/);
      }
    });
  }

  it('GET /admin/queues/ › signed in › the page and every asset it references name no other origin', async () => {
    const page = await request(t.app).get('/admin/queues/').set('Accept', 'text/html').set('Cookie', session).expect(200);
    assertPageHeaders(page);
    assert.deepEqual(foreignReferences(page.text), []);
    const assets = [...page.text.matchAll(/(?:href|src)="([^"]+)"/g)].map((m) => m[1]).filter((a) => a !== '/admin/queues/');
    assert.ok(assets.some((a) => a.endsWith('.css')) && assets.some((a) => a.endsWith('.js')), `assets: ${assets.join(', ')}`);
    for (const asset of assets) {
      assert.ok(!/^(https?:)?\/\//.test(asset), `${asset} is on another origin`);
      const res = await request(t.app).get(`/admin/queues/${asset}`).set('Cookie', session).buffer(true).expect(200);
      if (asset.endsWith('.css')) assert.deepEqual(foreignReferences(res.text), [], asset);
    }
  });

  it('GET /admin/queues/api/queues › signed in › JSON with the dashboard headers and no-store', async () => {
    const res = await request(t.app).get('/admin/queues/api/queues').set('Cookie', session).expect(200);
    assertPageHeaders(res);
    assert.equal(res.headers['cache-control'], 'no-store');
  });
});
