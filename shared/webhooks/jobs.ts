import type { JobsOptions, Queue } from 'bullmq';
import type { WebhookDeliveryJob } from '../queue/jobs';
import { DEFAULT_JOB_OPTIONS } from '../queue/queues';

/**
 * The delivery job contract, the one home of its name, id and options: the outbox relay, the
 * workers' sweeper and the admin API's replays all enqueue through this file.
 *
 * PostgreSQL is the source of truth (webhook_deliveries: status, attempts, next_attempt_at).
 * A job is only a wake-up call for one delivery: its id is the delivery id, whoever enqueues it,
 * so a delivery never has two jobs at once; its BullMQ attempt counter is not the receiver's
 * retry budget (the worker counts real calls in PostgreSQL), it only bounds how often one job
 * is retried before the sweeper takes over.
 */

/** BullMQ job name of a delivery (issue 4 delivery contract). */
export const DELIVER_JOB = 'deliver';

/**
 * Runs one job may have: receiver retries (the schedule's dozen) plus retries while PostgreSQL
 * is unreachable (capped at 30 s each, so about eight hours of outage). A job that runs out
 * fails with its delivery still pending; the sweeper enqueues it again.
 */
export const MAX_JOB_RUNS = 1000;

/** Job states in which the delivery's job will still run by itself. */
const QUEUED_STATES = new Set(['waiting', 'active', 'delayed', 'prioritized', 'waiting-children']);

/**
 * Options of every delivery job: BullMQ retries a thrown attempt after the delay the worker's
 * `backoffStrategy` picks (type 'custom'). Finished jobs are kept as every queue's are (a day, a
 * week if failed) for the dashboard; the delivery rows are the lasting record.
 */
export function deliveryJobOptions(deliveryId: string): JobsOptions {
  return {
    jobId: deliveryId,
    attempts: MAX_JOB_RUNS,
    backoff: { type: 'custom' },
    removeOnComplete: DEFAULT_JOB_OPTIONS.removeOnComplete,
    removeOnFail: DEFAULT_JOB_OPTIONS.removeOnFail,
  };
}

/** A delivery job as addBulk takes it. */
function deliveryJob(job: WebhookDeliveryJob) {
  return { name: DELIVER_JOB, data: job, opts: deliveryJobOptions(job.deliveryId) };
}

/** Jobs per round trip to Redis. */
const CHUNK = 500;

/**
 * Adds delivery jobs in chunks (one round trip per chunk). A delivery whose job still exists in
 * Redis, finished or not, is left as it is: what the relay wants when it adds a batch again after
 * a failed commit.
 */
export async function enqueueDeliveries(queue: Queue<WebhookDeliveryJob>, jobs: readonly WebhookDeliveryJob[]): Promise<void> {
  for (let i = 0; i < jobs.length; i += CHUNK) {
    await queue.addBulk(jobs.slice(i, i + CHUNK).map(deliveryJob));
  }
}

/** What requeueDeliveries did: jobs added (new, or replacing a finished one), promoted, or left queued. */
export interface Requeued {
  added: number;
  promoted: number;
  queued: number;
}

/**
 * Makes sure each delivery has a job that will run soon: for the sweeper (a pending delivery
 * whose job Redis lost or finished) and for replays. A finished job (completed, or failed: a
 * dead letter on the dashboard) is removed and added again, since BullMQ would ignore an add
 * under its id; a delayed one is promoted; a waiting or running one is left alone, so a delivery
 * never has two jobs. A job held by a worker cannot be removed and counts as queued.
 */
export async function requeueDeliveries(queue: Queue<WebhookDeliveryJob>, jobs: readonly WebhookDeliveryJob[]): Promise<Requeued> {
  const result: Requeued = { added: 0, promoted: 0, queued: 0 };
  for (let i = 0; i < jobs.length; i += CHUNK) {
    const chunk = jobs.slice(i, i + CHUNK);
    const states = await Promise.all(chunk.map((j) => queue.getJobState(j.deliveryId)));
    const toAdd: WebhookDeliveryJob[] = [];
    await Promise.all(
      chunk.map(async (job, k) => {
        const state = states[k];
        if (state === 'delayed') {
          const existing = await queue.getJob(job.deliveryId);
          await existing?.promote().catch(() => undefined);
          result.promoted += 1;
        } else if (QUEUED_STATES.has(state)) {
          result.queued += 1;
        } else if (state === 'unknown' || (await queue.remove(job.deliveryId)) === 1) {
          toAdd.push(job);
        } else {
          result.queued += 1;
        }
      }),
    );
    if (toAdd.length > 0) await queue.addBulk(toAdd.map(deliveryJob));
    result.added += toAdd.length;
  }
  return result;
}
