/**
 * The setup page's data, used directly (no HTTP): a directory's setup links and the resolver by
 * secret; the SCIM request log's writer (one statement per batch: trimmed per directory, times
 * never moving back, 401s attributed through revoked keys, deleted directories skipped) and its
 * bound reader; and the API's recorder, whose memory stays bounded while PostgreSQL is down.
 * Every part ends with another directory seeing nothing.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { ScimActivityRecorder } from '../../services/api/scim-activity';
import { config } from '../../shared/config';
import { repositoriesFor } from '../../shared/db/repositories';
import { hashToken } from '../../shared/db/repositories/api-keys';
import type { DirectoryRepositories } from '../../shared/db/repositories/directory';
import type { ScimRequestRecord } from '../../shared/db/repositories/scim-activity';
import { createDatabase, type Database } from '../../shared/db/sequelize';
import type { DirectoryId, TenantId } from '../../shared/ids';
import { logger } from '../../shared/telemetry/logger';
import { METRICS, registry } from '../../shared/telemetry/metrics';
import { makeTestApp, type TestApp } from '../support/app';
import { asAdmin, makeDirectory, type TestDirectory } from '../support/factories';
import { startPgProxy, type PgProxy } from '../support/pg-proxy';

const reposOf = (t: TestApp, d: TestDirectory): DirectoryRepositories =>
  t.repos.forDirectory({ tenantId: d.tenantId as TenantId, directoryId: d.directoryId as DirectoryId });

/** A request record of `d` answered `secondsAgo` seconds ago. */
const requestOf = (d: TestDirectory, status: number, secondsAgo = 0, extra: Partial<ScimRequestRecord> = {}): ScimRequestRecord => ({
  directoryId: d.directoryId as DirectoryId,
  at: new Date(Date.now() - secondsAgo * 1000),
  method: 'GET',
  route: '/scim/v1/Users',
  status,
  testConnection: false,
  ...extra,
});

describe('setup links › bound to one directory', () => {
  let t: TestApp;
  let a: TestDirectory;
  let b: TestDirectory;
  before(async () => {
    t = makeTestApp();
    a = await makeDirectory(t.app);
    // The same tenant: a sibling directory is as much "another directory" as a stranger's.
    b = await makeDirectory(t.app, { tenantId: a.tenantId });
  });
  after(() => t.close());

  it('created by one directory › listed and resolved there; another directory lists none and cannot revoke it', async () => {
    const link = await reposOf(t, a).setupLinks.create(3);
    assert.ok((await reposOf(t, a).setupLinks.list()).some((l) => l.id === link.id));

    assert.deepEqual(await reposOf(t, b).setupLinks.list(), []);
    assert.equal(await reposOf(t, b).setupLinks.revoke(link.id), undefined);
    assert.deepEqual(await t.db.forDirectory(b).query('SELECT id FROM setup_links'), [], 'row-level security hides it too');

    const resolved = await t.repos.operator.setupLinks.resolve(link.secret);
    assert.equal(resolved?.directoryId, a.directoryId);
    assert.equal(resolved?.linkId, link.id);
    assert.equal((await reposOf(t, a).setupLinks.list()).find((l) => l.id === link.id)?.status, 'active');
  });

  it('resolve › a revoked, an expired and an unknown secret › nothing; opening records lastOpenedAt', async () => {
    const revoked = await reposOf(t, a).setupLinks.create();
    const expired = await reposOf(t, a).setupLinks.create();
    const open = await reposOf(t, a).setupLinks.create();
    await reposOf(t, a).setupLinks.revoke(revoked.id);
    await t.db
      .acrossTenants()
      .exec(`UPDATE setup_links SET created_at = now() - interval '2 days', expires_at = now() - interval '1 day' WHERE id = $1`, [expired.id]);

    assert.equal(await t.repos.operator.setupLinks.resolve(revoked.secret), undefined);
    assert.equal(await t.repos.operator.setupLinks.resolve(expired.secret), undefined);
    assert.equal(await t.repos.operator.setupLinks.resolve(`setup_${randomUUID()}`), undefined);
    assert.equal(open.lastOpenedAt, null);
    assert.ok(await t.repos.operator.setupLinks.resolve(open.secret));
    const listed = await reposOf(t, a).setupLinks.list();
    assert.ok(listed.find((l) => l.id === open.id)?.lastOpenedAt);
    assert.deepEqual(
      [revoked.id, expired.id].map((id) => listed.find((l) => l.id === id)?.status),
      ['revoked', 'expired'],
    );
  });

  it("the setup token › issued through A's link › A's live setup token; B has none and B's issue revokes nothing of A", async () => {
    const link = await reposOf(t, a).setupLinks.create();
    const outcome = await reposOf(t, a).apiKeys.issueThroughSetupLink(link.id, 'us', { name: 'Setup link token', replace: false });
    assert.ok('issued' in outcome);

    assert.equal((await reposOf(t, a).apiKeys.liveSetupToken())?.id, outcome.issued.id);
    assert.equal(await reposOf(t, b).apiKeys.liveSetupToken(), undefined);
    const bLink = await reposOf(t, b).setupLinks.create();
    const bOutcome = await reposOf(t, b).apiKeys.issueThroughSetupLink(bLink.id, 'us', { name: 'Setup link token', replace: true });
    assert.ok('issued' in bOutcome && bOutcome.revoked === undefined);
    assert.ok(await t.repos.operator.keys.resolve(outcome.issued.token), "A's token still resolves");
  });
});

describe('SCIM request log › writer and reader', () => {
  let t: TestApp;
  let a: TestDirectory;
  let b: TestDirectory;
  before(async () => {
    t = makeTestApp();
    a = await makeDirectory(t.app);
    b = await makeDirectory(t.app, { tenantId: a.tenantId });
  });
  after(() => t.close());

  const writer = () => t.repos.operator.scimActivity;

  it('append › more than are kept, over two batches › only the newest of the directory remain, newest first', async () => {
    const d = await makeDirectory(t.app);
    await writer().append({ requests: [200, 201, 204].map((s, i) => requestOf(d, s, 10 - i)), marks: [] }, 4);

    await writer().append({ requests: [400, 404, 409].map((s, i) => requestOf(d, s, 5 - i)), marks: [] }, 4);

    const recent = await reposOf(t, d).activity.recent(50);
    assert.deepEqual(
      recent.map((r) => r.status),
      [409, 404, 400, 204],
    );
    const stored = await t.db
      .acrossTenants()
      .query<{ slot: number }>('SELECT slot FROM scim_request_log WHERE directory_id = $1 ORDER BY slot', [d.directoryId]);
    assert.deepEqual(
      stored.map((r) => r.slot),
      [0, 1, 2, 3],
      'a ring of 4 rows, overwritten in place',
    );
  });

  it('the table › its only index is the ring key, and pages keep room › overwrites can stay on their page (HOT)', async () => {
    const indexes = await t.db
      .acrossTenants()
      .query<{ def: string }>(`SELECT pg_get_indexdef(indexrelid) AS def FROM pg_index WHERE indrelid = 'scim_request_log'::regclass`);
    assert.deepEqual(
      indexes.map((i) => i.def.replace(/^.* USING /, '')),
      ['btree (directory_id, slot)'],
    );
    const [table] = await t.db
      .acrossTenants()
      .query<{ options: string[] }>(`SELECT reloptions AS options FROM pg_class WHERE oid = 'scim_request_log'::regclass`);
    assert.deepEqual(table.options, ['fillfactor=50']);
  });

  it('append › one batch larger than is kept › its newest only, in the order answered', async () => {
    const d = await makeDirectory(t.app);
    const at = new Date();
    const statuses = [200, 201, 202, 203, 204, 205];

    await writer().append({ requests: statuses.map((status) => requestOf(d, status, 0, { at })), marks: [] }, 3);

    assert.deepEqual(
      (await reposOf(t, d).activity.recent(50)).map((r) => r.status),
      [205, 204, 203],
    );
  });

  it("append › a 401 carrying a revoked key's hash › listed for that key's directory; an unknown hash › for none", async () => {
    const d = await makeDirectory(t.app);
    await asAdmin(request(t.app).delete(`/admin/v1/directories/${d.directoryId}/keys/${d.keyId}`)).expect(204);
    const refused = { at: new Date(), method: 'GET', route: '/scim/v1/Users', status: 401, testConnection: false };

    const written = await writer().append({
      requests: [
        { ...refused, keyHash: hashToken(d.token) },
        { ...refused, keyHash: hashToken(`scim_us_${randomUUID()}`) },
      ],
      marks: [],
    });

    assert.equal(written, 1);
    assert.deepEqual(
      (await reposOf(t, d).activity.recent(50)).map((r) => r.status),
      [401],
    );
  });

  it('append › a directory deleted before its batch › its requests skipped, the rest written', async () => {
    const gone = await makeDirectory(t.app);
    const kept = await makeDirectory(t.app);
    await asAdmin(request(t.app).delete(`/admin/v1/directories/${gone.directoryId}`)).expect(204);

    const written = await writer().append({
      requests: [requestOf(gone, 200), requestOf(kept, 200)],
      marks: [
        { directoryId: gone.directoryId as DirectoryId, lastRequestAt: new Date() },
        { directoryId: kept.directoryId as DirectoryId, lastRequestAt: new Date() },
      ],
    });

    assert.equal(written, 1);
    assert.equal((await reposOf(t, kept).activity.recent(50)).length, 1);
    assert.deepEqual(await t.db.acrossTenants().query('SELECT 1 FROM directory_activity WHERE directory_id = $1', [gone.directoryId]), []);
  });

  it('append › marks of an older batch after a newer one › the times never move back', async () => {
    const d = await makeDirectory(t.app);
    const id = d.directoryId as DirectoryId;
    const newer = new Date();
    const older = new Date(newer.getTime() - 60_000);
    await writer().append({ requests: [], marks: [{ directoryId: id, lastRequestAt: newer, lastChangeAt: newer }] });

    await writer().append({ requests: [], marks: [{ directoryId: id, lastRequestAt: older, lastChangeAt: older, testConnectionAt: older }] });

    assert.deepEqual(await reposOf(t, d).activity.times(), {
      lastRequestAt: newer.toISOString(),
      lastChangeAt: newer.toISOString(),
      testConnectionAt: older.toISOString(),
    });
  });

  it("another directory › sees none of A's requests or times, also by a statement without a directory filter", async () => {
    await writer().append({ requests: [requestOf(a, 409)], marks: [{ directoryId: a.directoryId as DirectoryId, lastRequestAt: new Date() }] });
    assert.equal((await reposOf(t, a).activity.recent(50)).length, 1);

    assert.deepEqual(await reposOf(t, b).activity.recent(50), []);
    assert.deepEqual(await reposOf(t, b).activity.times(), { lastRequestAt: null, lastChangeAt: null, testConnectionAt: null });
    assert.deepEqual(await t.db.forDirectory(b).query('SELECT slot FROM scim_request_log'), []);
    assert.deepEqual(await t.db.forDirectory(b).query('SELECT directory_id FROM directory_activity'), []);
  });
});

describe('SCIM request recorder › PostgreSQL down', () => {
  let t: TestApp;
  let proxy: PgProxy;
  let db: Database;
  before(async () => {
    t = makeTestApp();
    proxy = await startPgProxy(config.DATABASE_URL);
    db = createDatabase({ url: proxy.url, poolMax: 2, connectTimeoutMs: 1_000, acquireTimeoutMs: 1_500 });
  });
  after(async () => {
    await db.close();
    await proxy.close();
    await t.close();
  });

  const dropped = async () => {
    const line = (await registry.metrics()).split('\n').find((l) => l.startsWith(`${METRICS.activityDropped}{reason="overflow"}`));
    return line === undefined ? 0 : Number(line.split(' ').at(-1));
  };

  it('record while PostgreSQL is unreachable › memory stays within its bounds, the oldest dropped and counted; once back › the newest are written', async () => {
    const [a, b, c, d] = await Promise.all([1, 2, 3, 4].map(() => makeDirectory(t.app)));
    const recorder = new ScimActivityRecorder({
      writer: repositoriesFor(db, config).operator.scimActivity,
      logger,
      flushIntervalMs: 3_600_000,
      maxBuffered: 8,
      maxDirectories: 3,
      keepPerDirectory: 4,
    });
    const droppedBefore = await dropped();
    try {
      for (let i = 0; i < 6; i++) recorder.record(requestOf(a, 200 + i));
      assert.equal(recorder.size, 4, 'a directory holds only as many as PostgreSQL keeps');

      proxy.cut();
      await recorder.flush();
      assert.equal(recorder.size, 4, 'a failed batch is kept');
      for (let i = 0; i < 3; i++) recorder.record(requestOf(b, 300 + i));
      for (let i = 0; i < 3; i++) recorder.record(requestOf(c, 400 + i));
      assert.equal(recorder.size, 8);
      assert.equal((await dropped()) - droppedBefore, 2, "a's two oldest went");
      await recorder.flush();
      recorder.record(requestOf(d, 500), true);
      assert.equal((await dropped()) - droppedBefore, 4, "a fourth directory pushes out the one waiting longest (a's last two)");
      assert.equal(recorder.size, 7);

      proxy.restore();
      await recorder.flush();

      assert.equal(recorder.size, 0);
      const statuses = async (x: TestDirectory) => (await reposOf(t, x).activity.recent(50)).map((r) => r.status);
      assert.deepEqual(await statuses(a), []);
      assert.deepEqual(await statuses(b), [302, 301, 300]);
      assert.deepEqual(await statuses(c), [402, 401, 400]);
      assert.deepEqual(await statuses(d), [500]);
      assert.ok((await reposOf(t, d).activity.times()).lastChangeAt);
    } finally {
      proxy.restore();
      await recorder.close();
    }
  });

  it('close › writes what is held, twice is safe, and later records are ignored', async () => {
    const dir = await makeDirectory(t.app);
    const recorder = new ScimActivityRecorder({ writer: t.repos.operator.scimActivity, logger, flushIntervalMs: 3_600_000 });
    recorder.record(requestOf(dir, 201));

    await Promise.all([recorder.close(), recorder.close()]);
    recorder.record(requestOf(dir, 202));
    await recorder.close();

    assert.deepEqual(
      (await reposOf(t, dir).activity.recent(50)).map((r) => r.status),
      [201],
    );
    assert.equal(recorder.size, 0);
  });
});
