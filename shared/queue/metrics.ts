import type { Queue } from 'bullmq';
import { collectFrom, METRICS, registerScrapedGauges } from '../telemetry/metrics';
import type { JobSweep, QueueName } from './catalog';

/** Job states reported per queue (BullMQ's names). */
const QUEUE_STATES = ['waiting', 'prioritized', 'active', 'delayed', 'failed', 'completed'] as const;

// ----- queues: depth by state and the oldest waiting job's age, read from Redis on scrape -----

const watchedQueues = new Set<readonly Queue[]>();

interface QueueSnapshot {
  readonly name: string;
  readonly counts: Record<string, number>;
  readonly oldestWaitingSeconds: number;
}

async function readQueue(queue: Queue): Promise<QueueSnapshot> {
  // While Redis is away ioredis would hold each command until it returns: every scrape would
  // leave more of them waiting. Give up at once instead.
  const client = (await queue.backend.client) as { status?: string };
  if (client.status !== undefined && client.status !== 'ready') throw new Error(`redis connection is ${client.status}`);
  const counts = await queue.getJobCounts(...QUEUE_STATES);
  const [oldest] = await queue.getJobs(['wait'], 0, 0, true);
  let oldestWaitingSeconds = 0;
  if (oldest) {
    // BullMQ keeps the creation time; a job added with a delay, or back from a failed attempt,
    // has waited only since its delay ended or its last attempt started.
    const since = Math.max(oldest.timestamp + (oldest.opts.delay ?? 0), oldest.processedOn ?? 0);
    oldestWaitingSeconds = Math.max(0, (Date.now() - since) / 1000);
  }
  return { name: queue.name, counts, oldestWaitingSeconds };
}

registerScrapedGauges(async () => {
  const queues = [...watchedQueues].flat();
  return queues.length === 0 ? undefined : collectFrom('queues', () => Promise.all(queues.map(readQueue)));
}, [
  {
    name: METRICS.queueJobs,
    help: 'Jobs per BullMQ queue and state (completed and failed as retained by BullMQ)',
    labelNames: ['queue', 'state'],
    report: (snapshots, set) => {
      for (const q of snapshots) for (const state of QUEUE_STATES) set({ queue: q.name, state }, q.counts[state] ?? 0);
    },
  },
  {
    name: METRICS.queueOldestWaiting,
    help: 'Age in seconds of the oldest job waiting to be picked up, per queue (0 when none waits)',
    labelNames: ['queue'],
    report: (snapshots, set) => {
      for (const q of snapshots) set({ queue: q.name }, q.oldestWaitingSeconds);
    },
  },
]);

/**
 * Reports these queues' depth and age on every scrape; returns a function that stops it (the
 * caller closes the queues). Queue objects are a dependency, not created here.
 */
export function watchQueues(queues: readonly Queue[]): () => void {
  watchedQueues.add(queues);
  return () => {
    watchedQueues.delete(queues);
  };
}

// ----- rows whose job was lost: unfinished, due, and yet no job ran them within the grace period -----

/** What watchOverdue reads through; each sweep's rows are counted on their own. */
export interface OverdueSweeps {
  /** The webhook deliveries' rows (scim_webhook_deliveries_overdue). */
  readonly deliveries?: JobSweep<unknown>;
  /** Other queues' rows: audit exports, reconciliations (scim_jobs_overdue{queue}). */
  readonly jobs?: readonly (readonly [QueueName, JobSweep<unknown>])[];
  /** Unfinished this long past due counts as overdue (JOB_OVERDUE_AFTER). */
  readonly overdueAfterMs: number;
}

let watchedOverdue: OverdueSweeps | undefined;

registerScrapedGauges(async () => {
  const deliveries = watchedOverdue?.deliveries;
  const overdueAfterMs = watchedOverdue?.overdueAfterMs ?? 0;
  return deliveries && collectFrom('deliveries', () => deliveries.countOverdue(overdueAfterMs));
}, [
  {
    name: METRICS.deliveriesOverdue,
    help: "Webhook deliveries pending and due for longer than JOB_OVERDUE_AFTER: their job was lost or never ran; the workers' sweeper enqueues them again",
    // A label (one value), as the outbox's: an unreadable PostgreSQL leaves no series rather than a false 0.
    labelNames: ['status'],
    report: (overdue, set) => set({ status: 'pending' }, overdue),
  },
]);

registerScrapedGauges(async () => {
  if (!watchedOverdue?.jobs) return undefined;
  const { jobs, overdueAfterMs } = watchedOverdue;
  // Each queue on its own: one unreadable count leaves out its series only.
  return Promise.all(jobs.map(async ([queue, sweep]) => [queue, await collectFrom('jobs', () => sweep.countOverdue(overdueAfterMs))] as const));
}, [
  {
    name: METRICS.jobsOverdue,
    help: "Audit exports and reconciliations queued, or running without a heartbeat, for longer than JOB_OVERDUE_AFTER, per queue: their job was lost or never ran; the workers' sweeper enqueues them again (deliveries: scim_webhook_deliveries_overdue)",
    labelNames: ['queue'],
    report: (counted, set) => {
      for (const [queue, overdue] of counted) if (overdue !== undefined) set({ queue }, overdue);
    },
  },
]);

/**
 * Reports the rows of these sweeps that are overdue on every scrape; returns a function that
 * stops it. The sweeps are a dependency: the API passes the same ones the workers' sweeper runs.
 */
export function watchOverdue(sweeps: OverdueSweeps): () => void {
  watchedOverdue = sweeps;
  return () => {
    if (watchedOverdue === sweeps) watchedOverdue = undefined;
  };
}
