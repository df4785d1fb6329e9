import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { config } from '../../shared/config';
import { LocalDiskExportStorage } from '../../shared/exports';
import { QUEUES } from '../../shared/queue/catalog';
import { createQueue } from '../../shared/queue/queues';
import { createRedis } from '../../shared/queue/redis';
import { makeTestApp, type TestApp } from '../support/app';
import { asAdmin, GROUP_SCHEMA, makeDirectory, scimClient } from '../support/factories';

// No worker runs here: queued jobs stay queued, which is what the 409 and job checks rely on.
describe('admin exports and reconcile › validation and tenant isolation', () => {
  const prefix = `test-exports-admin-${process.pid}-${Date.now().toString(36)}`;
  const redis = createRedis(config.REDIS_URL);
  const queues = {
    auditExport: createQueue(QUEUES.auditExport, { connection: redis, prefix }),
    groupReconcile: createQueue(QUEUES.groupReconcile, { connection: redis, prefix }),
  };
  let dir: string;
  let t: TestApp;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'scim-exports-admin-'));
    t = makeTestApp({ queues, exportStorage: new LocalDiskExportStorage(dir) });
  });
  after(async () => {
    for (const q of Object.values(queues)) {
      await q.obliterate({ force: true });
      await q.close();
    }
    redis.disconnect();
    await t.close();
    await rm(dir, { recursive: true, force: true });
  });

  const range = { from: '2024-01-01T00:00:00Z', to: '2024-01-02T00:00:00Z' };
  const startExport = (tenantId: string, body: unknown) => asAdmin(request(t.app).post(`/admin/v1/tenants/${tenantId}/exports`)).send(body as object);
  const getPath = (p: string) => asAdmin(request(t.app).get(`/admin/v1${p}`));

  it('POST exports › a valid range › 202 queued, a job whose id is the export id, and the status reads back', async () => {
    const a = await makeDirectory(t.app);
    const res = await startExport(a.tenantId, { from: '2024-01-01T00:00:00+02:00', to: range.to }).expect(202);
    assert.equal(res.body.status, 'queued');
    assert.equal(res.body.tenantId, a.tenantId);
    assert.equal(res.body.from, '2023-12-31T22:00:00.000Z');
    assert.equal(res.body.storageKey, undefined);
    assert.equal(res.headers.location, `/admin/v1/tenants/${a.tenantId}/exports/${res.body.id}`);
    const job = await queues.auditExport.getJob(res.body.id);
    assert.deepEqual({ exportId: job?.data.exportId, tenantId: job?.data.tenantId }, { exportId: res.body.id, tenantId: a.tenantId });
    const status = await getPath(`/tenants/${a.tenantId}/exports/${res.body.id}`).expect(200);
    assert.equal(status.body.status, 'queued');
  });

  it('GET exports/{id}/download › export not done yet › 409', async () => {
    const a = await makeDirectory(t.app);
    const created = await startExport(a.tenantId, range).expect(202);
    const res = await getPath(`/tenants/${a.tenantId}/exports/${created.body.id}/download`).expect(409);
    assert.equal(res.body.status, '409');
  });

  const badRanges: [string, unknown][] = [
    ['from after to', { from: '2024-01-02T00:00:00Z', to: '2024-01-01T00:00:00Z' }],
    ['from equal to to', { from: range.from, to: range.from }],
    ['to missing', { from: range.from }],
    ['a date without time', { from: '2024-01-01', to: range.to }],
    ['not a date', { from: 'yesterday', to: range.to }],
    ['a number', { from: 1704067200, to: range.to }],
  ];
  for (const [situation, body] of badRanges) {
    it(`POST exports › ${situation} › 400 invalidValue and nothing queued`, async () => {
      const a = await makeDirectory(t.app);
      const res = await startExport(a.tenantId, body).expect(400);
      assert.equal(res.body.scimType, 'invalidValue');
      const list = await getPath(`/tenants/${a.tenantId}/exports`).expect(200);
      assert.equal(list.body.data.length, 0);
    });
  }

  it("exports › another tenant's export id › 404 for status and download, and absent from its list", async () => {
    const a = await makeDirectory(t.app);
    const b = await makeDirectory(t.app);
    const created = await startExport(a.tenantId, range).expect(202);
    await getPath(`/tenants/${b.tenantId}/exports/${created.body.id}`).expect(404);
    await getPath(`/tenants/${b.tenantId}/exports/${created.body.id}/download`).expect(404);
    const listB = await getPath(`/tenants/${b.tenantId}/exports`).expect(200);
    assert.deepEqual(listB.body.data, []);
    const listA = await getPath(`/tenants/${a.tenantId}/exports`).expect(200);
    assert.deepEqual(
      listA.body.data.map((e: { id: string }) => e.id),
      [created.body.id],
    );
  });

  it('exports › unknown tenant, malformed ids › 404', async () => {
    const a = await makeDirectory(t.app);
    await startExport('7d1c5e0a-0000-4000-8000-000000000000', range).expect(404);
    await startExport('not-a-uuid', range).expect(404);
    await getPath(`/tenants/${a.tenantId}/exports/not-a-uuid`).expect(404);
    await getPath(`/tenants/${a.tenantId}/exports/7d1c5e0a-0000-4000-8000-000000000000/download`).expect(404);
  });

  it('exports › no admin token › 401', async () => {
    const a = await makeDirectory(t.app);
    await request(t.app).post(`/admin/v1/tenants/${a.tenantId}/exports`).send(range).expect(401);
  });

  const makeGroup = async (token: string) => {
    const res = await scimClient(t.app, token)
      .post('/Groups', { schemas: [GROUP_SCHEMA], displayName: `g-${Date.now()}-${Math.random()}` })
      .expect(201);
    return res.body.id as string;
  };
  const startReconcile = (directoryId: string, body: unknown) =>
    asAdmin(request(t.app).post(`/admin/v1/directories/${directoryId}/reconcile`)).send(body as object);

  it('POST reconcile › groups of the directory › 202 queued and a job with that id carrying the groups', async () => {
    const a = await makeDirectory(t.app);
    const group = await makeGroup(a.token);
    const res = await startReconcile(a.directoryId, { reemitGroupIds: [group, group.toUpperCase()] }).expect(202);
    assert.equal(res.body.status, 'queued');
    assert.deepEqual(res.body.reemitGroupIds, [group]);
    const job = await queues.groupReconcile.getJob(res.body.id);
    assert.deepEqual(job?.data.reemitGroupIds, [group]);
    assert.equal(job?.data.directoryId, a.directoryId);
    const report = await getPath(`/directories/${a.directoryId}/reconcile/${res.body.id}`).expect(200);
    assert.equal(report.body.status, 'queued');
    assert.equal(report.body.report, null);
  });

  it('POST reconcile › no body › 202 with nothing to re-emit', async () => {
    const a = await makeDirectory(t.app);
    const res = await startReconcile(a.directoryId, undefined).expect(202);
    assert.deepEqual(res.body.reemitGroupIds, []);
  });

  it('POST reconcile › a group of another directory of the same tenant › 400 invalidValue', async () => {
    const a = await makeDirectory(t.app);
    const sibling = await makeDirectory(t.app, { tenantId: a.tenantId });
    const foreign = await makeGroup(sibling.token);
    const res = await startReconcile(a.directoryId, { reemitGroupIds: [foreign] }).expect(400);
    assert.equal(res.body.scimType, 'invalidValue');
  });

  for (const [situation, body] of [
    ['ids that are not uuids', { reemitGroupIds: ['group-1'] }],
    ['not an array', { reemitGroupIds: 'a' }],
  ] as const) {
    it(`POST reconcile › ${situation} › 400 invalidValue`, async () => {
      const a = await makeDirectory(t.app);
      const res = await startReconcile(a.directoryId, body).expect(400);
      assert.equal(res.body.scimType, 'invalidValue');
    });
  }

  it("GET reconcile/{id} › another directory's job id, unknown directory › 404", async () => {
    const a = await makeDirectory(t.app);
    const b = await makeDirectory(t.app);
    const res = await startReconcile(a.directoryId, {}).expect(202);
    await getPath(`/directories/${b.directoryId}/reconcile/${res.body.id}`).expect(404);
    await getPath(`/directories/7d1c5e0a-0000-4000-8000-000000000000/reconcile/${res.body.id}`).expect(404);
    await startReconcile('7d1c5e0a-0000-4000-8000-000000000000', {}).expect(404);
  });

  it('POST exports and reconcile › an API started without queues › 503', async () => {
    const bare = makeTestApp();
    try {
      const a = await makeDirectory(bare.app);
      await asAdmin(request(bare.app).post(`/admin/v1/tenants/${a.tenantId}/exports`))
        .send(range)
        .expect(503);
      await asAdmin(request(bare.app).post(`/admin/v1/directories/${a.directoryId}/reconcile`))
        .send({})
        .expect(503);
    } finally {
      await bare.close();
    }
  });
});
