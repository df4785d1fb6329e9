import { UnrecoverableError, Worker, type Job } from 'bullmq';
import { membershipEventData, OUTBOX_COLUMNS } from '../shared/db/repositories/events';
import { ReconcileReportRepository } from '../shared/db/repositories/reconcile-reports';
import type { Database } from '../shared/db/sequelize';
import { UUID_V7 } from '../shared/db/sql';
import { MAX_ROW_RUNS, QUEUES, type GroupReconcileJob } from '../shared/queue/catalog';
import { heartbeat, heartbeatEvery } from '../shared/queue/heartbeat';
import { rateLimitedErrorLog } from '../shared/queue/redis';
import { captureTraceContext, withSpanFrom } from '../shared/telemetry/context';
import type { Logger } from '../shared/telemetry/logger';
import { parseDuration } from '../shared/config';
import type { StartProcessor } from './deps';

/** Members re-emitted per transaction. */
const REEMIT_BATCH = 5000;
/** Groups checked per statement for version drift. */
const GROUP_BATCH = 1000;
/** The number of counter shards the triggers of migration 0002 write to (pg_backend_pid() % 16). */
const COUNTER_SHARDS = 16;
/**
 * Membership times come from PostgreSQL's clock; a group created with members takes its own
 * times from the API's clock. Drift smaller than this is clock skew, not a missed version bump.
 */
const VERSION_SKEW = '1 second';
const NO_ID = '00000000-0000-0000-0000-000000000000';

export interface CounterFix {
  resourceType: 'User' | 'Group';
  /** What the counters said. */
  counted: number;
  /** The rows there are, which the counters now say. */
  actual: number;
}

export interface ReconcileReport {
  /** Counters rewritten to the true count, over every run of this request. */
  counters: CounterFix[];
  /** Groups whose version (ETag) and lastModified were behind their newest membership. */
  groupVersionsBumped: number;
  /** Up to 100 of those groups' ids. */
  bumpedGroupIds: string[];
  /** Per requested group: events re-emitted for this request (cumulative: a rerun adds none). */
  reemitted: { groupId: string; events: number; status: 'pending' | 'done' | 'missing' }[];
}

interface ReconcileDeps {
  readonly db: Database;
  readonly logger: Logger;
  /** How often a running reconciliation touches its report (shared/queue/heartbeat.ts), ms. Default 40,000 (a third of 2 min). */
  readonly heartbeatMs?: number;
}

/**
 * Rewrites one (directory, resource type)'s counter shards to the true row count, in one
 * transaction. All 16 shard rows exist and are locked first, so a concurrent write's trigger
 * waits for this commit and then adds its own change on top of the corrected total. The sums of
 * `inserted` and `deleted` only ever grow (migration 0002 relies on it), so the difference is
 * added to whichever of them moves the total to the truth, and the total kept in shard 0.
 */
async function fixCounter(db: Database, directoryId: string, resourceType: 'User' | 'Group'): Promise<CounterFix | undefined> {
  const table = resourceType === 'User' ? 'scim_users' : 'scim_groups';
  return db.transaction(async (t) => {
    await db.exec(
      `INSERT INTO resource_counters (directory_id, resource_type, shard)
       SELECT $1, $2, s FROM generate_series(0, ${COUNTER_SHARDS - 1}) AS s ON CONFLICT DO NOTHING`,
      [directoryId, resourceType],
      t,
    );
    const shards = await db.query<{ inserted: string; deleted: string }>(
      `SELECT inserted, deleted FROM resource_counters WHERE directory_id = $1 AND resource_type = $2 ORDER BY shard FOR UPDATE`,
      [directoryId, resourceType],
      t,
    );
    const inserted = shards.reduce((n, s) => n + BigInt(s.inserted), 0n);
    const deleted = shards.reduce((n, s) => n + BigInt(s.deleted), 0n);
    // Counted after the locks: every write that changed a counter before has committed.
    const [{ actual }] = await db.query<{ actual: string }>(`SELECT count(*) AS actual FROM ${table} WHERE directory_id = $1`, [directoryId], t);
    const drift = BigInt(actual) - (inserted - deleted);
    if (drift === 0n) return undefined;
    await db.exec(
      `UPDATE resource_counters SET inserted = CASE WHEN shard = 0 THEN $3::bigint ELSE 0 END, deleted = CASE WHEN shard = 0 THEN $4::bigint ELSE 0 END
        WHERE directory_id = $1 AND resource_type = $2`,
      [directoryId, resourceType, String(drift > 0n ? inserted + drift : inserted), String(drift < 0n ? deleted - drift : deleted)],
      t,
    );
    return { resourceType, counted: Number(inserted - deleted), actual: Number(actual) };
  });
}

/**
 * Every membership change bumps its group's version and lastModified (the ETag Entra and others
 * compare). A group whose newest membership is later than its lastModified missed that bump
 * (a manual repair, an old bug); it gets one now, so clients holding its ETag refetch it.
 */
async function bumpStaleGroupVersions(db: Database, directoryId: string): Promise<string[]> {
  const bumped: string[] = [];
  let after = NO_ID;
  for (;;) {
    const [row] = await db.query<{ last: string | null; bumped: string[] | null }>(
      `WITH batch AS (SELECT id FROM scim_groups WHERE directory_id = $1 AND id > $2 ORDER BY id LIMIT $3),
            newest AS (
              SELECT gm.group_id, date_trunc('milliseconds', max(gm.created_at)) AS at
                FROM batch JOIN group_members gm ON gm.directory_id = $1 AND gm.group_id = batch.id
               GROUP BY gm.group_id),
            bumped AS (
              UPDATE scim_groups g SET version = g.version + 1, updated_at = newest.at
                FROM newest
               WHERE g.directory_id = $1 AND g.id = newest.group_id AND newest.at > g.updated_at + interval '${VERSION_SKEW}'
              RETURNING g.id)
       SELECT (SELECT id FROM batch ORDER BY id DESC LIMIT 1) AS last, (SELECT array_agg(id) FROM bumped) AS bumped`,
      [directoryId, after, GROUP_BATCH],
    );
    bumped.push(...(row.bumped ?? []));
    if (!row.last) return bumped;
    after = row.last;
  }
}

/**
 * Re-emits group.user_added for every current member of one group, once per request: each
 * batch's events and the advanced marker commit together, and the marker row is locked for the
 * batch, so two runs of the same job (a stalled job picked up again while the first still runs)
 * take turns and the second finds the work done. Event data is built by the same SQL as the
 * live events (membershipEventData), so consumers cannot tell them apart except by actor.
 */
async function reemitGroup(db: Database, scope: { tenantId: string; directoryId: string }, reportId: string, groupId: string): Promise<void> {
  await db.exec(`INSERT INTO reconcile_reemits (report_id, group_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, [reportId, groupId]);
  for (;;) {
    const more = await db.transaction(async (t) => {
      const [marker] = await db.query<{ last_user_id: string | null; status: string }>(
        `SELECT last_user_id, status FROM reconcile_reemits WHERE report_id = $1 AND group_id = $2 FOR UPDATE`,
        [reportId, groupId],
        t,
      );
      if (marker.status !== 'pending') return false;
      const [batch] = await db.query<{ found: boolean; emitted: number; taken: number; last: string | null }>(
        `WITH g AS (SELECT id, display_name FROM scim_groups WHERE directory_id = $1 AND id = $2),
              batch AS (
                SELECT gm.user_id FROM group_members gm
                 WHERE gm.directory_id = $1 AND gm.group_id = $2 AND gm.user_id > $4
                 ORDER BY gm.user_id LIMIT $5),
              ev AS (
                INSERT INTO events (${OUTBOX_COLUMNS})
                SELECT ${UUID_V7}, $3, $1, 'group.user_added', 'Group', g.id, $6, ${membershipEventData('g.id', 'g.display_name')}, $7::jsonb
                  FROM batch JOIN scim_users u ON u.directory_id = $1 AND u.id = batch.user_id, g
                 ORDER BY u.id
                RETURNING 1)
         SELECT EXISTS (SELECT 1 FROM g) AS found,
                (SELECT count(*)::int FROM ev) AS emitted,
                (SELECT count(*)::int FROM batch) AS taken,
                (SELECT user_id FROM batch ORDER BY user_id DESC LIMIT 1) AS last`,
        [scope.directoryId, groupId, scope.tenantId, marker.last_user_id ?? NO_ID, REEMIT_BATCH, `reconcile:${reportId}`, captureTraceContext() ?? null],
        t,
      );
      const status = !batch.found ? 'missing' : batch.taken < REEMIT_BATCH ? 'done' : 'pending';
      await db.exec(
        `UPDATE reconcile_reemits SET last_user_id = coalesce($3, last_user_id), emitted = emitted + $4, status = $5
          WHERE report_id = $1 AND group_id = $2`,
        [reportId, groupId, batch.last, batch.emitted, status],
        t,
      );
      return status === 'pending';
    });
    if (!more) return;
  }
}

/**
 * One reconciliation of a directory, identified by `reportId` (the job id). Safe to run any
 * number of times: counters and versions are only changed when they are wrong, re-emits resume
 * from their marker, and the report accumulates what every run changed.
 */
export async function runGroupReconcile(deps: ReconcileDeps, reportId: string, job: GroupReconcileJob): Promise<ReconcileReport | undefined> {
  const { db } = deps;
  const [directory] = await db.query<{ tenant_id: string }>('SELECT tenant_id FROM directories WHERE id = $1', [job.directoryId]);
  if (!directory || directory.tenant_id !== job.tenantId) {
    deps.logger.warn({ 'directory.id': job.directoryId }, 'reconcile: directory not found; nothing to do');
    return undefined;
  }
  const reports = new ReconcileReportRepository(db);
  const current = await reports.start<ReconcileReport>(job, reportId, job.reemitGroupIds ?? []);
  if (!current) throw new Error(`reconcile report ${reportId} belongs to another directory`);
  if (current.runs > MAX_ROW_RUNS) throw new UnrecoverableError(`reconcile report ${reportId} started ${MAX_ROW_RUNS} times without finishing`);
  const { previous } = current;
  const stopHeartbeat = heartbeat(() => reports.touch(job.directoryId, reportId), deps.heartbeatMs ?? 40_000);
  try {
    return await reconcile(deps, reportId, job, current.reemitGroupIds, previous);
  } finally {
    stopHeartbeat();
  }
}

/** The work of one run of runGroupReconcile, its report marked running. */
async function reconcile(
  deps: ReconcileDeps,
  reportId: string,
  job: GroupReconcileJob,
  reemitGroupIds: readonly string[],
  previous: ReconcileReport | null,
): Promise<ReconcileReport> {
  const { db } = deps;
  const reports = new ReconcileReportRepository(db);

  const counters: CounterFix[] = [];
  for (const type of ['User', 'Group'] as const) {
    const fixed = await fixCounter(db, job.directoryId, type);
    if (fixed) counters.push(fixed);
  }
  const bumped = await bumpStaleGroupVersions(db, job.directoryId);
  for (const groupId of reemitGroupIds) await reemitGroup(db, { tenantId: job.tenantId, directoryId: job.directoryId }, reportId, groupId);

  const reemitted = await db.query<{ groupId: string; events: number; status: 'pending' | 'done' | 'missing' }>(
    `SELECT group_id AS "groupId", emitted::int AS events, status FROM reconcile_reemits WHERE report_id = $1 ORDER BY array_position($2::uuid[], group_id)`,
    [reportId, reemitGroupIds],
  );
  const report: ReconcileReport = {
    counters: [...(previous?.counters ?? []), ...counters],
    groupVersionsBumped: (previous?.groupVersionsBumped ?? 0) + bumped.length,
    bumpedGroupIds: [...(previous?.bumpedGroupIds ?? []), ...bumped].slice(0, 100),
    reemitted,
  };
  await reports.finish(job.directoryId, reportId, report);
  deps.logger.info(
    {
      'directory.id': job.directoryId,
      countersFixed: counters.length,
      groupVersionsBumped: bumped.length,
      reemitted: reemitted.reduce((n, r) => n + r.events, 0),
    },
    'directory reconciled',
  );
  return report;
}

/** The group-reconcile queue's processor. */
export const startGroupReconcile: StartProcessor = (deps) => {
  const heartbeatMs = heartbeatEvery(parseDuration(deps.config.JOB_OVERDUE_AFTER));
  const worker = new Worker<GroupReconcileJob>(
    QUEUES.groupReconcile,
    (job: Job<GroupReconcileJob>) => {
      const logger = deps.logger.child({ 'job.id': job.id, 'directory.id': job.data.directoryId });
      // Continues the trace of the admin request that asked for the reconciliation.
      // Jobs queued before the payload carried the report id have it as their job id only.
      const reportId = job.data.reportId ?? job.id!;
      return withSpanFrom(job.data.trace, 'group-reconcile', { 'tenant.id': job.data.tenantId, 'directory.id': job.data.directoryId }, async () => {
        try {
          return await runGroupReconcile({ db: deps.db, logger, heartbeatMs }, reportId, job.data);
        } catch (err) {
          const final = err instanceof UnrecoverableError || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
          await new ReconcileReportRepository(deps.db).fail(
            job.data.directoryId,
            reportId,
            final ? 'failed' : 'queued',
            (err as Error).message || 'reconcile failed',
          );
          throw err;
        }
      });
    },
    { connection: deps.redis(), prefix: deps.queuePrefix, concurrency: 1 },
  );
  worker.on('error', rateLimitedErrorLog(deps.logger.child({ queue: QUEUES.groupReconcile }), 'group reconcile worker error'));
  let closing: Promise<void> | undefined;
  return { name: QUEUES.groupReconcile, close: () => (closing ??= worker.close()) };
};
