import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { makeTestApp, type TestApp } from '../support/app';
import { asAdmin, entraUser, makeDirectory, patchOp, scimClient, USER_SCHEMA, type TestDirectory } from '../support/factories';

const URN = 'urn:ietf:params:scim:schemas:extension:acme:2.0:User';

const acmeSchema = (urn = URN) => ({
  id: urn,
  name: 'AcmeUser',
  attributes: [
    { name: 'badge', type: 'string', uniqueness: 'server' },
    { name: 'hireCode', type: 'string', mutability: 'immutable' },
    { name: 'level', type: 'integer' },
    { name: 'costCode', type: 'string', required: true },
  ],
});

describe('extension schemas › enforced on every write', () => {
  let t: TestApp;
  let dir: TestDirectory;
  before(async () => {
    t = makeTestApp();
    dir = await makeDirectory(t.app);
    await asAdmin(request(t.app).post(`/admin/v1/directories/${dir.directoryId}/schemas`))
      .send(acmeSchema())
      .expect(201);
  });
  after(() => t.close());

  const withAcme = (ext: Record<string, unknown>) => entraUser({ schemas: [USER_SCHEMA, URN], [URN]: { costCode: 'CC1', ...ext } });

  it('POST /Users › a uniqueness:server value already held, in another case › 409 uniqueness', async () => {
    const scim = scimClient(t.app, dir.token);
    await scim.post('/Users', withAcme({ badge: 'B-100' })).expect(201);
    const res = await scim.post('/Users', withAcme({ badge: 'b-100' })).expect(409);
    assert.equal(res.body.scimType, 'uniqueness');
  });

  it("PATCH /Users › taking another user's unique value › 409 and nothing changes", async () => {
    const scim = scimClient(t.app, dir.token);
    await scim.post('/Users', withAcme({ badge: 'B-200' })).expect(201);
    const other = (await scim.post('/Users', withAcme({ badge: 'B-201' })).expect(201)).body;
    const res = await scim.patch(`/Users/${other.id}`, patchOp({ op: 'replace', path: `${URN}:badge`, value: 'B-200' })).expect(409);
    assert.equal(res.body.scimType, 'uniqueness');
    const after = (await scim.get(`/Users/${other.id}`).expect(200)).body;
    assert.equal(after[URN].badge, 'B-201');
    assert.equal(after.meta.version, other.meta.version);
  });

  it('POST /Users › the same unique value in another directory › 201 (uniqueness is per directory)', async () => {
    const elsewhere = await makeDirectory(t.app);
    await asAdmin(request(t.app).post(`/admin/v1/directories/${elsewhere.directoryId}/schemas`))
      .send(acmeSchema())
      .expect(201);
    await scimClient(t.app, dir.token)
      .post('/Users', withAcme({ badge: 'B-300' }))
      .expect(201);
    await scimClient(t.app, elsewhere.token)
      .post('/Users', withAcme({ badge: 'B-300' }))
      .expect(201);
  });

  it('PUT and PATCH /Users › changing an immutable attribute once set › 400 mutability', async () => {
    const scim = scimClient(t.app, dir.token);
    const user = (await scim.post('/Users', withAcme({ hireCode: 'H1' })).expect(201)).body;
    const put = await scim.put(`/Users/${user.id}`, { ...user, [URN]: { costCode: 'CC1', hireCode: 'H2' } }).expect(400);
    assert.equal(put.body.scimType, 'mutability');
    const patch = await scim.patch(`/Users/${user.id}`, patchOp({ op: 'replace', path: `${URN}:hireCode`, value: 'H3' })).expect(400);
    assert.equal(patch.body.scimType, 'mutability');
    assert.equal((await scim.get(`/Users/${user.id}`).expect(200)).body[URN].hireCode, 'H1');
  });

  it('POST /Users › a required extension attribute missing › 400 invalidValue', async () => {
    const res = await scimClient(t.app, dir.token)
      .post('/Users', entraUser({ [URN]: { badge: 'B-400' } }))
      .expect(400);
    assert.equal(res.body.scimType, 'invalidValue');
  });

  it('POST /Users › an integer attribute given a word › 400 invalidValue; given "7" › stored as 7', async () => {
    const scim = scimClient(t.app, dir.token);
    assert.equal((await scim.post('/Users', withAcme({ level: 'seven' })).expect(400)).body.scimType, 'invalidValue');
    const ok = (await scim.post('/Users', withAcme({ level: '7' })).expect(201)).body;
    assert.equal(ok[URN].level, 7);
  });
});

describe('extension schemas › validated when posted', () => {
  let t: TestApp;
  before(() => {
    t = makeTestApp();
  });
  after(() => t.close());

  const post = (body: unknown) => asAdmin(request(t.app).post('/admin/v1/schemas')).send(body as object);
  const cases: [string, unknown][] = [
    ['no id', { name: 'x', attributes: [{ name: 'a', type: 'string' }] }],
    ['an id that is not a URN', { id: 'acme', attributes: [{ name: 'a', type: 'string' }] }],
    ['no attributes', { id: 'urn:acme:x:User', attributes: [] }],
    ['an unknown type', { id: 'urn:acme:x:User', attributes: [{ name: 'a', type: 'text' }] }],
    ['a complex attribute without subAttributes', { id: 'urn:acme:x:User', attributes: [{ name: 'a', type: 'complex' }] }],
    [
      'a complex sub-attribute',
      {
        id: 'urn:acme:x:User',
        attributes: [{ name: 'a', type: 'complex', subAttributes: [{ name: 'b', type: 'complex', subAttributes: [{ name: 'c', type: 'string' }] }] }],
      },
    ],
    ['a bad mutability', { id: 'urn:acme:x:User', attributes: [{ name: 'a', type: 'string', mutability: 'sometimes' }] }],
    ['a name with a space', { id: 'urn:acme:x:User', attributes: [{ name: 'a b', type: 'string' }] }],
    [
      'the same attribute twice',
      {
        id: 'urn:acme:x:User',
        attributes: [
          { name: 'a', type: 'string' },
          { name: 'A', type: 'string' },
        ],
      },
    ],
  ];
  for (const [situation, body] of cases) {
    it(`POST /admin/v1/schemas › ${situation} › 400 invalidValue`, async () => {
      const res = await post(body).expect(400);
      assert.equal(res.body.scimType, 'invalidValue');
    });
  }

  it('POST /admin/v1/schemas › a built-in URN › 409 uniqueness', async () => {
    const res = await post({ id: 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User', attributes: [{ name: 'a', type: 'string' }] }).expect(409);
    assert.equal(res.body.scimType, 'uniqueness');
  });

  it('POST /admin/v1/directories/{id}/schemas › the same URN twice › 409 uniqueness', async () => {
    const dir = await makeDirectory(t.app);
    const urn = `urn:ietf:params:scim:schemas:extension:dup${Date.now()}:2.0:User`;
    const url = `/admin/v1/directories/${dir.directoryId}/schemas`;
    await asAdmin(request(t.app).post(url)).send(acmeSchema(urn)).expect(201);
    assert.equal((await asAdmin(request(t.app).post(url)).send(acmeSchema(urn)).expect(409)).body.scimType, 'uniqueness');
  });
});

describe('extension schemas › a platform-wide and a directory copy of one URN', () => {
  let t: TestApp;
  before(() => {
    t = makeTestApp();
  });
  after(() => t.close());

  // Nothing required: a platform-wide schema reaches every directory of the shared test database.
  const optionalSchema = (urn: string) => ({ id: urn, name: 'Note', attributes: [{ name: 'note', type: 'string' }] });
  const uniqueUrn = (what: string) => `urn:ietf:params:scim:schemas:extension:${what}${Date.now().toString(36)}${process.pid}:2.0:User`;
  const directoryName = async (id: string) => (await asAdmin(request(t.app).get(`/admin/v1/directories/${id}`)).expect(200)).body.name as string;

  it('POST /admin/v1/schemas › two directories hold a copy › 409 uniqueness naming each directory by id and name; nothing registered', async () => {
    const urn = uniqueUrn('clash');
    const [a, b, bystander] = [await makeDirectory(t.app), await makeDirectory(t.app), await makeDirectory(t.app)];
    for (const d of [a, b])
      await asAdmin(request(t.app).post(`/admin/v1/directories/${d.directoryId}/schemas`))
        .send(optionalSchema(urn))
        .expect(201);

    const res = await asAdmin(request(t.app).post('/admin/v1/schemas')).send(optionalSchema(urn));

    assert.equal(res.status, 409);
    assert.equal(res.body.scimType, 'uniqueness');
    for (const d of [a, b]) {
      assert.ok(res.body.detail.includes(d.directoryId), `names directory ${d.directoryId}`);
      assert.ok(res.body.detail.includes(await directoryName(d.directoryId)), 'and its name');
    }
    assert.ok(!res.body.detail.includes(bystander.directoryId));
    const platform = (await asAdmin(request(t.app).get('/admin/v1/schemas')).expect(200)).body.data;
    assert.ok(!platform.some((s: { id: string }) => s.id === urn));
  });

  it('POST /admin/v1/directories/{id}/schemas › a platform-wide copy exists › 409 uniqueness saying it is platform-wide', async () => {
    const urn = uniqueUrn('platform');
    const dir = await makeDirectory(t.app);
    await asAdmin(request(t.app).post('/admin/v1/schemas')).send(optionalSchema(urn)).expect(201);
    try {
      const res = await asAdmin(request(t.app).post(`/admin/v1/directories/${dir.directoryId}/schemas`)).send(optionalSchema(urn));

      assert.equal(res.status, 409);
      assert.equal(res.body.scimType, 'uniqueness');
      assert.ok(res.body.detail.includes('platform-wide'));
      const own = (await asAdmin(request(t.app).get(`/admin/v1/directories/${dir.directoryId}/schemas`)).expect(200)).body.data;
      assert.equal(own.length, 0);
    } finally {
      await asAdmin(request(t.app).delete(`/admin/v1/schemas/${urn}`)).expect(204);
    }
  });
});
