import type { JobsOptions, Queue } from 'bullmq';
import type { WebhookDeliveryJob } from '../queue/jobs';
import type { RetrySchedule } from './retry-schedule';

/** BullMQ job name of a delivery (issue 4 delivery contract). */
export const DELIVER_JOB = 'deliver';

/** A replay's job id: a fresh id per attempt count, so a replay is never deduplicated away by
 *  the finished job of the first delivery, yet two clicks before any attempt enqueue it once. */
export const replayJobId = (deliveryId: string, attemptsSoFar: number) => `${deliveryId}-replay-${attemptsSoFar}`;

/** Replays are explicit requests to send again, even what was already delivered. */
export const isReplayJobId = (jobId: string | undefined) => jobId !== undefined && jobId.includes('-replay-');

/**
 * Options every producer of delivery jobs must use: BullMQ retries a failed attempt on the
 * worker's schedule (its `backoffStrategy`, type 'custom') up to `attempts` times in all.
 * Finished jobs are kept a while for the dashboard, then dropped; the delivery rows in
 * PostgreSQL are the lasting record.
 */
export function deliveryJobOptions(schedule: RetrySchedule, jobId: string): JobsOptions {
  return {
    jobId,
    attempts: schedule.attempts,
    backoff: { type: 'custom' },
    removeOnComplete: { age: 24 * 3600, count: 10_000 },
    removeOnFail: { age: 7 * 24 * 3600 },
  };
}

export interface DeliveryToEnqueue {
  readonly job: WebhookDeliveryJob;
  readonly jobId: string;
}

/** Adds delivery jobs in chunks (one round trip per chunk). */
export async function enqueueDeliveries(queue: Queue, schedule: RetrySchedule, items: readonly DeliveryToEnqueue[]): Promise<void> {
  for (let i = 0; i < items.length; i += 500) {
    await queue.addBulk(items.slice(i, i + 500).map((d) => ({ name: DELIVER_JOB, data: d.job, opts: deliveryJobOptions(schedule, d.jobId) })));
  }
}
