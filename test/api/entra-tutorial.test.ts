/**
 * Every User and Group request of Microsoft's "Develop and plan provisioning for a SCIM endpoint"
 * tutorial, sent as Entra sends it (Bearer token, application/scim+json, no User-Agent), plus the
 * tutorial's general guidelines. Each test checks the status and reads the stored result back.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { makeTestApp, type TestApp } from '../support/app';
import { asAdmin, ENTERPRISE, GROUP_SCHEMA, makeDirectory, patchOp, scimClient, USER_SCHEMA, type TestDirectory } from '../support/factories';

const LIST_RESPONSE = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';
const ERROR = 'urn:ietf:params:scim:api:messages:2.0:Error';
const ADSCIM_GROUP = 'http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group';

type Scim = ReturnType<typeof scimClient>;
interface StoredEvent {
  type: string;
  resourceId: string;
  data: { user?: { id: string }; group?: { id: string }; changedAttributes?: string[] };
}

let t: TestApp;
before(() => {
  t = makeTestApp();
});
after(() => t.close());

/** A directory of its own for each test, so data and events never mix. */
async function fresh(): Promise<{ dir: TestDirectory; scim: Scim }> {
  const dir = await makeDirectory(t.app);
  return { dir, scim: scimClient(t.app, dir.token) };
}

const filterQuery = (filter: string) => `filter=${encodeURIComponent(filter)}`;

/** A header of the request as it went out (supertest keeps the Node request on the response). */
const sentHeader = (res: request.Response, name: string) => (res as unknown as { req: { getHeader(n: string): unknown } }).req.getHeader(name);

function assertScimJson(res: request.Response) {
  assert.match(String(res.headers['content-type']), /^application\/scim\+json/);
}

/** The tutorial's "Create User" body; `n` keeps userName/externalId distinct within a test. */
function tutorialUser(n = '00aa00aa-bb11-cc22-dd33-44ee44ee44ee', overrides: Record<string, unknown> = {}) {
  return {
    schemas: [USER_SCHEMA, ENTERPRISE],
    externalId: `0a21f0f2-${n}`,
    userName: `Test_User_${n}`,
    active: true,
    emails: [{ primary: true, type: 'work', value: `Test_User_${n}@testuser.com` }],
    meta: { resourceType: 'User' },
    name: { formatted: 'givenName familyName', familyName: 'familyName', givenName: 'givenName' },
    roles: [],
    ...overrides,
  };
}

async function createUser(scim: Scim, body: Record<string, unknown> = tutorialUser(randomUUID())) {
  const res = await scim.post('/Users', body).expect(201);
  return res.body as Record<string, any>;
}

async function createGroup(scim: Scim, displayName = `group-${randomUUID()}`) {
  const res = await scim
    .post('/Groups', { schemas: [GROUP_SCHEMA, ADSCIM_GROUP], externalId: randomUUID(), displayName, meta: { resourceType: 'Group' } })
    .expect(201);
  return res.body as Record<string, any>;
}

async function memberIdsOf(scim: Scim, groupId: string): Promise<string[]> {
  const res = await scim.get(`/Groups/${groupId}`).expect(200);
  return ((res.body.members ?? []) as { value: string }[]).map((m) => m.value).sort();
}

/**
 * The tenant's events. The feed only shows commits older than every open transaction, so a
 * commit may show a moment late: poll until `until` holds (or give up and let the assertion say why).
 */
async function eventsOf(dir: TestDirectory, until: (events: StoredEvent[]) => boolean = () => true): Promise<StoredEvent[]> {
  for (let attempt = 0; ; attempt++) {
    const res = await asAdmin(request(t.app).get(`/admin/v1/tenants/${dir.tenantId}/events?limit=1000`)).expect(200);
    const events = res.body.data as StoredEvent[];
    if (until(events) || attempt >= 100) return events;
    await delay(50);
  }
}

const typesFor = (events: StoredEvent[], resourceId: string) => events.filter((e) => e.resourceId === resourceId).map((e) => e.type);

describe('Entra tutorial › connection and discovery', () => {
  it('GET /Users › Test connection filters userName by a random GUID with no User-Agent › 200 empty ListResponse', async () => {
    const { scim } = await fresh();
    await createUser(scim);

    const res = await scim.get(`/Users?${filterQuery(`userName eq "${randomUUID()}"`)}`);

    assert.equal(res.status, 200);
    assert.equal(sentHeader(res, 'user-agent'), undefined);
    assertScimJson(res);
    assert.deepEqual(res.body.schemas, [LIST_RESPONSE]);
    assert.equal(res.body.totalResults, 0);
    assert.deepEqual(res.body.Resources, []);
    assert.equal(res.body.startIndex, 1);
  });

  it('GET /Groups › Test connection probes a random displayName with excludedAttributes=members › 200 empty ListResponse', async () => {
    const { scim } = await fresh();
    await createGroup(scim);

    const res = await scim.get(`/Groups?excludedAttributes=members&${filterQuery(`displayName eq "${randomUUID()}"`)}`);

    assert.equal(res.status, 200);
    assertScimJson(res);
    assert.deepEqual(res.body.schemas, [LIST_RESPONSE]);
    assert.equal(res.body.totalResults, 0);
    assert.deepEqual(res.body.Resources, []);
  });

  it('GET /Schemas › schema discovery › ListResponse with User, enterprise User and Group schemas, camelCase characteristics, no nulls', async () => {
    const { scim } = await fresh();

    const res = await scim.get('/Schemas');

    assert.equal(res.status, 200);
    assertScimJson(res);
    assert.deepEqual(res.body.schemas, [LIST_RESPONSE]);
    const ids = (res.body.Resources as { id: string }[]).map((s) => s.id);
    for (const id of [USER_SCHEMA, ENTERPRISE, GROUP_SCHEMA]) assert.ok(ids.includes(id), `missing ${id}`);
    assert.equal(res.body.totalResults, res.body.Resources.length);
    const group = res.body.Resources.find((s: { id: string }) => s.id === GROUP_SCHEMA);
    assert.ok(group.attributes.some((a: { name: string }) => a.name === 'displayName'));
    assert.ok(group.attributes.some((a: { name: string }) => a.name === 'members'));
    assert.doesNotMatch(JSON.stringify(res.body), /:null[,}\]]/);
    const walk = (attrs: Record<string, unknown>[]) => {
      for (const a of attrs) {
        assert.ok(['readOnly', 'readWrite', 'immutable', 'writeOnly'].includes(a.mutability as string), `${a.name} mutability ${a.mutability}`);
        assert.ok(['always', 'never', 'default', 'request'].includes(a.returned as string), `${a.name} returned ${a.returned}`);
        assert.ok(['none', 'server', 'global'].includes(a.uniqueness as string), `${a.name} uniqueness ${a.uniqueness}`);
        if (Array.isArray(a.subAttributes)) walk(a.subAttributes as Record<string, unknown>[]);
      }
    };
    for (const s of res.body.Resources) walk(s.attributes);
  });
});

describe('Entra tutorial › users', () => {
  it("POST /Users › the tutorial's create body › 201 echoing every value with a server id and meta, stored as sent", async () => {
    const { scim } = await fresh();
    const body = tutorialUser();

    const res = await scim.post('/Users', body);

    assert.equal(res.status, 201);
    assertScimJson(res);
    assert.equal(typeof res.body.id, 'string');
    assert.ok(res.body.id.length > 0);
    assert.equal(res.body.meta.resourceType, 'User');
    assert.ok(res.body.meta.created && res.body.meta.lastModified);
    const stored = (await scim.get(`/Users/${res.body.id}`).expect(200)).body;
    for (const view of [res.body, stored]) {
      assert.equal(view.externalId, body.externalId);
      assert.equal(view.userName, body.userName);
      assert.equal(view.active, true);
      assert.deepEqual(view.name, body.name);
      assert.deepEqual(view.emails, body.emails);
      assert.ok(view.schemas.includes(USER_SCHEMA));
    }
  });

  it('POST /Users › the reference-code sample with null attributes and a mistyped enterprise URN › 201, nulls stored as absent', async () => {
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

  it('POST /Users › the same userName a second time › 409 uniqueness and still one user', async () => {
    const { scim } = await fresh();
    const body = tutorialUser();
    await createUser(scim, body);

    const res = await scim.post('/Users', { ...body, externalId: randomUUID() });

    assert.equal(res.status, 409);
    assertScimJson(res);
    assert.equal(res.body.scimType, 'uniqueness');
    const found = await scim.get(`/Users?${filterQuery(`userName eq "${body.userName}"`)}`).expect(200);
    assert.equal(found.body.totalResults, 1);
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

  it("GET /Users/{id} › an id that does not exist (the tutorial's and a UUID) › 404 SCIM error", async () => {
    const { scim } = await fresh();

    for (const id of ['5171a35d82074e068ce2', randomUUID()]) {
      const res = await scim.get(`/Users/${id}`);
      assert.equal(res.status, 404, id);
      assertScimJson(res);
      assert.deepEqual(res.body.schemas, [ERROR]);
      assert.equal(res.body.status, '404');
    }
  });

  it('GET /Users?filter=userName eq › one match, in another case › ListResponse with that single user', async () => {
    const { scim } = await fresh();
    const created = await createUser(scim);
    await createUser(scim);

    const res = await scim.get(`/Users?${filterQuery(`userName eq "${String(created.userName).toUpperCase()}"`)}`);

    assert.equal(res.status, 200);
    assert.deepEqual(res.body.schemas, [LIST_RESPONSE]);
    assert.equal(res.body.totalResults, 1);
    assert.equal(res.body.Resources.length, 1);
    assert.equal(res.body.Resources[0].id, created.id);
    assert.equal(res.body.Resources[0].userName, created.userName);
    assert.equal(res.body.startIndex, 1);
    assert.equal(res.body.itemsPerPage, 1);
  });

  it('GET /Users?filter=userName eq › the "+"-encoded form with raw quotes and %40 › finds the user', async () => {
    const { scim } = await fresh();
    const created = await createUser(scim, tutorialUser(randomUUID(), { userName: 'dale.mohr@romaguera.uk' }));

    const res = await scim.get('/Users?filter=userName+eq+"dale.mohr%40romaguera.uk"');

    assert.equal(res.status, 200);
    assert.equal(res.body.totalResults, 1);
    assert.equal(res.body.Resources[0].id, created.id);
  });

  it('GET /Users?filter=userName eq › a value with a space that matches nobody › 200 empty ListResponse', async () => {
    const { scim } = await fresh();
    await createUser(scim);

    const res = await scim.get(`/Users?${filterQuery('userName eq "non-existent user"')}`);

    assert.equal(res.status, 200);
    assert.deepEqual(res.body.schemas, [LIST_RESPONSE]);
    assert.equal(res.body.totalResults, 0);
    assert.deepEqual(res.body.Resources, []);
  });

  it('GET /Users?filter=externalId eq › Entra\'s "+"-encoded quoted form › the one user with that externalId', async () => {
    const { scim } = await fresh();
    const created = await createUser(scim, tutorialUser(randomUUID(), { externalId: 'johnwong' }));
    await createUser(scim);

    const res = await scim.get('/Users?filter=externalId+eq+%22johnwong%22');

    assert.equal(res.status, 200);
    assert.equal(res.body.totalResults, 1);
    assert.equal(res.body.Resources[0].id, created.id);
    assert.equal(res.body.Resources[0].externalId, 'johnwong');
  });

  it("GET /Users?filter=externalId eq › the tutorial's unquoted value › 400 invalidFilter (RFC 7644 needs a quoted string)", async () => {
    const { scim } = await fresh();
    await createUser(scim, tutorialUser(randomUUID(), { externalId: 'jyoung' }));

    const res = await scim.get(`/Users?${filterQuery('externalId eq jyoung')}`);

    assert.equal(res.status, 400);
    assert.equal(res.body.scimType, 'invalidFilter');
  });

  it('GET /Users?filter=emails[type eq "work"].value eq › matching on the work email › the user with that work email', async () => {
    const { scim } = await fresh();
    const created = await createUser(
      scim,
      tutorialUser(randomUUID(), {
        emails: [
          { type: 'work', value: 'user@contoso.com', primary: true },
          { type: 'home', value: 'home@contoso.com' },
        ],
      }),
    );
    await createUser(scim, tutorialUser(randomUUID(), { emails: [{ type: 'home', value: 'user@contoso.com' }] }));

    const res = await scim.get(`/Users?${filterQuery('emails[type eq "work"].value eq "user@contoso.com"')}`);

    assert.equal(res.status, 200);
    assert.equal(res.body.totalResults, 1);
    assert.equal(res.body.Resources[0].id, created.id);
  });

  it('GET /Users?filter=id eq … and manager eq …&attributes=id › the reference check before a manager update › the user, projected to id', async () => {
    const { scim } = await fresh();
    const manager = await createUser(scim);
    const report = await createUser(scim);
    await scim.patch(`/Users/${report.id}`, patchOp({ op: 'Add', path: `${ENTERPRISE}:manager`, value: manager.id })).expect(200);
    const other = await createUser(scim);

    const hit = await scim.get(`/Users?${filterQuery(`id eq "${report.id}" and manager eq "${manager.id}"`)}&attributes=id`);
    const miss = await scim.get(`/Users?${filterQuery(`id eq "${report.id}" and manager eq "${other.id}"`)}&attributes=id`);

    assert.equal(hit.status, 200);
    assert.equal(hit.body.totalResults, 1);
    assert.equal(hit.body.Resources[0].id, report.id);
    assert.equal(hit.body.Resources[0].userName, undefined);
    assert.equal(hit.body.Resources[0][ENTERPRISE], undefined);
    assert.equal(miss.status, 200);
    assert.equal(miss.body.totalResults, 0);
  });

  it('PATCH /Users › the tutorial\'s multi-valued update (Replace emails[type eq "work"].value and name.familyName) › 200, only those values change', async () => {
    const { scim } = await fresh();
    const created = await createUser(
      scim,
      tutorialUser(randomUUID(), {
        emails: [
          { primary: true, type: 'work', value: 'old@testuser.com' },
          { type: 'home', value: 'home@testuser.com' },
        ],
      }),
    );

    const res = await scim.patch(
      `/Users/${created.id}`,
      patchOp(
        { op: 'Replace', path: 'emails[type eq "work"].value', value: 'updatedEmail@microsoft.com' },
        { op: 'Replace', path: 'name.familyName', value: 'updatedFamilyName' },
      ),
    );

    assert.equal(res.status, 200);
    assertScimJson(res);
    assert.equal(res.body.id, created.id);
    const stored = (await scim.get(`/Users/${created.id}`).expect(200)).body;
    for (const view of [res.body, stored]) {
      assert.deepEqual(view.emails, [
        { primary: true, type: 'work', value: 'updatedEmail@microsoft.com' },
        { type: 'home', value: 'home@testuser.com' },
      ]);
      // Stored as sent: the server does not recompute name.formatted.
      assert.deepEqual(view.name, { formatted: 'givenName familyName', familyName: 'updatedFamilyName', givenName: 'givenName' });
      assert.equal(view.externalId, created.externalId);
    }
  });

  it("PATCH /Users › Replace userName (the tutorial's rename) › 200, id and externalId kept, found by the new userName", async () => {
    const { scim } = await fresh();
    const created = await createUser(scim);
    const newName = '5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com';

    const res = await scim.patch(`/Users/${created.id}`, patchOp({ op: 'Replace', path: 'userName', value: newName }));

    assert.equal(res.status, 200);
    assert.equal(res.body.userName, newName);
    const found = await scim.get(`/Users?${filterQuery(`userName eq "${newName}"`)}`).expect(200);
    assert.equal(found.body.totalResults, 1);
    assert.equal(found.body.Resources[0].id, created.id);
    assert.equal(found.body.Resources[0].externalId, created.externalId);
  });

  it("PATCH /Users › a rename onto another user's userName › 409 uniqueness and nothing changes", async () => {
    const { scim } = await fresh();
    const first = await createUser(scim);
    const second = await createUser(scim);

    const res = await scim.patch(`/Users/${second.id}`, patchOp({ op: 'Replace', path: 'userName', value: first.userName }));

    assert.equal(res.status, 409);
    assert.equal(res.body.scimType, 'uniqueness');
    const stored = (await scim.get(`/Users/${second.id}`).expect(200)).body;
    assert.equal(stored.userName, second.userName);
  });

  it("PATCH /Users › the tutorial's disable (Operations before schemas, active false) › 200, stored false, user.deactivated", async () => {
    const { dir, scim } = await fresh();
    const created = await createUser(scim);

    const res = await scim.patch(`/Users/${created.id}`, {
      Operations: [{ op: 'Replace', path: 'active', value: false }],
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
    });

    assert.equal(res.status, 200);
    assert.equal(res.body.active, false);
    const stored = (await scim.get(`/Users/${created.id}`).expect(200)).body;
    assert.equal(stored.active, false);
    const events = await eventsOf(dir, (e) => typesFor(e, created.id).includes('user.deactivated'));
    assert.deepEqual(typesFor(events, created.id), ['user.created', 'user.deactivated']);
  });

  it('PATCH /Users › re-enable a disabled user with active true › 200, stored true, user.reactivated', async () => {
    const { dir, scim } = await fresh();
    const created = await createUser(scim, tutorialUser(randomUUID(), { active: false }));

    const res = await scim.patch(`/Users/${created.id}`, patchOp({ op: 'Replace', path: 'active', value: true }));

    assert.equal(res.status, 200);
    assert.equal(res.body.active, true);
    assert.equal((await scim.get(`/Users/${created.id}`).expect(200)).body.active, true);
    const events = await eventsOf(dir, (e) => typesFor(e, created.id).includes('user.reactivated'));
    assert.deepEqual(typesFor(events, created.id), ['user.created', 'user.reactivated']);
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

  it('DELETE /Users/{id} › no body and no Content-Type › 204 empty, then GET is 404 and user.deleted is recorded', async () => {
    const { dir, scim } = await fresh();
    const created = await createUser(scim);

    const res = await scim.delete(`/Users/${created.id}`);

    assert.equal(res.status, 204);
    assert.equal(sentHeader(res, 'content-type'), undefined);
    assert.equal(res.text, '');
    await scim.get(`/Users/${created.id}`).expect(404);
    const found = await scim.get(`/Users?${filterQuery(`userName eq "${created.userName}"`)}`).expect(200);
    assert.equal(found.body.totalResults, 0);
    const events = await eventsOf(dir, (e) => typesFor(e, created.id).includes('user.deleted'));
    assert.deepEqual(typesFor(events, created.id), ['user.created', 'user.deleted']);
  });

  it('PATCH /Users › the tutorial\'s manager example (Add, bare "manager" path, [{ $ref, value }]) › 200, enterprise manager.value set', async () => {
    const { scim } = await fresh();
    const manager = await createUser(scim);
    const report = await createUser(scim);

    const res = await scim.patch(
      `/Users/${report.id}`,
      patchOp({ op: 'Add', path: 'manager', value: [{ $ref: `http://example.test/scim/Users/${manager.id}`, value: manager.id }] }),
    );

    assert.equal(res.status, 200);
    const stored = (await scim.get(`/Users/${report.id}`).expect(200)).body;
    assert.equal(stored[ENTERPRISE]?.manager?.value, manager.id);
    assert.ok(stored.schemas.includes(ENTERPRISE));
  });

  it('PATCH /Users › a manager id this server has not seen yet › 200, stored for Entra to compare next cycle', async () => {
    const { scim } = await fresh();
    const report = await createUser(scim);
    const unknownManager = randomUUID();

    const res = await scim.patch(`/Users/${report.id}`, patchOp({ op: 'Add', path: `${ENTERPRISE}:manager`, value: unknownManager }));

    assert.equal(res.status, 200);
    const stored = (await scim.get(`/Users/${report.id}`).expect(200)).body;
    assert.deepEqual(stored[ENTERPRISE].manager, { value: unknownManager });
  });

  it('PATCH /Users › Replace title with "" then with null (the validator\'s null-update test) › 200 each, title no longer returned with a value', async () => {
    const { scim } = await fresh();
    const created = await createUser(scim, tutorialUser(randomUUID(), { title: 'Engineer', nickName: 'Babs' }));

    const empty = await scim.patch(`/Users/${created.id}`, patchOp({ op: 'replace', path: 'title', value: '' }));
    const afterEmpty = (await scim.get(`/Users/${created.id}`).expect(200)).body;
    const nulled = await scim.patch(`/Users/${created.id}`, patchOp({ op: 'replace', path: 'nickName', value: null }));
    const afterNull = (await scim.get(`/Users/${created.id}`).expect(200)).body;

    assert.equal(empty.status, 200);
    assert.ok(afterEmpty.title === undefined || afterEmpty.title === '', `title is ${JSON.stringify(afterEmpty.title)}`);
    assert.equal(nulled.status, 200);
    assert.equal(afterNull.nickName, undefined);
    assert.equal(afterNull.userName, created.userName);
  });
});

describe('Entra tutorial › app roles', () => {
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

  it('PATCH /Users › SingleAppRoleAssignment update whose roles[].value is stringified JSON › 200, kept as an opaque string', async () => {
    const { scim } = await fresh();
    const created = await createUser(scim);
    const value = '{"id":"06b07648-ecfe-589f-9d2f-6325724a46ee","value":"25","displayName":"Role1234"}';

    const res = await scim.patch(`/Users/${created.id}`, patchOp({ op: 'Add', path: 'roles', value: [{ value }] }));

    assert.equal(res.status, 200);
    const stored = (await scim.get(`/Users/${created.id}`).expect(200)).body;
    assert.deepEqual(stored.roles, [{ value }]);
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

  it('PATCH /Users › AppRoleAssignmentsComplex update (Add roles with stringified values) › 200, existing roles kept and new ones appended', async () => {
    const { scim } = await fresh();
    const existing = [{ primary: false, type: 'WindowsAzureActiveDirectoryRole', display: 'Reader', value: 'Reader' }];
    const created = await createUser(scim, tutorialUser(randomUUID(), { roles: existing }));
    const added = [
      { value: '{"id":"06b07648-ecfe-589f-9d2f-6325724a46ee","value":"Admin","displayName":"Admin"}' },
      { value: '{"id":"06b07648-ecfe-599f-9d2f-6325724a46ee","value":"User","displayName":"User"}' },
    ];

    const res = await scim.patch(`/Users/${created.id}`, patchOp({ op: 'Add', path: 'roles', value: added }));

    assert.equal(res.status, 200);
    const stored = (await scim.get(`/Users/${created.id}`).expect(200)).body;
    assert.deepEqual(stored.roles, [...existing, ...added]);
  });

  it('PATCH /Users › AssertiveAppRoleAssignmentsComplex (lowercase replace of roles) › 200, exactly the listed roles remain', async () => {
    const { scim } = await fresh();
    const created = await createUser(
      scim,
      tutorialUser(randomUUID(), { roles: [{ primary: false, type: 'WindowsAzureActiveDirectoryRole', display: 'Old', value: 'Old' }] }),
    );
    const roles = [
      { primary: false, type: 'WindowsAzureActiveDirectoryRole', display: 'User', value: 'User' },
      { primary: false, type: 'WindowsAzureActiveDirectoryRole', display: 'Test', value: 'Test' },
    ];

    const res = await scim.patch(`/Users/${created.id}`, patchOp({ op: 'replace', path: 'roles', value: roles }));

    assert.equal(res.status, 200);
    assert.deepEqual((await scim.get(`/Users/${created.id}`).expect(200)).body.roles, roles);
  });
});

describe('Entra tutorial › attribute mappings', () => {
  it('POST /Users › one number under work, mobile and fax › 201 with three phone numbers', async () => {
    const { scim } = await fresh();
    const phoneNumbers = [
      { value: '555-555-5555', type: 'work' },
      { value: '555-555-5555', type: 'mobile' },
      { value: '555-555-5555', type: 'fax' },
    ];

    const created = await createUser(scim, tutorialUser(randomUUID(), { phoneNumbers }));

    assert.deepEqual((await scim.get(`/Users/${created.id}`).expect(200)).body.phoneNumbers, phoneNumbers);
  });

  it('PATCH /Users › mapping targets with capitalised sub-attributes (addresses[…].Formatted, emails[…].Value) › 200, stored under the canonical names', async () => {
    const { scim } = await fresh();
    const created = await createUser(scim);

    const res = await scim.patch(
      `/Users/${created.id}`,
      patchOp(
        { op: 'Add', path: 'addresses[type eq "other"].Formatted', value: '1 Main St, Springfield' },
        { op: 'Add', path: 'emails[type eq "other"].Value', value: 'proxy@contoso.com' },
      ),
    );

    assert.equal(res.status, 200);
    const stored = (await scim.get(`/Users/${created.id}`).expect(200)).body;
    assert.deepEqual(stored.addresses, [{ type: 'other', formatted: '1 Main St, Springfield' }]);
    assert.deepEqual(
      stored.emails.find((e: { type: string }) => e.type === 'other'),
      { type: 'other', value: 'proxy@contoso.com' },
    );
  });

  it('POST /Users › a custom extension block whose URN is missing from schemas › 201, kept; PATCH by its URN path updates it', async () => {
    const { dir, scim } = await fresh();
    const urn = 'urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User';
    await asAdmin(request(t.app).post(`/admin/v1/directories/${dir.directoryId}/schemas`))
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
});

describe('Entra tutorial › general guidelines', () => {
  it('POST /Users › two work emails › 400 invalidValue (a type appears once, so emails[type eq "work"] names one value) and nothing stored', async () => {
    const { scim } = await fresh();
    const body = tutorialUser(randomUUID(), {
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

  it('POST /Users › values that a server might reformat (phone digits, mixed-case email, surrounding spaces) › stored and returned byte for byte', async () => {
    const { scim } = await fresh();
    const body = tutorialUser(randomUUID(), {
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

  it('every response carrying a resource › POST, GET, PATCH and list › each has a non-empty string id', async () => {
    const { scim } = await fresh();

    const posted = await scim.post('/Users', tutorialUser()).expect(201);
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

  it('every SCIM response › success, list, no-content and error › Content-Type application/scim+json whenever there is a body', async () => {
    const { scim } = await fresh();

    const created = await scim.post('/Users', tutorialUser());
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

  it('GET /Users?startIndex&count › paging over 11 users in pages of 5 › startIndex echoed and every user seen once', async () => {
    const { scim } = await fresh();
    const ids: string[] = [];
    for (let i = 0; i < 11; i++) ids.push((await createUser(scim)).id);

    const seen: string[] = [];
    for (let page = 0; page < 3; page++) {
      const res = await scim.get(`/Users?startIndex=${page * 5 + 1}&count=5`).expect(200);
      assert.deepEqual(res.body.schemas, [LIST_RESPONSE]);
      assert.equal(res.body.startIndex, page * 5 + 1);
      assert.equal(res.body.totalResults, 11);
      assert.equal(res.body.itemsPerPage, page < 2 ? 5 : 1);
      seen.push(...res.body.Resources.map((r: { id: string }) => r.id));
    }

    assert.deepEqual([...seen].sort(), [...ids].sort());
  });

  it('GET /Groups?startIndex&count › paging over groups › startIndex echoed and every group seen once', async () => {
    const { scim } = await fresh();
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) ids.push((await createGroup(scim)).id);

    const first = await scim.get('/Groups?startIndex=1&count=5&excludedAttributes=members').expect(200);
    const second = await scim.get('/Groups?startIndex=6&count=5&excludedAttributes=members').expect(200);

    assert.equal(first.body.startIndex, 1);
    assert.equal(second.body.startIndex, 6);
    assert.equal(first.body.totalResults, 7);
    const seen = [...first.body.Resources, ...second.body.Resources].map((r: { id: string }) => r.id);
    assert.deepEqual(seen.sort(), ids.sort());
  });
});

describe('Entra tutorial › groups', () => {
  it("POST /Groups › the tutorial's body with the ADSCIM schema and client meta › 201 with id, externalId and no members", async () => {
    const { scim } = await fresh();
    const body = {
      schemas: [GROUP_SCHEMA, ADSCIM_GROUP],
      externalId: '8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159',
      displayName: 'displayName',
      meta: { resourceType: 'Group' },
    };

    const res = await scim.post('/Groups', body);

    assert.equal(res.status, 201);
    assertScimJson(res);
    assert.equal(typeof res.body.id, 'string');
    assert.equal(res.body.externalId, body.externalId);
    assert.equal(res.body.displayName, 'displayName');
    assert.equal(res.body.meta.resourceType, 'Group');
    assert.ok(res.body.members === undefined || (Array.isArray(res.body.members) && res.body.members.length === 0));
    const stored = (await scim.get(`/Groups/${res.body.id}`).expect(200)).body;
    assert.equal(stored.displayName, 'displayName');
    assert.equal(stored.externalId, body.externalId);
  });

  it('GET /Groups/{id}?excludedAttributes=members › a group with members › 200 without a members key', async () => {
    const { scim } = await fresh();
    const group = await createGroup(scim);
    const user = await createUser(scim);
    await scim.patch(`/Groups/${group.id}`, patchOp({ op: 'Add', path: 'members', value: [{ value: user.id }] })).expect(204);

    const res = await scim.get(`/Groups/${group.id}?excludedAttributes=members`);

    assert.equal(res.status, 200);
    assert.equal(res.body.id, group.id);
    assert.equal(res.body.displayName, group.displayName);
    assert.ok(!('members' in res.body));
    assert.deepEqual(await memberIdsOf(scim, group.id), [user.id]);
  });

  it("GET /Groups?excludedAttributes=members&filter=displayName eq › the tutorial's group lookup › the one group, without members", async () => {
    const { scim } = await fresh();
    const group = await createGroup(scim, 'displayName');
    await createGroup(scim, 'another');
    const user = await createUser(scim);
    await scim.patch(`/Groups/${group.id}`, patchOp({ op: 'Add', path: 'members', value: [{ value: user.id }] })).expect(204);

    const res = await scim.get(`/Groups?excludedAttributes=members&${filterQuery('displayName eq "displayName"')}`);

    assert.equal(res.status, 200);
    assert.deepEqual(res.body.schemas, [LIST_RESPONSE]);
    assert.equal(res.body.totalResults, 1);
    assert.equal(res.body.Resources[0].id, group.id);
    assert.equal(res.body.Resources[0].externalId, group.externalId);
    assert.ok(!('members' in res.body.Resources[0]));
  });

  it('GET /Groups?filter=displayName eq › quotes, backslashes and & in the name › 200 with that group', async () => {
    const { scim } = await fresh();
    const group = await createGroup(scim, 'R&D "core" \\ team');

    const res = await scim.get(`/Groups?${filterQuery('displayName eq "R&D \\"core\\" \\\\ team"')}`);

    assert.equal(res.status, 200);
    assert.equal(res.body.totalResults, 1);
    assert.equal(res.body.Resources[0].id, group.id);
  });

  it('POST /Groups › a displayName another group already has › 409 uniqueness and still one such group', async () => {
    const { scim } = await fresh();
    await createGroup(scim, 'Sales');

    const res = await scim.post('/Groups', { schemas: [GROUP_SCHEMA], externalId: randomUUID(), displayName: 'Sales' });

    assert.equal(res.status, 409);
    assert.equal(res.body.scimType, 'uniqueness');
    const found = await scim.get(`/Groups?${filterQuery('displayName eq "Sales"')}`).expect(200);
    assert.equal(found.body.totalResults, 1);
  });

  it("PATCH /Groups › Replace displayName (the tutorial's non-member update) › 204, new name stored, group.updated", async () => {
    const { dir, scim } = await fresh();
    const group = await createGroup(scim);
    const newName = '1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName';

    const res = await scim.patch(`/Groups/${group.id}`, patchOp({ op: 'Replace', path: 'displayName', value: newName }));

    assert.equal(res.status, 204);
    assert.equal(res.text, '');
    assert.equal((await scim.get(`/Groups/${group.id}`).expect(200)).body.displayName, newName);
    const events = await eventsOf(dir, (e) => typesFor(e, group.id).includes('group.updated'));
    assert.deepEqual(typesFor(events, group.id), ['group.created', 'group.updated']);
  });

  it('PATCH /Groups › Add members with "$ref": null for three users › 204, all three members, one group.user_added each', async () => {
    const { dir, scim } = await fresh();
    const group = await createGroup(scim);
    const users = [await createUser(scim), await createUser(scim), await createUser(scim)];

    const res = await scim.patch(`/Groups/${group.id}`, patchOp({ op: 'Add', path: 'members', value: users.map((u) => ({ $ref: null, value: u.id })) }));

    assert.equal(res.status, 204);
    assert.deepEqual(await memberIdsOf(scim, group.id), users.map((u) => u.id).sort());
    const events = await eventsOf(dir, (e) => e.filter((x) => x.type === 'group.user_added').length >= 3);
    const added = events.filter((e) => e.type === 'group.user_added');
    assert.deepEqual(added.map((e) => e.data.user!.id).sort(), users.map((u) => u.id).sort());
    assert.ok(added.every((e) => e.data.group!.id === group.id));
  });

  it('PATCH /Groups › Add a member who is already a member › 204, no duplicate and no second group.user_added', async () => {
    const { dir, scim } = await fresh();
    const group = await createGroup(scim);
    const user = await createUser(scim);
    const add = patchOp({ op: 'Add', path: 'members', value: [{ $ref: null, value: user.id }] });
    await scim.patch(`/Groups/${group.id}`, add).expect(204);

    const res = await scim.patch(`/Groups/${group.id}`, add);
    await scim.patch(`/Groups/${group.id}`, patchOp({ op: 'Replace', path: 'displayName', value: 'marker' })).expect(204);

    assert.equal(res.status, 204);
    assert.deepEqual(await memberIdsOf(scim, group.id), [user.id]);
    const events = await eventsOf(dir, (e) => typesFor(e, group.id).includes('group.updated'));
    assert.deepEqual(typesFor(events, group.id), ['group.created', 'group.user_added', 'group.updated']);
  });

  it('PATCH /Groups › Remove members with a value array ("$ref": null) from a group of three › 204, only that member leaves', async () => {
    const { dir, scim } = await fresh();
    const group = await createGroup(scim);
    const users = [await createUser(scim), await createUser(scim), await createUser(scim)];
    await scim.patch(`/Groups/${group.id}`, patchOp({ op: 'Add', path: 'members', value: users.map((u) => ({ value: u.id })) })).expect(204);

    const res = await scim.patch(`/Groups/${group.id}`, patchOp({ op: 'Remove', path: 'members', value: [{ $ref: null, value: users[1].id }] }));

    assert.equal(res.status, 204);
    assert.deepEqual(await memberIdsOf(scim, group.id), [users[0].id, users[2].id].sort());
    const events = await eventsOf(dir, (e) => e.some((x) => x.type === 'group.user_removed'));
    const removed = events.filter((e) => e.type === 'group.user_removed');
    assert.deepEqual(
      removed.map((e) => e.data.user!.id),
      [users[1].id],
    );
  });

  it('GET /Groups?filter=id eq … and members eq … › the membership reference check › one group when a member, none otherwise', async () => {
    const { scim } = await fresh();
    const group = await createGroup(scim);
    const member = await createUser(scim);
    const outsider = await createUser(scim);
    await scim.patch(`/Groups/${group.id}`, patchOp({ op: 'Add', path: 'members', value: [{ value: member.id }] })).expect(204);

    const hit = await scim.get(`/Groups?${filterQuery(`id eq "${group.id}" and members eq "${member.id}"`)}&attributes=id`);
    const miss = await scim.get(`/Groups?${filterQuery(`id eq "${group.id}" and members eq "${outsider.id}"`)}&attributes=id`);

    assert.equal(hit.status, 200);
    assert.equal(hit.body.totalResults, 1);
    assert.equal(hit.body.Resources[0].id, group.id);
    assert.equal(miss.status, 200);
    assert.equal(miss.body.totalResults, 0);
  });

  it('PATCH /Groups › Add a group as a member (nested group) › 400 invalidValue, membership unchanged', async () => {
    const { scim } = await fresh();
    const parent = await createGroup(scim);
    const child = await createGroup(scim);

    const res = await scim.patch(`/Groups/${parent.id}`, patchOp({ op: 'Add', path: 'members', value: [{ $ref: null, value: child.id }] }));

    assert.equal(res.status, 400);
    assert.equal(res.body.scimType, 'invalidValue');
    assert.deepEqual(await memberIdsOf(scim, parent.id), []);
  });

  it('DELETE /Groups/{id} › an existing group › 204, then GET 404, the displayName query empty and group.deleted recorded', async () => {
    const { dir, scim } = await fresh();
    const group = await createGroup(scim);

    const res = await scim.delete(`/Groups/${group.id}`);

    assert.equal(res.status, 204);
    await scim.get(`/Groups/${group.id}`).expect(404);
    const found = await scim.get(`/Groups?excludedAttributes=members&${filterQuery(`displayName eq "${group.displayName}"`)}`).expect(200);
    assert.equal(found.body.totalResults, 0);
    const events = await eventsOf(dir, (e) => typesFor(e, group.id).includes('group.deleted'));
    assert.deepEqual(typesFor(events, group.id), ['group.created', 'group.deleted']);
  });
});
