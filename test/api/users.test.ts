/**
 * /Users through HTTP: create, read, replace (PUT), delete; userName and externalId uniqueness;
 * active; the enterprise and directory extensions on create; the groups a user lists; meta and
 * ETags. PATCH of users lives in patch.test.ts, listing and filtering in query.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { asAdmin, ENTERPRISE, ERROR_SCHEMA, entraUser, GROUP_SCHEMA, patchOp, USER_SCHEMA } from '../support/factories';
import {
  apiSuite,
  assertScimError,
  assertScimJson,
  createUser,
  createUsers,
  filterQuery,
  getUser,
  SCIM_JSON,
  sentHeader,
  typesFor,
} from '../support/scim-helpers';

const api = apiSuite();
const { fresh, eventsOf } = api;

describe('POST and GET /Users', () => {
  it('POST /Users › a full user › 201 echoing every value with a server id and meta, Location is meta.location, and GET returns the same resource', async () => {
    const { scim } = await fresh();
    const body = entraUser({
      title: 'Engineer',
      [ENTERPRISE]: { employeeNumber: '42', department: 'R&D' },
    });

    const created = await scim.post('/Users', body).expect(201);
    const read = await scim.get(`/Users/${created.body.id}`).expect(200);

    assert.match(created.headers['content-type'], SCIM_JSON);
    assert.equal(typeof created.body.id, 'string');
    assert.ok(created.body.id.length > 0);
    assert.equal(created.body.meta.resourceType, 'User');
    assert.ok(created.body.meta.created && created.body.meta.lastModified);
    assert.equal(created.headers.location, created.body.meta.location);
    assert.deepEqual(created.body.schemas.slice().sort(), [ENTERPRISE, USER_SCHEMA].sort());
    assert.equal(created.body.externalId, body.externalId);
    assert.equal(created.body.userName, body.userName);
    assert.equal(created.body.active, true);
    assert.deepEqual(created.body.name, body.name);
    assert.deepEqual(created.body.emails, body.emails);
    assert.deepEqual(created.body[ENTERPRISE], { employeeNumber: '42', department: 'R&D' });
    assert.deepEqual(read.body, created.body);
  });

  // Microsoft's reference code sends null for unset attributes and misspells the enterprise URN.
  it('POST /Users › null attributes and an enterprise URN missing its last colon › 201, nulls stored as absent', async () => {
    const { scim } = await fresh();
    const body = {
      schemas: [USER_SCHEMA, 'urn:ietf:params:scim:schemas:extension:enterprise:2.0User'],
      externalId: 'jyoung',
      userName: 'jyoung@testuser.com',
      active: true,
      addresses: null,
      displayName: 'Joy Young',
      emails: [{ type: 'work', value: 'jyoung@Contoso.com', primary: true }],
      meta: { resourceType: 'User' },
      name: { familyName: 'Young', givenName: 'Joy' },
      phoneNumbers: null,
      preferredLanguage: null,
      title: null,
      department: null,
      manager: null,
    };

    const res = await scim.post('/Users', body);

    assert.equal(res.status, 201);
    const stored = (await scim.get(`/Users/${res.body.id}`).expect(200)).body;
    assert.equal(stored.userName, 'jyoung@testuser.com');
    assert.equal(stored.displayName, 'Joy Young');
    assert.deepEqual(stored.emails, body.emails);
    for (const absent of ['addresses', 'phoneNumbers', 'preferredLanguage', 'title', 'department', 'manager']) {
      assert.equal(stored[absent], undefined, absent);
    }
  });

  it('POST /Users › a password › accepted but never returned (returned "never")', async () => {
    const { scim } = await fresh();

    const created = await scim.post('/Users', entraUser({ password: 'S3cret!pass' })).expect(201);
    const read = await scim.get(`/Users/${created.body.id}`).expect(200);

    assert.equal(created.body.password, undefined);
    assert.equal(read.body.password, undefined);
  });

  it('GET /Users/{id} › an existing user › 200 with the same id and active present', async () => {
    const { scim } = await fresh();
    const created = await createUser(scim);

    const res = await scim.get(`/Users/${created.id}`);

    assert.equal(res.status, 200);
    assertScimJson(res);
    assert.equal(res.body.id, created.id);
    assert.equal(res.body.active, true);
    assert.equal(res.body.userName, created.userName);
  });

  it('GET /Users/{id} › an id that does not exist (a short hex id and a UUID) › 404 SCIM error', async () => {
    const { scim } = await fresh();

    for (const id of ['5171a35d82074e068ce2', randomUUID()]) {
      const res = await scim.get(`/Users/${id}`);
      assert.equal(res.status, 404, id);
      assertScimJson(res);
      assert.deepEqual(res.body.schemas, [ERROR_SCHEMA]);
      assert.equal(res.body.status, '404');
    }
  });

  it('GET /Users/{id} › a user of another directory › 404', async () => {
    const { scim: mine } = await fresh();
    const { scim: theirs } = await fresh();
    const { body: user } = await theirs.post('/Users', entraUser()).expect(201);

    assertScimError(await mine.get(`/Users/${user.id}`), 404);
  });

  // Entra names one value per type with emails[type eq "work"], so a type may appear only once.
  it('POST /Users › two work emails › 400 invalidValue (a type appears once, so emails[type eq "work"] names one value) and nothing stored', async () => {
    const { scim } = await fresh();
    const body = entraUser({
      emails: [
        { type: 'work', value: 'a@x.com' },
        { type: 'work', value: 'b@x.com' },
      ],
    });

    const res = await scim.post('/Users', body);

    assert.equal(res.status, 400);
    assert.equal(res.body.scimType, 'invalidValue');
    const found = await scim.get(`/Users?${filterQuery(`userName eq "${body.userName}"`)}`).expect(200);
    assert.equal(found.body.totalResults, 0);
  });

  // Entra compares what it reads back with what it sent: a reformatted value looks like a change every cycle.
  it('POST /Users › values that a server might reformat (phone digits, mixed-case email, surrounding spaces) › stored and returned byte for byte', async () => {
    const { scim } = await fresh();
    const body = entraUser({
      displayName: ' User X ',
      phoneNumbers: [{ type: 'work', value: '55555555555' }],
      emails: [{ type: 'work', value: 'MiXeD@Contoso.com', primary: true }],
    });

    const created = await createUser(scim, body);

    const stored = (await scim.get(`/Users/${created.id}`).expect(200)).body;
    assert.equal(stored.displayName, ' User X ');
    assert.deepEqual(stored.phoneNumbers, [{ type: 'work', value: '55555555555' }]);
    assert.deepEqual(stored.emails, [{ type: 'work', value: 'MiXeD@Contoso.com', primary: true }]);
    assert.equal(stored.userName, body.userName);
  });

  // Entra's default mappings send one number as work, mobile and fax.
  it('POST /Users › one number under work, mobile and fax › 201 with three phone numbers', async () => {
    const { scim } = await fresh();
    const phoneNumbers = [
      { value: '555-555-5555', type: 'work' },
      { value: '555-555-5555', type: 'mobile' },
      { value: '555-555-5555', type: 'fax' },
    ];

    const created = await createUser(scim, { phoneNumbers });

    assert.deepEqual((await scim.get(`/Users/${created.id}`).expect(200)).body.phoneNumbers, phoneNumbers);
  });

  // Entra's app-role mapping expressions (SingleAppRoleAssignment, AppRoleAssignmentsComplex) send these shapes.
  it('POST /Users › SingleAppRoleAssignment create (roles[{primary, type, value}]) › 201, roles stored as sent', async () => {
    const { scim } = await fresh();
    const roles = [{ primary: true, type: 'WindowsAzureActiveDirectoryRole', value: 'Admin' }];

    const res = await scim.post('/Users', {
      schemas: [USER_SCHEMA],
      externalId: 'alias',
      userName: 'alias@contoso.OnMicrosoft.com',
      active: true,
      displayName: 'First Name Last Name',
      meta: { resourceType: 'User' },
      roles,
    });

    assert.equal(res.status, 201);
    const stored = (await scim.get(`/Users/${res.body.id}`).expect(200)).body;
    assert.deepEqual(stored.roles, roles);
    assert.equal(stored.userName, 'alias@contoso.OnMicrosoft.com');
  });

  it('POST /Users › AppRoleAssignmentsComplex create (two roles of one type, displayName sub-attribute) › 201 with both roles', async () => {
    const { scim } = await fresh();

    const res = await scim.post('/Users', {
      schemas: [USER_SCHEMA],
      externalId: 'alias',
      userName: 'alias@contoso.OnMicrosoft.com',
      active: true,
      displayName: 'First Name Last Name',
      meta: { resourceType: 'User' },
      roles: [
        { primary: false, type: 'WindowsAzureActiveDirectoryRole', displayName: 'Admin', value: 'Admin' },
        { primary: false, type: 'WindowsAzureActiveDirectoryRole', displayName: 'User', value: 'User' },
      ],
    });

    assert.equal(res.status, 201);
    const stored = (await scim.get(`/Users/${res.body.id}`).expect(200)).body;
    assert.equal(stored.roles.length, 2);
    assert.deepEqual(
      stored.roles.map((r: Record<string, unknown>) => [r.value, r.type, r.display ?? r.displayName]),
      [
        ['Admin', 'WindowsAzureActiveDirectoryRole', 'Admin'],
        ['User', 'WindowsAzureActiveDirectoryRole', 'User'],
      ],
    );
  });

  // Entra sends a custom extension's block without listing its URN in schemas.
  it('POST /Users › a custom extension block whose URN is missing from schemas › 201, kept; PATCH by its URN path updates it', async () => {
    const { dir, scim } = await fresh();
    const urn = 'urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User';
    await asAdmin(request(api.app).post(`/admin/v1/directories/${dir.directoryId}/schemas`))
      .send({ id: urn, name: 'CustomExtensionName', attributes: [{ name: 'CustomAttribute', type: 'string' }] })
      .expect(201);

    const created = await scim.post('/Users', {
      schemas: [USER_SCHEMA, ENTERPRISE],
      userName: 'bjensen',
      externalId: 'bjensen',
      name: { formatted: 'Ms. Barbara J Jensen III', familyName: 'Jensen', givenName: 'Barbara' },
      [ENTERPRISE]: { employeeNumber: '701984', costCenter: '4130', organization: 'Universal Studios', division: 'Theme Park', department: 'Tour Operations' },
      [urn]: { CustomAttribute: '701984' },
    });
    const patched = await scim.patch(`/Users/${created.body.id}`, patchOp({ op: 'Replace', path: `${urn}:CustomAttribute`, value: '701985' }));

    assert.equal(created.status, 201);
    assert.equal(created.body[urn].CustomAttribute, '701984');
    assert.equal(patched.status, 200);
    const stored = (await scim.get(`/Users/${created.body.id}`).expect(200)).body;
    assert.deepEqual(stored[urn], { CustomAttribute: '701985' });
    assert.equal(stored[ENTERPRISE].department, 'Tour Operations');
    assert.ok(stored.schemas.includes(urn));
  });

  // Entra sends the manager as a bare id string; clients expect the { value } object back.
  it('POST /Users › manager as a string inside the enterprise block › 201; GET and list return an object { value }', async () => {
    const { scim } = await fresh();

    const created = await scim.post('/Users', {
      schemas: [USER_SCHEMA, ENTERPRISE],
      userName: 'user@example.com',
      [ENTERPRISE]: { manager: '123456' },
    });
    const listed = await scim.get(`/Users?${filterQuery('userName eq "user@example.com"')}`).expect(200);

    assert.equal(created.status, 201);
    assert.deepEqual(created.body[ENTERPRISE].manager, { value: '123456' });
    assert.deepEqual((await getUser(scim, created.body.id))[ENTERPRISE].manager, { value: '123456' });
    assert.deepEqual(listed.body.Resources[0][ENTERPRISE].manager, { value: '123456' });
  });
});

describe('uniqueness', () => {
  // Entra filters by userName before it creates a user: the filter must find whatever POST calls a duplicate.
  it('POST /Users › a userName differing only in case from an existing one › 409 uniqueness, one user stored, and the filter finds it', async () => {
    const { scim } = await fresh();
    const created = await createUser(scim, { userName: 'Dale.Mohr@romaguera.uk' });

    const res = await scim.post('/Users', entraUser({ userName: 'DALE.MOHR@ROMAGUERA.UK' }));
    const found = await scim.get(`/Users?${filterQuery('userName eq "dale.mohr@romaguera.uk"')}`).expect(200);

    assertScimError(res, 409, 'uniqueness');
    assert.equal(found.body.totalResults, 1);
    assert.equal(found.body.Resources[0].id, created.id);
  });

  it('POST /Users › the same userName a second time › 409 uniqueness and still one user', async () => {
    const { scim } = await fresh();
    const body = entraUser();
    await createUser(scim, body);

    const res = await scim.post('/Users', { ...body, externalId: randomUUID() });

    assert.equal(res.status, 409);
    assertScimJson(res);
    assert.equal(res.body.scimType, 'uniqueness');
    const found = await scim.get(`/Users?${filterQuery(`userName eq "${body.userName}"`)}`).expect(200);
    assert.equal(found.body.totalResults, 1);
  });

  it('POST /Users › an externalId another user of the directory holds › 409 uniqueness, and the externalId filter finds that user', async () => {
    const { scim } = await fresh();
    const created = await createUser(scim, { externalId: 'dup-external' });

    const res = await scim.post('/Users', entraUser({ externalId: 'dup-external' }));
    const found = await scim.get(`/Users?${filterQuery('externalId eq "dup-external"')}`).expect(200);

    assertScimError(res, 409, 'uniqueness');
    assert.equal(found.body.totalResults, 1);
    assert.equal(found.body.Resources[0].id, created.id);
  });

  it('POST /Users › the same userName and externalId in another directory › 201 (unique per directory)', async () => {
    const { scim: a } = await fresh();
    const { scim: b } = await fresh();
    const body = entraUser();
    await a.post('/Users', body).expect(201);

    const res = await b.post('/Users', body);

    assert.equal(res.status, 201);
  });

  it("PUT /Users/{id} › taking another user's userName in other case › 409 uniqueness, user unchanged", async () => {
    const { scim } = await fresh();
    const { body: bob } = await scim.post('/Users', entraUser({ userName: `Bob-${randomUUID()}` })).expect(201);
    const { body: other } = await scim.post('/Users', entraUser()).expect(201);

    const res = await scim.put(`/Users/${other.id}`, entraUser({ userName: bob.userName.toUpperCase() }));

    assertScimError(res, 409, 'uniqueness');
    const after = await scim.get(`/Users/${other.id}`).expect(200);
    assert.deepEqual(after.body, other);
  });
});

describe('active', () => {
  // Entra sends active as the string "True" or "False" unless the tenant opted into booleans.
  it('POST /Users › active as the string "True" or "False" › 201, stored as booleans', async () => {
    const { scim } = await fresh();

    const on = await createUser(scim, { active: 'True' });
    const off = await createUser(scim, { active: 'False' });

    assert.equal((await getUser(scim, on.id)).active, true);
    assert.equal((await getUser(scim, off.id)).active, false);
  });

  it('GET /Users › a disabled user › still returned by id and by filter, with active false', async () => {
    const { scim } = await fresh();
    const created = await createUser(scim);
    await scim.patch(`/Users/${created.id}`, patchOp({ op: 'Replace', path: 'active', value: false })).expect(200);

    const byId = await scim.get(`/Users/${created.id}`);
    const byFilter = await scim.get(`/Users?${filterQuery(`userName eq "${created.userName}"`)}`);

    assert.equal(byId.status, 200);
    assert.equal(byId.body.active, false);
    assert.equal(byFilter.status, 200);
    assert.equal(byFilter.body.totalResults, 1);
    assert.equal(byFilter.body.Resources[0].active, false);
  });

  // Entra looks a user up by userName before creating it; a disabled user must still be found.
  it('POST /Users › the userName of a disabled user › 409, and the filter that Entra runs first does find the disabled user', async () => {
    const { scim } = await fresh();
    const created = await createUser(scim, { active: false });

    const found = await scim.get(`/Users?${filterQuery(`userName eq "${created.userName}"`)}`).expect(200);
    const res = await scim.post('/Users', entraUser({ userName: created.userName }));

    assert.equal(found.body.totalResults, 1);
    assert.equal(found.body.Resources[0].active, false);
    assert.equal(res.status, 409);
  });

  // Entra disables a user (soft delete), later deletes it, and may create the same userName again.
  it('DELETE /Users › a user disabled with "False", deleted, then the same userName posted again › 201 with a new id', async () => {
    const { dir, scim } = await fresh();
    const body = entraUser();
    const created = await createUser(scim, body);

    await scim.patch(`/Users/${created.id}`, patchOp({ op: 'Replace', path: 'active', value: 'False' })).expect(200);
    const disabled = await scim.get(`/Users?${filterQuery(`userName eq "${body.userName}"`)}`).expect(200);
    await scim.delete(`/Users/${created.id}`).expect(204);
    const gone = await scim.get(`/Users?${filterQuery(`userName eq "${body.userName}"`)}`).expect(200);
    const again = await scim.post('/Users', body);

    assert.equal(disabled.body.totalResults, 1);
    assert.equal(disabled.body.Resources[0].active, false);
    assert.equal(gone.body.totalResults, 0);
    assert.equal(again.status, 201);
    assert.notEqual(again.body.id, created.id);
    assert.equal((await getUser(scim, again.body.id)).userName, body.userName);
    const events = await eventsOf(dir, (e) => typesFor(e, again.body.id).includes('user.created'));
    assert.deepEqual(typesFor(events, created.id), ['user.created', 'user.deactivated', 'user.deleted']);
  });
});

describe('DELETE /Users', () => {
  // Entra sends DELETE without a body or a Content-Type.
  it('DELETE /Users/{id} › an existing user, no body and no Content-Type › 204 empty, then GET and a second DELETE answer 404, user.deleted recorded', async () => {
    const { dir, scim } = await fresh();
    const created = await createUser(scim);

    const res = await scim.delete(`/Users/${created.id}`);

    assert.equal(res.status, 204);
    assert.equal(sentHeader(res, 'content-type'), undefined);
    assert.equal(res.text, '');
    assertScimError(await scim.get(`/Users/${created.id}`), 404);
    assertScimError(await scim.delete(`/Users/${created.id}`), 404);
    const found = await scim.get(`/Users?${filterQuery(`userName eq "${created.userName}"`)}`).expect(200);
    assert.equal(found.body.totalResults, 0);
    const events = await eventsOf(dir, (e) => typesFor(e, created.id).includes('user.deleted'));
    assert.deepEqual(typesFor(events, created.id), ['user.created', 'user.deleted']);
  });
});

describe('PUT /Users', () => {
  it('PUT /Users/{id} › omitted attributes › become unassigned; id, meta and groups in the body are ignored', async () => {
    const { scim } = await fresh();
    const { body: user } = await scim.post('/Users', entraUser({ title: 'Engineer', nickName: 'Bobby', [ENTERPRISE]: { department: 'R&D' } })).expect(201);
    const { body: group } = await scim
      .post('/Groups', { schemas: [GROUP_SCHEMA], displayName: `g-${randomUUID()}`, members: [{ value: user.id }] })
      .expect(201);

    const res = await scim
      .put(`/Users/${user.id}`, {
        schemas: [USER_SCHEMA],
        id: randomUUID(),
        userName: user.userName,
        externalId: user.externalId,
        displayName: 'Bob Replaced',
        meta: { created: '2000-01-01T00:00:00Z', version: 'W/"999"' },
        groups: [{ value: randomUUID() }],
      })
      .expect(200);

    assert.equal(res.body.id, user.id);
    assert.equal(res.headers.etag, res.body.meta.version);
    assert.equal(res.body.displayName, 'Bob Replaced');
    for (const gone of ['title', 'nickName', 'name', 'emails', 'active', ENTERPRISE]) {
      assert.equal(res.body[gone], undefined, `${gone} should be unassigned`);
    }
    assert.deepEqual(res.body.schemas, [USER_SCHEMA]);
    assert.equal(res.body.meta.created, user.meta.created);
    assert.notEqual(res.body.meta.version, user.meta.version);
    assert.deepEqual(
      res.body.groups.map((g: { value: string }) => g.value),
      [group.id],
    );
    const read = await scim.get(`/Users/${user.id}`).expect(200);
    assert.deepEqual(read.body, res.body);
  });
});

describe('the groups attribute', () => {
  it('GET /Users/{id} › a member of three groups › "groups" lists them by display name, with value, $ref, display', async () => {
    const { scim } = await fresh();
    const { body: user } = await scim.post('/Users', entraUser()).expect(201);
    const made = [];
    for (const name of ['gamma', 'alpha', 'beta']) {
      const displayName = `${name}-${randomUUID()}`;
      made.push((await scim.post('/Groups', { schemas: [GROUP_SCHEMA], displayName, members: [{ value: user.id }] }).expect(201)).body);
    }

    const res = await scim.get(`/Users/${user.id}`).expect(200);

    assert.deepEqual(
      res.body.groups.map((g: Record<string, string>) => ({ value: g.value, display: g.display, $ref: g.$ref })),
      [made[1], made[2], made[0]].map((g) => ({ value: g.id, display: g.displayName, $ref: g.meta.location })),
    );
  });

  it('GET /Users?filter=… › each listed user carries its own groups only', async () => {
    const { scim } = await fresh();
    const [inGroup, outside] = await createUsers(scim, [{}, {}]);
    const { body: group } = await scim
      .post('/Groups', { schemas: [GROUP_SCHEMA], displayName: `g-${randomUUID()}`, members: [{ value: inGroup.id }] })
      .expect(201);

    const res = await scim.get('/Users?sortBy=meta.created').expect(200);

    const [a, b] = res.body.Resources;
    assert.equal(a.id, inGroup.id);
    assert.deepEqual(
      a.groups.map((g: { value: string }) => g.value),
      [group.id],
    );
    assert.equal(b.id, outside.id);
    assert.equal(b.groups, undefined);
  });
});

describe('meta and ETags', () => {
  it('POST then PATCH /Users › meta.created stays, lastModified advances, version changes, location ends in the id', async () => {
    const { scim } = await fresh();
    const { body: user } = await scim.post('/Users', entraUser()).expect(201);
    await new Promise((r) => setTimeout(r, 15));

    const res = await scim.patch(`/Users/${user.id}`, patchOp({ op: 'replace', path: 'title', value: 'CTO' })).expect(200);

    assert.equal(user.meta.resourceType, 'User');
    assert.ok(user.meta.location.endsWith(`/Users/${user.id}`), user.meta.location);
    assert.ok(!Number.isNaN(Date.parse(user.meta.created)));
    assert.equal(res.body.meta.created, user.meta.created);
    assert.ok(Date.parse(res.body.meta.lastModified) > Date.parse(user.meta.lastModified));
    assert.notEqual(res.body.meta.version, user.meta.version);
    assert.equal(res.headers.etag, res.body.meta.version);
  });

  for (const method of ['PUT', 'PATCH', 'DELETE'] as const) {
    it(`${method} /Users/{id} › If-Match with a stale ETag › 412 and nothing changes`, async () => {
      const { scim } = await fresh();
      const { body: created } = await scim.post('/Users', entraUser()).expect(201);
      const stale = created.meta.version;
      const { body: current } = await scim.patch(`/Users/${created.id}`, patchOp({ op: 'replace', path: 'title', value: 'v2' })).expect(200);

      const path = `/Users/${created.id}`;
      const req =
        method === 'PUT'
          ? scim.put(path, entraUser({ userName: created.userName, title: 'v3' }))
          : method === 'PATCH'
            ? scim.patch(path, patchOp({ op: 'replace', path: 'title', value: 'v3' }))
            : scim.delete(path);
      const res = await req.set('If-Match', stale);

      assertScimError(res, 412);
      const after = await scim.get(path).expect(200);
      assert.deepEqual(after.body, current);
    });
  }

  it('PATCH /Users/{id} › If-Match with the current ETag › 200', async () => {
    const { scim } = await fresh();
    const { body: user } = await scim.post('/Users', entraUser()).expect(201);

    const res = await scim.patch(`/Users/${user.id}`, patchOp({ op: 'replace', path: 'title', value: 'CTO' })).set('If-Match', user.meta.version);

    assert.equal(res.status, 200);
    assert.equal(res.body.title, 'CTO');
  });

  it('PUT /Users/{id} › If-Match: * › 200', async () => {
    const { scim } = await fresh();
    const { body: user } = await scim.post('/Users', entraUser()).expect(201);

    const res = await scim.put(`/Users/${user.id}`, entraUser({ userName: user.userName, title: 'CTO' })).set('If-Match', '*');

    assert.equal(res.status, 200);
    assert.equal(res.body.title, 'CTO');
  });

  it('GET /Users/{id} › If-None-Match with the current ETag › 304 with no body, ETag repeated', async () => {
    const { scim } = await fresh();
    const { body: user } = await scim.post('/Users', entraUser()).expect(201);

    const res = await scim.get(`/Users/${user.id}`).set('If-None-Match', user.meta.version);

    assert.equal(res.status, 304);
    assert.equal(res.text ?? '', '');
    assert.equal(res.headers.etag, user.meta.version);
  });

  it('GET /Users/{id} › If-None-Match with an older ETag › 200 with the current resource', async () => {
    const { scim } = await fresh();
    const { body: user } = await scim.post('/Users', entraUser()).expect(201);
    const { body: current } = await scim.patch(`/Users/${user.id}`, patchOp({ op: 'replace', path: 'title', value: 'CTO' })).expect(200);

    const res = await scim.get(`/Users/${user.id}`).set('If-None-Match', user.meta.version);

    assert.equal(res.status, 200);
    assert.equal(res.body.meta.version, current.meta.version);
  });
});
