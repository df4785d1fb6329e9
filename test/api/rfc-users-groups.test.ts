import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Response } from 'supertest';
import { makeTestApp, type TestApp } from '../support/app';
import { ENTERPRISE, entraUser, GROUP_SCHEMA, makeDirectory, patchOp, scimClient, USER_SCHEMA } from '../support/factories';

const ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';
const SCIM_JSON = /^application\/scim\+json/;

/** RFC 7644 §3.12: the error body, its status as a string, and the scimType (or none). */
function assertScimError(res: Response, status: number, scimType?: string) {
  assert.equal(res.status, status, `expected ${status}, got ${res.status}: ${JSON.stringify(res.body)}`);
  assert.match(res.headers['content-type'] ?? '', SCIM_JSON);
  assert.deepEqual(res.body.schemas, [ERROR_SCHEMA]);
  assert.equal(res.body.status, String(status));
  assert.equal(res.body.scimType, scimType);
}

describe('RFC 7644 Users and Groups', () => {
  let t: TestApp;
  before(() => {
    t = makeTestApp();
  });
  after(() => t.close());

  /** A fresh directory and its client: each test owns its data. */
  const fresh = async () => scimClient(t.app, (await makeDirectory(t.app)).token);

  describe('POST, GET and DELETE /Users', () => {
    it('POST /Users › a full user › 201 whose Location is meta.location, and GET returns the same resource', async () => {
      const scim = await fresh();
      const body = entraUser({
        title: 'Engineer',
        [ENTERPRISE]: { employeeNumber: '42', department: 'R&D' },
      });

      const created = await scim.post('/Users', body).expect(201);
      const read = await scim.get(`/Users/${created.body.id}`).expect(200);

      assert.match(created.headers['content-type'], SCIM_JSON);
      assert.equal(created.headers.location, created.body.meta.location);
      assert.deepEqual(created.body.schemas.slice().sort(), [ENTERPRISE, USER_SCHEMA].sort());
      assert.equal(created.body.userName, body.userName);
      assert.deepEqual(created.body.name, body.name);
      assert.deepEqual(created.body.emails, body.emails);
      assert.deepEqual(created.body[ENTERPRISE], { employeeNumber: '42', department: 'R&D' });
      assert.deepEqual(read.body, created.body);
    });

    it('POST /Users › a password › accepted but never returned (returned "never")', async () => {
      const scim = await fresh();

      const created = await scim.post('/Users', entraUser({ password: 'S3cret!pass' })).expect(201);
      const read = await scim.get(`/Users/${created.body.id}`).expect(200);

      assert.equal(created.body.password, undefined);
      assert.equal(read.body.password, undefined);
    });

    it('DELETE /Users/{id} › an existing user › 204, then GET and a second DELETE answer 404', async () => {
      const scim = await fresh();
      const { body: user } = await scim.post('/Users', entraUser()).expect(201);

      const deleted = await scim.delete(`/Users/${user.id}`);

      assert.equal(deleted.status, 204);
      assertScimError(await scim.get(`/Users/${user.id}`), 404);
      assertScimError(await scim.delete(`/Users/${user.id}`), 404);
    });

    it('GET /Users/{id} › a user of another directory › 404', async () => {
      const mine = await fresh();
      const theirs = await fresh();
      const { body: user } = await theirs.post('/Users', entraUser()).expect(201);

      assertScimError(await mine.get(`/Users/${user.id}`), 404);
    });
  });

  describe('uniqueness', () => {
    it('POST /Users › userName differing only in case ("Bob" vs "bob") › 409 uniqueness, one user stored', async () => {
      const scim = await fresh();
      const userName = `Bob-${randomUUID()}@contoso.example`;
      await scim.post('/Users', entraUser({ userName })).expect(201);

      const res = await scim.post('/Users', entraUser({ userName: userName.toLowerCase() }));

      assertScimError(res, 409, 'uniqueness');
      const list = await scim.get(`/Users?filter=${encodeURIComponent(`userName eq "${userName}"`)}`).expect(200);
      assert.equal(list.body.totalResults, 1);
    });

    it('POST /Users › externalId already used in the directory › 409 uniqueness', async () => {
      const scim = await fresh();
      const first = entraUser();
      await scim.post('/Users', first).expect(201);

      const res = await scim.post('/Users', entraUser({ externalId: first.externalId }));

      assertScimError(res, 409, 'uniqueness');
    });

    it('POST /Users › the same userName and externalId in another directory › 201 (unique per directory)', async () => {
      const a = await fresh();
      const b = await fresh();
      const body = entraUser();
      await a.post('/Users', body).expect(201);

      const res = await b.post('/Users', body);

      assert.equal(res.status, 201);
    });

    it("PUT /Users/{id} › taking another user's userName in other case › 409 uniqueness, user unchanged", async () => {
      const scim = await fresh();
      const { body: bob } = await scim.post('/Users', entraUser({ userName: `Bob-${randomUUID()}` })).expect(201);
      const { body: other } = await scim.post('/Users', entraUser()).expect(201);

      const res = await scim.put(`/Users/${other.id}`, entraUser({ userName: bob.userName.toUpperCase() }));

      assertScimError(res, 409, 'uniqueness');
      const after = await scim.get(`/Users/${other.id}`).expect(200);
      assert.deepEqual(after.body, other);
    });

    it('PATCH /Users/{id} › replacing externalId with one in use › 409 uniqueness, user unchanged', async () => {
      const scim = await fresh();
      const { body: first } = await scim.post('/Users', entraUser()).expect(201);
      const { body: second } = await scim.post('/Users', entraUser()).expect(201);

      const res = await scim.patch(`/Users/${second.id}`, patchOp({ op: 'replace', path: 'externalId', value: first.externalId }));

      assertScimError(res, 409, 'uniqueness');
      assert.deepEqual((await scim.get(`/Users/${second.id}`)).body, second);
    });

    it('POST /Groups › externalId already used by a group of the directory › 409 uniqueness', async () => {
      const scim = await fresh();
      const externalId = randomUUID();
      await scim.post('/Groups', { schemas: [GROUP_SCHEMA], displayName: `g-${randomUUID()}`, externalId }).expect(201);

      const res = await scim.post('/Groups', { schemas: [GROUP_SCHEMA], displayName: `g-${randomUUID()}`, externalId });

      assertScimError(res, 409, 'uniqueness');
    });
  });

  describe('Groups', () => {
    it('POST /Groups › with members › 201 listing each member with value, $ref and display; GET agrees', async () => {
      const scim = await fresh();
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

    it('DELETE /Groups/{id} › a group with a member › 204, GET 404, and the user no longer lists it', async () => {
      const scim = await fresh();
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

    it('GET /Users/{id} › a member of three groups › "groups" lists them by display name, with value, $ref, display', async () => {
      const scim = await fresh();
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
  });

  describe('PUT replaces the whole resource (RFC 7644 §3.5.1)', () => {
    it('PUT /Users/{id} › omitted attributes › become unassigned; id, meta and groups in the body are ignored', async () => {
      const scim = await fresh();
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

    it('PUT /Groups/{id} › a new member list › the membership becomes exactly that list', async () => {
      const scim = await fresh();
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
      const scim = await fresh();
      const { body: user } = await scim.post('/Users', entraUser()).expect(201);
      const displayName = `g-${randomUUID()}`;
      const { body: group } = await scim.post('/Groups', { schemas: [GROUP_SCHEMA], displayName, members: [{ value: user.id }] }).expect(201);

      await scim.put(`/Groups/${group.id}`, { schemas: [GROUP_SCHEMA], displayName }).expect(200);

      const read = await scim.get(`/Groups/${group.id}`).expect(200);
      assert.deepEqual(read.body.members ?? [], []);
    });
  });

  describe('PATCH (RFC 7644 §3.5.2)', () => {
    it('PATCH /Users › add, replace and remove simple attributes › each takes effect', async () => {
      const scim = await fresh();
      const { body: user } = await scim.post('/Users', entraUser({ title: 'Engineer', displayName: 'Old' })).expect(201);

      const res = await scim
        .patch(
          `/Users/${user.id}`,
          patchOp({ op: 'add', path: 'nickName', value: 'Bobby' }, { op: 'replace', path: 'displayName', value: 'New' }, { op: 'remove', path: 'title' }),
        )
        .expect(200);

      assert.equal(res.body.nickName, 'Bobby');
      assert.equal(res.body.displayName, 'New');
      assert.equal(res.body.title, undefined);
      assert.deepEqual((await scim.get(`/Users/${user.id}`)).body, res.body);
    });

    it('PATCH /Users › replace name.givenName › only givenName changes, familyName stays', async () => {
      const scim = await fresh();
      const { body: user } = await scim.post('/Users', entraUser()).expect(201);

      const res = await scim.patch(`/Users/${user.id}`, patchOp({ op: 'replace', path: 'name.givenName', value: 'Robert' })).expect(200);

      assert.deepEqual(res.body.name, { ...user.name, givenName: 'Robert' });
    });

    it('PATCH /Users › add without path, value an object › each key is applied', async () => {
      const scim = await fresh();
      const { body: user } = await scim.post('/Users', entraUser()).expect(201);

      const res = await scim.patch(`/Users/${user.id}`, patchOp({ op: 'add', value: { title: 'CTO', name: { middleName: 'Q' } } })).expect(200);

      assert.equal(res.body.title, 'CTO');
      assert.deepEqual(res.body.name, { ...user.name, middleName: 'Q' });
    });

    it('PATCH /Users › add to emails › the new email is appended, the old one kept', async () => {
      const scim = await fresh();
      const { body: user } = await scim.post('/Users', entraUser()).expect(201);
      const home = { type: 'home', value: `home-${randomUUID()}@example.org` };

      const res = await scim.patch(`/Users/${user.id}`, patchOp({ op: 'add', path: 'emails', value: [home] })).expect(200);

      assert.deepEqual(res.body.emails, [...user.emails, home]);
    });

    it('PATCH /Users › replace emails › the whole list is replaced', async () => {
      const scim = await fresh();
      const { body: user } = await scim.post('/Users', entraUser()).expect(201);
      const only = [{ type: 'other', value: `o-${randomUUID()}@example.org`, primary: true }];

      const res = await scim.patch(`/Users/${user.id}`, patchOp({ op: 'replace', path: 'emails', value: only })).expect(200);

      assert.deepEqual(res.body.emails, only);
    });

    it('PATCH /Users › remove emails[type eq "home"] › only the home email goes', async () => {
      const scim = await fresh();
      const work = { type: 'work', value: `w-${randomUUID()}@example.org`, primary: true };
      const home = { type: 'home', value: `h-${randomUUID()}@example.org` };
      const { body: user } = await scim.post('/Users', entraUser({ emails: [work, home] })).expect(201);

      const res = await scim.patch(`/Users/${user.id}`, patchOp({ op: 'remove', path: 'emails[type eq "home"]' })).expect(200);

      assert.deepEqual(res.body.emails, [work]);
    });

    it('PATCH /Users › replace emails[type eq "work"].value › only that element\'s value changes', async () => {
      const scim = await fresh();
      const work = { type: 'work', value: `w-${randomUUID()}@example.org`, primary: true };
      const home = { type: 'home', value: `h-${randomUUID()}@example.org` };
      const { body: user } = await scim.post('/Users', entraUser({ emails: [work, home] })).expect(201);

      const res = await scim.patch(`/Users/${user.id}`, patchOp({ op: 'replace', path: 'emails[type eq "work"].value', value: 'new@example.org' })).expect(200);

      assert.deepEqual(res.body.emails, [{ ...work, value: 'new@example.org' }, home]);
    });

    it('PATCH /Users › enterprise extension attributes › replaced, added and removed by full path', async () => {
      const scim = await fresh();
      const { body: user } = await scim.post('/Users', entraUser({ [ENTERPRISE]: { department: 'R&D', employeeNumber: '7' } })).expect(201);
      const { body: boss } = await scim.post('/Users', entraUser()).expect(201);

      const res = await scim
        .patch(
          `/Users/${user.id}`,
          patchOp(
            { op: 'replace', path: `${ENTERPRISE}:department`, value: 'Sales' },
            { op: 'add', path: `${ENTERPRISE}:manager`, value: { value: boss.id } },
            { op: 'remove', path: `${ENTERPRISE}:employeeNumber` },
          ),
        )
        .expect(200);

      assert.equal(res.body[ENTERPRISE].department, 'Sales');
      assert.equal(res.body[ENTERPRISE].manager.value, boss.id);
      assert.equal(res.body[ENTERPRISE].employeeNumber, undefined);
    });

    it('PATCH /Users › removing the last extension attribute › the extension leaves "schemas"', async () => {
      const scim = await fresh();
      const { body: user } = await scim.post('/Users', entraUser({ [ENTERPRISE]: { department: 'R&D' } })).expect(201);

      const res = await scim.patch(`/Users/${user.id}`, patchOp({ op: 'remove', path: `${ENTERPRISE}:department` })).expect(200);

      assert.equal(res.body[ENTERPRISE], undefined);
      assert.deepEqual(res.body.schemas, [USER_SCHEMA]);
    });

    it('PATCH /Users › three operations, the third invalid › 400 and nothing applied (same version and values)', async () => {
      const scim = await fresh();
      const { body: user } = await scim.post('/Users', entraUser({ title: 'Engineer' })).expect(201);

      const res = await scim.patch(
        `/Users/${user.id}`,
        patchOp(
          { op: 'replace', path: 'title', value: 'Manager' },
          { op: 'add', path: 'nickName', value: 'Bobby' },
          { op: 'replace', path: 'active', value: 'maybe' },
        ),
      );

      assertScimError(res, 400, 'invalidValue');
      const after = await scim.get(`/Users/${user.id}`).expect(200);
      assert.deepEqual(after.body, user);
      assert.equal(after.headers.etag, user.meta.version);
    });

    it('PATCH /Users › a change to nothing (same value) › 200 and the version is kept', async () => {
      const scim = await fresh();
      const { body: user } = await scim.post('/Users', entraUser({ title: 'Engineer' })).expect(201);

      const res = await scim.patch(`/Users/${user.id}`, patchOp({ op: 'replace', path: 'title', value: 'Engineer' })).expect(200);

      assert.equal(res.body.meta.version, user.meta.version);
      assert.equal(res.headers.etag, user.meta.version);
    });

    it('PATCH /Groups › add members, remove one by filter, rename › membership and name follow', async () => {
      const scim = await fresh();
      const ids = [];
      for (let i = 0; i < 3; i++) ids.push((await scim.post('/Users', entraUser()).expect(201)).body.id as string);
      const { body: group } = await scim.post('/Groups', { schemas: [GROUP_SCHEMA], displayName: `g-${randomUUID()}` }).expect(201);
      const renamed = `renamed-${randomUUID()}`;

      const res = await scim.patch(
        `/Groups/${group.id}`,
        patchOp(
          { op: 'add', path: 'members', value: ids.map((value) => ({ value })) },
          { op: 'remove', path: `members[value eq "${ids[0]}"]` },
          { op: 'replace', path: 'displayName', value: renamed },
        ),
      );

      assert.ok(res.status === 204 || res.status === 200, `PATCH answered ${res.status}`);
      const read = await scim.get(`/Groups/${group.id}`).expect(200);
      assert.equal(read.body.displayName, renamed);
      assert.deepEqual(read.body.members.map((m: { value: string }) => m.value).sort(), [ids[1], ids[2]].sort());
      assert.equal(res.headers.etag, read.body.meta.version);
    });

    it('PATCH /Groups › three operations, the third adds a user that does not exist › 400 and nothing applied', async () => {
      const scim = await fresh();
      const { body: user } = await scim.post('/Users', entraUser()).expect(201);
      const { body: group } = await scim.post('/Groups', { schemas: [GROUP_SCHEMA], displayName: `g-${randomUUID()}` }).expect(201);

      const res = await scim.patch(
        `/Groups/${group.id}`,
        patchOp(
          { op: 'replace', path: 'displayName', value: `renamed-${randomUUID()}` },
          { op: 'add', path: 'members', value: [{ value: user.id }] },
          { op: 'add', path: 'members', value: [{ value: randomUUID() }] },
        ),
      );

      assertScimError(res, 400, 'invalidValue');
      const after = await scim.get(`/Groups/${group.id}`).expect(200);
      assert.deepEqual(after.body, group);
    });

    it('PATCH /Groups › ?attributes=members › 200 with the members instead of 204', async () => {
      const scim = await fresh();
      const { body: user } = await scim.post('/Users', entraUser()).expect(201);
      const { body: group } = await scim.post('/Groups', { schemas: [GROUP_SCHEMA], displayName: `g-${randomUUID()}` }).expect(201);

      const res = await scim.patch(`/Groups/${group.id}?attributes=members`, patchOp({ op: 'add', path: 'members', value: [{ value: user.id }] })).expect(200);

      assert.deepEqual(
        res.body.members.map((m: { value: string }) => m.value),
        [user.id],
      );
      assert.equal(res.body.id, group.id);
    });
  });

  describe('meta and ETags (RFC 7644 §3.14)', () => {
    it('POST then PATCH /Users › meta.created stays, lastModified advances, version changes, location ends in the id', async () => {
      const scim = await fresh();
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

    it('GET /Groups/{id} › any group › meta.resourceType Group, location ends in the id, ETag equals meta.version', async () => {
      const scim = await fresh();
      const { body: group } = await scim.post('/Groups', { schemas: [GROUP_SCHEMA], displayName: `g-${randomUUID()}` }).expect(201);

      const res = await scim.get(`/Groups/${group.id}`).expect(200);

      assert.equal(res.body.meta.resourceType, 'Group');
      assert.ok(res.body.meta.location.endsWith(`/Groups/${group.id}`));
      assert.equal(res.headers.etag, res.body.meta.version);
    });

    for (const method of ['PUT', 'PATCH', 'DELETE'] as const) {
      it(`${method} /Users/{id} › If-Match with a stale ETag › 412 and nothing changes`, async () => {
        const scim = await fresh();
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

    it('PATCH /Groups/{id} › If-Match with a stale ETag › 412 and nothing changes', async () => {
      const scim = await fresh();
      const { body: created } = await scim.post('/Groups', { schemas: [GROUP_SCHEMA], displayName: `g-${randomUUID()}` }).expect(201);
      await scim.patch(`/Groups/${created.id}`, patchOp({ op: 'replace', path: 'displayName', value: `r-${randomUUID()}` })).expect(204);
      const { body: current } = await scim.get(`/Groups/${created.id}`).expect(200);

      const res = await scim
        .patch(`/Groups/${created.id}`, patchOp({ op: 'replace', path: 'displayName', value: `x-${randomUUID()}` }))
        .set('If-Match', created.meta.version);

      assertScimError(res, 412);
      assert.deepEqual((await scim.get(`/Groups/${created.id}`)).body, current);
    });

    it('PATCH /Users/{id} › If-Match with the current ETag › 200', async () => {
      const scim = await fresh();
      const { body: user } = await scim.post('/Users', entraUser()).expect(201);

      const res = await scim.patch(`/Users/${user.id}`, patchOp({ op: 'replace', path: 'title', value: 'CTO' })).set('If-Match', user.meta.version);

      assert.equal(res.status, 200);
      assert.equal(res.body.title, 'CTO');
    });

    it('PUT /Users/{id} › If-Match: * › 200', async () => {
      const scim = await fresh();
      const { body: user } = await scim.post('/Users', entraUser()).expect(201);

      const res = await scim.put(`/Users/${user.id}`, entraUser({ userName: user.userName, title: 'CTO' })).set('If-Match', '*');

      assert.equal(res.status, 200);
      assert.equal(res.body.title, 'CTO');
    });

    it('GET /Users/{id} › If-None-Match with the current ETag › 304 with no body, ETag repeated', async () => {
      const scim = await fresh();
      const { body: user } = await scim.post('/Users', entraUser()).expect(201);

      const res = await scim.get(`/Users/${user.id}`).set('If-None-Match', user.meta.version);

      assert.equal(res.status, 304);
      assert.equal(res.text ?? '', '');
      assert.equal(res.headers.etag, user.meta.version);
    });

    it('GET /Users/{id} › If-None-Match with an older ETag › 200 with the current resource', async () => {
      const scim = await fresh();
      const { body: user } = await scim.post('/Users', entraUser()).expect(201);
      const { body: current } = await scim.patch(`/Users/${user.id}`, patchOp({ op: 'replace', path: 'title', value: 'CTO' })).expect(200);

      const res = await scim.get(`/Users/${user.id}`).set('If-None-Match', user.meta.version);

      assert.equal(res.status, 200);
      assert.equal(res.body.meta.version, current.meta.version);
    });
  });
});
