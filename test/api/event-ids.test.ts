/**
 * Event ids are UUID v7 (time-ordered) whichever statement writes the event: the per-row
 * ResourceTable insert, a group created with members, the batched member PATCH.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { makeTestApp, type TestApp } from '../support/app';
import { entraUser, GROUP_SCHEMA, makeDirectory, patchOp, scimClient } from '../support/factories';

// RFC 9562 §5.7: version nibble 7, variant bits 10.
const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('event ids', () => {
  let t: TestApp;
  before(() => {
    t = makeTestApp();
  });
  after(() => t.close());

  const eventsOf = (directoryId: string) =>
    t.db.query<{ id: string; type: string; occurred_at: Date }>(`SELECT id, type, occurred_at FROM events WHERE directory_id = $1 ORDER BY seq`, [directoryId]);

  it('membership events › from POST /Groups with members and from PATCH add/remove › every id is a v7 carrying the event time', async () => {
    const dir = await makeDirectory(t.app);
    const scim = scimClient(t.app, dir.token);
    const alice = (await scim.post('/Users', entraUser()).expect(201)).body;
    const bob = (await scim.post('/Users', entraUser()).expect(201)).body;
    const group = (await scim.post('/Groups', { schemas: [GROUP_SCHEMA], displayName: 'Ops', members: [{ value: alice.id }] }).expect(201)).body;
    await scim.patch(`/Groups/${group.id}`, patchOp({ op: 'Add', path: 'members', value: [{ value: bob.id }] })).expect(204);
    await scim.patch(`/Groups/${group.id}`, patchOp({ op: 'Remove', path: `members[value eq "${alice.id}"]` })).expect(204);

    const events = await eventsOf(dir.directoryId);
    const membership = events.filter((e) => e.type.startsWith('group.user_'));
    assert.deepEqual(
      membership.map((e) => e.type),
      ['group.user_added', 'group.user_added', 'group.user_removed'],
    );
    for (const e of events) {
      assert.match(e.id, UUID_V7, `${e.type} ${e.id}`);
      // The first 48 bits are the Unix time in milliseconds (RFC 9562 §5.7).
      const ms = parseInt(e.id.replace(/-/g, '').slice(0, 12), 16);
      assert.ok(Math.abs(ms - e.occurred_at.getTime()) < 60_000, `${e.type} ${e.id} carries its time`);
    }
  });
});
