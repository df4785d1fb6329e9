import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { gunzipSync, createGunzip } from 'node:zlib';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import request from 'supertest';
import { startAuditExport, runAuditExport } from '../../workers/audit-export';
import { startWorker } from '../../workers/main';
import type { TenantId } from '../../shared/ids';
import { config } from '../../shared/config';
import { exportKey, LocalDiskExportStorage, type ExportStorage } from '../../shared/exports';
import { QUEUES } from '../../shared/queue/catalog';
import { createQueue } from '../../shared/queue/queues';
import { logger } from '../../shared/telemetry/logger';
import { ADMIN_TOKEN, makeTestApp, type TestApp } from '../support/app';
import { binaryBody, closeWorkerSuite, redisConnections } from '../support/connections';
import { asAdmin, entraUser, GROUP_SCHEMA, makeDirectory, patchOp, scimClient } from '../support/factories';
import { UUID_V7 } from '../../shared/db/sql';

/** A full garbage collection, without starting node with --expose-gc. */
function collectGarbage(): () => void {
  v8.setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const NDJSON_KEYS = ['id', 'type', 'timestamp', 'tenantId', 'directoryId', 'resourceType', 'resourceId', 'actor', 'data'];

describe('audit export worker › NDJSON gzip streamed to storage', () => {
  const prefix = `test-audit-export-${process.pid}-${Date.now().toString(36)}`;
  const connections = redisConnections();
  const redis = connections.connect;
  let exportDir: string;
  let t: TestApp;
  let worker: Awaited<ReturnType<typeof startWorker>>;
  const queues = { auditExport: createQueue(QUEUES.auditExport, { connection: redis(), prefix }) };

  before(async () => {
    exportDir = await mkdtemp(path.join(os.tmpdir(), 'scim-audit-export-'));
    t = makeTestApp({ queues, exportStorage: new LocalDiskExportStorage(exportDir) });
    worker = await startWorker({ redis, queuePrefix: prefix, config: { ...config, EXPORT_DIR: exportDir } }, [startAuditExport]);
  });
  after(async () => {
    await closeWorkerSuite({ worker, queue: queues.auditExport, connections, app: t });
    await rm(exportDir, { recursive: true, force: true });
  });

  const dbNow = async () => (await t.db.acrossTenants().query<{ now: Date }>('SELECT clock_timestamp() AS now'))[0].now;
  const startExport = (tenantId: string, body: unknown) => asAdmin(request(t.app).post(`/admin/v1/tenants/${tenantId}/exports`)).send(body as object);

  /** Polls the status until it is done or failed; bounded in time. */
  async function waitFinished(tenantId: string, id: string, timeoutMs = 120_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const res = await asAdmin(request(t.app).get(`/admin/v1/tenants/${tenantId}/exports/${id}`)).expect(200);
      if (res.body.status === 'done' || res.body.status === 'failed') return res.body;
      if (Date.now() > deadline) throw new Error(`export ${id} still ${res.body.status} after ${timeoutMs} ms`);
      await sleep(25);
    }
  }

  const download = (tenantId: string, id: string) =>
    asAdmin(request(t.app).get(`/admin/v1/tenants/${tenantId}/exports/${id}/download`))
      .buffer(true)
      .parse(binaryBody);

  it("export of a range › two tenants wrote events › exactly the tenant's events of the range, in order, nothing of the other", async () => {
    const a = await makeDirectory(t.app);
    const b = await makeDirectory(t.app);
    const scimA = scimClient(t.app, a.token);
    const scimB = scimClient(t.app, b.token);
    await scimA.post('/Users', entraUser()).expect(201); // before the range
    // The range is sent with millisecond precision; pauses keep the writes outside it clear of its edges.
    await sleep(20);
    const from = await dbNow();
    const u1 = await scimA.post('/Users', entraUser()).expect(201);
    await scimB.post('/Users', entraUser()).expect(201);
    const u2 = await scimA.post('/Users', entraUser()).expect(201);
    await scimA.patch(`/Users/${u1.body.id}`, patchOp({ op: 'replace', path: 'displayName', value: 'Renamed' })).expect(200);
    await scimB.post('/Groups', { schemas: [GROUP_SCHEMA], displayName: `b-${Date.now()}` }).expect(201);
    await scimA
      .post('/Groups', { schemas: [GROUP_SCHEMA], displayName: `a-${Date.now()}`, members: [{ value: u1.body.id }, { value: u2.body.id }] })
      .expect(201);
    const to = await dbNow();
    await sleep(20);
    await scimA.post('/Users', entraUser()).expect(201); // after the range

    const created = await startExport(a.tenantId, { from: from.toISOString(), to: new Date(to.getTime() + 1).toISOString() }).expect(202);
    const finished = await waitFinished(a.tenantId, created.body.id);
    assert.equal(finished.status, 'done');

    const res = await download(a.tenantId, created.body.id).expect(200);
    assert.equal(res.headers['content-type'], 'application/gzip');
    assert.match(res.headers['content-disposition'], new RegExp(`^attachment; filename=".*${created.body.id}\\.ndjson\\.gz"$`));
    assert.equal(Number(res.headers['content-length']), finished.bytes);
    const text = gunzipSync(res.body as Buffer).toString('utf8');
    assert.ok(text.endsWith('\n'));
    const lines = text
      .slice(0, -1)
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);

    // 2 user.created, 1 user.updated, 1 group.created, 2 group.user_added; nothing of tenant B.
    assert.deepEqual(
      lines.map((l) => l.type),
      ['user.created', 'user.created', 'user.updated', 'group.created', 'group.user_added', 'group.user_added'],
    );
    assert.equal(finished.eventCount, 6);
    assert.ok(lines.every((l) => l.tenantId === a.tenantId && l.directoryId === a.directoryId));
    assert.deepEqual(Object.keys(lines[0]), NDJSON_KEYS);
    const stored = await t.db
      .acrossTenants()
      .query<{ id: string }>('SELECT id FROM events WHERE tenant_id = $1 AND occurred_at >= $2 AND occurred_at < $3 ORDER BY occurred_at, seq', [
        a.tenantId,
        from,
        new Date(to.getTime() + 1),
      ]);
    assert.deepEqual(
      lines.map((l) => l.id),
      stored.map((r) => r.id),
    );
    // Each line says what the events feed says about the same event. The feed holds events back
    // while any older transaction on the server is open (another suite's), so it is read until
    // it shows them all.
    const byId = new Map<unknown, unknown>();
    for (let deadline = Date.now() + 10_000; lines.some((l) => !byId.has(l.id)) && Date.now() < deadline; await sleep(50)) {
      const feed = await asAdmin(request(t.app).get(`/admin/v1/tenants/${a.tenantId}/events`).query({ limit: 100 })).expect(200);
      for (const e of feed.body.data as Record<string, unknown>[]) byId.set(e.id, e);
    }
    for (const line of lines) {
      const e = byId.get(line.id) as Record<string, unknown>;
      assert.deepEqual(line, {
        id: e.id,
        type: e.type,
        timestamp: e.timestamp,
        tenantId: e.tenantId,
        directoryId: e.directoryId,
        resourceType: e.resourceType,
        resourceId: e.resourceId,
        actor: e.actor,
        data: e.data,
      });
    }
  });

  it('export of 200,000 events › the worker streams them › all in order, with heap growth bounded', async (ctx) => {
    const c = await makeDirectory(t.app);
    const base = new Date('2021-03-01T00:00:00Z');
    const total = 200_000;
    // Bulk events straight into the table: one per millisecond, so their order is known. In
    // statements of 10,000: one of 200,000 holds its transaction id for seconds, and the events
    // feed of every database on the server (the suites beside this one) waits below it.
    for (let from = 0; from < total; from += 10_000) {
      await t.db.acrossTenants().exec(
        `INSERT INTO events (id, tenant_id, directory_id, type, resource_type, resource_id, actor, data, occurred_at)
         SELECT ${UUID_V7}, $1, $2, 'user.updated', 'User', gen_random_uuid(), 'test',
                jsonb_build_object('n', n, 'resource', jsonb_build_object('userName', 'user' || n || '@contoso.example', 'displayName', repeat('x', 300)),
                                   'changedAttributes', jsonb_build_array('displayName')),
                $3::timestamptz + n * interval '1 millisecond'
           FROM generate_series($4::int, $5::int) AS n`,
        [c.tenantId, c.directoryId, base, from, Math.min(from + 10_000, total) - 1],
      );
    }

    // V8 collects lazily: heapUsed sampled alone mostly measures garbage not yet swept, which
    // V8 lets grow with the size of the heap, not with the export. So each sample is taken right
    // after a full collection, measuring what the process actually holds; the raw peak is
    // reported too. An export that buffered its events would hold ~120 MB here.
    const gc = collectGarbage();
    gc();
    const baseline = process.memoryUsage().heapUsed;
    let rawPeak = baseline;
    let livePeak = baseline;
    let gcMs = 0;
    const raw = setInterval(() => {
      rawPeak = Math.max(rawPeak, process.memoryUsage().heapUsed);
    }, 5);
    const live = setInterval(() => {
      rawPeak = Math.max(rawPeak, process.memoryUsage().heapUsed);
      const g0 = Date.now();
      gc();
      gcMs += Date.now() - g0;
      livePeak = Math.max(livePeak, process.memoryUsage().heapUsed);
    }, 1000);
    const started = Date.now();
    let finished: Awaited<ReturnType<typeof waitFinished>>;
    let createdId: string;
    try {
      const created = await startExport(c.tenantId, { from: base.toISOString(), to: new Date(base.getTime() + total).toISOString() }).expect(202);
      createdId = created.body.id;
      finished = await waitFinished(c.tenantId, createdId);
    } finally {
      clearInterval(raw);
      clearInterval(live);
    }
    const seconds = (Date.now() - started) / 1000;
    gc();
    const after = process.memoryUsage().heapUsed;
    const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1);
    ctx.diagnostic(
      `200k export: ${seconds.toFixed(1)} s, ${finished.bytes} bytes gzip; heap baseline ${mib(baseline)} MiB, ` +
        `live peak +${mib(livePeak - baseline)} MiB, raw peak +${mib(rawPeak - baseline)} MiB, after +${mib(after - baseline)} MiB, gc ${gcMs} ms`,
    );
    assert.equal(finished.status, 'done');
    assert.equal(finished.eventCount, total);
    assert.ok(livePeak - baseline < 64 * 2 ** 20, `live heap grew by ${mib(livePeak - baseline)} MiB during the export`);
    assert.ok(after - baseline < 16 * 2 ** 20, `heap kept ${mib(after - baseline)} MiB after the export`);

    // Read back through the download endpoint over a real socket, streamed line by line.
    const server = http.createServer(t.app).listen(0, '127.0.0.1');
    try {
      await new Promise((r) => server.once('listening', r));
      const { port } = server.address() as AddressInfo;
      const res = await new Promise<http.IncomingMessage>((resolve, reject) =>
        http
          .get(
            {
              port,
              host: '127.0.0.1',
              path: `/admin/v1/tenants/${c.tenantId}/exports/${createdId}/download`,
              headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
            },
            resolve,
          )
          .on('error', reject),
      );
      assert.equal(res.statusCode, 200);
      let count = 0;
      for await (const line of createInterface({ input: res.pipe(createGunzip()), crlfDelay: Infinity })) {
        const event = JSON.parse(line) as { tenantId: string; data: { n: number } };
        if (event.data.n !== count || event.tenantId !== c.tenantId) assert.fail(`line ${count} is event n=${event.data.n} of tenant ${event.tenantId}`);
        count++;
      }
      assert.equal(count, total);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  it('export of an empty range › no events in it › done with 0 events and an empty gzip', async () => {
    const a = await makeDirectory(t.app);
    await scimClient(t.app, a.token).post('/Users', entraUser()).expect(201);
    const created = await startExport(a.tenantId, { from: '2001-01-01T00:00:00Z', to: '2001-01-02T00:00:00Z' }).expect(202);
    const finished = await waitFinished(a.tenantId, created.body.id);
    assert.equal(finished.status, 'done');
    assert.equal(finished.eventCount, 0);
    const res = await download(a.tenantId, created.body.id).expect(200);
    assert.equal(gunzipSync(res.body as Buffer).length, 0);
  });

  it('export › a finished export run again › returns its result and leaves the file as it was', async () => {
    const a = await makeDirectory(t.app);
    await scimClient(t.app, a.token).post('/Users', entraUser()).expect(201);
    const created = await startExport(a.tenantId, { from: '2000-01-01T00:00:00Z', to: '2100-01-01T00:00:00Z' }).expect(202);
    const finished = await waitFinished(a.tenantId, created.body.id);
    const file = path.join(exportDir, exportKey(a.tenantId, created.body.id));
    const before = await stat(file);
    const again = await runAuditExport(
      { repos: t.repos, storage: new LocalDiskExportStorage(exportDir), logger },
      { exportId: created.body.id, tenantId: a.tenantId },
      { final: true },
    );
    assert.deepEqual(again, { eventCount: 1, bytes: finished.bytes });
    assert.equal((await stat(file)).mtimeMs, before.mtimeMs);
  });

  it('export › storage fails mid-write › the export is failed with its error and cannot be downloaded', async () => {
    const a = await makeDirectory(t.app);
    await scimClient(t.app, a.token).post('/Users', entraUser()).expect(201);
    // Written through the repository, not the API, so the suite's worker does not pick it up.
    const created = await t.repos
      .forTenant(a.tenantId as TenantId)
      .exports.create({ from: new Date('2000-01-01T00:00:00Z'), to: new Date('2100-01-01T00:00:00Z') });
    const full: ExportStorage = {
      write: () => {
        const stream = new Writable({ write: (_chunk, _encoding, done) => done(new Error('no space left on device')) });
        return { stream, done: finished(stream).then(() => ({ bytes: 0 })) };
      },
      read: () => assert.fail('nothing to read'),
      exists: async () => false,
    };
    await assert.rejects(runAuditExport({ repos: t.repos, storage: full, logger }, { exportId: created.id, tenantId: a.tenantId }, { final: true }));
    const status = await asAdmin(request(t.app).get(`/admin/v1/tenants/${a.tenantId}/exports/${created.id}`)).expect(200);
    assert.equal(status.body.status, 'failed');
    assert.equal(typeof status.body.error, 'string');
    await asAdmin(request(t.app).get(`/admin/v1/tenants/${a.tenantId}/exports/${created.id}/download`)).expect(409);
  });

  for (const key of ['../outside.ndjson.gz', 'tenant/../../outside.gz', '/etc/passwd', 'tenant//x.gz', '.hidden', 'tenant/./x.gz', 'tenant\\..\\x.gz', '']) {
    it(`local disk storage › key ${JSON.stringify(key)} › refused before touching the file system`, async () => {
      const storage = new LocalDiskExportStorage(exportDir);
      assert.throws(() => storage.write(key), TypeError);
      assert.throws(() => storage.read(key), TypeError);
      await assert.rejects(storage.exists(key), TypeError);
    });
  }

  it('export › a bad range › 400 invalidValue', async () => {
    const a = await makeDirectory(t.app);
    const res = await startExport(a.tenantId, { from: '2024-02-01T00:00:00Z', to: '2024-01-01T00:00:00Z' }).expect(400);
    assert.equal(res.body.scimType, 'invalidValue');
  });
});
