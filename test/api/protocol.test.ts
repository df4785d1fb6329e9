/**
 * What every SCIM request meets before its resource: the base paths (/scim/v2, the /scim/v1
 * alias, Entra's flag on the URL), media types, ids in every resource, and error responses.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { ERROR_SCHEMA, entraUser, GROUP_SCHEMA, makeDirectory, patchOp, scimClient, USER_SCHEMA } from '../support/factories';
import { apiSuite, assertScimJson, createUser, filterQuery, getUser, memberIdsOf } from '../support/scim-helpers';

const SPC_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig';
const FLAG = 'aadOptscim062020';

const api = apiSuite();
const { fresh } = api;

describe('base paths', () => {
  // Tenant URLs configured for the older endpoint end in /scim/v1.
  it('/scim/v1 alias › a user created through /scim/v2 › listed, patched and deleted through /scim/v1 as well', async () => {
    const { dir, scim } = await fresh();
    const v1 = scimClient(api.app, dir.token, '/scim/v1');
    const created = await createUser(scim);

    const found = await v1.get(`/Users?${filterQuery(`userName eq "${created.userName}"`)}`);
    const patched = await v1.patch(`/Users/${created.id}`, patchOp({ op: 'Replace', path: 'displayName', value: 'via v1' }));
    const stored = await getUser(scim, created.id);
    const deleted = await v1.delete(`/Users/${created.id}`);

    assert.equal(found.status, 200);
    assert.equal(found.body.totalResults, 1);
    assert.equal(patched.status, 200);
    assert.equal(stored.displayName, 'via v1');
    assert.equal(deleted.status, 204);
    await scim.get(`/Users/${created.id}`).expect(404);
  });

  it('GET /scim/v1/ServiceProviderConfig › the same API under the v1 alias, locations under /scim/v1', async () => {
    const dir = await makeDirectory(api.app);
    const v1 = scimClient(api.app, dir.token, '/scim/v1');

    const res = await v1.get('/ServiceProviderConfig').expect(200);
    const { body: user } = await v1.post('/Users', entraUser()).expect(201);

    assert.deepEqual(res.body.schemas, [SPC_SCHEMA]);
    assert.match(user.meta.location, /\/scim\/v1\/Users\//);
  });

  // Entra's compliant mode is switched on by ?aadOptscim062020 on the tenant URL, which then rides on every request.
  it('every verb › with ?aadOptscim062020 in the query string › works exactly as without it', async () => {
    const { scim } = await fresh();
    const body = entraUser();

    const created = await scim.post(`/Users?${FLAG}`, body);
    const found = await scim.get(`/Users?${FLAG}&${filterQuery(`userName eq "${body.userName}"`)}`);
    const patched = await scim.patch(`/Users/${created.body.id}?${FLAG}`, patchOp({ op: 'replace', path: 'active', value: false }));
    const group = await scim.post(`/Groups?${FLAG}`, { schemas: [GROUP_SCHEMA], displayName: 'flagged' });
    const added = await scim.patch(`/Groups/${group.body.id}?${FLAG}`, patchOp({ op: 'add', path: 'members', value: [{ value: created.body.id }] }));
    const fetched = await scim.get(`/Users/${created.body.id}?${FLAG}`);

    assert.deepEqual([created.status, found.status, patched.status, group.status, added.status, fetched.status], [201, 200, 200, 201, 204, 200]);
    assert.equal(found.body.totalResults, 1);
    assert.equal(fetched.body.active, false);
    assert.deepEqual(await memberIdsOf(scim, group.body.id), [created.body.id]);
    await scim.delete(`/Groups/${group.body.id}?${FLAG}`).expect(204);
    await scim.delete(`/Users/${created.body.id}?${FLAG}`).expect(204);
    await scim.get(`/Users/${created.body.id}`).expect(404);
    await scim.get(`/Groups/${group.body.id}`).expect(404);
  });
});

describe('media types and ids', () => {
  // Entra's older samples send application/json.
  it('POST /Users › a body sent as application/json › 201, stored', async () => {
    const { dir } = await fresh();
    const body = entraUser();

    const res = await request(api.app)
      .post('/scim/v2/Users')
      .set('Authorization', `Bearer ${dir.token}`)
      .set('Content-Type', 'application/json')
      .send(JSON.stringify(body));

    assert.equal(res.status, 201);
    assert.match(String(res.headers['content-type']), /^application\/scim\+json/);
    const found = await scimClient(api.app, dir.token)
      .get(`/Users?${filterQuery(`userName eq "${body.userName}"`)}`)
      .expect(200);
    assert.equal(found.body.totalResults, 1);
  });

  it('every SCIM response › success, list, no-content and error › Content-Type application/scim+json whenever there is a body', async () => {
    const { scim } = await fresh();

    const created = await scim.post('/Users', entraUser());
    const responses = [
      created,
      await scim.get(`/Users/${created.body.id}`),
      await scim.get('/Users'),
      await scim.patch(`/Users/${created.body.id}`, patchOp({ op: 'Replace', path: 'nickName', value: 'n' })),
      await scim.get(`/Users/${randomUUID()}`),
      await scim.post('/Users', { schemas: [USER_SCHEMA] }),
      await scim.get('/Schemas'),
      await scim.get('/ServiceProviderConfig'),
      await scim.get('/ResourceTypes'),
    ];

    assert.deepEqual(
      responses.map((r) => r.status),
      [201, 200, 200, 200, 404, 400, 200, 200, 200],
    );
    for (const res of responses) assertScimJson(res);
  });

  it('every response carrying a resource › POST, GET, PATCH and list › each has a non-empty string id', async () => {
    const { scim } = await fresh();

    const posted = await scim.post('/Users', entraUser()).expect(201);
    const got = await scim.get(`/Users/${posted.body.id}`).expect(200);
    const patched = await scim.patch(`/Users/${posted.body.id}`, patchOp({ op: 'Replace', path: 'displayName', value: 'x' })).expect(200);
    const listed = await scim.get('/Users').expect(200);
    const group = await scim.post('/Groups', { schemas: [GROUP_SCHEMA], displayName: 'g' }).expect(201);
    const groups = await scim.get('/Groups').expect(200);

    for (const resource of [posted.body, got.body, patched.body, group.body, ...listed.body.Resources, ...groups.body.Resources]) {
      assert.equal(typeof resource.id, 'string');
      assert.ok(resource.id.length > 0);
    }
    assert.equal(listed.body.Resources.length, 1);
    assert.equal(groups.body.Resources.length, 1);
  });
});

describe('errors', () => {
  // Entra sends no User-Agent; a server that sniffed for browsers answered HTML.
  it('GET /Users › no User-Agent and no token › 401 SCIM error in application/scim+json with WWW-Authenticate, never HTML', async () => {
    const res = await request(api.app).get('/scim/v2/Users').unset('User-Agent');

    assert.equal(res.status, 401);
    assert.match(String(res.headers['content-type']), /^application\/scim\+json/);
    assert.match(String(res.headers['www-authenticate']), /^Bearer/);
    assert.deepEqual(res.body.schemas, [ERROR_SCHEMA]);
    assert.equal(res.body.status, '401');
  });

  it('GET /scim/v2/Unknown › an unknown path under the base › SCIM 404 in application/scim+json', async () => {
    const { scim } = await fresh();

    const res = await scim.get('/Unknown');

    assert.equal(res.status, 404);
    assert.match(String(res.headers['content-type']), /^application\/scim\+json/);
    assert.deepEqual(res.body.schemas, [ERROR_SCHEMA]);
  });

  // Entra's Test connection may probe the bare tenant URL.
  it('GET {base} › the bare tenant URL that Test connection might probe › 200 or a SCIM 404, never HTML', async () => {
    const { scim } = await fresh();

    const res = await scim.get('');

    assert.ok([200, 404].includes(res.status), `status ${res.status}`);
    assert.match(String(res.headers['content-type']), /^application\/scim\+json/);
  });
});
