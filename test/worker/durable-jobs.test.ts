import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { gunzipSync } from 'node:zlib';
import type { Redis } from 'ioredis';
import request from 'supertest';
import type { TenantId } from '../../shared/ids';
import { config } from '../../shared/config';
import { repositoriesFor } from '../../shared/db/repositories';
import { createDatabase } from '../../shared/db/sequelize';
import { LocalDiskExportStorage, type ExportStorage } from '../../shared/exports';
import { JOBS, KEEP_COMPLETED_SECONDS, MAX_ROW_RUNS, QUEUES } from '../../shared/queue/catalog';
import { createQueue } from '../../shared/queue/queues';
import { createRedis } from '../../shared/queue/redis';
import { logger } from '../../shared/telemetry/logger';
import { watchOverdue } from '../../shared/queue/metrics';
import { METRICS, registry } from '../../shared/telemetry/metrics';
import { runAuditExport, startAuditExport } from '../../workers/audit-export';
import type { StartProcessor } from '../../workers/deps';
import { startGroupReconcile } from '../../workers/group-reconcile';
import { JobSweeper } from '../../workers/job-sweeper';
import { startWorker } from '../../workers/main';
import { makeTestApp, type TestApp } from '../support/app';
import { binaryBody } from '../support/connections';
import { asAdmin, entraUser, GROUP_SCHEMA, makeDirectory, scimClient, type TestDirectory } from '../support/factories';
import { startPrivateRedis, type PrivateRedis } from '../support/redis';
import { eventually } from '../support/eventually';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * This file's grace period, and how far its tests age their own rows past it. The age stays
 * under the durable-deliveries file's one-hour grace, whose sweepers may run at the same time:
 * they never take these rows, and this file's sweepers sweep exports and reconciliations only.
 */
const OVERDUE_AFTER_MS = 10 * 60_000;
const ageExports = (t: TestApp, ids: readonly string[]) =>
  t.db.acrossTenants().exec(`UPDATE audit_exports SET updated_at = now() - interval '30 minutes' WHERE id = ANY ($1::uuid[])`, [ids]);
const ageReports = (t: TestApp, ids: readonly string[]) =>
  t.db.acrossTenants().exec(`UPDATE reconcile_reports SET updated_at = now() - interval '30 minutes' WHERE id = ANY ($1::uuid[])`, [ids]);

function sample(text: string, name: string, labels: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
}

describe('durable exports and reconciliations › PostgreSQL rows outlive Redis losing their jobs', () => {
  let redis: PrivateRedis;
  let exportDir: string;
  let t: TestApp;
  const exportsOf = (dir: TestDirectory) => t.repos.forTenant(dir.tenantId as TenantId).exports;
  let appRedis: Redis;
  let queues: {
    auditExport: ReturnType<typeof createQueue<typeof QUEUES.auditExport>>;
    groupReconcile: ReturnType<typeof createQueue<typeof QUEUES.groupReconcile>>;
  };
  let cleanups: (() => Promise<unknown>)[] = [];
  const prefix = `test-durable-jobs-${process.pid}-${Date.now().toString(36)}`;

  before(async () => {
    redis = await startPrivateRedis();
    exportDir = await mkdtemp(path.join(os.tmpdir(), 'scim-durable-jobs-'));
    appRedis = createRedis(redis.url);
    queues = {
      auditExport: createQueue(QUEUES.auditExport, { connection: appRedis, prefix }),
      groupReconcile: createQueue(QUEUES.groupReconcile, { connection: appRedis, prefix }),
    };
    t = makeTestApp({ queues, exportStorage: new LocalDiskExportStorage(exportDir) });
  });
  afterEach(async () => {
    for (const clean of cleanups.reverse()) await clean();
    cleanups = [];
  });
  after(async () => {
    await Promise.all(Object.values(queues).map((q) => q.close()));
    appRedis.disconnect();
    await t.close();
    await redis.close();
    await rm(exportDir, { recursive: true, force: true });
  });

  /** The workers' sweeper as startJobSweeper builds it, but with this file's grace and on exports and reconciliations only. */
  const startSweeper: StartProcessor = (deps) => {
    const connection = deps.redis();
    const own = {
      auditExport: createQueue(QUEUES.auditExport, { connection, prefix: deps.queuePrefix }),
      groupReconcile: createQueue(QUEUES.groupReconcile, { connection, prefix: deps.queuePrefix }),
    };
    const sweeper = new JobSweeper({
      operator: deps.repos.operator,
      queues: own,
      connection,
      logger: deps.logger,
      overdueAfterMs: OVERDUE_AFTER_MS,
      intervalMs: 200,
    }).start();
    return {
      name: 'test-job-sweeper',
      close: async () => {
        await sweeper.close();
        await Promise.all(Object.values(own).map((q) => q.close()));
      },
    };
  };

  /** The export and reconcile processors with the sweeper, in-process, on the private Redis. */
  async function startWorkers() {
    const connections: Redis[] = [];
    const worker = await startWorker(
      {
        db: t.db,
        queuePrefix: prefix,
        config: { ...config, EXPORT_DIR: exportDir },
        redis: () => {
          const c = createRedis(redis.url);
          connections.push(c);
          return c;
        },
      },
      [startAuditExport, startGroupReconcile, startSweeper],
    );
    cleanups.push(async () => {
      await worker.close();
      for (const c of connections) c.disconnect();
    });
  }

  /** Redis dies and comes back empty (no persistence), and the API's connection is back. */
  async function restartRedisEmpty() {
    await redis.stop();
    await redis.start();
    await eventually('the API queue connection back', async () => ((await queues.auditExport.getWaitingCount()) === 0 ? true : undefined));
  }

  const range = { from: '2020-01-01T00:00:00Z', to: '2100-01-01T00:00:00Z' };
  const startExport = (dir: TestDirectory) => asAdmin(request(t.app).post(`/admin/v1/tenants/${dir.tenantId}/exports`)).send(range);
  const startReconcile = (dir: TestDirectory, reemitGroupIds: string[] = []) =>
    asAdmin(request(t.app).post(`/admin/v1/directories/${dir.directoryId}/reconcile`)).send({ reemitGroupIds });

  const exportStatus = async (dir: TestDirectory, id: string) =>
    (await asAdmin(request(t.app).get(`/admin/v1/tenants/${dir.tenantId}/exports/${id}`)).expect(200)).body as { status: string; eventCount: number | null };
  const reportStatus = async (dir: TestDirectory, id: string) =>
    (await asAdmin(request(t.app).get(`/admin/v1/directories/${dir.directoryId}/reconcile/${id}`)).expect(200)).body as {
      status: string;
      runs: number;
      report: { reemitted: { events: number }[] } | null;
    };

  const exportDone = (dir: TestDirectory, id: string) =>
    eventually(`export ${id} done`, async () => {
      const s = await exportStatus(dir, id);
      assert.notEqual(s.status, 'failed');
      return s.status === 'done' ? s : undefined;
    });
  const reportDone = (dir: TestDirectory, id: string) =>
    eventually(`reconciliation ${id} done`, async () => {
      const s = await reportStatus(dir, id);
      assert.notEqual(s.status, 'failed');
      return s.status === 'done' ? s : undefined;
    });

  /** The export's file, unzipped: one NDJSON line per event. */
  async function downloadLines(dir: TestDirectory, id: string): Promise<string[]> {
    const res = await asAdmin(request(t.app).get(`/admin/v1/tenants/${dir.tenantId}/exports/${id}/download`))
      .buffer(true)
      .parse(binaryBody)
      .expect(200);
    return gunzipSync(res.body as Buffer)
      .toString('utf8')
      .split('\n')
      .filter(Boolean);
  }

  const jobsOverdue = async (queue: string) => sample(await registry.metrics(), METRICS.jobsOverdue, `queue="${queue}"`);

  it('catalogue › the export and reconcile routes enqueue through it › job name, row id as job id, attempts, backoff and retention of the queue', async () => {
    const dir = await makeDirectory(t.app);
    const exp = await startExport(dir).expect(202);
    const rec = await startReconcile(dir).expect(202);
    for (const [queue, spec, id] of [
      [queues.auditExport, JOBS.auditExport, exp.body.id],
      [queues.groupReconcile, JOBS.groupReconcile, rec.body.id],
    ] as const) {
      const job = await queue.getJob(id);
      assert.equal(job?.name, spec.name);
      assert.equal(job?.id, id);
      assert.equal(job?.opts.attempts, spec.options.attempts);
      assert.deepEqual(job?.opts.backoff, spec.options.backoff);
      assert.deepEqual(job?.opts.removeOnComplete, { age: KEEP_COMPLETED_SECONDS, count: 100_000 });
    }
    assert.equal((await queues.groupReconcile.getJob(rec.body.id))?.data.reportId, rec.body.id);
    await queues.auditExport.obliterate({ force: true });
    await queues.groupReconcile.obliterate({ force: true });
  });

  it('export requested, Redis restarted empty before a worker took it › the overdue metric shows it, the sweeper re-drives it, the file downloads', async () => {
    const dir = await makeDirectory(t.app);
    await scimClient(t.app, dir.token).post('/Users', entraUser()).expect(201);
    const created = await startExport(dir).expect(202);
    assert.ok(await queues.auditExport.getJob(created.body.id), 'queued in Redis first');

    await restartRedisEmpty();
    assert.equal(await queues.auditExport.getJob(created.body.id), undefined, 'the job is gone');
    await ageExports(t, [created.body.id]);
    const unwatch = watchOverdue({ jobs: [[QUEUES.auditExport, t.repos.operator.sweeps.auditExports]], overdueAfterMs: OVERDUE_AFTER_MS });
    cleanups.push(async () => unwatch());
    assert.equal(await jobsOverdue(QUEUES.auditExport), 1, 'the stranded export is seen');

    await startWorkers();
    const done = await exportDone(dir, created.body.id);
    assert.ok((done.eventCount ?? 0) >= 1);
    assert.equal((await downloadLines(dir, created.body.id)).length, done.eventCount);
    assert.equal(await jobsOverdue(QUEUES.auditExport), 0, 'nothing stranded any more');
  });

  it('reconciliation requested, Redis restarted empty before a worker took it › re-driven, the members re-emitted once', async () => {
    const dir = await makeDirectory(t.app);
    const scim = scimClient(t.app, dir.token);
    const user = await scim.post('/Users', entraUser()).expect(201);
    const group = await scim.post('/Groups', { schemas: [GROUP_SCHEMA], displayName: 'Stranded', members: [{ value: user.body.id }] }).expect(201);
    const created = await startReconcile(dir, [group.body.id]).expect(202);

    await restartRedisEmpty();
    assert.equal(await queues.groupReconcile.getJob(created.body.id), undefined, 'the job is gone');
    await ageReports(t, [created.body.id]);

    await startWorkers();
    const done = await reportDone(dir, created.body.id);
    assert.equal(done.runs, 1);
    assert.deepEqual(
      done.report?.reemitted.map((r) => r.events),
      [1],
    );
    const [{ n }] = await t.db.acrossTenants().query<{ n: number }>(`SELECT count(*)::int AS n FROM events WHERE actor = $1`, [`reconcile:${created.body.id}`]);
    assert.equal(n, 1, 'one re-emitted event');
  });

  it('export running when its job vanished (worker and Redis lost) › re-driven and completes, the file rewritten whole', async () => {
    const dir = await makeDirectory(t.app);
    await scimClient(t.app, dir.token).post('/Users', entraUser()).expect(201);
    const created = await startExport(dir).expect(202);
    // A worker had started it when both it and Redis went away.
    await exportsOf(dir).markRunning(created.body.id);
    await restartRedisEmpty();
    await ageExports(t, [created.body.id]);
    assert.equal((await exportStatus(dir, created.body.id)).status, 'running');

    await startWorkers();
    const done = await exportDone(dir, created.body.id);
    assert.equal((await downloadLines(dir, created.body.id)).length, done.eventCount);
  });

  it('export running longer than the grace period (slow storage) › its heartbeat keeps the row fresh, so it is not counted or swept as overdue', async () => {
    const dir = await makeDirectory(t.app);
    const created = await exportsOf(dir).create({
      from: new Date('2024-01-01T00:00:00Z'),
      to: new Date('2024-01-02T00:00:00Z'),
    });
    // Storage that takes 1.5 s to make the file durable.
    const slow: ExportStorage = {
      write: () => {
        const stream = new Writable({ write: (_chunk, _encoding, done) => done(), final: (done) => void setTimeout(done, 1500) });
        return { stream, done: finished(stream).then(() => ({ bytes: 0 })) };
      },
      read: () => assert.fail('nothing to read'),
      exists: async () => false,
    };
    const run = runAuditExport({ repos: t.repos, storage: slow, logger, heartbeatMs: 100 }, { exportId: created.id, tenantId: dir.tenantId }, { final: true });
    await eventually('the export running', async () => ((await exportStatus(dir, created.id)).status === 'running' ? true : undefined));
    // As if the run had gone on past the grace period since it started.
    await ageExports(t, [created.id]);
    await sleep(400);
    const [{ fresh }] = await t.db
      .acrossTenants()
      .query<{ fresh: boolean }>(`SELECT updated_at > now() - interval '5 seconds' AS fresh FROM audit_exports WHERE id = $1`, [created.id]);
    assert.equal(fresh, true, 'touched while running');
    await run;
    assert.equal((await exportStatus(dir, created.id)).status, 'done');
  });

  it('export running whose job is still active (a slow worker) › the sweeper leaves it: no second job', async () => {
    const dir = await makeDirectory(t.app);
    const created = await startExport(dir).expect(202);
    await exportsOf(dir).markRunning(created.body.id);
    // Taken by a worker that holds it: active, with a lock.
    const connection = createRedis(redis.url);
    const { Worker } = await import('bullmq');
    const holder = new Worker(QUEUES.auditExport, () => new Promise(() => undefined), { connection, prefix, autorun: false });
    cleanups.push(async () => {
      await holder.close(true);
      connection.disconnect();
    });
    const job = await holder.getNextJob('holder-token');
    assert.equal(job?.id, created.body.id);
    await ageExports(t, [created.body.id]);

    const own = createRedis(redis.url);
    const q = createQueue(QUEUES.auditExport, { connection: own, prefix });
    cleanups.push(async () => {
      await q.close();
      own.disconnect();
    });
    const sweeper = new JobSweeper({
      operator: t.repos.operator,
      queues: { auditExport: q },
      connection: own,
      logger,
      overdueAfterMs: OVERDUE_AFTER_MS,
      intervalMs: 1000,
    });
    await own.ping();
    const pass = await sweeper.sweepOnce();
    assert.deepEqual(pass[QUEUES.auditExport], { overdue: 1, added: 0, promoted: 0, queued: 1 });
    assert.equal(await q.getJobState(created.body.id), 'active');
  });

  it('export and reconciliation that already started MAX_ROW_RUNS runs (each killed its worker) › the next run fails them for good, no retry, the sweeper leaves them', async () => {
    const dir = await makeDirectory(t.app);
    const exp = await startExport(dir).expect(202);
    const rec = await startReconcile(dir).expect(202);
    await t.db.acrossTenants().exec(`UPDATE audit_exports SET runs = $2 WHERE id = $1`, [exp.body.id, MAX_ROW_RUNS]);
    await t.db.acrossTenants().exec(`UPDATE reconcile_reports SET runs = $2 WHERE id = $1`, [rec.body.id, MAX_ROW_RUNS]);

    await startWorkers();
    await eventually('both failed', async () =>
      (await exportStatus(dir, exp.body.id)).status === 'failed' && (await reportStatus(dir, rec.body.id)).status === 'failed' ? true : undefined,
    );
    for (const queue of [queues.auditExport, queues.groupReconcile]) {
      const job = await queue.getJob(queue === queues.auditExport ? exp.body.id : rec.body.id);
      assert.equal(await job?.getState(), 'failed');
      assert.equal(job?.attemptsMade, 1, 'UnrecoverableError: not retried');
    }
    await ageExports(t, [exp.body.id]);
    await ageReports(t, [rec.body.id]);
    await sleep(500);
    assert.equal((await exportStatus(dir, exp.body.id)).status, 'failed', 'a failed row is not re-driven');
  });

  it('two sweepers at once › each overdue export and reconciliation enqueued once, a second pass finds nothing, fresh rows untouched', async () => {
    const dir = await makeDirectory(t.app);
    const other = await makeDirectory(t.app);
    const day = { from: new Date('2024-01-01T00:00:00Z'), to: new Date('2024-01-02T00:00:00Z') };
    const stranded = await Promise.all(Array.from({ length: 12 }, () => exportsOf(dir).create(day)));
    const reportIds: string[] = [];
    for (let i = 0; i < 7; i++) reportIds.push((await startReconcile(dir).expect(202)).body.id);
    const fresh = await exportsOf(other).create(day);
    await restartRedisEmpty();
    await ageExports(
      t,
      stranded.map((e) => e.id),
    );
    await ageReports(t, reportIds);
    const freshBefore = await t.db.acrossTenants().query('SELECT updated_at, status FROM audit_exports WHERE id = $1', [fresh.id]);

    const own = createRedis(redis.url);
    await own.ping();
    cleanups.push(async () => own.disconnect());
    const sweepers = [0, 1].map(() => {
      const db = createDatabase({ poolMax: 2 });
      const c = createRedis(redis.url);
      const q = {
        auditExport: createQueue(QUEUES.auditExport, { connection: c, prefix }),
        groupReconcile: createQueue(QUEUES.groupReconcile, { connection: c, prefix }),
      };
      cleanups.push(async () => {
        await Promise.all(Object.values(q).map((x) => x.close()));
        c.disconnect();
        await db.close();
      });
      return {
        sweeper: new JobSweeper({
          operator: repositoriesFor(db, config).operator,
          queues: q,
          connection: c,
          logger,
          overdueAfterMs: OVERDUE_AFTER_MS,
          intervalMs: 1000,
          batchSize: 3,
        }),
        c,
      };
    });
    await Promise.all(sweepers.map((s) => s.c.ping()));
    const passes = await Promise.all(sweepers.map((s) => s.sweeper.sweepOnce()));

    const sum = (queue: string, key: 'overdue' | 'added') => passes.reduce((n, p) => n + (p[queue as keyof typeof p]?.[key] ?? 0), 0);
    assert.equal(sum(QUEUES.auditExport, 'overdue'), 12, JSON.stringify(passes));
    assert.equal(sum(QUEUES.auditExport, 'added'), 12);
    assert.equal(sum(QUEUES.groupReconcile, 'overdue'), 7);
    assert.equal(sum(QUEUES.groupReconcile, 'added'), 7);
    const exportJobs = await queues.auditExport.getJobs(['waiting'], 0, -1);
    assert.deepEqual(exportJobs.map((j) => j.id).sort(), stranded.map((e) => e.id).sort());
    for (const job of exportJobs) assert.equal(job.data.tenantId, dir.tenantId);
    const reconcileJobs = await queues.groupReconcile.getJobs(['waiting'], 0, -1);
    assert.deepEqual(reconcileJobs.map((j) => j.id).sort(), [...reportIds].sort());
    for (const job of reconcileJobs) assert.deepEqual([job.data.reportId, job.data.directoryId], [job.id, dir.directoryId]);
    // BullMQ logs every add: a row enqueued twice would show as "duplicated".
    for (const queue of [QUEUES.auditExport, QUEUES.groupReconcile]) {
      const stream = await own.xrange(`${prefix}:${queue}:events`, '-', '+');
      assert.equal(stream.filter(([, f]) => f[1] === 'duplicated').length, 0, `${queue}: no duplicate adds`);
    }

    const again = await Promise.all(sweepers.map((s) => s.sweeper.sweepOnce()));
    for (const p of again) assert.deepEqual([p[QUEUES.auditExport]?.overdue, p[QUEUES.groupReconcile]?.overdue], [0, 0]);
    assert.deepEqual(
      await t.db.acrossTenants().query('SELECT updated_at, status FROM audit_exports WHERE id = $1', [fresh.id]),
      freshBefore,
      "the other tenant's fresh export is untouched",
    );
    await queues.auditExport.obliterate({ force: true });
    await queues.groupReconcile.obliterate({ force: true });
  });

  it('sweeper › Redis down › its claims are given back: the rows stay overdue, as they were, for the next pass', async () => {
    const dir = await makeDirectory(t.app);
    const created = await exportsOf(dir).create({
      from: new Date('2024-01-01T00:00:00Z'),
      to: new Date('2024-01-02T00:00:00Z'),
    });
    await ageExports(t, [created.id]);
    const before = await t.db.acrossTenants().query('SELECT updated_at FROM audit_exports WHERE id = $1', [created.id]);
    const own = createRedis(redis.url);
    const q = createQueue(QUEUES.auditExport, { connection: own, prefix });
    await q.waitUntilReady();
    cleanups.push(async () => {
      await q.close();
      own.disconnect();
    });
    const sweeper = new JobSweeper({
      operator: t.repos.operator,
      queues: { auditExport: q },
      connection: own,
      logger,
      overdueAfterMs: OVERDUE_AFTER_MS,
      intervalMs: 1000,
      redisTimeoutMs: 500,
    });

    await redis.stop();
    try {
      await assert.rejects(sweeper.sweepOnce());
      assert.deepEqual(await t.db.acrossTenants().query('SELECT updated_at FROM audit_exports WHERE id = $1', [created.id]), before, 'due as before the claim');
    } finally {
      await redis.start();
    }
    await eventually('the sweeper connection back', async () => (own.status === 'ready' ? true : undefined));
    const pass = await sweeper.sweepOnce();
    assert.equal(pass[QUEUES.auditExport]?.added, 1);
    await q.obliterate({ force: true });
  });

  it('POST export and reconcile with Redis down › 202 queued within the bound, both complete once Redis is back', async () => {
    const dir = await makeDirectory(t.app);
    await scimClient(t.app, dir.token).post('/Users', entraUser()).expect(201);
    await redis.stop();
    let exportId: string;
    let reportId: string;
    try {
      // Each answers once the enqueue bound (5 s) has passed, not when Redis returns.
      let started = Date.now();
      const exp = await startExport(dir).expect(202);
      assert.ok(Date.now() - started < 7000, `export answered in ${Date.now() - started} ms`);
      assert.equal(exp.body.status, 'queued');
      started = Date.now();
      const rec = await startReconcile(dir).expect(202);
      assert.ok(Date.now() - started < 7000, `reconcile answered in ${Date.now() - started} ms`);
      assert.equal(rec.body.status, 'queued');
      exportId = exp.body.id;
      reportId = rec.body.id;
      assert.equal((await exportStatus(dir, exportId)).status, 'queued');
      assert.equal((await reportStatus(dir, reportId)).status, 'queued');
    } finally {
      await redis.start();
    }
    // Whatever the API's abandoned adds did, the rows are the truth: once overdue, the sweeper re-drives them.
    await ageExports(t, [exportId]);
    await ageReports(t, [reportId]);
    await startWorkers();
    await exportDone(dir, exportId);
    assert.ok((await downloadLines(dir, exportId)).length >= 1);
    assert.equal((await reportDone(dir, reportId)).runs, 1);
  });
});
