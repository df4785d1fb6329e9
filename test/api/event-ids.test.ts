/**
 * Event ids are UUID v7 (time-ordered) whichever statement writes the event: the per-row
 * ResourceTable insert, a group created with members, the batched member PATCH.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { UUID_V7 as UUID_V7_SQL } from '../../shared/db/sql';
import { makeTestApp, type TestApp } from '../support/app';
import { entraUser, GROUP_SCHEMA, makeDirectory, patchOp, scimClient } from '../support/factories';

// UUID v7: version nibble 7, variant bits 10.
const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('event ids', () => {
  let t: TestApp;
  before(() => {
    t = makeTestApp();
  });
  after(() => t.close());

  const eventsOf = (directoryId: string) =>
    t.db
      .acrossTenants()
      .query<{ id: string; type: string; occurred_at: Date }>(`SELECT id, type, occurred_at FROM events WHERE directory_id = $1 ORDER BY seq`, [directoryId]);

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
      // A v7 UUID's first 48 bits are the Unix time in milliseconds.
      const ms = parseInt(e.id.replace(/-/g, '').slice(0, 12), 16);
      assert.ok(Math.abs(ms - e.occurred_at.getTime()) < 60_000, `${e.type} ${e.id} carries its time`);
    }
  });

  it('UUID_V7 in SQL › 2,000 ids in one statement › all v7, all distinct, each carrying the clock of its row', async () => {
    const rows = await t.db.acrossTenants().query<{ id: string; before_ms: string; after_ms: string }>(
      `SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint AS before_ms, ${UUID_V7_SQL} AS id, (extract(epoch FROM clock_timestamp()) * 1000)::bigint AS after_ms
         FROM generate_series(1, 2000)`,
      [],
    );
    assert.equal(new Set(rows.map((r) => r.id)).size, rows.length);
    for (const r of rows) {
      assert.match(r.id, UUID_V7);
      const ms = parseInt(r.id.replace(/-/g, '').slice(0, 12), 16);
      assert.ok(ms >= Number(r.before_ms) - 1 && ms <= Number(r.after_ms) + 1, `${r.id} between ${r.before_ms} and ${r.after_ms}`);
    }
  });
});
