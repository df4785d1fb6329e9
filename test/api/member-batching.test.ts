/**
 * Member PATCHes to one group that arrive together share statements (SerialBatcher in
 * member-changes.ts). Whatever is batched, each request must get exactly its own outcome, and
 * every changed member its own event with the actor of the request that changed it.
 */
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { makeTestApp, type TestApp } from '../support/app';
import { asAdmin, patchOp, scimClient } from '../support/factories';
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
