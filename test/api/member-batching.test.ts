/**
 * Member PATCHes to one group that arrive together share statements (SerialBatcher in
 * member-changes.ts), and so do those of different groups, whatever their directories (its
 * Coalescer). Whatever is batched, each request must get exactly its own outcome, and every
 * changed member its own event with the actor of the request that changed it.
 */
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { createDatabase } from '../../shared/db/sequelize';
import { GroupRepository } from '../../shared/db/repositories/groups';
import type { DirectoryScope } from '../../shared/db/repositories/scope';
import { ScimError } from '../../shared/scim/errors';
import { makeTestApp, type TestApp } from '../support/app';
import { asAdmin, makeDirectory, patchOp, scimClient } from '../support/factories';
import { countStatements } from '../support/statements';
import { createGroup, createUser, freshDirectory, memberIdsOf, sorted } from '../support/scim-helpers';

let t: TestApp;
before(() => {
  t = makeTestApp();
});
after(() => t.close());

const addOne = (userId: string) => patchOp({ op: 'Add', path: 'members', value: [{ value: userId }] });
const versionOf = (etag: string | undefined) => Number(/^W\/"(\d+)"$/.exec(etag ?? '')?.[1]);

async function membershipEvents(groupId: string, type: string) {
  return t.db
    .acrossTenants()
    .query<{ user_id: string; actor: string; tenant_id: string; directory_id: string }>(
      `SELECT data->'user'->>'id' AS user_id, actor, tenant_id, directory_id FROM events WHERE resource_id = $1 AND type = $2`,
      [groupId, type],
    );
}

describe('member PATCHes arriving together', () => {
  it('40 adds to one group through two keys › every member stored, one event each with its own key as actor, versions consistent', async () => {
    const { dir, scim } = await freshDirectory(t.app);
    const second = (
      await asAdmin(request(t.app).post(`/admin/v1/directories/${dir.directoryId}/keys`))
        .send({ name: 'second' })
        .expect(201)
    ).body as { id: string; token: string };
    const other = scimClient(t.app, second.token);
    const group = await createGroup(scim);
    const users = await Promise.all(Array.from({ length: 40 }, () => createUser(scim)));
    // Both keys resolved once, so their requests reach the group interleaved, not key by key.
    await other.get('/Users?count=1').expect(200);

    const answers = await Promise.all(users.map((u, i) => (i % 2 ? other : scim).patch(`/Groups/${group.id}`, addOne(u.id)).expect(204)));

    assert.deepEqual(await memberIdsOf(scim, group.id), sorted(users.map((u) => u.id)));
    const events = await membershipEvents(group.id, 'group.user_added');
    assert.deepEqual(sorted(events.map((e) => e.user_id)), sorted(users.map((u) => u.id)), 'one event per member');
    for (const e of events) {
      const i = users.findIndex((u) => u.id === e.user_id);
      assert.equal(e.actor, `api_key:${i % 2 ? second.id : dir.keyId}`, 'the actor is the key of the request that added the member');
      assert.equal(e.directory_id, dir.directoryId);
    }
    const returned = answers.map((a) => versionOf(a.headers.etag));
    const final = versionOf((await scim.get(`/Groups/${group.id}`).expect(200)).headers.etag);
    assert.ok(
      returned.every((v) => v > versionOf(group.meta.version) && v <= final),
      `returned versions ${returned} within (created, final ${final}]`,
    );
    assert.equal(Math.max(...returned), final, 'the last batch answers with the version GET shows');
  });

  it('adds together where two name a non-user › only those two fail, with their own id; the rest are stored', async () => {
    const { scim } = await freshDirectory(t.app);
    const group = await createGroup(scim);
    const anotherGroup = await createGroup(scim);
    const users = await Promise.all(Array.from({ length: 10 }, () => createUser(scim)));
    const stranger = randomUUID();

    const [ghost, asGroup, ...fine] = await Promise.all([
      scim.patch(`/Groups/${group.id}`, addOne(stranger)),
      scim.patch(`/Groups/${group.id}`, addOne(anotherGroup.id)),
      ...users.map((u) => scim.patch(`/Groups/${group.id}`, addOne(u.id))),
    ]);

    assert.equal(ghost.status, 400);
    assert.equal(ghost.body.scimType, 'invalidValue');
    assert.match(ghost.body.detail, new RegExp(stranger));
    assert.equal(asGroup.status, 400);
    assert.match(asGroup.body.detail, new RegExp(anotherGroup.id));
    assert.ok(
      fine.every((r) => r.status === 204),
      `statuses ${fine.map((r) => r.status)}`,
    );
    assert.deepEqual(await memberIdsOf(scim, group.id), sorted(users.map((u) => u.id)));
    const events = await membershipEvents(group.id, 'group.user_added');
    assert.deepEqual(sorted(events.map((e) => e.user_id)), sorted(users.map((u) => u.id)), 'no event for the refused members');
  });

  it('removes together, and adds to the same-named group of another tenant at the same time › each change stays in its own directory', async () => {
    const a = await freshDirectory(t.app);
    const b = await freshDirectory(t.app);
    const groupA = await createGroup(a.scim);
    const groupB = await createGroup(b.scim);
    const usersA = await Promise.all(Array.from({ length: 12 }, () => createUser(a.scim)));
    const usersB = await Promise.all(Array.from({ length: 12 }, () => createUser(b.scim)));
    await a.scim.patch(`/Groups/${groupA.id}`, patchOp({ op: 'add', path: 'members', value: usersA.map((u) => ({ value: u.id })) })).expect(204);

    const removes = usersA
      .slice(0, 8)
      .map((u) => a.scim.patch(`/Groups/${groupA.id}`, patchOp({ op: 'Remove', path: `members[value eq "${u.id}"]` })).expect(204));
    const adds = usersB.map((u) => b.scim.patch(`/Groups/${groupB.id}`, addOne(u.id)).expect(204));
    // A key of B naming A's group: not found, whatever it is batched with.
    const foreign = b.scim.patch(`/Groups/${groupA.id}`, addOne(usersB[0].id)).expect(404);
    await Promise.all([...removes, ...adds, foreign]);

    assert.deepEqual(await memberIdsOf(a.scim, groupA.id), sorted(usersA.slice(8).map((u) => u.id)));
    assert.deepEqual(await memberIdsOf(b.scim, groupB.id), sorted(usersB.map((u) => u.id)));
    const removed = await membershipEvents(groupA.id, 'group.user_removed');
    assert.deepEqual(sorted(removed.map((e) => e.user_id)), sorted(usersA.slice(0, 8).map((u) => u.id)));
    assert.ok(removed.every((e) => e.tenant_id === a.dir.tenantId));
    const added = await membershipEvents(groupB.id, 'group.user_added');
    assert.equal(added.length, 12);
    assert.ok(added.every((e) => e.tenant_id === b.dir.tenantId && e.directory_id === b.dir.directoryId));
  });
});

describe('member changes of many groups arriving together', () => {
  const scopeOf = (dir: { tenantId: string; directoryId: string }) => ({ tenantId: dir.tenantId, directoryId: dir.directoryId }) as DirectoryScope;
  const change = (scope: DirectoryScope, groupId: string, kind: 'add' | 'remove', userId: string) =>
    new GroupRepository(t.db, scope).changeMembers(groupId, kind, [userId], `test:${scope.directoryId}`);

  it('adds to six groups of three directories (two tenants) in one turn › one statement; every member stored with its own event; each group one version up', async () => {
    const first = await freshDirectory(t.app);
    const sibling = await makeDirectory(t.app, { tenantId: first.dir.tenantId });
    const dirs = [first, { dir: sibling, scim: scimClient(t.app, sibling.token) }, await freshDirectory(t.app)];
    const setup = await Promise.all(
      dirs.map(async (d) => ({
        ...d,
        scope: scopeOf(d.dir),
        groups: await Promise.all([createGroup(d.scim), createGroup(d.scim)]),
        users: await Promise.all(Array.from({ length: 4 }, () => createUser(d.scim))),
      })),
    );
    const adds = setup.flatMap((d) => d.groups.flatMap((g) => d.users.map((u) => ({ d, g, u }))));
    let results: ({ version: number } | undefined)[] = [];
    const statements = await countStatements(t.db, 'INSERT INTO group_members', async () => {
      results = await Promise.all(adds.map((a) => change(a.d.scope, a.g.id as string, 'add', a.u.id as string)));
    });

    assert.equal(statements, 1, `the ${adds.length} adds to six groups share one statement`);
    for (const d of setup) {
      for (const g of d.groups) {
        assert.deepEqual(await memberIdsOf(d.scim, g.id), sorted(d.users.map((u) => u.id)), "each group holds its own directory's users");
        const version = versionOf((await d.scim.get(`/Groups/${g.id}`).expect(200)).headers.etag);
        assert.equal(version, versionOf(g.meta.version) + 1, 'one version bump for the group');
        const answered = adds.flatMap((a, i) => (a.g === g ? [results[i]?.version] : []));
        assert.deepEqual(new Set(answered), new Set([version]), 'every add of the group answers with that version');
        const events = await membershipEvents(g.id, 'group.user_added');
        assert.deepEqual(sorted(events.map((e) => e.user_id)), sorted(d.users.map((u) => u.id)), 'one event per member');
        assert.ok(
          events.every((e) => e.directory_id === d.dir.directoryId && e.tenant_id === d.dir.tenantId && e.actor === `test:${d.dir.directoryId}`),
          'in its own directory and tenant, with its own actor',
        );
      }
    }
  });

  it("one turn: a non-user added to one group, a missing group, adds to another directory's group › only the first two fail; the rest are stored", async () => {
    const [a, b] = await Promise.all([freshDirectory(t.app), freshDirectory(t.app)]);
    const [groupA, groupB] = await Promise.all([createGroup(a.scim), createGroup(b.scim)]);
    const [userA, usersB] = await Promise.all([createUser(a.scim), Promise.all(Array.from({ length: 3 }, () => createUser(b.scim)))]);
    const stranger = randomUUID();

    const outcomes = await Promise.allSettled([
      change(scopeOf(a.dir), groupA.id, 'add', stranger),
      change(scopeOf(a.dir), groupA.id, 'add', userA.id),
      change(scopeOf(a.dir), randomUUID(), 'add', userA.id),
      ...usersB.map((u) => change(scopeOf(b.dir), groupB.id, 'add', u.id)),
    ]);

    const refused = outcomes[0].status === 'rejected' ? (outcomes[0].reason as ScimError) : undefined;
    assert.ok(refused instanceof ScimError, 'the non-user is refused');
    assert.deepEqual([refused.status, refused.scimType], [400, 'invalidValue']);
    assert.match(refused.detail, new RegExp(stranger));
    assert.equal(outcomes[1].status, 'fulfilled', 'the valid add to the same group goes again and is stored');
    assert.deepEqual(outcomes[2], { status: 'fulfilled', value: undefined }, 'a group that does not exist is not found');
    assert.ok(outcomes.slice(3).every((o) => o.status === 'fulfilled'));
    assert.deepEqual(await memberIdsOf(a.scim, groupA.id), [userA.id]);
    assert.deepEqual(await memberIdsOf(b.scim, groupB.id), sorted(usersB.map((u) => u.id)));
  });

  it('two processes adding to the same six groups at once, in opposite orders, twenty rounds › no add fails; every member stored', async () => {
    const { dir, scim } = await freshDirectory(t.app);
    const scope = scopeOf(dir);
    const groups = await Promise.all(Array.from({ length: 6 }, () => createGroup(scim)));
    const users = await Promise.all(Array.from({ length: 20 }, () => createUser(scim)));
    // Its own handle, so its own batchers: the statements of another API process.
    const other = createDatabase({ poolMax: 5 });
    try {
      const by = (db: typeof other, groupId: string, userId: string) =>
        new GroupRepository(db, scope).changeMembers(groupId, 'add', [userId], 'test:processes');
      for (const [round, u] of users.entries()) {
        const mine = groups.map((g) => by(t.db, g.id, u.id));
        const theirs = [...groups].reverse().map((g) => by(other, g.id, users[(round + 1) % users.length].id));
        const failed = (await Promise.allSettled([...mine, ...theirs])).filter((o) => o.status === 'rejected');
        assert.deepEqual(failed, [], `round ${round}: no add fails`);
      }
    } finally {
      await other.close();
    }
    for (const g of groups) assert.deepEqual(await memberIdsOf(scim, g.id), sorted(users.map((u) => u.id)));
  });
});
