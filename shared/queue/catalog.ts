import type { DefaultJobOptions, JobsOptions, Queue } from 'bullmq';
import type { TraceCarrier } from '../telemetry/context';

/**
 * The job contract of every queue, in one place: queue names, payloads, job names, job ids,
 * options, and the helpers that add and re-add jobs. Producers (the outbox relay, the workers'
 * sweeper, webhook replays, the export and reconcile routes) enqueue through this file only.
 *
 * PostgreSQL is the source of truth of every job (a delivery, an export, a reconcile report);
 * a BullMQ job is only a wake-up call for one row, so its id is the row id, whoever enqueues it,
 * and a row never has two jobs at once. The one exception is a delivery's first attempt: the
 * relay wakes up to DELIVERIES_PER_BATCH fresh deliveries with one batch job (their rows name
 * it), and whatever is not delivered by it goes on in the delivery's own job, as replays, retries
 * and the sweeper's re-adds always do. In a processor a thrown error is a retry; BullMQ's
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
  /**
   * Its batch job (WebhookBatchJob) is done with it: run even though the row still names the
   * batch. Without it, a never-tried delivery whose batch job is still queued or running is left
   * to that job, so a replay or the sweeper never makes a second first attempt beside it.
   */
  readonly afterBatch?: true;
  /**
   * Set by a re-add (the sweeper's, a replay's) of a never-tried delivery whose row names a batch
   * job: while that job is queued or running the re-add leaves the delivery to it (JobSpec.leaseOf).
   */
  readonly batchId?: string;
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

/**
 * The first attempts of a batch of fresh deliveries, of any tenants and endpoints: each delivery
 * is loaded under its own tenant (the two lists go index by index). Their rows carry `batchId`,
 * so whoever finds one of them pending and never tried knows which job will try it.
 */
export interface WebhookBatchJob {
  readonly batchId: string;
  readonly tenantIds: readonly string[];
  readonly deliveryIds: readonly string[];
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
  [QUEUES.webhookDelivery]: WebhookDeliveryJob | WebhookBatchJob;
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
  /**
   * Another job that runs the row first, if any (a batch, for a delivery never tried): a re-add
   * (requeue) leaves the row to it while it is queued or running.
   */
  readonly leaseOf?: (job: T) => string | undefined;
}

/** BullMQ job name of a delivery, the same for every producer (relay, replay, sweeper). */
export const DELIVER_JOB = 'deliver';
/** BullMQ job name of a relay batch's first attempts. */
export const DELIVER_BATCH_JOB = 'deliver-batch';
/**
 * Fresh deliveries one batch job tries at most. BullMQ costs about as much Node.js and Redis CPU
 * per job as the whole delivery does otherwise (BENCHMARKS.md, session 13): at Entra's pace a
 * relay pass finds a few deliveries per endpoint, so batches span endpoints and tenants.
 */
export const DELIVERIES_PER_BATCH = 50;
/** The webhook delivery queue, with both of its job kinds. */
export type DeliveryQueue = Queue<WebhookDeliveryJob | WebhookBatchJob>;

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
    leaseOf: (job: WebhookDeliveryJob) => (job.batchId ? batchJobId(job.batchId) : undefined),
    options: { attempts: MAX_JOB_RUNS, backoff: { type: 'custom' }, ...retention },
  } satisfies JobSpec<WebhookDeliveryJob>,
  /**
   * Retried like a delivery while PostgreSQL or Redis is away. Kept an hour once done (not a day):
   * only the relay adds it, again only after a failed commit, seconds later.
   */
  webhookBatch: {
    queue: QUEUES.webhookDelivery,
    name: DELIVER_BATCH_JOB,
    idOf: (job: WebhookBatchJob) => batchJobId(job.batchId),
    options: {
      attempts: MAX_JOB_RUNS,
      backoff: { type: 'custom' },
      removeOnComplete: { age: 3600, count: 10_000 },
      removeOnFail: DEFAULT_JOB_OPTIONS.removeOnFail,
    },
  } satisfies JobSpec<WebhookBatchJob>,
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

/** The BullMQ job id of a batch (never a row id: those are bare UUIDs). */
export const batchJobId = (batchId: string): string => `batch-${batchId}`;

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
export const QUEUED_STATES: ReadonlySet<string> = new Set(['waiting', 'active', 'delayed', 'prioritized', 'waiting-children']);

/** Jobs per round trip to Redis. */
const CHUNK = 500;

const bulkEntry = <T>(spec: JobSpec<T>, job: T) => ({ name: spec.name, data: job, opts: jobOptions(spec, job) });

/**
 * Adds jobs in chunks (one round trip per chunk). A row whose job still exists in Redis,
 * finished or not, is left as it is: what the relay wants when it adds a batch again after a
 * failed commit, and what a retried request handler wants.
 */
export async function enqueue<T>(queue: Queue, spec: JobSpec<T>, jobs: readonly T[]): Promise<void> {
  for (let i = 0; i < jobs.length; i += CHUNK) {
    await queue.addBulk(jobs.slice(i, i + CHUNK).map((job) => bulkEntry(spec, job)));
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
 * stalled-job check hands the job to another. A row whose lease (JobSpec.leaseOf: the batch of a
 * delivery never tried) is queued or running counts as queued too.
 */
export async function requeue<T>(q: Queue, spec: JobSpec<T>, jobs: readonly T[]): Promise<Requeued> {
  const result: Requeued = { added: 0, promoted: 0, queued: 0 };
  for (let i = 0; i < jobs.length; i += CHUNK) {
    const chunk = jobs.slice(i, i + CHUNK);
    const ids = chunk.map(spec.idOf);
    const states = await Promise.all(ids.map((id) => q.getJobState(id)));
    const leases = await Promise.all(chunk.map((job) => spec.leaseOf?.(job)).map((lease) => lease && q.getJobState(lease)));
    const toAdd: T[] = [];
    await Promise.all(
      chunk.map(async (job, k) => {
        const state = states[k];
        const lease = leases[k];
        if (lease && QUEUED_STATES.has(lease)) {
          result.queued += 1;
        } else if (state === 'delayed') {
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

/** Adds deliveries' own jobs (see enqueue): the test event's, and deliveries the relay did not batch. */
export const enqueueDeliveries = (queue: DeliveryQueue, jobs: readonly WebhookDeliveryJob[]): Promise<void> => enqueue(queue, JOBS.webhookDelivery, jobs);

/** The relay's add of batches of fresh deliveries (see enqueue). */
export const enqueueBatches = (queue: DeliveryQueue, jobs: readonly WebhookBatchJob[]): Promise<void> => enqueue(queue, JOBS.webhookBatch, jobs);

/** A replay's, the sweeper's or a batch's re-add of deliveries in their own jobs (see requeue). */
export const requeueDeliveries = (queue: DeliveryQueue, jobs: readonly WebhookDeliveryJob[]): Promise<Requeued> => requeue(queue, JOBS.webhookDelivery, jobs);

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
