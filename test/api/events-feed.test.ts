import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from 'pg';
import request from 'supertest';
import { config } from '../../shared/config';
import { makeTestApp, type TestApp } from '../support/app';
import { asAdmin, entraUser, makeDirectory, scimClient } from '../support/factories';
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
