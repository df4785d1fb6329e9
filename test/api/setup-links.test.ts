/**
 * Setup links as the two people use them: the operator creates, lists and revokes a link for a
 * directory; the customer's IT admin opens it (the secret from the URL's fragment, sent as a
 * bearer token) and gets the directory's Entra steps and Tenant URL, the custom attribute
 * mappings, a secret token (regenerated only when confirmed, the old one refused at once), and
 * the live status of what Entra sent, each error explained. A link reaches one directory only.
 */
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import type { App } from 'supertest/types';
import { createDatabase } from '../../shared/db/sequelize';
import { makeTestApp, PUBLIC_BASE_URL, type TestApp } from '../support/app';
import { activTrakSchema, asAdmin, ENTERPRISE, entraUser, GROUP_SCHEMA, makeDirectory, patchOp, scimClient, type TestDirectory } from '../support/factories';
import { createPrivateDatabase, type PrivateDatabase } from '../support/private-database';

const ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';

interface Link {
  id: string;
  url: string;
  expiresAt: string;
  secret: string;
}

async function createLink(app: App, directoryId: string, body: object = {}): Promise<Link> {
  const res = await asAdmin(request(app).post(`/admin/v1/directories/${directoryId}/setup-links`)).send(body);
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return { ...res.body, secret: new URL(res.body.url).hash.slice(1) };
}

/** The setup page's requests, with the link's secret as the bearer token. */
const setup = (app: App, secret: string) => ({
  get: (path: string) => request(app).get(`/setup/v1${path}`).set('Authorization', `Bearer ${secret}`),
  post: (path: string, body: object = {}) => request(app).post(`/setup/v1${path}`).set('Authorization', `Bearer ${secret}`).send(body),
});

/** Entra's Test connection: a random GUID looked up as a userName, no User-Agent. */
const testConnection = (app: App, token: string) =>
  scimClient(app, token, '/scim/v1').get(`/Users?filter=${encodeURIComponent(`userName eq "${randomUUID()}"`)}`);

describe('setup links › admin API', () => {
  let t: TestApp;
  let dir: TestDirectory;
  before(async () => {
    t = makeTestApp();
    dir = await makeDirectory(t.app);
  });
  after(() => t.close());

  it('POST setup-links › no body › 201 with a /setup URL carrying the secret in its fragment, expiring in 7 days', async () => {
    const before = Date.now();

    const link = await createLink(t.app, dir.directoryId);

    const url = new URL(link.url);
    assert.equal(`${url.origin}${url.pathname}`, `${PUBLIC_BASE_URL}/setup`);
    assert.equal(url.search, '');
    assert.match(link.secret, /^setup_[A-Za-z0-9_-]{43}$/);
    const days = (Date.parse(link.expiresAt) - before) / 86_400_000;
    assert.ok(days > 6.99 && days < 7.01, `expires in ${days} days`);
  });

  it('POST setup-links › expiresInDays 1 and 30 › honoured; 0, 31 and 2.5 › 400 invalidValue', async () => {
    const one = await createLink(t.app, dir.directoryId, { expiresInDays: 1 });
    const thirty = await createLink(t.app, dir.directoryId, { expiresInDays: 30 });
    assert.ok(Math.abs(Date.parse(one.expiresAt) - Date.now() - 86_400_000) < 60_000);
    assert.ok(Math.abs(Date.parse(thirty.expiresAt) - Date.now() - 30 * 86_400_000) < 60_000);

    for (const expiresInDays of [0, 31, 2.5]) {
      const res = await asAdmin(request(t.app).post(`/admin/v1/directories/${dir.directoryId}/setup-links`)).send({ expiresInDays });
      assert.equal(res.status, 400, `${expiresInDays}`);
      assert.equal(res.body.scimType, 'invalidValue');
    }
  });

  it('setup-links of an unknown directory › 404; without the admin token › 401', async () => {
    assert.equal((await asAdmin(request(t.app).post(`/admin/v1/directories/${randomUUID()}/setup-links`)).send({})).status, 404);
    assert.equal((await asAdmin(request(t.app).get(`/admin/v1/directories/${randomUUID()}/setup-links`))).status, 404);
    assert.equal((await request(t.app).post(`/admin/v1/directories/${dir.directoryId}/setup-links`).send({})).status, 401);
  });

  it('GET setup-links › lists the links newest first without their secrets; only a SHA-256 of a secret is stored', async () => {
    const first = await createLink(t.app, dir.directoryId);
    const second = await createLink(t.app, dir.directoryId);

    const res = await asAdmin(request(t.app).get(`/admin/v1/directories/${dir.directoryId}/setup-links`));

    assert.equal(res.status, 200);
    const ids = res.body.data.map((l: { id: string }) => l.id);
    assert.ok(ids.indexOf(second.id) < ids.indexOf(first.id) && ids.indexOf(first.id) >= 0);
    const listed = res.body.data.find((l: { id: string }) => l.id === first.id);
    assert.deepEqual(Object.keys(listed).sort(), ['createdAt', 'directoryId', 'expiresAt', 'id', 'lastOpenedAt', 'revokedAt', 'status']);
    assert.equal(listed.status, 'active');
    for (const link of [first, second]) assert.ok(!res.text.includes(link.secret.slice(6)), 'no secret in the list');
    const [row] = await t.db
      .acrossTenants()
      .query<{ secret_hash: Buffer; row: string }>('SELECT secret_hash, row_to_json(l)::text AS row FROM setup_links l WHERE id = $1', [first.id]);
    assert.deepEqual(row.secret_hash, createHash('sha256').update(first.secret).digest());
    assert.ok(!row.row.includes(first.secret.slice(6)), 'the secret itself is in no column');
  });

  it('DELETE setup-links/{id} › 204, listed as revoked, and the next setup request with it › 401; unknown or malformed id › 404', async () => {
    const link = await createLink(t.app, dir.directoryId);
    assert.equal((await setup(t.app, link.secret).get('/directory')).status, 200);

    const res = await asAdmin(request(t.app).delete(`/admin/v1/directories/${dir.directoryId}/setup-links/${link.id}`));

    assert.equal(res.status, 204);
    const refused = await setup(t.app, link.secret).get('/directory');
    assert.equal(refused.status, 401);
    assert.deepEqual(refused.body.schemas, [ERROR_SCHEMA]);
    assert.match(refused.headers['www-authenticate'] ?? '', /^Bearer realm="setup", error="invalid_token"/);
    const listed = (await asAdmin(request(t.app).get(`/admin/v1/directories/${dir.directoryId}/setup-links`))).body.data.find(
      (l: { id: string }) => l.id === link.id,
    );
    assert.equal(listed.status, 'revoked');
    assert.ok(listed.revokedAt);
    assert.ok(listed.lastOpenedAt, 'opened once before it was revoked');
    assert.equal((await asAdmin(request(t.app).delete(`/admin/v1/directories/${dir.directoryId}/setup-links/${randomUUID()}`))).status, 404);
    assert.equal((await asAdmin(request(t.app).delete(`/admin/v1/directories/${dir.directoryId}/setup-links/nope`))).status, 404);
  });

  it("DELETE another directory's link through this directory › 404, and the link keeps working", async () => {
    const other = await makeDirectory(t.app);
    const link = await createLink(t.app, other.directoryId);

    const res = await asAdmin(request(t.app).delete(`/admin/v1/directories/${dir.directoryId}/setup-links/${link.id}`));

    assert.equal(res.status, 404);
    assert.equal((await setup(t.app, link.secret).get('/directory')).status, 200);
  });
});

describe('setup links › the setup page API', () => {
  let t: TestApp;
  before(() => {
    // The 401s these cases provoke on purpose would otherwise near the throttle's 20 a minute.
    t = makeTestApp({ recordActivity: true, authThrottle: { failures: 1000 } });
  });
  after(() => t.close());

  it('GET /setup/v1/directory › a fresh link › the directory, its tenant, the Tenant URL and the Entra steps in order', async () => {
    const dir = await makeDirectory(t.app);
    const link = await createLink(t.app, dir.directoryId);
    const directory = (await asAdmin(request(t.app).get(`/admin/v1/directories/${dir.directoryId}`))).body;
    const tenant = (await asAdmin(request(t.app).get(`/admin/v1/tenants/${dir.tenantId}`))).body;

    const res = await setup(t.app, link.secret).get('/directory');

    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body.directory, { id: dir.directoryId, name: directory.name, provider: 'entra', providerName: 'Microsoft Entra ID' });
    assert.deepEqual(res.body.tenant, { name: tenant.name });
    assert.equal(res.body.tenantUrl, `${PUBLIC_BASE_URL}/scim/v1`);
    assert.equal(res.body.link.expiresAt, link.expiresAt);
    assert.equal(res.body.token, null);
    const ids = res.body.steps.map((s: { id: string }) => s.id);
    for (const [earlier, later] of [
      ['new-application', 'create-your-own'],
      ['create-your-own', 'provisioning'],
      ['provisioning', 'automatic'],
      ['automatic', 'tenant-url'],
      ['tenant-url', 'secret-token'],
      ['secret-token', 'test-connection'],
      ['user-mappings', 'group-mappings'],
      ['assign', 'start'],
    ]) {
      assert.ok(ids.indexOf(earlier) >= 0 && ids.indexOf(earlier) < ids.indexOf(later), `${earlier} before ${later}: ${ids.join(', ')}`);
    }
    const step = (id: string) => res.body.steps.find((s: { id: string }) => s.id === id);
    assert.match(step('new-application').text, /Enterprise applications.*New application/);
    assert.match(step('automatic').text, /Automatic/);
    assert.deepEqual(step('tenant-url').copy, { label: 'Tenant URL', value: `${PUBLIC_BASE_URL}/scim/v1` });
    assert.equal(step('secret-token').action, 'generateToken');
    assert.match(step('secret-token').text, /If lost, it can be regenerated/i);
    assert.equal(res.body.groupMappingNotes.length, 2);
    assert.match(res.body.groupMappingNotes[0], /externalId/);
    assert.match(res.body.groupMappingNotes[1], /users only/);
    // The directory's own employeeNumber line is there whatever extensions exist.
    assert.ok(res.body.attributeMappings.some((m: { target: string }) => m.target === `${ENTERPRISE}:employeeNumber`));
  });

  it('POST /setup/v1/token › no token yet › 201 with a token shown once that works on /scim/v1 at once', async () => {
    const dir = await makeDirectory(t.app);
    const link = await createLink(t.app, dir.directoryId);

    const res = await setup(t.app, link.secret).post('/token');

    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.match(res.body.token, /^scim_us_/);
    assert.equal(res.body.name, 'Setup link token');
    assert.equal(res.body.revoked, null);
    assert.equal((await scimClient(t.app, res.body.token, '/scim/v1').get('/Users')).status, 200);
    const page = await setup(t.app, link.secret).get('/directory');
    assert.equal(page.body.token.id, res.body.id);
    assert.equal(page.body.token.prefix, res.body.prefix);
    assert.ok(!page.text.includes(res.body.token), 'the token is shown only once');
    const keys = (await asAdmin(request(t.app).get(`/admin/v1/directories/${dir.directoryId}/keys`))).body.data;
    assert.ok(keys.some((k: { id: string; name: string }) => k.id === res.body.id && k.name === 'Setup link token'));
  });

  it('POST /setup/v1/token › a token exists › 409 without confirm and nothing changes; with confirm › a new one, the old one 401 at once', async () => {
    const dir = await makeDirectory(t.app);
    const link = await createLink(t.app, dir.directoryId);
    const first = (await setup(t.app, link.secret).post('/token')).body;
    // Cached by the key resolver, as Entra's traffic would have it.
    assert.equal((await scimClient(t.app, first.token, '/scim/v1').get('/Users')).status, 200);

    const unconfirmed = await setup(t.app, link.secret).post('/token', {});
    const declined = await setup(t.app, link.secret).post('/token', { confirm: false });

    for (const res of [unconfirmed, declined]) {
      assert.equal(res.status, 409);
      assert.deepEqual(res.body.schemas, [ERROR_SCHEMA]);
      assert.match(res.body.detail, /confirm/);
      assert.equal(res.body.token, undefined);
    }
    assert.equal((await scimClient(t.app, first.token, '/scim/v1').get('/Users')).status, 200, 'the first token still works');

    const second = await setup(t.app, link.secret).post('/token', { confirm: true });

    assert.equal(second.status, 201, JSON.stringify(second.body));
    assert.notEqual(second.body.token, first.token);
    assert.equal(second.body.revoked.id, first.id);
    assert.equal((await scimClient(t.app, first.token, '/scim/v1').get('/Users')).status, 401);
    assert.equal((await scimClient(t.app, second.body.token, '/scim/v1').get('/Users')).status, 200);
    // The key the operator issued with the directory is not the setup page's to revoke.
    assert.equal((await scimClient(t.app, dir.token, '/scim/v1').get('/Users')).status, 200);
  });

  it("the operator regenerates the setup page's token › the new one is still the page's: shown there, and replaced only when confirmed", async () => {
    const dir = await makeDirectory(t.app);
    const link = await createLink(t.app, dir.directoryId);
    const first = (await setup(t.app, link.secret).post('/token')).body;

    const regenerated = await asAdmin(request(t.app).post(`/admin/v1/directories/${dir.directoryId}/keys/${first.id}/regenerate`)).send({});

    assert.equal(regenerated.status, 201);
    assert.equal((await setup(t.app, link.secret).get('/directory')).body.token.id, regenerated.body.id);
    assert.equal((await setup(t.app, link.secret).post('/token')).status, 409);
    assert.equal((await setup(t.app, link.secret).post('/token', { confirm: true })).status, 201);
    assert.equal((await scimClient(t.app, regenerated.body.token, '/scim/v1').get('/Users')).status, 401);
  });

  it("POST /setup/v1/token › another link of the same directory › regenerates the first link's token only when confirmed", async () => {
    const dir = await makeDirectory(t.app);
    const one = await createLink(t.app, dir.directoryId);
    const two = await createLink(t.app, dir.directoryId);
    const first = (await setup(t.app, one.secret).post('/token')).body;

    assert.equal((await setup(t.app, two.secret).post('/token')).status, 409);
    const second = await setup(t.app, two.secret).post('/token', { confirm: true });

    assert.equal(second.status, 201);
    assert.equal((await scimClient(t.app, first.token, '/scim/v1').get('/Users')).status, 401);
  });

  it('POST /setup/v1/token › two at once with confirm › one live setup token remains', async () => {
    const dir = await makeDirectory(t.app);
    const link = await createLink(t.app, dir.directoryId);

    const answers = await Promise.all([
      setup(t.app, link.secret).post('/token', { confirm: true }),
      setup(t.app, link.secret).post('/token', { confirm: true }),
    ]);

    assert.deepEqual(answers.map((a) => a.status).sort(), [201, 201]);
    const live = await Promise.all(answers.map(async (a) => (await scimClient(t.app, a.body.token, '/scim/v1').get('/Users')).status));
    assert.deepEqual(live.sort(), [200, 401]);
  });

  it('setup requests › an unknown, an expired and a revoked link, and none › 401 with a SCIM error', async () => {
    const dir = await makeDirectory(t.app);
    const expired = await createLink(t.app, dir.directoryId);
    await t.db
      .acrossTenants()
      .exec(`UPDATE setup_links SET created_at = now() - interval '8 days', expires_at = now() - interval '1 second' WHERE id = $1`, [expired.id]);
    const revoked = await createLink(t.app, dir.directoryId);
    await asAdmin(request(t.app).delete(`/admin/v1/directories/${dir.directoryId}/setup-links/${revoked.id}`)).expect(204);

    for (const secret of [expired.secret, revoked.secret, `setup_${'A'.repeat(43)}`, dir.token]) {
      const answers = {
        directory: await setup(t.app, secret).get('/directory'),
        status: await setup(t.app, secret).get('/status'),
        token: await setup(t.app, secret).post('/token'),
      };
      for (const [what, res] of Object.entries(answers)) {
        assert.equal(res.status, 401, `${what}: ${JSON.stringify(res.body)}`);
        assert.deepEqual(res.body.schemas, [ERROR_SCHEMA]);
      }
    }
    const none = await request(t.app).get('/setup/v1/directory');
    assert.equal(none.status, 401);
    assert.match(none.headers['www-authenticate'] ?? '', /^Bearer realm="setup"$/);
    const listed = (await asAdmin(request(t.app).get(`/admin/v1/directories/${dir.directoryId}/setup-links`))).body.data;
    assert.equal(listed.find((l: { id: string }) => l.id === expired.id).status, 'expired');
  });

  it('a link of directory A › sees A only: its counts, its requests and its token; B is untouched', async () => {
    const a = await makeDirectory(t.app);
    const b = await makeDirectory(t.app);
    const linkA = await createLink(t.app, a.directoryId);
    const scimB = scimClient(t.app, b.token, '/scim/v1');
    for (let i = 0; i < 3; i++) await scimB.post('/Users', entraUser()).expect(201);
    await scimB.post('/Groups', { schemas: [GROUP_SCHEMA], displayName: `g-${randomUUID()}` }).expect(201);
    await scimClient(t.app, a.token, '/scim/v1').post('/Users', entraUser()).expect(201);
    await t.activity!.flush();

    const status = (await setup(t.app, linkA.secret).get('/status')).body;
    const page = (await setup(t.app, linkA.secret).get('/directory')).body;
    const token = (await setup(t.app, linkA.secret).post('/token')).body;

    assert.equal(status.users, 1);
    assert.equal(status.groups, 0);
    assert.deepEqual(
      status.requests.map((r: { method: string; status: number }) => `${r.method} ${r.status}`),
      ['POST 201'],
    );
    assert.equal(page.directory.id, a.directoryId);
    assert.equal((await scimClient(t.app, token.token, '/scim/v2').get('/Users')).body.totalResults, 1);
    assert.equal((await scimB.get('/Users')).status, 200, "B's key still works");
    const bKeys = (await asAdmin(request(t.app).get(`/admin/v1/directories/${b.directoryId}/keys`))).body.data;
    assert.deepEqual(
      bKeys.map((k: { id: string }) => k.id),
      [b.keyId],
    );
  });

  it('GET /setup/v1/status › a fresh directory › nothing received yet, zero counts', async () => {
    const dir = await makeDirectory(t.app);
    const link = await createLink(t.app, dir.directoryId);

    const res = await setup(t.app, link.secret).get('/status');

    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { testConnection: null, lastActivityAt: null, lastChangeAt: null, users: 0, groups: 0, requests: [] });
  });

  it('GET /setup/v1/status › Test connection, then a cycle with a 409 on userName › shown with their times, counts and the error explained', async () => {
    const dir = await makeDirectory(t.app);
    const link = await createLink(t.app, dir.directoryId);
    const token = (await setup(t.app, link.secret).post('/token')).body.token as string;
    const scim = scimClient(t.app, token, '/scim/v1');
    const started = Date.now();

    assert.equal((await testConnection(t.app, token)).status, 200);
    const alice = entraUser();
    await scim.get(`/Users?filter=${encodeURIComponent(`userName eq "${alice.userName}"`)}`).expect(200);
    const created = (await scim.post('/Users', alice).expect(201)).body;
    const clash = await scim.post('/Users', entraUser({ userName: alice.userName }));
    assert.equal(clash.status, 409);
    const deactivated = await scim.patch(`/Users/${created.id}`, patchOp({ op: 'Replace', path: 'active', value: 'False' }));
    assert.ok(deactivated.status === 200 || deactivated.status === 204, `${deactivated.status}`);
    await scim.patch(`/Users/${randomUUID()}`, patchOp({ op: 'Replace', path: 'active', value: 'False' })).expect(404);
    await scim.post('/Users', entraUser({ active: 'maybe' })).expect(400);
    await t.activity!.flush();

    const res = await setup(t.app, link.secret).get('/status');

    assert.equal(res.status, 200);
    const status = res.body;
    assert.ok(Date.parse(status.testConnection.receivedAt) >= started - 1000);
    assert.ok(Date.parse(status.lastActivityAt) >= Date.parse(status.testConnection.receivedAt));
    assert.ok(Date.parse(status.lastChangeAt) >= started - 1000);
    assert.equal(status.users, 1);
    assert.equal(status.groups, 0);
    assert.deepEqual(
      status.requests.map((r: { method: string; route: string; status: number; testConnection: boolean }) => [r.method, r.route, r.status, r.testConnection]),
      [
        ['POST', '/scim/v1/Users', 400, false],
        ['PATCH', '/scim/v1/Users/:id', 404, false],
        ['PATCH', '/scim/v1/Users/:id', deactivated.status, false],
        ['POST', '/scim/v1/Users', 409, false],
        ['POST', '/scim/v1/Users', 201, false],
        ['GET', '/scim/v1/Users', 200, false],
        ['GET', '/scim/v1/Users', 200, true],
      ],
    );
    const [invalid, missing, patched, conflict] = status.requests;
    assert.equal(conflict.scimType, 'uniqueness');
    assert.equal(conflict.attribute, 'userName');
    assert.match(conflict.explanation.summary, /same userName/);
    assert.match(conflict.explanation.fix, /unique/);
    assert.equal(patched.explanation, null);
    assert.match(missing.explanation.summary, /no longer exists/);
    assert.equal(invalid.scimType, 'invalidValue');
    assert.equal(invalid.attribute, 'active');
    assert.match(invalid.explanation.summary, /active/);
  });

  it('the stored requests › hold no filter value, body value, id or query string', async () => {
    const dir = await makeDirectory(t.app);
    const scim = scimClient(t.app, dir.token, '/scim/v1');
    const guid = randomUUID();
    const alice = entraUser();
    await scim.get(`/Users?filter=${encodeURIComponent(`userName eq "${guid}"`)}`).expect(200);
    await scim.get(`/Users?filter=${encodeURIComponent(`userName eq "${alice.userName}"`)}&attributes=userName`).expect(200);
    const created = (await scim.post('/Users', alice).expect(201)).body;
    await scim.post('/Users', entraUser({ userName: alice.userName })).expect(409);
    await scim.get(`/Users/${created.id}`).expect(200);
    await scim.get(`/Users?filter=${encodeURIComponent(`userName eq "${alice.userName}`)}`).expect(400);
    await t.activity!.flush();

    const rows = await t.db
      .acrossTenants()
      .query<Record<string, unknown>>('SELECT * FROM scim_request_log WHERE directory_id = $1 ORDER BY seq', [dir.directoryId]);

    assert.equal(rows.length, 6);
    assert.deepEqual(Object.keys(rows[0]).sort(), [
      'at',
      'attribute',
      'directory_id',
      'method',
      'route',
      'scim_type',
      'seq',
      'slot',
      'status',
      'tenant_id',
      'test_connection',
    ]);
    const text = JSON.stringify(rows);
    for (const personal of [guid, alice.userName, alice.externalId, created.id, 'filter', 'eq ', '@']) {
      assert.ok(!text.includes(personal), `"${personal}" is stored: ${text}`);
    }
    for (const row of rows) assert.match(String(row.route), /^\/scim\/v1\/Users(\/:id)?$/);
    assert.deepEqual(
      rows.map((r) => [r.status, r.scim_type]),
      [
        [200, null],
        [200, null],
        [201, null],
        [409, 'uniqueness'],
        [200, null],
        [400, 'invalidFilter'],
      ],
    );
    assert.equal(rows[3].attribute, 'userName');
    assert.ok(rows[5].attribute === null || rows[5].attribute === 'userName', `${rows[5].attribute}`);
  });

  it('Test connection › only a random GUID that finds nothing counts; a real lookup does not', async () => {
    const dir = await makeDirectory(t.app);
    const link = await createLink(t.app, dir.directoryId);
    const scim = scimClient(t.app, dir.token, '/scim/v1');
    const guidUser = (await scim.post('/Users', entraUser({ userName: randomUUID() })).expect(201)).body;
    await scim.get(`/Users?filter=${encodeURIComponent(`userName eq "${guidUser.userName}"`)}`).expect(200);
    await scim.get(`/Users?filter=${encodeURIComponent('userName eq "alice@contoso.example"')}`).expect(200);
    await scim.get(`/Users?filter=${encodeURIComponent(`externalId eq "${randomUUID()}"`)}`).expect(200);
    await t.activity!.flush();
    assert.equal((await setup(t.app, link.secret).get('/status')).body.testConnection, null);

    await scim.get(`/Groups?excludedAttributes=members&filter=${encodeURIComponent(`displayName eq "${randomUUID()}"`)}`).expect(200);
    await t.activity!.flush();

    const status = (await setup(t.app, link.secret).get('/status')).body;
    assert.ok(status.testConnection?.receivedAt);
    assert.deepEqual(
      status.requests.map((r: { testConnection: boolean }) => r.testConnection),
      [true, false, false, false, false],
    );
  });

  it('a revoked Secret Token still sent by Entra › a 401 listed with its explanation; a token never issued › not listed', async () => {
    const dir = await makeDirectory(t.app);
    const link = await createLink(t.app, dir.directoryId);
    await asAdmin(request(t.app).delete(`/admin/v1/directories/${dir.directoryId}/keys/${dir.keyId}`)).expect(204);

    await testConnection(t.app, dir.token).expect(401);
    await scimClient(t.app, `scim_us_${'B'.repeat(43)}`, '/scim/v1')
      .get('/Users')
      .expect(401);
    await t.activity!.flush();

    const status = (await setup(t.app, link.secret).get('/status')).body;
    assert.equal(status.requests.length, 1);
    assert.deepEqual([status.requests[0].method, status.requests[0].route, status.requests[0].status], ['GET', '/scim/v1/Users', 401]);
    assert.match(status.requests[0].explanation.summary, /revoked or is wrong/);
    assert.equal(status.testConnection, null);
  });

  it('a group member that is a group › invalidValue on members, explained with the group-mapping fix', async () => {
    const dir = await makeDirectory(t.app);
    const link = await createLink(t.app, dir.directoryId);
    const scim = scimClient(t.app, dir.token, '/scim/v1');
    const inner = (await scim.post('/Groups', { schemas: [GROUP_SCHEMA], displayName: `inner-${randomUUID()}` }).expect(201)).body;
    const outer = (await scim.post('/Groups', { schemas: [GROUP_SCHEMA], displayName: `outer-${randomUUID()}` }).expect(201)).body;

    await scim.patch(`/Groups/${outer.id}`, patchOp({ op: 'Add', path: 'members', value: [{ value: inner.id }] })).expect(400);
    await t.activity!.flush();

    const [latest] = (await setup(t.app, link.secret).get('/status')).body.requests;
    assert.deepEqual([latest.route, latest.status, latest.scimType, latest.attribute], ['/scim/v1/Groups/:id', 400, 'invalidValue', 'members']);
    assert.match(latest.explanation.fix, /uncheck Group/);
  });

  it('GET /setup/v1/status?limit › 1 lists one; 0 and 51 › 400 invalidValue', async () => {
    const dir = await makeDirectory(t.app);
    const link = await createLink(t.app, dir.directoryId);
    await scimClient(t.app, dir.token, '/scim/v1').get('/Users').expect(200);
    await scimClient(t.app, dir.token, '/scim/v1').get('/Groups').expect(200);
    await t.activity!.flush();

    assert.equal((await setup(t.app, link.secret).get('/status?limit=1')).body.requests.length, 1);
    for (const limit of ['0', '51', 'x']) {
      const res = await setup(t.app, link.secret).get(`/status?limit=${limit}`);
      assert.equal(res.status, 400);
      assert.equal(res.body.scimType, 'invalidValue');
    }
  });
});

describe('setup links › failed secrets are throttled', () => {
  let t: TestApp;
  before(() => {
    t = makeTestApp({ authThrottle: { failures: 3 } });
  });
  after(() => t.close());

  it('wrong secrets from one address › 429 with Retry-After once over the limit, even for a valid link', async () => {
    const dir = await makeDirectory(t.app);
    const link = await createLink(t.app, dir.directoryId);
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await setup(t.app, `setup_${randomUUID()}`).get('/directory')).status);

    const valid = await setup(t.app, link.secret).get('/directory');

    assert.deepEqual(statuses, [401, 401, 401, 429]);
    assert.equal(valid.status, 429);
    assert.ok(Number(valid.headers['retry-after']) >= 1);
  });
});

describe('setup links › custom attribute mappings of the seeds’ extension', () => {
  // A database of its own: platform-wide extensions other suites register would add their lines.
  let db: PrivateDatabase;
  let t: TestApp;
  before(async () => {
    db = await createPrivateDatabase('setup_links');
    t = makeTestApp({ db: createDatabase({ url: db.url, poolMax: 3 }) });
  });
  after(async () => {
    await t.close();
    await db.drop();
  });

  it("GET /setup/v1/directory › the ActivTrak extension registered platform-wide › exactly the guide's three lines, with types", async () => {
    await asAdmin(request(t.app).post('/admin/v1/schemas')).send(activTrakSchema()).expect(201);
    const dir = await makeDirectory(t.app);
    const link = await createLink(t.app, dir.directoryId);

    const res = await setup(t.app, link.secret).get('/directory');

    assert.equal(res.status, 200);
    assert.deepEqual(
      res.body.attributeMappings.map((m: { resourceType: string; target: string; type: string }) => [m.resourceType, m.target, m.type]),
      [
        ['User', 'urn:ietf:params:scim:schemas:extension:activtrak:2.0:User.userPrincipalNames[value eq null].value', 'String'],
        ['User', 'urn:ietf:params:scim:schemas:extension:activtrak:2.0:User.tracking', 'Boolean'],
        ['User', 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber', 'String'],
      ],
    );
  });

  it("GET /setup/v1/directory › a directory's own extension › its lines for that directory only", async () => {
    const own = await makeDirectory(t.app);
    const other = await makeDirectory(t.app);
    const urn = 'urn:ietf:params:scim:schemas:extension:acme:2.0:User';
    await asAdmin(request(t.app).post(`/admin/v1/directories/${own.directoryId}/schemas`))
      .send({
        id: urn,
        attributes: [
          {
            name: 'badge',
            type: 'complex',
            subAttributes: [
              { name: 'number', type: 'integer' },
              { name: 'issued', type: 'dateTime' },
            ],
          },
          { name: 'serial', type: 'string', mutability: 'readOnly' },
        ],
      })
      .expect(201);

    const mine = (await setup(t.app, (await createLink(t.app, own.directoryId)).secret).get('/directory')).body.attributeMappings;
    const theirs = (await setup(t.app, (await createLink(t.app, other.directoryId)).secret).get('/directory')).body.attributeMappings;

    const targets = (list: { target: string; type: string }[]) => list.filter((m) => m.target.startsWith(urn)).map((m) => `${m.target} ${m.type}`);
    assert.deepEqual(targets(mine), [`${urn}.badge.number Integer`, `${urn}.badge.issued DateTime`]);
    assert.deepEqual(targets(theirs), []);
  });
});
