/**
 * /Groups through HTTP: create, read, replace (PUT), delete; displayName and externalId
 * uniqueness; meta and ETags. PATCH of groups (members included) lives in patch.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { randomUUID } from 'node:crypto';
import { ADSCIM_GROUP, entraUser, GROUP_SCHEMA, patchOp } from '../support/factories';
import {
  apiSuite,
  assertScimError,
  assertScimJson,
  createGroup,
  createUser,
  filterQuery,
  groupWithMembers,
  memberIdsOf,
  typesFor,
} from '../support/scim-helpers';

const { fresh, eventsOf } = apiSuite();

describe('POST and GET /Groups', () => {
  // Entra sends its ADSCIM group schema beside the core URN, or (before 2018) instead of it.
  for (const [label, schemas] of [
    ['the core URN only', [GROUP_SCHEMA]],
    ['the core URN and the ADSCIM schema (what Entra sends today)', [GROUP_SCHEMA, ADSCIM_GROUP]],
    ['the pre-2018 ADSCIM schema only', ['http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/Group']],
  ] as const) {
    it(`POST /Groups › schemas holding ${label} › 201, group stored`, async () => {
      const { scim } = await fresh();
      const displayName = `group-${randomUUID()}`;

      const res = await scim.post('/Groups', { schemas, externalId: randomUUID(), displayName });

      assert.equal(res.status, 201);
      const stored = (await scim.get(`/Groups/${res.body.id}`).expect(200)).body;
      assert.equal(stored.displayName, displayName);
      assert.deepEqual(stored.schemas, [GROUP_SCHEMA]);
    });
  }

  it('POST /Groups › the ADSCIM schema and client-sent meta › 201 with id, externalId and no members', async () => {
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

  it('POST /Groups › with members › 201 listing each member with value, $ref and display; GET agrees', async () => {
    const { scim } = await fresh();
    const { body: u1 } = await scim.post('/Users', entraUser({ displayName: 'Ada' })).expect(201);
    const { body: u2 } = await scim.post('/Users', entraUser({ displayName: 'Grace' })).expect(201);

    const created = await scim
      .post('/Groups', { schemas: [GROUP_SCHEMA], displayName: `eng-${randomUUID()}`, members: [{ value: u1.id }, { value: u2.id }] })
      .expect(201);
    const read = await scim.get(`/Groups/${created.body.id}`).expect(200);

    assert.equal(created.headers.location, created.body.meta.location);
    assert.equal(created.headers.etag, created.body.meta.version);
    const members = [...created.body.members].sort((a, b) => a.value.localeCompare(b.value));
    const expected = [u1, u2].map((u) => ({ value: u.id, display: u.displayName, $ref: u.meta.location })).sort((a, b) => a.value.localeCompare(b.value));
    assert.deepEqual(
      members.map((m: Record<string, string>) => ({ value: m.value, display: m.display, $ref: m.$ref })),
      expected,
    );
    assert.deepEqual(read.body, created.body);
  });

  // Microsoft's reference code names the member's display "displayName".
  it('POST /Groups › members carrying displayName instead of display › 201 with that member', async () => {
    const { scim } = await fresh();
    const user = await createUser(scim);

    const res = await scim.post('/Groups', { schemas: [GROUP_SCHEMA], displayName: 'with member', members: [{ displayName: 'new User', value: user.id }] });

    assert.equal(res.status, 201);
    assert.deepEqual(await memberIdsOf(scim, res.body.id), [user.id]);
  });
});

describe('uniqueness', () => {
  it('POST /Groups › a displayName another group already has › 409 uniqueness and still one such group', async () => {
    const { scim } = await fresh();
    await createGroup(scim, 'Sales');

    const res = await scim.post('/Groups', { schemas: [GROUP_SCHEMA], externalId: randomUUID(), displayName: 'Sales' });

    assert.equal(res.status, 409);
    assert.equal(res.body.scimType, 'uniqueness');
    const found = await scim.get(`/Groups?${filterQuery('displayName eq "Sales"')}`).expect(200);
    assert.equal(found.body.totalResults, 1);
  });

  it('POST /Groups › externalId already used by a group of the directory › 409 uniqueness', async () => {
    const { scim } = await fresh();
    const externalId = randomUUID();
    await scim.post('/Groups', { schemas: [GROUP_SCHEMA], displayName: `g-${randomUUID()}`, externalId }).expect(201);

    const res = await scim.post('/Groups', { schemas: [GROUP_SCHEMA], displayName: `g-${randomUUID()}`, externalId });

    assertScimError(res, 409, 'uniqueness');
  });
});

describe('PUT /Groups', () => {
  it('PUT /Groups/{id} › a new member list › the membership becomes exactly that list', async () => {
    const { scim } = await fresh();
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await scim.post('/Users', entraUser()).expect(201)).body.id as string);
    const displayName = `g-${randomUUID()}`;
    const { body: group } = await scim.post('/Groups', { schemas: [GROUP_SCHEMA], displayName, members: [{ value: ids[0] }, { value: ids[1] }] }).expect(201);

    const res = await scim
      .put(`/Groups/${group.id}`, { schemas: [GROUP_SCHEMA], displayName: `${displayName}-renamed`, members: [{ value: ids[1] }, { value: ids[2] }] })
      .expect(200);

    assert.equal(res.body.displayName, `${displayName}-renamed`);
    assert.deepEqual(res.body.members.map((m: { value: string }) => m.value).sort(), [ids[1], ids[2]].sort());
  });

  it('PUT /Groups/{id} › no members in the body › the group is emptied', async () => {
    const { scim } = await fresh();
    const { body: user } = await scim.post('/Users', entraUser()).expect(201);
    const displayName = `g-${randomUUID()}`;
    const { body: group } = await scim.post('/Groups', { schemas: [GROUP_SCHEMA], displayName, members: [{ value: user.id }] }).expect(201);

    await scim.put(`/Groups/${group.id}`, { schemas: [GROUP_SCHEMA], displayName }).expect(200);

    const read = await scim.get(`/Groups/${group.id}`).expect(200);
    assert.deepEqual(read.body.members ?? [], []);
  });
});

describe('DELETE /Groups', () => {
  // Entra sends DELETE without a body or a Content-Type (the client here sends neither).
  it('DELETE /Groups/{id} › a group with a member › 204, GET 404, the user still exists and no longer lists it', async () => {
    const { scim } = await fresh();
    const { body: user } = await scim.post('/Users', entraUser()).expect(201);
    const { body: group } = await scim
      .post('/Groups', { schemas: [GROUP_SCHEMA], displayName: `g-${randomUUID()}`, members: [{ value: user.id }] })
      .expect(201);

    const res = await scim.delete(`/Groups/${group.id}`);

    assert.equal(res.status, 204);
    assertScimError(await scim.get(`/Groups/${group.id}`), 404);
    const after = await scim.get(`/Users/${user.id}`).expect(200);
    assert.equal(after.body.groups, undefined);
  });

  it('DELETE /Groups/{id} › a group without members › 204, then GET 404, the displayName query empty and group.deleted recorded', async () => {
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

  // Entra deletes users without first removing them from their groups.
  it('DELETE /Users › a group member › 204, the group no longer lists it and group.user_removed is recorded', async () => {
    const { dir, scim } = await fresh();
    const { group, ids } = await groupWithMembers(scim, 2);

    await scim.delete(`/Users/${ids[0]}`).expect(204);

    assert.deepEqual(await memberIdsOf(scim, group.id), [ids[1]]);
    const events = await eventsOf(dir, (e) => e.some((x) => x.type === 'group.user_removed'));
    assert.deepEqual(
      events.filter((e) => e.type === 'group.user_removed').map((e) => [e.data.group!.id, e.data.user!.id]),
      [[group.id, ids[0]]],
    );
  });
});

describe('meta and ETags', () => {
  it('GET /Groups/{id} › any group › meta.resourceType Group, location ends in the id, ETag equals meta.version', async () => {
    const { scim } = await fresh();
    const { body: group } = await scim.post('/Groups', { schemas: [GROUP_SCHEMA], displayName: `g-${randomUUID()}` }).expect(201);

    const res = await scim.get(`/Groups/${group.id}`).expect(200);

    assert.equal(res.body.meta.resourceType, 'Group');
    assert.ok(res.body.meta.location.endsWith(`/Groups/${group.id}`));
    assert.equal(res.headers.etag, res.body.meta.version);
  });

  it('PATCH /Groups/{id} › If-Match with a stale ETag › 412 and nothing changes', async () => {
    const { scim } = await fresh();
    const { body: created } = await scim.post('/Groups', { schemas: [GROUP_SCHEMA], displayName: `g-${randomUUID()}` }).expect(201);
    await scim.patch(`/Groups/${created.id}`, patchOp({ op: 'replace', path: 'displayName', value: `r-${randomUUID()}` })).expect(204);
    const { body: current } = await scim.get(`/Groups/${created.id}`).expect(200);

    const res = await scim
      .patch(`/Groups/${created.id}`, patchOp({ op: 'replace', path: 'displayName', value: `x-${randomUUID()}` }))
      .set('If-Match', created.meta.version);

    assertScimError(res, 412);
    assert.deepEqual((await scim.get(`/Groups/${created.id}`)).body, current);
  });
});
