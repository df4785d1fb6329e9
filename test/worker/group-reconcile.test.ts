import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { startGroupReconcile } from '../../workers/group-reconcile';
import { startWorker } from '../../workers/main';
import { QUEUES } from '../../shared/queue/catalog';
import { createQueue } from '../../shared/queue/queues';
import type { DirectoryId, TenantId } from '../../shared/ids';
import { closeWorkerSuite, redisConnections } from '../support/connections';
import { makeTestApp, type TestApp } from '../support/app';
import { asAdmin, entraUser, GROUP_SCHEMA, makeDirectory, scimClient, type TestDirectory } from '../support/factories';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface MemberEventRow {
  type: string;
  user_id: string;
}

describe('group reconciliation › bulk membership events and the reconcile job', () => {
  const prefix = `test-group-reconcile-${process.pid}-${Date.now().toString(36)}`;
  const connections = redisConnections();
  const redis = connections.connect;
  const queues = { groupReconcile: createQueue(QUEUES.groupReconcile, { connection: redis(), prefix }) };
  let t: TestApp;
  let worker: Awaited<ReturnType<typeof startWorker>>;

  before(async () => {
    // 50,000 member references are ~2.5 MB of JSON: above the default 1 MiB payload limit.
    t = makeTestApp({ queues, maxPayloadBytes: 8 * 1_048_576 });
    worker = await startWorker({ redis, queuePrefix: prefix }, [startGroupReconcile]);
  });
  after(async () => {
    await closeWorkerSuite({ worker, queue: queues.groupReconcile, connections, app: t });
  });

  /**
   * `count` users of the directory, straight into the table (60,000 SCIM POSTs would dominate
   * the run); returned in id order.
   */
  async function insertUsers(dir: TestDirectory, count: number): Promise<string[]> {
    const rows = await t.db.acrossTenants().query<{ id: string }>(
      `INSERT INTO scim_users (directory_id, tenant_id, id, user_name, external_id, display_name, data)
       SELECT $1, $2, gen_random_uuid(), 'bulk' || n || '@contoso.example', 'bulk' || n, 'Bulk ' || n,
              jsonb_build_object('userName', 'bulk' || n || '@contoso.example', 'externalId', 'bulk' || n, 'displayName', 'Bulk ' || n, 'active', true)
         FROM generate_series(1, $3) AS n
       RETURNING id`,
      [dir.directoryId, dir.tenantId, count],
    );
    return rows.map((r) => r.id).sort();
  }

  const lastSeq = async (dir: TestDirectory) =>
    (await t.db.acrossTenants().query<{ seq: string }>('SELECT coalesce(max(seq), 0) AS seq FROM events WHERE directory_id = $1', [dir.directoryId]))[0].seq;

  const memberEvents = (groupId: string, afterSeq: string, actor?: string) =>
    t.db.acrossTenants().query<MemberEventRow>(
      `SELECT type, data->'user'->>'id' AS user_id FROM events
        WHERE resource_id = $1 AND seq > $2 AND type IN ('group.user_added', 'group.user_removed') AND ($3::text IS NULL OR actor = $3)
        ORDER BY seq`,
      [groupId, afterSeq, actor ?? null],
    );

  const idsOf = (rows: MemberEventRow[], type: string) =>
    rows
      .filter((r) => r.type === type)
      .map((r) => r.user_id)
      .sort();

  const startReconcile = (dir: TestDirectory, body: unknown) =>
    asAdmin(request(t.app).post(`/admin/v1/directories/${dir.directoryId}/reconcile`))
      .send(body as object)
      .expect(202);

  /** Polls the report until it is done with `runs` runs; bounded in time. */
  async function waitReport(dir: TestDirectory, id: string, runs = 1, timeoutMs = 120_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const res = await asAdmin(request(t.app).get(`/admin/v1/directories/${dir.directoryId}/reconcile/${id}`)).expect(200);
      if (res.body.status === 'failed') throw new Error(`reconcile failed: ${res.body.error}`);
      if (res.body.status === 'done' && res.body.runs >= runs) return res.body;
      if (Date.now() > deadline) throw new Error(`reconcile ${id} still ${res.body.status} (runs ${res.body.runs}) after ${timeoutMs} ms`);
      await sleep(50);
    }
  }

  const userTotal = async (dir: TestDirectory) => (await scimClient(t.app, dir.token).get('/Users?count=0').expect(200)).body.totalResults as number;

  it('PUT /Groups replacing 50,000 members, then reconcile › exact member events; counter repaired; re-emitted once though run twice', async (ctx) => {
    const dir = await makeDirectory(t.app);
    const scim = scimClient(t.app, dir.token);
    const users = await insertUsers(dir, 60_000);
    const initial = users.slice(0, 20_000);
    const replacement = users.slice(10_000, 60_000);
    const group = await scim.post('/Groups', { schemas: [GROUP_SCHEMA], displayName: 'All staff', members: initial.map((value) => ({ value })) }).expect(201);
    const groupId = group.body.id as string;
    const beforePut = await lastSeq(dir);

    const started = Date.now();
    await scim.put(`/Groups/${groupId}`, { schemas: [GROUP_SCHEMA], displayName: 'All staff', members: replacement.map((value) => ({ value })) }).expect(200);
    ctx.diagnostic(`50,000-member PUT stored with its events in ${Date.now() - started} ms`);

    const events = await memberEvents(groupId, beforePut);
    assert.equal(events.filter((e) => e.type === 'group.user_added').length, 40_000);
    assert.equal(events.filter((e) => e.type === 'group.user_removed').length, 10_000);
    assert.deepEqual(idsOf(events, 'group.user_added'), users.slice(20_000, 60_000));
    assert.deepEqual(idsOf(events, 'group.user_removed'), users.slice(0, 10_000));

    // Corrupt one counter shard: /Users now reports seven users too many.
    await t.db.acrossTenants().exec(
      `UPDATE resource_counters SET inserted = inserted + 7
        WHERE directory_id = $1 AND resource_type = 'User' AND shard = (SELECT min(shard) FROM resource_counters WHERE directory_id = $1 AND resource_type = 'User')`,
      [dir.directoryId],
    );
    assert.equal(await userTotal(dir), 60_007);

    const beforeReconcile = await lastSeq(dir);
    const reconcileStarted = Date.now();
    const requested = await startReconcile(dir, { reemitGroupIds: [groupId] });
    const report = await waitReport(dir, requested.body.id);
    ctx.diagnostic(`reconcile with 50,000 re-emitted events done in ${Date.now() - reconcileStarted} ms`);
    assert.deepEqual(report.report.counters, [{ resourceType: 'User', counted: 60_007, actual: 60_000 }]);
    assert.deepEqual(report.report.reemitted, [{ groupId, events: 50_000, status: 'done' }]);
    assert.equal(await userTotal(dir), 60_000);

    const actor = `reconcile:${requested.body.id}`;
    const reemitted = await memberEvents(groupId, beforeReconcile, actor);
    assert.equal(reemitted.length, 50_000);
    assert.deepEqual(idsOf(reemitted, 'group.user_added'), replacement);
    // A re-emitted event carries the same data as the live one for the same member.
    const sample = replacement[12_345];
    const [live, again] = await t.db
      .acrossTenants()
      .query<{ data: unknown; actor: string }>(
        `SELECT data, actor FROM events WHERE resource_id = $1 AND type = 'group.user_added' AND data->'user'->>'id' = $2 AND seq > $3 ORDER BY seq`,
        [groupId, sample, beforePut],
      );
    assert.equal(again.actor, actor);
    assert.deepEqual(again.data, live.data);

    // The same job run again (an operator's retry; a stalled job picked up twice).
    const job = await queues.groupReconcile.getJob(requested.body.id);
    await job!.retry('completed');
    const second = await waitReport(dir, requested.body.id, 2);
    assert.equal(second.runs, 2);
    assert.equal((await memberEvents(groupId, beforeReconcile, actor)).length, 50_000);
    assert.deepEqual(second.report.reemitted, [{ groupId, events: 50_000, status: 'done' }]);
    assert.deepEqual(second.report.counters, [{ resourceType: 'User', counted: 60_007, actual: 60_000 }]);
    assert.equal(await userTotal(dir), 60_000);
  });

  it('reconcile › a group whose version missed a membership change and a low group counter › both repaired, and a second request changes nothing', async () => {
    const dir = await makeDirectory(t.app);
    const scim = scimClient(t.app, dir.token);
    const user = await scim.post('/Users', entraUser()).expect(201);
    const stale = await scim.post('/Groups', { schemas: [GROUP_SCHEMA], displayName: 'Stale', members: [{ value: user.body.id }] }).expect(201);
    const fresh = await scim.post('/Groups', { schemas: [GROUP_SCHEMA], displayName: 'Fresh', members: [{ value: user.body.id }] }).expect(201);
    // As if the membership had been written without bumping the group (a manual repair, an old bug).
    await t.db
      .acrossTenants()
      .exec(`UPDATE scim_groups SET updated_at = updated_at - interval '1 hour' WHERE directory_id = $1 AND id = $2`, [dir.directoryId, stale.body.id]);
    await t.db.acrossTenants().exec(
      `UPDATE resource_counters SET deleted = deleted + 2
        WHERE directory_id = $1 AND resource_type = 'Group' AND shard = (SELECT min(shard) FROM resource_counters WHERE directory_id = $1 AND resource_type = 'Group')`,
      [dir.directoryId],
    );
    const staleEtag = (await scim.get(`/Groups/${stale.body.id}`).expect(200)).headers.etag;

    const first = await waitReport(dir, (await startReconcile(dir, {})).body.id);
    assert.deepEqual(first.report.counters, [{ resourceType: 'Group', counted: 0, actual: 2 }]);
    assert.equal(first.report.groupVersionsBumped, 1);
    assert.deepEqual(first.report.bumpedGroupIds, [stale.body.id]);
    assert.deepEqual(first.report.reemitted, []);
    assert.notEqual((await scim.get(`/Groups/${stale.body.id}`).expect(200)).headers.etag, staleEtag);
    assert.equal((await scim.get(`/Groups/${fresh.body.id}`).expect(200)).headers.etag, fresh.headers.etag);
    assert.equal((await scim.get('/Groups?count=0').expect(200)).body.totalResults, 2);

    const second = await waitReport(dir, (await startReconcile(dir, {})).body.id);
    assert.deepEqual(second.report, { counters: [], groupVersionsBumped: 0, bumpedGroupIds: [], reemitted: [] });
  });

  it('reconcile › a requested group deleted before the job ran › reported missing, nothing emitted', async () => {
    const dir = await makeDirectory(t.app);
    const scim = scimClient(t.app, dir.token);
    const user = await scim.post('/Users', entraUser()).expect(201);
    const group = await scim.post('/Groups', { schemas: [GROUP_SCHEMA], displayName: 'Doomed', members: [{ value: user.body.id }] }).expect(201);
    // No worker while the request waits, so the group is surely gone when the job runs.
    await worker.close();
    const requested = await startReconcile(dir, { reemitGroupIds: [group.body.id] });
    await scim.delete(`/Groups/${group.body.id}`).expect(204);
    worker = await startWorker({ redis, queuePrefix: prefix }, [startGroupReconcile]);
    const report = await waitReport(dir, requested.body.id);
    assert.deepEqual(report.report.reemitted, [{ groupId: group.body.id, events: 0, status: 'missing' }]);
    assert.equal((await memberEvents(group.body.id, '0', `reconcile:${requested.body.id}`)).length, 0);
  });

  it("reconcile reports › another directory names the report › it sees nothing and changes nothing of the owner's", async () => {
    const owner = await makeDirectory(t.app);
    const other = await makeDirectory(t.app);
    const reportsOf = (d: typeof owner) =>
      t.repos.forDirectory({ tenantId: d.tenantId as TenantId, directoryId: d.directoryId as DirectoryId }).reconcileReports;
    const created = await reportsOf(owner).create([]);

    const theirs = reportsOf(other);
    assert.equal(await theirs.find(created.id), undefined);
    // Report keys are (directory_id, id) (migration 0013, for Citus): a job naming the id under
    // another directory starts a report of that directory's own, and never reaches the owner's.
    assert.deepEqual(await theirs.start(created.id, []), { reemitGroupIds: [], previous: null, runs: 1 });
    await theirs.finish(created.id, { counters: [] });
    await theirs.fail(created.id, 'failed', 'not yours');

    const unchanged = await reportsOf(owner).find(created.id);
    assert.deepEqual(unchanged, created);
  });
});
