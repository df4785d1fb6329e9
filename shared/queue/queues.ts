import { Queue, type ConnectionOptions, type DefaultJobOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { logger as defaultLogger, type Logger } from '../telemetry/logger';
import type { AuditExportJob, GroupReconcileJob, WebhookDeliveryJob } from './jobs';
import { QUEUES, type QueueName } from './names';
import { rateLimitedErrorLog } from './redis';

/** The payload each queue carries (STYLE §6: ids and the trace carrier, never rows). */
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

export interface CreateQueueOptions {
  /**
   * A Redis connection (shared: closing the queue leaves it open; its owner closes it) or
   * options for one the queue opens and closes itself.
   */
  readonly connection: Redis | ConnectionOptions;
  /** BullMQ key prefix; production uses `scim`, each test its own. */
  readonly prefix: string;
  /** Merged over DEFAULT_JOB_OPTIONS. Default: none. */
  readonly defaultJobOptions?: DefaultJobOptions;
  /** Where connection errors are logged. Default: the process logger. */
  readonly logger?: Logger;
}

/**
 * A producer-side BullMQ Queue for one of our queue names. `close()` is safe to call twice
 * (BullMQ memoises it). Connection errors are logged, never thrown from an event emitter:
 * an `error` event without a listener would crash the process while Redis restarts.
 */
export function createQueue<N extends QueueName>(name: N, options: CreateQueueOptions): Queue<QueueJobData[N]> {
  if (!options.prefix) throw new Error('createQueue: prefix is required');
  const queue = new Queue<QueueJobData[N]>(name, {
    connection: options.connection,
    prefix: options.prefix,
    defaultJobOptions: { ...DEFAULT_JOB_OPTIONS, ...options.defaultJobOptions },
  });
  const log = (options.logger ?? defaultLogger).child({ queue: name });
  queue.on('error', rateLimitedErrorLog(log, 'queue connection error'));
  return queue;
}
