import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from 'pg';
import request from 'supertest';
import { config } from '../../shared/config';
import { makeTestApp, type TestApp } from '../support/app';
import type { TenantId } from '../../shared/ids';
import { asAdmin, entraUser, GROUP_SCHEMA, makeDirectory, patchOp, scimClient, type TestDirectory } from '../support/factories';
import { UUID_V7 } from '../../shared/db/sql';

describe('events feed › cursor', () => {
  let t: TestApp;
  before(() => {
    t = makeTestApp();
  });
  after(() => t.close());

  const feed = (tenantId: string, after?: string, limit = 100) =>
    asAdmin(
      request(t.app)
        .get(`/admin/v1/tenants/${tenantId}/events`)
        .query({ ...(after ? { after } : {}), limit }),
    ).expect(200);

  /** Other tests' open transactions can hold the fence back for a moment: poll briefly. */
  const feedAtLeast = async (tenantId: string, after: string | undefined, n: number) => {
    let res = await feed(tenantId, after);
    for (let i = 0; i < 60 && res.body.data.length < n; i++) {
      await new Promise((r) => setTimeout(r, 50));
      res = await feed(tenantId, after);
    }
    return res;
  };

  it('GET events › a transaction that took a lower sequence commits late › the reader sees it after, never skips it', async () => {
    const dir = await makeDirectory(t.app);
    const scim = scimClient(t.app, dir.token);
    await scim.post('/Users', entraUser()).expect(201);
    const first = await feedAtLeast(dir.tenantId, undefined, 1);
    assert.equal(first.body.data.length, 1);

    // A slow writer: its event row takes a sequence number now but commits later.
    const slow = new Client({ connectionString: config.DATABASE_URL });
    await slow.connect();
    try {
      await slow.query('BEGIN');
      await slow.query(
        `INSERT INTO events (id, tenant_id, directory_id, type, resource_type, resource_id, data)
         VALUES (${UUID_V7}, $1, $2, 'user.updated', 'User', gen_random_uuid(), '{"slow":true}')`,
        [dir.tenantId, dir.directoryId],
      );
      // A fast writer commits after it took its number.
      await scim.post('/Users', entraUser()).expect(201);
      const during = await feed(dir.tenantId, first.body.next);
      assert.equal(during.body.data.length, 0, 'nothing past an open transaction is handed out');
      await slow.query('COMMIT');
    } finally {
      await slow.end();
    }
    const later = await feedAtLeast(dir.tenantId, first.body.next, 2);
    assert.deepEqual(
      later.body.data.map((e: { type: string }) => e.type),
      ['user.updated', 'user.created'],
    );
  });

  it('GET events › paging with limit › every event once, in order, and the cursor of the last page stays put', async () => {
    const dir = await makeDirectory(t.app);
    const scim = scimClient(t.app, dir.token);
    for (let i = 0; i < 7; i++) await scim.post('/Users', entraUser()).expect(201);
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 60 && seen.length < 7; page++) {
      const res = await feed(dir.tenantId, cursor, 3);
      seen.push(...res.body.data.map((e: { id: string }) => e.id));
      // An empty page keeps the cursor where it was (other tests' open transactions can hold
      // the fence back for a moment, so an empty page is retried).
      if (res.body.data.length === 0) {
        assert.equal(res.body.next, cursor);
        await new Promise((r) => setTimeout(r, 50));
      }
      cursor = res.body.next;
    }
    assert.equal(seen.length, 7);
    assert.equal(new Set(seen).size, 7);
  });

  it('GET events › a cursor this API never issued › 400 invalidValue', async () => {
    const dir = await makeDirectory(t.app);
    const res = await feed(dir.tenantId).expect(200);
    assert.ok(res);
    const bad = await asAdmin(request(t.app).get(`/admin/v1/tenants/${dir.tenantId}/events?after=not-a-cursor`)).expect(400);
    assert.equal(bad.body.scimType, 'invalidValue');
  });
});

interface FeedEvent {
  id: string;
  type: string;
  directoryId: string;
  resourceId: string;
  tenantId: string;
  timestamp: string;
}

describe('events feed › filters', () => {
  let t: TestApp;
  /** Tenant A: directories one and two; tenant B beside it. */
  let one: TestDirectory;
  let two: TestDirectory;
  let other: TestDirectory;
  let alice: string;
  let group: string;
  before(async () => {
    t = makeTestApp();
    one = await makeDirectory(t.app);
    two = await makeDirectory(t.app, { tenantId: one.tenantId });
    other = await makeDirectory(t.app);
    const a = scimClient(t.app, one.token);
    const b = scimClient(t.app, two.token);
    alice = (await a.post('/Users', entraUser()).expect(201)).body.id;
    await a.post('/Users', entraUser()).expect(201);
    await a.patch(`/Users/${alice}`, patchOp({ op: 'replace', path: 'displayName', value: 'Alice Again' })).expect(200);
    const bob = (await b.post('/Users', entraUser()).expect(201)).body.id;
    group = (await b.post('/Groups', { schemas: [GROUP_SCHEMA], displayName: `g-${randomUUID()}`, members: [{ value: bob }] }).expect(201)).body.id;
    await b.post('/Users', entraUser()).expect(201);
    const c = scimClient(t.app, other.token);
    for (let i = 0; i < 3; i++) await c.post('/Users', entraUser()).expect(201);
  });
  after(() => t.close());

  const feed = (tenantId: string, query: Record<string, string | string[] | number>) =>
    asAdmin(request(t.app).get(`/admin/v1/tenants/${tenantId}/events`).query(query));

  /**
   * Follows `next` until the walk has seen `expected` events and says it is done (other tests'
   * open transactions can hold the commit fence back for a moment: an empty last page is retried).
   */
  const walk = async (tenantId: string, query: Record<string, string | string[] | number>, expected: number) => {
    const seen: FeedEvent[] = [];
    let after: string | undefined;
    for (let page = 0; page < 200; page++) {
      const res = await feed(tenantId, { ...query, ...(after ? { after } : {}) }).expect(200);
      seen.push(...res.body.data);
      after = res.body.next ?? undefined;
      if (!res.body.hasMore) {
        if (seen.length >= expected) break;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    return seen;
  };

  /** Every event of tenant A, unfiltered, in commit order: what each filter is checked against. */
  const everything = () => walk(one.tenantId, { limit: 1000 }, 7);

  type Query = Record<string, string | string[]>;
  const cases: [string, () => Query, (e: FeedEvent) => boolean][] = [
    ['type', () => ({ type: 'user.created' }), (e) => e.type === 'user.created'],
    ['types comma-separated', () => ({ type: 'user.updated,group.created' }), (e) => ['user.updated', 'group.created'].includes(e.type)],
    ['types repeated', () => ({ type: ['user.updated', 'group.user_added'] }), (e) => ['user.updated', 'group.user_added'].includes(e.type)],
    ['directoryId', () => ({ directoryId: two.directoryId }), (e) => e.directoryId === two.directoryId],
    ['resourceId of a user', () => ({ resourceId: alice }), (e) => e.resourceId === alice],
    ['resourceId of a group', () => ({ resourceId: group }), (e) => e.resourceId === group],
    [
      'type and directoryId',
      () => ({ type: 'user.created', directoryId: one.directoryId }),
      (e) => e.type === 'user.created' && e.directoryId === one.directoryId,
    ],
    [
      'type, directoryId and resourceId',
      () => ({ type: 'user.updated', directoryId: one.directoryId, resourceId: alice }),
      (e) => e.type === 'user.updated' && e.resourceId === alice,
    ],
  ];

  for (const [name, query, keep] of cases) {
    it(`GET events › filtered by ${name} › every matching event of the tenant once, in commit order, paging with next`, async () => {
      const all = await everything();
      const want = all.filter(keep);
      assert.ok(want.length > 0 && want.length < all.length, `the case narrows (${want.length} of ${all.length})`);
      const got = await walk(one.tenantId, { ...query(), limit: 1 }, want.length);
      assert.deepEqual(
        got.map((e) => e.id),
        want.map((e) => e.id),
      );
      assert.ok(got.every((e) => e.tenantId === one.tenantId));
    });
  }

  it("GET events › directoryId of another tenant's directory › 200 and an empty page, like an id that names nothing", async () => {
    const foreign = await feed(one.tenantId, { directoryId: other.directoryId }).expect(200);
    const unknown = await feed(one.tenantId, { directoryId: randomUUID() }).expect(200);
    assert.deepEqual(foreign.body.data, []);
    assert.deepEqual({ ...foreign.body, next: null }, { ...unknown.body, next: null });
    // The other tenant's own feed does list them: the filter, not the data, is why it is empty.
    assert.ok((await walk(other.tenantId, { directoryId: other.directoryId }, 3)).length >= 3);
  });

  it("GET events › resourceId of another tenant's user › an empty page", async () => {
    const theirs = (await walk(other.tenantId, {}, 3))[0];
    const res = await feed(one.tenantId, { resourceId: theirs.resourceId }).expect(200);
    assert.deepEqual(res.body.data, []);
  });

  it('GET events › since and until › the events at or after since and before until', async () => {
    const dir = await makeDirectory(t.app);
    const scim = scimClient(t.app, dir.token);
    const first = (await scim.post('/Users', entraUser()).expect(201)).body.id;
    await new Promise((r) => setTimeout(r, 30));
    const between = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 30));
    const second = (await scim.post('/Users', entraUser()).expect(201)).body.id;
    assert.deepEqual(
      (await walk(dir.tenantId, { since: between }, 1)).map((e) => e.resourceId),
      [second],
    );
    assert.deepEqual(
      (await walk(dir.tenantId, { until: between }, 1)).map((e) => e.resourceId),
      [first],
    );
  });

  for (const [name, query] of [
    ['an unknown type', { type: 'user.exploded' }],
    ['an unknown type among known ones', { type: 'user.created,user.exploded' }],
    ['webhook.test, never in the feed', { type: 'webhook.test' }],
    ['a directoryId that is no UUID', { directoryId: 'nope' }],
    ['a resourceId that is no UUID', { resourceId: '42' }],
    ['a since that is no instant', { since: 'yesterday' }],
  ] as const) {
    it(`GET events › ${name} › 400 invalidValue naming it`, async () => {
      const res = await feed(one.tenantId, query).expect(400);
      assert.equal(res.body.scimType, 'invalidValue');
      const [field, value] = Object.entries(query)[0];
      assert.ok(res.body.detail.includes(field), res.body.detail);
      if (field === 'type') assert.ok(res.body.detail.includes(value.split(',').at(-1) ?? ''), res.body.detail);
    });
  }

  it('events repository › a filter matching little of a long walk › pages bounded by the walk, hasMore until the end, every match once', async () => {
    const feedOf = t.repos.forTenant(one.tenantId as TenantId);
    const all = await everything();
    const want = all.filter((e) => e.type === 'user.updated').map((e) => e.id);
    const got: string[] = [];
    let after: string | undefined;
    let pages = 0;
    for (;;) {
      const page = await feedOf.events({ after, limit: 10, filter: { types: ['user.updated'] }, walk: 2 });
      got.push(...page.events.map((e) => e.id));
      assert.ok(page.events.length <= 2, 'a page holds no more than its walk looked at');
      pages++;
      after = page.next;
      if (!page.hasMore && got.length >= want.length) break;
      if (pages > 100) assert.fail('the walk never ends');
    }
    assert.deepEqual(got, want);
    assert.ok(pages >= all.length / 2, `the walk took ${pages} pages of 2 events for ${all.length}`);
  });

  it('GET events › transaction ids across a power of ten (999, 1000) › in transaction order, not as text', async () => {
    const dir = await makeDirectory(t.app);
    const db = new Client({ connectionString: config.DATABASE_URL });
    await db.connect();
    try {
      await db.query(
        `INSERT INTO events (txid, id, tenant_id, directory_id, type, resource_type, resource_id, data)
         VALUES ('1000', ${UUID_V7}, $1, $2, 'user.updated', 'User', gen_random_uuid(), '{"n":2}'),
                ('999', ${UUID_V7}, $1, $2, 'user.created', 'User', gen_random_uuid(), '{"n":1}')`,
        [dir.tenantId, dir.directoryId],
      );
    } finally {
      await db.end();
    }
    for (const query of [{}, { type: 'user.created,user.updated' }] as Record<string, string>[]) {
      const res = await feed(dir.tenantId, query).expect(200);
      assert.deepEqual(
        res.body.data.map((e: { data: { n: number } }) => e.data.n),
        [1, 2],
        JSON.stringify(query),
      );
    }
  });
});
