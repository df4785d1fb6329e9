/**
 * Tenant and directory isolation on every route of services/api/routes. Tenant A has two
 * directories (A1, A2), tenant B one (B); each holds a user with the same userName and
 * externalId, a user of its own, and a group with the same displayName. A key reaches exactly one
 * directory: another directory's resources (even in the same tenant) cannot be read, listed,
 * filtered, sorted into, searched, replaced, patched, deleted, bulk-modified, or detected: the
 * answer is 404, never 403, with the body an id that never existed gets. Every rejected write
 * is followed by a read of the victim with its own key: it must be exactly as before.
 */
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import type { TestApp } from './app';
import { asAdmin, entraUser, GROUP_SCHEMA, makeDirectory, patchOp, scimClient, USER_SCHEMA, type TestDirectory } from './factories';

const SEARCH = 'urn:ietf:params:scim:api:messages:2.0:SearchRequest';
const BULK = 'urn:ietf:params:scim:api:messages:2.0:BulkRequest';
const ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';

type Client = ReturnType<typeof scimClient>;
type Name = 'a1' | 'a2' | 'b';

interface Fixture {
  readonly dir: TestDirectory;
  readonly scim: Client;
  /** The user whose userName and externalId every directory shares. */
  shared: string;
  /** A user only this directory has a userName like. */
  solo: string;
  soloUserName: string;
  soloExternalId: string;
  /** A group, same displayName in every directory, holding shared and solo. */
  group: string;
  soloGroup: string;
  soloGroupName: string;
  /** Every user and group id created in the directory, for exact list checks. */
  readonly users: Set<string>;
  readonly groups: Set<string>;
}

const suffix = () => randomUUID().replace(/-/g, '').slice(0, 12);
const q = (filter: string) => `?filter=${encodeURIComponent(filter)}`;
const idsOf = (res: request.Response): string[] => (res.body.Resources ?? []).map((r: { id: string }) => r.id);

/** A body with the ids replaced, so errors for different ids can be compared as wholes. */
function shapeOf(body: unknown, ...ids: string[]): unknown {
  let text = JSON.stringify(body);
  for (const id of ids) text = text.split(id).join('<id>');
  return JSON.parse(text);
}

function assertNotFound(res: request.Response, what: string) {
  assert.equal(res.status, 404, `${what}: expected 404, got ${res.status} ${JSON.stringify(res.body)}`);
  assert.deepEqual(res.body.schemas, [ERROR_SCHEMA], what);
  assert.equal(res.body.status, '404', what);
}

/**
 * The walk, as a suite named `title` on the app `makeApp` builds (closed after it): run on the
 * test database directly (test/api/isolation.test.ts) and through PgBouncer (test/db/pgbouncer.test.ts).
 */
export function isolationWalk(title: string, makeApp: () => Promise<TestApp>): void {
  describe(title, () => walk(makeApp));
}

function walk(makeApp: () => Promise<TestApp>): void {
  let t: TestApp;
  const f = {} as Record<Name, Fixture>;
  const sharedUserName = `same-${suffix()}@contoso.example`;
  const sharedExternalId = `ext-${suffix()}`;
  const sharedGroupName = `Everyone ${suffix()}`;
  const a1Extension = `urn:ietf:params:scim:schemas:extension:iso${suffix()}:2.0:User`;

  async function makeUser(name: Name, overrides: Record<string, unknown> = {}) {
    const res = await f[name].scim.post('/Users', entraUser(overrides));
    assert.equal(res.status, 201, JSON.stringify(res.body));
    f[name].users.add(res.body.id);
    return res.body as Record<string, any>;
  }

  async function makeGroup(name: Name, displayName: string, members: string[]) {
    const res = await f[name].scim.post('/Groups', { schemas: [GROUP_SCHEMA], displayName, members: members.map((value) => ({ value })) });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    f[name].groups.add(res.body.id);
    return res.body as Record<string, any>;
  }

  /** The victim as its own directory sees it: status 200 and the whole body (meta.version included). */
  async function snapshot(owner: Name, path: string) {
    const res = await f[owner].scim.get(path);
    assert.equal(res.status, 200, `${owner} ${path}: ${JSON.stringify(res.body)}`);
    return res.body;
  }

  /** Runs a rejected write and checks that every victim reads exactly as before. */
  async function unchanged<T>(victims: [Name, string][], work: () => Promise<T>): Promise<T> {
    const before = await Promise.all(victims.map(([owner, path]) => snapshot(owner, path)));
    const result = await work();
    const after = await Promise.all(victims.map(([owner, path]) => snapshot(owner, path)));
    for (const [i, [owner, path]] of victims.entries()) assert.deepEqual(after[i], before[i], `${owner} ${path} changed`);
    return result;
  }

  async function tenantFeed(
    tenantId: string,
  ): Promise<{ type: string; tenantId: string; directoryId: string; resourceId: string; actor: string; cursor: string; data: unknown }[]> {
    const res = await asAdmin(request(t.app).get(`/admin/v1/tenants/${tenantId}/events`)).query({ limit: 1000 });
    assert.equal(res.status, 200);
    return res.body.data;
  }

  before(async () => {
    t = await makeApp();
    const a1 = await makeDirectory(t.app);
    const a2 = await makeDirectory(t.app, { tenantId: a1.tenantId });
    const b = await makeDirectory(t.app);
    for (const [name, dir] of [
      ['a1', a1],
      ['a2', a2],
      ['b', b],
    ] as const) {
      f[name] = { dir, scim: scimClient(t.app, dir.token), users: new Set(), groups: new Set() } as unknown as Fixture;
    }
    const schema = await asAdmin(request(t.app).post(`/admin/v1/directories/${a1.directoryId}/schemas`)).send({
      id: a1Extension,
      name: 'IsolatedUser',
      attributes: [{ name: 'badge', type: 'string' }],
    });
    assert.equal(schema.status, 201, JSON.stringify(schema.body));

    for (const name of ['a1', 'a2', 'b'] as const) {
      const fx = f[name];
      fx.shared = (await makeUser(name, { userName: sharedUserName, externalId: sharedExternalId, displayName: 'Same Person' })).id;
      fx.soloUserName = `${name}-solo-${suffix()}@contoso.example`;
      fx.soloExternalId = `${name}-ext-${suffix()}`;
      const extra = name === 'a1' ? { [a1Extension]: { badge: 'A1-7' } } : {};
      fx.solo = (await makeUser(name, { userName: fx.soloUserName, externalId: fx.soloExternalId, ...extra })).id;
      fx.group = (await makeGroup(name, sharedGroupName, [fx.shared, fx.solo])).id;
      fx.soloGroupName = `${name} only ${suffix()}`;
      fx.soloGroup = (await makeGroup(name, fx.soloGroupName, [fx.solo])).id;
    }
  });
  after(() => t.close());

  /** Other directories' resources as A1 would try to reach them: B (other tenant) and A2 (same tenant). */
  const foreign = () => [
    { owner: 'b' as const, user: f.b.shared, solo: f.b.solo, group: f.b.group },
    { owner: 'a2' as const, user: f.a2.shared, solo: f.a2.solo, group: f.a2.group },
  ];

  describe('reads by id', () => {
    for (const [type, key] of [
      ['Users', 'user'],
      ['Groups', 'group'],
    ] as const) {
      it(`GET /${type}/{id} › another directory's ${key} › 404 with the same body as an id that never existed`, async () => {
        const never = randomUUID();
        const missing = await f.a1.scim.get(`/${type}/${never}`);
        assertNotFound(missing, 'never existed');

        for (const victim of foreign()) {
          const id = victim[key];
          for (const base of ['/scim/v2', '/scim/v1']) {
            const res = await scimClient(t.app, f.a1.dir.token, base).get(`/${type}/${id}`);
            assertNotFound(res, `${base} ${victim.owner}`);
            assert.deepEqual(shapeOf(res.body, id), shapeOf(missing.body, never), 'exists elsewhere must look like never existed');
          }
          const projected = await f.a1.scim.get(`/${type}/${id}?attributes=id`);
          assertNotFound(projected, 'with attributes');
          const etag = (await f[victim.owner].scim.get(`/${type}/${id}`)).headers.etag;
          const conditional = await f.a1.scim.get(`/${type}/${id}`).set('If-None-Match', etag);
          assertNotFound(conditional, 'If-None-Match with the victim ETag');
          // Upper-case ids name the same UUID: still 404.
          assertNotFound(await f.a1.scim.get(`/${type}/${id.toUpperCase()}`), 'upper-case id');
        }
      });
    }

    it('GET /Users/{id} › the own user › lists only the groups of its own directory', async () => {
      const user = await snapshot('a1', `/Users/${f.a1.shared}`);

      assert.deepEqual(
        user.groups.map((g: { value: string }) => g.value),
        [f.a1.group],
      );
    });

    it('GET /Groups/{id} › the own group › lists only members of its own directory', async () => {
      const group = await snapshot('a1', `/Groups/${f.a1.group}`);

      assert.deepEqual(group.members.map((m: { value: string }) => m.value).sort(), [f.a1.shared, f.a1.solo].sort());
    });
  });

  describe('lists, filters, sorting and search', () => {
    it("GET /Users?filter=… › naming another directory's users › 0 results", async () => {
      for (const filter of [
        `id eq "${f.b.solo}"`,
        `id eq "${f.a2.solo}"`,
        `userName eq "${f.b.soloUserName}"`,
        `externalId eq "${f.b.soloExternalId}"`,
        `userName sw "b-solo-"`,
        `groups[value eq "${f.b.group}"]`,
        `groups.value eq "${f.a2.group}"`,
        `id eq "${f.b.solo}" or id eq "${f.a2.solo}" or userName eq "${f.b.soloUserName}"`,
      ]) {
        const res = await f.a1.scim.get(`/Users${q(filter)}`);
        assert.equal(res.status, 200, `${filter}: ${JSON.stringify(res.body)}`);
        assert.equal(res.body.totalResults, 0, filter);
        assert.deepEqual(idsOf(res), [], filter);
      }
    });

    it('GET /Users?filter=… › shared userName and externalId › each directory finds only its own user', async () => {
      for (const name of ['a1', 'a2', 'b'] as const) {
        for (const filter of [`userName eq "${sharedUserName}"`, `externalId eq "${sharedExternalId}"`, `userName eq "${sharedUserName.toUpperCase()}"`]) {
          const res = await f[name].scim.get(`/Users${q(filter)}`);
          assert.equal(res.status, 200);
          assert.equal(res.body.totalResults, 1, `${name} ${filter}`);
          assert.deepEqual(idsOf(res), [f[name].shared], `${name} ${filter}`);
        }
      }
    });

    it('GET /Groups?filter=… › members[value eq "<other directory\'s user>"] and other ids › 0 results', async () => {
      for (const filter of [
        `members[value eq "${f.b.shared}"]`,
        `members[value eq "${f.a2.solo}"]`,
        `members.value eq "${f.b.solo}"`,
        `id eq "${f.b.group}"`,
        `displayName eq "${f.b.soloGroupName}"`,
      ]) {
        const res = await f.a1.scim.get(`/Groups${q(filter)}`);
        assert.equal(res.status, 200, `${filter}: ${JSON.stringify(res.body)}`);
        assert.equal(res.body.totalResults, 0, filter);
      }
      // The same filter on the own member does find the own groups.
      const own = await f.a1.scim.get(`/Groups${q(`members[value eq "${f.a1.solo}"]`)}`);
      assert.deepEqual(idsOf(own).sort(), [f.a1.group, f.a1.soloGroup].sort());
      const shared = await f.a1.scim.get(`/Groups${q(`displayName eq "${sharedGroupName}"`)}`);
      assert.deepEqual(idsOf(shared), [f.a1.group]);
    });

    for (const [type, key] of [
      ['Users', 'users'],
      ['Groups', 'groups'],
    ] as const) {
      it(`GET /${type} › unfiltered, sorted and paged › totalResults and every page hold only the own directory`, async () => {
        for (const name of ['a1', 'a2', 'b'] as const) {
          const own = [...f[name][key]].sort();
          const sortBy = type === 'Users' ? 'userName' : 'displayName';

          const all = await f[name].scim.get(`/${type}`);
          const sorted = await f[name].scim.get(`/${type}?sortBy=${sortBy}&sortOrder=descending`);
          const beyond = await f[name].scim.get(`/${type}?startIndex=${own.length + 1}&count=10`);
          const countOnly = await f[name].scim.get(`/${type}?count=0`);

          assert.equal(all.body.totalResults, own.length, name);
          assert.deepEqual(idsOf(all).sort(), own, name);
          assert.equal(sorted.body.totalResults, own.length, name);
          assert.deepEqual(idsOf(sorted).sort(), own, name);
          assert.deepEqual(idsOf(beyond), [], `${name}: nothing after the own resources`);
          assert.equal(beyond.body.totalResults, own.length);
          assert.equal(countOnly.body.totalResults, own.length);
          const paged: string[] = [];
          for (let start = 1; start <= own.length; start++) {
            paged.push(...idsOf(await f[name].scim.get(`/${type}?sortBy=${sortBy}&startIndex=${start}&count=1`)));
          }
          assert.deepEqual(paged.sort(), own, `${name}: one page at a time`);
        }
      });

      it(`POST /${type}/.search › other directories' ids, or none › only own resources`, async () => {
        const own = [...f.a1[key]].sort();
        const otherIds = type === 'Users' ? [f.b.solo, f.a2.solo] : [f.b.group, f.a2.group];

        const byId = await f.a1.scim.post(`/${type}/.search`, { schemas: [SEARCH], filter: otherIds.map((id) => `id eq "${id}"`).join(' or ') });
        const everything = await f.a1.scim.post(`/${type}/.search`, { schemas: [SEARCH], sortBy: 'id', startIndex: 1, count: 100 });

        assert.equal(byId.status, 200, JSON.stringify(byId.body));
        assert.equal(byId.body.totalResults, 0);
        assert.equal(everything.status, 200);
        assert.equal(everything.body.totalResults, own.length);
        assert.deepEqual(idsOf(everything).sort(), own);
      });
    }
  });

  describe("writes to another directory's resources", () => {
    it("PUT /Users/{id} › another directory's user, with and without its ETag › 404 (never 412) and the user is unchanged", async () => {
      const never = randomUUID();
      const missing = await f.a1.scim.put(`/Users/${never}`, entraUser({ userName: sharedUserName }));
      assertNotFound(missing, 'never existed');
      for (const victim of foreign()) {
        const path = `/Users/${victim.user}`;
        const etag = (await f[victim.owner].scim.get(path)).headers.etag;

        const [plain, matched] = await unchanged([[victim.owner, path]], async () => [
          await f.a1.scim.put(path, entraUser({ userName: sharedUserName, displayName: 'Hijacked', active: false })),
          await f.a1.scim.put(path, entraUser({ userName: sharedUserName, displayName: 'Hijacked' })).set('If-Match', etag),
        ]);

        for (const res of [plain, matched]) {
          assertNotFound(res, victim.owner);
          assert.deepEqual(shapeOf(res.body, victim.user), shapeOf(missing.body, never));
        }
      }
    });

    it("PATCH /Users/{id} › another directory's user, with a path and without › 404 and the user is unchanged", async () => {
      for (const victim of foreign()) {
        const path = `/Users/${victim.user}`;

        const responses = await unchanged([[victim.owner, path]], async () => [
          await f.a1.scim.patch(path, patchOp({ op: 'Replace', path: 'active', value: 'False' })),
          await f.a1.scim.patch(path, patchOp({ op: 'replace', value: { displayName: 'Hijacked', 'name.givenName': 'X' } })),
          await f.a1.scim.patch(path, patchOp({ op: 'add', path: 'emails[type eq "work"].value', value: 'evil@example.com' })),
          await f.a1.scim.patch(path, patchOp({ op: 'Replace', path: 'active', value: 'False' })).set('If-Match', '*'),
        ]);

        for (const res of responses) assertNotFound(res, victim.owner);
      }
    });

    it("DELETE /Users/{id} › another directory's user › 404 and the user still exists", async () => {
      for (const victim of foreign()) {
        const path = `/Users/${victim.solo}`;

        const responses = await unchanged(
          [
            [victim.owner, path],
            [victim.owner, `/Groups/${victim.group}`],
          ],
          async () => [await f.a1.scim.delete(path), await f.a1.scim.delete(path).set('If-Match', '*')],
        );

        for (const res of responses) assertNotFound(res, victim.owner);
      }
    });

    it("PUT, PATCH, DELETE /Groups/{id} › another directory's group › 404 and the group is unchanged", async () => {
      for (const victim of foreign()) {
        const path = `/Groups/${victim.group}`;

        const responses = await unchanged([[victim.owner, path]], async () => [
          await f.a1.scim.put(path, { schemas: [GROUP_SCHEMA], displayName: 'Hijacked', members: [] }),
          await f.a1.scim.put(path, { schemas: [GROUP_SCHEMA], displayName: sharedGroupName, members: [{ value: f.a1.solo }] }),
          await f.a1.scim.patch(path, patchOp({ op: 'Add', path: 'members', value: [{ value: f.a1.solo }] })),
          await f.a1.scim.patch(path, patchOp({ op: 'Remove', path: `members[value eq "${victim.user}"]` })),
          await f.a1.scim.patch(path, patchOp({ op: 'Remove', path: 'members' })),
          await f.a1.scim.patch(path, patchOp({ op: 'Replace', path: 'displayName', value: 'Hijacked' })),
          await f.a1.scim.delete(path),
        ]);

        for (const res of responses) assertNotFound(res, victim.owner);
      }
    });

    it("POST /Users › a body carrying another directory's id › a new own user; the other is untouched", async () => {
      const created = await unchanged([['b', `/Users/${f.b.solo}`]], () =>
        f.a1.scim.post('/Users', entraUser({ id: f.b.solo, userName: f.b.soloUserName, externalId: f.b.soloExternalId })),
      );

      assert.equal(created.status, 201, 'the userName of another directory is free here');
      assert.notEqual(created.body.id, f.b.solo);
      f.a1.users.add(created.body.id);
    });

    it("POST /Bulk › PUT, PATCH and DELETE on another directory's users and groups › each 404 like an unknown id, nothing changes", async () => {
      const never = randomUUID();
      const opsFor = (user: string, group: string) => [
        { method: 'PUT', path: `/Users/${user}`, data: entraUser({ userName: sharedUserName, displayName: 'Hijacked' }) },
        { method: 'PATCH', path: `/Users/${user}`, data: patchOp({ op: 'replace', path: 'active', value: false }) },
        { method: 'PATCH', path: `/Groups/${group}`, data: patchOp({ op: 'add', path: 'members', value: [{ value: f.a1.solo }] }) },
        { method: 'PUT', path: `/Groups/${group}`, data: { schemas: [GROUP_SCHEMA], displayName: 'Hijacked' } },
        { method: 'DELETE', path: `/Groups/${group}` },
        { method: 'DELETE', path: `/Users/${user}` },
      ];
      const baseline = await f.a1.scim.post('/Bulk', { schemas: [BULK], Operations: opsFor(never, never) });
      assert.equal(baseline.status, 200, JSON.stringify(baseline.body));

      for (const victim of foreign()) {
        const res = await unchanged(
          [
            [victim.owner, `/Users/${victim.user}`],
            [victim.owner, `/Groups/${victim.group}`],
          ],
          () => f.a1.scim.post('/Bulk', { schemas: [BULK], Operations: opsFor(victim.user, victim.group) }),
        );

        assert.equal(res.status, 200, JSON.stringify(res.body));
        assert.deepEqual(
          res.body.Operations.map((o: { status: string }) => o.status),
          ['404', '404', '404', '404', '404', '404'],
        );
        assert.deepEqual(shapeOf(res.body, victim.user, victim.group), shapeOf(baseline.body, never));
      }
    });

    it("POST /Bulk › a group whose members include another directory's user › that operation 400 invalidValue, no group created", async () => {
      const name = `Bulk smuggle ${suffix()}`;

      const res = await unchanged([['b', `/Users/${f.b.solo}`]], () =>
        f.a1.scim.post('/Bulk', {
          schemas: [BULK],
          Operations: [{ method: 'POST', bulkId: 'g1', path: '/Groups', data: { schemas: [GROUP_SCHEMA], displayName: name, members: [{ value: f.b.solo }] } }],
        }),
      );

      assert.equal(res.status, 200);
      assert.equal(res.body.Operations[0].status, '400');
      assert.equal(res.body.Operations[0].response.scimType, 'invalidValue');
      assert.equal((await f.a1.scim.get(`/Groups${q(`displayName eq "${name}"`)}`)).body.totalResults, 0);
    });
  });

  describe('membership across directories', () => {
    it("PATCH /Groups/{id} add › another directory's user id › 400 invalidValue like an unknown id, and neither side changes", async () => {
      const path = `/Groups/${f.a1.group}`;
      const never = randomUUID();
      const missing = await f.a1.scim.patch(path, patchOp({ op: 'add', path: 'members', value: [{ value: never }] }));
      assert.equal(missing.status, 400);
      assert.equal(missing.body.scimType, 'invalidValue');

      for (const victim of foreign()) {
        const responses = await unchanged(
          [
            ['a1', path],
            [victim.owner, `/Users/${victim.solo}`],
            [victim.owner, `/Groups/${victim.group}`],
          ],
          async () => [
            await f.a1.scim.patch(path, patchOp({ op: 'Add', path: 'members', value: [{ value: victim.solo }] })),
            await f.a1.scim.patch(path, patchOp({ op: 'Add', path: 'members', value: [{ value: f.a1.shared }, { value: victim.solo }] })),
            await f.a1.scim.patch(path, patchOp({ op: 'Replace', path: 'members', value: [{ value: victim.solo }] })),
            await f.a1.scim.patch(path, patchOp({ op: 'Add', value: { members: [{ value: victim.solo }] } })),
          ],
        );

        for (const res of responses) {
          assert.equal(res.status, 400, `${victim.owner}: ${JSON.stringify(res.body)}`);
          assert.equal(res.body.scimType, 'invalidValue');
        }
        assert.deepEqual(shapeOf(responses[0].body, victim.solo), shapeOf(missing.body, never), 'exists elsewhere must look like never existed');
      }
    });

    it("PUT /Groups/{id} › members include another directory's user › 400 invalidValue and the group is unchanged", async () => {
      const path = `/Groups/${f.a1.group}`;

      const res = await unchanged(
        [
          ['a1', path],
          ['b', `/Users/${f.b.solo}`],
        ],
        () => f.a1.scim.put(path, { schemas: [GROUP_SCHEMA], displayName: sharedGroupName, members: [{ value: f.a1.solo }, { value: f.b.solo }] }),
      );

      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.equal(res.body.scimType, 'invalidValue');
    });

    it("POST /Groups › members include another directory's user › 400 invalidValue and no group is created", async () => {
      const name = `Smuggle ${suffix()}`;

      const res = await unchanged([['b', `/Users/${f.b.solo}`]], () =>
        f.a1.scim.post('/Groups', { schemas: [GROUP_SCHEMA], displayName: name, members: [{ value: f.b.solo }] }),
      );

      assert.equal(res.status, 400);
      assert.equal(res.body.scimType, 'invalidValue');
      assert.equal((await f.a1.scim.get(`/Groups${q(`displayName eq "${name}"`)}`)).body.totalResults, 0);
    });

    it('PATCH /Groups/{id} remove › members[value eq "<other directory\'s user>"] › a no-op on the own group, the other group keeps its member', async () => {
      const path = `/Groups/${f.a1.group}`;

      const res = await unchanged(
        [
          ['a1', path],
          ['b', `/Groups/${f.b.group}`],
          ['b', `/Users/${f.b.shared}`],
        ],
        () => f.a1.scim.patch(path, patchOp({ op: 'remove', path: `members[value eq "${f.b.shared}"]` })),
      );

      assert.equal(res.status, 204, JSON.stringify(res.body));
    });
  });

  describe('uniqueness is per directory', () => {
    it('POST /Users › the userName another directory uses › 201 here, 409 uniqueness only within the directory', async () => {
      const userName = `dup-${suffix()}@contoso.example`;
      const inB = await makeUser('b', { userName });

      const inA1 = await f.a1.scim.post('/Users', entraUser({ userName: userName.toUpperCase() }));
      const againInB = await f.b.scim.post('/Users', entraUser({ userName }));

      assert.equal(inA1.status, 201, JSON.stringify(inA1.body));
      f.a1.users.add(inA1.body.id);
      assert.notEqual(inA1.body.id, inB.id);
      assert.equal(againInB.status, 409);
      assert.equal(againInB.body.scimType, 'uniqueness');
    });

    it('POST /Groups › the displayName another directory uses › 201 here, 409 uniqueness only within the directory', async () => {
      const name = `Dup group ${suffix()}`;
      await makeGroup('b', name, []);

      const inA2 = await f.a2.scim.post('/Groups', { schemas: [GROUP_SCHEMA], displayName: name });
      const againInB = await f.b.scim.post('/Groups', { schemas: [GROUP_SCHEMA], displayName: name });

      assert.equal(inA2.status, 201, JSON.stringify(inA2.body));
      f.a2.groups.add(inA2.body.id);
      assert.equal(againInB.status, 409);
      assert.equal(againInB.body.scimType, 'uniqueness');
    });

    it('PATCH /Users/{id} › renaming to a userName only another directory has › 200', async () => {
      const user = await makeUser('a2');

      const res = await f.a2.scim.patch(`/Users/${user.id}`, patchOp({ op: 'replace', path: 'userName', value: f.b.soloUserName }));

      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal((await snapshot('b', `/Users/${f.b.solo}`)).userName, f.b.soloUserName);
    });
  });

  describe('schemas and discovery', () => {
    it('GET /Schemas, /Schemas/{urn}, /ResourceTypes › a per-directory extension of A1 › shown to A1 only, 404 like an unknown URN elsewhere', async () => {
      const unknown = `urn:ietf:params:scim:schemas:extension:nobody${suffix()}:2.0:User`;
      const hasIt = (list: { id?: string; schema?: string }[]) => list.some((s) => (s.id ?? s.schema) === a1Extension);

      assert.ok(hasIt((await f.a1.scim.get('/Schemas')).body.Resources));
      assert.equal((await f.a1.scim.get(`/Schemas/${a1Extension}`)).status, 200);
      assert.ok(hasIt((await f.a1.scim.get('/ResourceTypes/User')).body.schemaExtensions));
      for (const name of ['a2', 'b'] as const) {
        const scim = f[name].scim;
        const schemas = await scim.get('/Schemas');
        const one = await scim.get(`/Schemas/${a1Extension}`);
        const never = await scim.get(`/Schemas/${unknown}`);
        const types = await scim.get('/ResourceTypes');
        const userType = await scim.get('/ResourceTypes/User');

        assert.equal(schemas.status, 200);
        assert.ok(!hasIt(schemas.body.Resources), `${name} /Schemas`);
        assertNotFound(one, `${name} /Schemas/{urn}`);
        assert.deepEqual(shapeOf(one.body, a1Extension), shapeOf(never.body, unknown));
        for (const rt of types.body.Resources) assert.ok(!hasIt(rt.schemaExtensions), `${name} /ResourceTypes ${rt.id}`);
        assert.ok(!hasIt(userType.body.schemaExtensions), `${name} /ResourceTypes/User`);
        assert.ok(!JSON.stringify([schemas.body, types.body]).includes(a1Extension));
      }
    });

    it("POST, PATCH, filter, attributes, sortBy › A1's extension used by B › rejected exactly like a URN that exists nowhere", async () => {
      const unknown = `urn:ietf:params:scim:schemas:extension:nobody${suffix()}:2.0:User`;
      const scim = f.b.scim;
      const attempt = (urn: string) =>
        Promise.all([
          scim.post('/Users', entraUser({ userName: 'fixed@contoso.example', externalId: 'fixed', [urn]: { badge: 'B-1' } })),
          scim.put(`/Users/${f.b.solo}`, entraUser({ userName: f.b.soloUserName, externalId: f.b.soloExternalId, [urn]: { badge: 'B-1' } })),
          scim.patch(`/Users/${f.b.solo}`, patchOp({ op: 'add', path: `${urn}:badge`, value: 'B-1' })),
          scim.patch(`/Users/${f.b.solo}`, patchOp({ op: 'add', value: { [`${urn}:badge`]: 'B-1' } })),
          scim.patch(`/Users/${f.b.solo}`, patchOp({ op: 'add', path: urn, value: { badge: 'B-1' } })),
          scim.get(`/Users${q(`${urn}:badge eq "A1-7"`)}`),
          scim.post('/Users/.search', { schemas: [SEARCH], filter: `${urn}:badge pr` }),
          scim.get(`/Users?sortBy=${encodeURIComponent(`${urn}:badge`)}`),
          scim.get(`/Users/${f.b.solo}?attributes=${encodeURIComponent(`${urn}:badge`)}`),
        ]);

      const [foreignUrn, nowhere] = await unchanged([['b', `/Users/${f.b.solo}`]], async () => [await attempt(a1Extension), await attempt(unknown)]);

      foreignUrn.forEach((res, i) => {
        assert.equal(res.status, nowhere[i].status, `attempt ${i}: ${JSON.stringify(res.body)}`);
        assert.deepEqual(shapeOf(res.body, a1Extension), shapeOf(nowhere[i].body, unknown), `attempt ${i}`);
      });
      for (const i of [0, 1, 2, 3, 4, 5, 6]) assert.equal(foreignUrn[i].status, 400, `attempt ${i} must be rejected: ${JSON.stringify(foreignUrn[i].body)}`);
      assert.equal(foreignUrn[5].body.scimType, 'invalidFilter');
      assert.equal((await scim.get(`/Users${q('userName eq "fixed@contoso.example"')}`)).body.totalResults, 0);
    });

    it('POST /Users › A1\'s extension only declared in "schemas" by B › the same answer as an unknown URN, and never rendered', async () => {
      const unknown = `urn:ietf:params:scim:schemas:extension:nobody${suffix()}:2.0:User`;

      const foreignUrn = await f.b.scim.post('/Users', entraUser({ schemas: [USER_SCHEMA, a1Extension] }));
      const nowhere = await f.b.scim.post('/Users', entraUser({ schemas: [USER_SCHEMA, unknown] }));

      assert.equal(foreignUrn.status, nowhere.status);
      if (foreignUrn.status === 201) {
        f.b.users.add(foreignUrn.body.id);
        f.b.users.add(nowhere.body.id);
        assert.ok(!JSON.stringify(await snapshot('b', `/Users/${foreignUrn.body.id}`)).includes(a1Extension));
      } else {
        assert.deepEqual(shapeOf(foreignUrn.body, a1Extension), shapeOf(nowhere.body, unknown));
      }
    });

    it('POST /admin/v1/directories/{id}/schemas › A1 and B register the same URN differently › each directory sees and enforces its own', async () => {
      const urn = `urn:ietf:params:scim:schemas:extension:twin${suffix()}:2.0:User`;
      const inA1 = await asAdmin(request(t.app).post(`/admin/v1/directories/${f.a1.dir.directoryId}/schemas`)).send({
        id: urn,
        attributes: [{ name: 'badge', type: 'string' }],
      });
      const inB = await asAdmin(request(t.app).post(`/admin/v1/directories/${f.b.dir.directoryId}/schemas`)).send({
        id: urn,
        attributes: [{ name: 'floor', type: 'integer' }],
      });
      assert.equal(inA1.status, 201, JSON.stringify(inA1.body));
      assert.equal(inB.status, 201, JSON.stringify(inB.body));

      const names = async (name: Name) => (await f[name].scim.get(`/Schemas/${urn}`)).body.attributes.map((a: { name: string }) => a.name);
      assert.deepEqual(await names('a1'), ['badge']);
      assert.deepEqual(await names('b'), ['floor']);
      assertNotFound(await f.a2.scim.get(`/Schemas/${urn}`), 'A2 has neither');
      const bUser = await f.b.scim.post('/Users', entraUser({ [urn]: { floor: 3 } }));
      assert.equal(bUser.status, 201, JSON.stringify(bUser.body));
      f.b.users.add(bUser.body.id);
      assert.deepEqual(bUser.body[urn], { floor: 3 });
      assert.equal((await f.b.scim.post('/Users', entraUser({ [urn]: { badge: 'x' } }))).status, 400);
      assert.equal((await f.a1.scim.post('/Users', entraUser({ [urn]: { floor: 3 } }))).status, 400);
      const a1Users = await f.a1.scim.get(`/Users${q(`${urn}:badge pr`)}`);
      assert.equal(a1Users.body.totalResults, 0);
    });

    it('GET /ServiceProviderConfig › any two directories › the same document (no tenant data)', async () => {
      const a1 = await f.a1.scim.get('/ServiceProviderConfig');
      const b = await f.b.scim.get('/ServiceProviderConfig');

      assert.equal(a1.status, 200);
      assert.deepEqual(a1.body, b.body);
      for (const fx of Object.values(f)) assert.ok(!a1.text.includes(fx.dir.directoryId) && !a1.text.includes(fx.dir.tenantId));
    });
  });

  describe('events and the admin API', () => {
    it("GET /admin/v1/tenants/{A}/events › after writes in A1, A2 and B › holds A1 and A2 events only, and B's feed only B's", async () => {
      const a1User = await makeUser('a1');
      const a2User = await makeUser('a2');
      const bUser = await makeUser('b');
      const bIds = new Set([...f.b.users, ...f.b.groups]);
      const aIds = new Set([...f.a1.users, ...f.a1.groups, ...f.a2.users, ...f.a2.groups]);
      const deadline = Date.now() + 20_000;
      let feedA = await tenantFeed(f.a1.dir.tenantId);
      let feedB = await tenantFeed(f.b.dir.tenantId);
      // The feed holds back events while any older transaction on the server is open.
      while (!(feedA.some((e) => e.resourceId === a2User.id) && feedB.some((e) => e.resourceId === bUser.id)) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 25));
        feedA = await tenantFeed(f.a1.dir.tenantId);
        feedB = await tenantFeed(f.b.dir.tenantId);
      }

      assert.ok(feedA.some((e) => e.type === 'user.created' && e.resourceId === a1User.id));
      assert.ok(feedA.some((e) => e.type === 'user.created' && e.resourceId === a2User.id));
      for (const e of feedA) {
        assert.equal(e.tenantId, f.a1.dir.tenantId);
        assert.ok([f.a1.dir.directoryId, f.a2.dir.directoryId].includes(e.directoryId));
        assert.ok(!bIds.has(e.resourceId), `tenant A's feed holds B's ${e.type}`);
        assert.ok(!JSON.stringify(e.data).includes(f.b.dir.directoryId));
      }
      for (const e of feedB) {
        assert.equal(e.tenantId, f.b.dir.tenantId);
        assert.equal(e.directoryId, f.b.dir.directoryId);
        assert.ok(!aIds.has(e.resourceId), `tenant B's feed holds A's ${e.type}`);
        assert.ok(!e.actor?.includes(f.a1.dir.keyId), "nothing in B was written with A1's key");
      }
      // Every user and group ever created in B has its created event in B's feed, and only there.
      const created = new Set(feedB.filter((e) => e.type.endsWith('.created')).map((e) => e.resourceId));
      for (const id of [f.b.shared, f.b.solo, f.b.group, f.b.soloGroup, bUser.id]) assert.ok(created.has(id));
      // A cursor from B's feed only positions A's feed; it never yields B's events.
      const viaForeignCursor = await asAdmin(request(t.app).get(`/admin/v1/tenants/${f.a1.dir.tenantId}/events`)).query({
        after: feedB[0].cursor,
        limit: 1000,
      });
      assert.equal(viaForeignCursor.status, 200);
      for (const e of viaForeignCursor.body.data) assert.equal(e.tenantId, f.a1.dir.tenantId);
    });

    it("admin API › with a directory's SCIM key › 401, including the event feeds of both tenants", async () => {
      for (const path of [
        `/admin/v1/tenants/${f.b.dir.tenantId}/events`,
        `/admin/v1/tenants/${f.a1.dir.tenantId}/events`,
        '/admin/v1/tenants',
        `/admin/v1/directories/${f.b.dir.directoryId}/keys`,
      ]) {
        const res = await request(t.app).get(path).set('Authorization', `Bearer ${f.a1.dir.token}`);
        assert.equal(res.status, 401, path);
      }
      const post = await request(t.app)
        .post(`/admin/v1/directories/${f.b.dir.directoryId}/keys`)
        .set('Authorization', `Bearer ${f.a1.dir.token}`)
        .send({ name: 'x' });
      assert.equal(post.status, 401);
    });

    it("admin API › revoking or regenerating B's key through A1's path › 404 and B's key keeps working", async () => {
      const keysBefore = (await asAdmin(request(t.app).get(`/admin/v1/directories/${f.b.dir.directoryId}/keys`))).body;

      const revoke = await asAdmin(request(t.app).delete(`/admin/v1/directories/${f.a1.dir.directoryId}/keys/${f.b.dir.keyId}`));
      const regen = await asAdmin(request(t.app).post(`/admin/v1/directories/${f.a1.dir.directoryId}/keys/${f.b.dir.keyId}/regenerate`)).send({});

      assert.equal(revoke.status, 404);
      assert.equal(regen.status, 404);
      assert.equal((await f.b.scim.get('/Users?count=1')).status, 200);
      const keysAfter = (await asAdmin(request(t.app).get(`/admin/v1/directories/${f.b.dir.directoryId}/keys`))).body;
      assert.deepEqual(
        keysAfter.data.map((k: { id: string; revokedAt: unknown }) => [k.id, k.revokedAt]),
        keysBefore.data.map((k: { id: string; revokedAt: unknown }) => [k.id, k.revokedAt]),
      );
      const a1Keys = (await asAdmin(request(t.app).get(`/admin/v1/directories/${f.a1.dir.directoryId}/keys`))).body.data;
      assert.deepEqual(
        a1Keys.map((k: { id: string }) => k.id),
        [f.a1.dir.keyId],
      );
    });

    it("admin API › deleting A1's extension through B's path › 404 and A1 keeps it", async () => {
      const res = await asAdmin(request(t.app).delete(`/admin/v1/directories/${f.b.dir.directoryId}/schemas/${a1Extension}`));

      assert.equal(res.status, 404);
      assert.equal((await f.a1.scim.get(`/Schemas/${a1Extension}`)).status, 200);
      const listedForB = (await asAdmin(request(t.app).get(`/admin/v1/directories/${f.b.dir.directoryId}/schemas`))).body.data;
      assert.ok(!listedForB.some((s: { id: string }) => s.id === a1Extension));
    });
  });
}
