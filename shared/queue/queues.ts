import { Queue, type ConnectionOptions, type DefaultJobOptions } from 'bullmq';
import { logger as defaultLogger, type Logger } from '../telemetry/logger';
import { DEFAULT_JOB_OPTIONS, type QueueJobData, type QueueName } from './catalog';
import { isHashTagged, rateLimitedErrorLog, type RedisClient } from './redis';

export interface CreateQueueOptions {
  /**
   * A Redis connection (shared: closing the queue leaves it open; its owner closes it) or
   * options for one the queue opens and closes itself.
   */
  readonly connection: RedisClient | ConnectionOptions;
  /**
   * BullMQ key prefix; production uses `scim` (`{scim}` on a Redis Cluster, see queuePrefixFor),
   * each test its own. On a cluster it must carry a hash tag.
   */
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
  checkQueuePrefix(options.connection, options.prefix);
  const queue = new Queue<QueueJobData[N]>(name, {
    connection: options.connection,
    prefix: options.prefix,
    defaultJobOptions: { ...DEFAULT_JOB_OPTIONS, ...options.defaultJobOptions },
  });
  const log = (options.logger ?? defaultLogger).child({ queue: name });
  queue.on('error', rateLimitedErrorLog(log, 'queue connection error'));
  return queue;
}

/**
 * Refuses, when a queue or worker is built, a cluster connection whose prefix has no hash tag:
 * BullMQ's scripts would otherwise fail on their first command with CROSSSLOT.
 */
export function checkQueuePrefix(connection: RedisClient | ConnectionOptions, prefix: string): void {
  if ((connection as { isCluster?: boolean }).isCluster === true && !isHashTagged(prefix)) {
    throw new Error(`queue prefix "${prefix}" needs a hash tag on a Redis Cluster, e.g. "{${prefix}}", so each queue's keys share one slot`);
  }
}
