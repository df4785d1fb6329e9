import type { DefaultJobOptions, JobsOptions, Queue } from 'bullmq';
import type { TraceCarrier } from '../telemetry/context';

/**
 * The job contract of every queue, in one place: queue names, payloads, job names, job ids,
 * options, and the helpers that add and re-add jobs. Producers (the outbox relay, the workers'
 * sweeper, webhook replays, the export and reconcile routes) enqueue through this file only.
 *
 * PostgreSQL is the source of truth of every job (a delivery, an export, a reconcile report);
 * a BullMQ job is only a wake-up call for one row, so its id is the row id, whoever enqueues it,
 * and a row never has two jobs at once. In a processor a thrown error is a retry; BullMQ's
 * `UnrecoverableError` stops the job for good. A job Redis loses is enqueued again by the
 * workers' sweeper (workers/job-sweeper.ts) from the row.
 */

/** The closed catalog of BullMQ queue names. Workers and producers import these, never literals. */
export const QUEUES = {
  webhookDelivery: 'webhook-delivery',
  groupReconcile: 'group-reconcile',
  auditExport: 'audit-export',
} as const;

export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];

/**
 * Job payloads: ids and the trace carrier, never rows. Each queue's processor loads what it
 * needs from PostgreSQL, so a job replayed later sees the current state.
 */
export interface WebhookDeliveryJob {
  readonly deliveryId: string;
  readonly tenantId: string;
  readonly trace?: TraceCarrier;
  /**
   * A call the receiver answered while PostgreSQL could not record it: the next run records this
   * instead of calling again. Valid only while the delivery still has `attemptsBefore` attempts.
   */
  readonly unrecorded?: UnrecordedAttempt;
}

/** The outcome of one call to a receiver, as it is logged (dates as ISO strings: job data is JSON). */
export interface UnrecordedAttempt {
  readonly attemptsBefore: number;
  readonly startedAt: string;
  readonly durationMs: number;
  readonly statusCode?: number;
  readonly error?: string;
  readonly responseExcerpt?: string;
  readonly retryAfterMs?: number;
}

export interface AuditExportJob {
  readonly exportId: string;
  readonly tenantId: string;
  readonly trace?: TraceCarrier;
}

export interface GroupReconcileJob {
  /** The reconcile_reports row; re-emit markers are keyed by it. */
  readonly reportId: string;
  readonly tenantId: string;
  readonly directoryId: string;
  /** Re-emit group.user_added for every current member of these groups (a consumer's request). */
  readonly reemitGroupIds?: readonly string[];
  readonly trace?: TraceCarrier;
}

/** The payload each queue carries: ids and the trace carrier, never rows. */
export interface QueueJobData {
  [QUEUES.webhookDelivery]: WebhookDeliveryJob;
  [QUEUES.groupReconcile]: GroupReconcileJob;
  [QUEUES.auditExport]: AuditExportJob;
}

/** Finished jobs are kept this long, so adding the same `jobId` again within it is a no-op. */
export const KEEP_COMPLETED_SECONDS = 24 * 3600;
/** Failed jobs are kept a week, for the dashboard and for diagnosis. */
export const KEEP_FAILED_SECONDS = 7 * 24 * 3600;

/**
 * Every queue's defaults. BullMQ ignores an add whose `jobId` is still stored, which is what
 * makes the relay's re-enqueue after a failed commit idempotent; so completed jobs stay a day.
 * The count caps Redis memory under a burst (de-duplication then holds for the last 100,000
 * completed jobs, if fewer than a day's).
 */
export const DEFAULT_JOB_OPTIONS: DefaultJobOptions = Object.freeze({
  removeOnComplete: { age: KEEP_COMPLETED_SECONDS, count: 100_000 },
  removeOnFail: { age: KEEP_FAILED_SECONDS, count: 100_000 },
});

/** One queue's job: its name, its id (the row it wakes up), and its options but the id. */
export interface JobSpec<T> {
  readonly queue: QueueName;
  readonly name: string;
  readonly idOf: (job: T) => string;
  readonly options: Readonly<Omit<JobsOptions, 'jobId'>>;
}

/** BullMQ job name of a delivery, the same for every producer (relay, replay, sweeper). */
export const DELIVER_JOB = 'deliver';

/**
 * Runs one delivery job may have: receiver retries (the schedule's dozen) plus retries while
 * PostgreSQL is unreachable (capped at 30 s each, so about eight hours of outage). A job that runs
 * out fails with its delivery still pending; the sweeper enqueues it again. The BullMQ counter is
 * not the receiver's retry budget: the worker counts real calls in PostgreSQL.
 */
export const MAX_JOB_RUNS = 1000;

const retention = { removeOnComplete: DEFAULT_JOB_OPTIONS.removeOnComplete, removeOnFail: DEFAULT_JOB_OPTIONS.removeOnFail };

/** Every queue's job, by the queue's key in QUEUES. */
export const JOBS = {
  /** Retried after the delay the delivery worker's `backoffStrategy` picks (type 'custom'). */
  webhookDelivery: {
    queue: QUEUES.webhookDelivery,
    name: DELIVER_JOB,
    idOf: (job: WebhookDeliveryJob) => job.deliveryId,
    options: { attempts: MAX_JOB_RUNS, backoff: { type: 'custom' }, ...retention },
  } satisfies JobSpec<WebhookDeliveryJob>,
  /** Three runs; the last failure marks the export failed. A rerun rewrites the file whole. */
  auditExport: {
    queue: QUEUES.auditExport,
    name: 'export',
    idOf: (job: AuditExportJob) => job.exportId,
    options: { attempts: 3, backoff: { type: 'exponential', delay: 5_000 }, ...retention },
  } satisfies JobSpec<AuditExportJob>,
  /** Three runs; a rerun resumes the re-emits from their markers, keyed by the report id. */
  groupReconcile: {
    queue: QUEUES.groupReconcile,
    name: 'reconcile',
    idOf: (job: GroupReconcileJob) => job.reportId,
    options: { attempts: 3, backoff: { type: 'exponential', delay: 5_000 }, ...retention },
  } satisfies JobSpec<GroupReconcileJob>,
} as const;

/** The options of one job: its spec's, with the row id as job id. */
export function jobOptions<T>(spec: JobSpec<T>, job: T): JobsOptions {
  return { ...spec.options, jobId: spec.idOf(job) };
}

/**
 * Runs one export or reconciliation may start, over all the jobs the sweeper gives it: a row
 * whose run kills its worker every time (out of memory) is failed after this many, with an
 * `UnrecoverableError`, instead of being re-driven forever. Three runs per job is the usual most.
 */
export const MAX_ROW_RUNS = 10;

/** Job states in which a row's job will still run by itself. */
const QUEUED_STATES = new Set(['waiting', 'active', 'delayed', 'prioritized', 'waiting-children']);

/** Jobs per round trip to Redis. */
const CHUNK = 500;

const bulkEntry = <T>(spec: JobSpec<T>, job: T) => ({ name: spec.name, data: job, opts: jobOptions(spec, job) });

/**
 * Adds jobs in chunks (one round trip per chunk). A row whose job still exists in Redis,
 * finished or not, is left as it is: what the relay wants when it adds a batch again after a
 * failed commit, and what a retried request handler wants.
 */
export async function enqueue<T>(queue: Queue<T>, spec: JobSpec<T>, jobs: readonly T[]): Promise<void> {
  for (let i = 0; i < jobs.length; i += CHUNK) {
    // BullMQ's addBulk types its data through conditional types a generic T does not satisfy.
    await (queue as Queue).addBulk(jobs.slice(i, i + CHUNK).map((job) => bulkEntry(spec, job)));
  }
}

/** What requeue did: jobs added (new, or replacing a finished one), promoted, or left queued. */
export interface Requeued {
  added: number;
  promoted: number;
  queued: number;
}

/**
 * Makes sure each row has a job that will run soon: for the sweeper (a row whose job Redis lost
 * or finished) and for replays. A finished job (completed, or failed: a dead letter on the
 * dashboard) is removed and added again, since BullMQ would ignore an add under its id; a delayed
 * one is promoted; a waiting or running one is left alone, so a row never has two jobs. A job
 * held by a worker cannot be removed and counts as queued: if that worker is gone, BullMQ's
 * stalled-job check hands the job to another.
 */
export async function requeue<T>(queue: Queue<T>, spec: JobSpec<T>, jobs: readonly T[]): Promise<Requeued> {
  const result: Requeued = { added: 0, promoted: 0, queued: 0 };
  const q = queue as Queue;
  for (let i = 0; i < jobs.length; i += CHUNK) {
    const chunk = jobs.slice(i, i + CHUNK);
    const ids = chunk.map(spec.idOf);
    const states = await Promise.all(ids.map((id) => q.getJobState(id)));
    const toAdd: T[] = [];
    await Promise.all(
      chunk.map(async (job, k) => {
        const state = states[k];
        if (state === 'delayed') {
          const existing = await q.getJob(ids[k]);
          await existing?.promote().catch(() => undefined);
          result.promoted += 1;
        } else if (QUEUED_STATES.has(state)) {
          result.queued += 1;
        } else if (state === 'unknown' || (await q.remove(ids[k])) === 1) {
          toAdd.push(job);
        } else {
          result.queued += 1;
        }
      }),
    );
    if (toAdd.length > 0) await q.addBulk(toAdd.map((job) => bulkEntry(spec, job)));
    result.added += toAdd.length;
  }
  return result;
}

/** The relay's add of a batch of deliveries (see enqueue). */
export const enqueueDeliveries = (queue: Queue<WebhookDeliveryJob>, jobs: readonly WebhookDeliveryJob[]): Promise<void> =>
  enqueue(queue, JOBS.webhookDelivery, jobs);

/** A replay's or the sweeper's re-add of deliveries (see requeue). */
export const requeueDeliveries = (queue: Queue<WebhookDeliveryJob>, jobs: readonly WebhookDeliveryJob[]): Promise<Requeued> =>
  requeue(queue, JOBS.webhookDelivery, jobs);

/** A row one sweeper claimed to enqueue again, with what giving the claim back needs. */
export interface Claim<T> {
  readonly job: T;
  /** The row's due time before the claim, and the claim's (exact, as PostgreSQL text). */
  readonly dueBefore: string;
  readonly claimedAt: string;
}

/**
 * The statements behind one queue's sweep, across every tenant (they read ids and write only
 * the due time of the rows they claim). A claim makes the row due now in one statement with
 * SKIP LOCKED, so sweepers in any number of processes each take their own rows.
 */
export interface JobSweep<T> {
  /** Up to `limit` unfinished rows due for longer than `overdueAfterMs`, oldest first, claimed. */
  claimOverdue(options: { overdueAfterMs: number; limit: number }): Promise<Claim<T>[]>;
  /** Gives claims back when their jobs could not be enqueued, unless the row changed since. */
  releaseClaims(claims: readonly Claim<T>[]): Promise<void>;
  /** Unfinished rows due for longer than `overdueAfterMs` (the overdue metrics). */
  countOverdue(overdueAfterMs: number): Promise<number>;
}
