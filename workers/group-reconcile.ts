import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { ReconcileRepository, ReemitStatus } from '../shared/db/repositories/reconcile';
import type { Repositories } from '../shared/db/repositories';
import type { DirectoryId, TenantId } from '../shared/ids';
import type { DirectoryReconcileReports } from '../shared/db/repositories/reconcile-reports';
import { MAX_ROW_RUNS, QUEUES, type GroupReconcileJob } from '../shared/queue/catalog';
import { heartbeat, heartbeatEvery } from '../shared/queue/heartbeat';
import { rateLimitedErrorLog } from '../shared/queue/redis';
import { captureTraceContext, withSpanFrom } from '../shared/telemetry/context';
import type { Logger } from '../shared/telemetry/logger';
import { parseDuration } from '../shared/config-formats';
import type { StartProcessor } from './deps';

/** Members re-emitted per transaction. */
const REEMIT_BATCH = 5000;
/** Groups checked per statement for version drift. */
const GROUP_BATCH = 1000;
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
  reemitted: { groupId: string; events: number; status: ReemitStatus }[];
}

interface ReconcileDeps {
  readonly repos: Repositories;
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
async function fixCounter(repo: ReconcileRepository, resourceType: 'User' | 'Group'): Promise<CounterFix | undefined> {
  return repo.transaction(async (t) => {
    const shards = await repo.lockCounterShards(resourceType, t);
    const inserted = shards.reduce((n, s) => n + BigInt(s.inserted), 0n);
    const deleted = shards.reduce((n, s) => n + BigInt(s.deleted), 0n);
    // Counted after the locks: every write that changed a counter before has committed.
    const actual = await repo.countRows(resourceType, t);
    const drift = actual - (inserted - deleted);
    if (drift === 0n) return undefined;
    await repo.rewriteCounters(resourceType, { inserted: drift > 0n ? inserted + drift : inserted, deleted: drift < 0n ? deleted - drift : deleted }, t);
    return { resourceType, counted: Number(inserted - deleted), actual: Number(actual) };
  });
}

/**
 * Every membership change bumps its group's version and lastModified (the ETag Entra and others
 * compare). A group whose newest membership is later than its lastModified missed that bump
 * (a manual repair, an old bug); it gets one now, so clients holding its ETag refetch it.
 */
async function bumpStaleGroupVersions(repo: ReconcileRepository): Promise<string[]> {
  const bumped: string[] = [];
  let after = NO_ID;
  for (;;) {
    const batch = await repo.bumpStaleGroupVersions(after, GROUP_BATCH, VERSION_SKEW);
    bumped.push(...batch.bumped);
    if (!batch.last) return bumped;
    after = batch.last;
  }
}

/**
 * Re-emits group.user_added for every current member of one group, once per request: each
 * batch's events and the advanced marker commit together, and the marker row is locked for the
 * batch, so two runs of the same job (a stalled job picked up again while the first still runs)
 * take turns and the second finds the work done. Event data is built by the same SQL as the
 * live events (membershipEventData), so consumers cannot tell them apart except by actor.
 */
async function reemitGroup(repo: ReconcileRepository, reportId: string, groupId: string): Promise<void> {
  await repo.startReemit(reportId, groupId);
  for (;;) {
    const more = await repo.transaction(async (t) => {
      const marker = await repo.lockReemit(reportId, groupId, t);
      if (marker.status !== 'pending') return false;
      const batch = await repo.reemitMembers(
        groupId,
        { after: marker.lastUserId ?? NO_ID, limit: REEMIT_BATCH, actor: `reconcile:${reportId}`, trace: captureTraceContext() },
        t,
      );
      const status = !batch.found ? 'missing' : batch.taken < REEMIT_BATCH ? 'done' : 'pending';
      await repo.recordReemit(reportId, groupId, { last: batch.last, emitted: batch.emitted, status }, t);
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
  const directory = await deps.repos.operator.tenants.findDirectory(job.directoryId);
  if (!directory || directory.tenantId !== job.tenantId) {
    deps.logger.warn({ 'directory.id': job.directoryId }, 'reconcile: directory not found; nothing to do');
    return undefined;
  }
  const directoryRepos = deps.repos.forDirectory({ tenantId: directory.tenantId, directoryId: directory.id });
  const reports = directoryRepos.reconcileReports;
  const current = await reports.start<ReconcileReport>(reportId, job.reemitGroupIds ?? []);
  if (!current) throw new Error(`reconcile report ${reportId} belongs to another directory`);
  if (current.runs > MAX_ROW_RUNS) throw new UnrecoverableError(`reconcile report ${reportId} started ${MAX_ROW_RUNS} times without finishing`);
  const { previous } = current;
  const stopHeartbeat = heartbeat(() => reports.touch(reportId), deps.heartbeatMs ?? 40_000);
  try {
    return await reconcile(deps, directoryRepos.reconcile(), reports, reportId, job, current.reemitGroupIds, previous);
  } finally {
    stopHeartbeat();
  }
}

/** The work of one run of runGroupReconcile, its report marked running. */
async function reconcile(
  deps: ReconcileDeps,
  repo: ReconcileRepository,
  reports: DirectoryReconcileReports,
  reportId: string,
  job: GroupReconcileJob,
  reemitGroupIds: readonly string[],
  previous: ReconcileReport | null,
): Promise<ReconcileReport> {
  const counters: CounterFix[] = [];
  for (const type of ['User', 'Group'] as const) {
    const fixed = await fixCounter(repo, type);
    if (fixed) counters.push(fixed);
  }
  const bumped = await bumpStaleGroupVersions(repo);
  for (const groupId of reemitGroupIds) await reemitGroup(repo, reportId, groupId);

  const reemitted = await repo.reemitProgress(reportId, reemitGroupIds);
  const report: ReconcileReport = {
    counters: [...(previous?.counters ?? []), ...counters],
    groupVersionsBumped: (previous?.groupVersionsBumped ?? 0) + bumped.length,
    bumpedGroupIds: [...(previous?.bumpedGroupIds ?? []), ...bumped].slice(0, 100),
    reemitted,
  };
  await reports.finish(reportId, report);
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
          return await runGroupReconcile({ repos: deps.repos, logger, heartbeatMs }, reportId, job.data);
        } catch (err) {
          const final = err instanceof UnrecoverableError || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
          await deps.repos
            .forDirectory({ tenantId: job.data.tenantId as TenantId, directoryId: job.data.directoryId as DirectoryId })
            .reconcileReports.fail(reportId, final ? 'failed' : 'queued', (err as Error).message || 'reconcile failed');
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
