import type { Queue } from 'bullmq';
import type { OperatorRepositories } from '../shared/db/repositories';
import {
  JOBS,
  QUEUES,
  requeue,
  type AuditExportJob,
  type GroupReconcileJob,
  type JobSpec,
  type JobSweep,
  type QueueName,
  type Requeued,
  type DeliveryQueue,
} from '../shared/queue/catalog';
import { createQueue } from '../shared/queue/queues';
import { type RedisClient, redisWithin } from '../shared/queue/redis';
import { assertPositiveIntegers, PollingLoop } from '../shared/polling-loop';
import type { Logger } from '../shared/telemetry/logger';
import { parseDuration } from '../shared/config-formats';
import type { StartProcessor } from './deps';

/** The queues a sweeper re-drives, each optional (a test sweeps only its own). It closes none. */
export interface SweptQueues {
  readonly webhookDelivery?: DeliveryQueue;
  readonly auditExport?: Queue<AuditExportJob>;
  readonly groupReconcile?: Queue<GroupReconcileJob>;
}

export interface JobSweeperOptions {
  /** The sweeps read every tenant's unfinished rows: the operator's repositories. */
  readonly operator: OperatorRepositories;
  readonly queues: SweptQueues;
  /** The Redis connection behind the queues: while it is not ready a pass is skipped, not queued in memory. Default: none. */
  readonly connection?: RedisClient;
  readonly logger: Logger;
  /** A row unfinished this long past its due time is re-driven (JOB_OVERDUE_AFTER). */
  readonly overdueAfterMs: number;
  /** Pause between passes, ms (JOB_SWEEP_INTERVAL); the first pass waits one interval too. */
  readonly intervalMs: number;
  /** Rows claimed and re-driven per batch. Default 500. */
  readonly batchSize?: number;
  /** Longest wait for Redis per batch before its claims are given back, ms. Default 5,000. */
  readonly redisTimeoutMs?: number;
}

/** What one pass did on one queue: rows found overdue; of those, jobs added, promoted, or found queued. */
export interface SweepPass {
  overdue: number;
  added: number;
  promoted: number;
  queued: number;
}

/** One queue's part of a pass: its rows' statements, its job contract, its queue. */
interface Lane<T> {
  readonly sweep: JobSweep<T>;
  readonly spec: JobSpec<T>;
  readonly queue: Queue;
}

/** A lane with its payload type sealed in, so lanes of different queues fit in one list. */
interface SweptQueue {
  readonly name: QueueName;
  sweep(): Promise<SweepPass>;
}

/**
 * Re-drives rows whose job Redis lost (restarted empty, evicted, failed over) or that no job will
 * run any more, for every queue: a pending delivery due for longer than the grace period, an
 * export or reconciliation still queued or running that long after it was queued, started or
 * last re-driven, gets a job again (shared/queue/catalog.ts requeue). Each batch is first claimed
 * in one statement (SKIP LOCKED, made due now), then enqueued; so with any number of worker
 * processes each overdue row is re-driven once per pass. If Redis fails, the claims are given
 * back and the next pass tries again.
 *
 * A running export or reconciliation keeps its job while it runs, so the sweeper leaves it alone
 * (requeue counts it as queued); if its worker dies, BullMQ's stalled-job check hands that job to
 * another worker. Only once the job is gone or finished with the row unfinished (Redis lost it,
 * or the worker could not record the outcome) does the sweeper add it again: the job's state in
 * Redis is the lease. A running row's heartbeat (shared/queue/heartbeat.ts) only keeps a long run
 * from being claimed and counted as overdue; a missed beat never starts a second run.
 */
export class JobSweeper {
  private readonly lanes: SweptQueue[];
  private readonly log: Logger;
  private readonly batchSize: number;
  private readonly redisTimeoutMs: number;
  private readonly loop: PollingLoop;

  constructor(private readonly options: JobSweeperOptions) {
    this.batchSize = options.batchSize ?? 500;
    this.redisTimeoutMs = options.redisTimeoutMs ?? 5000;
    assertPositiveIntegers('JobSweeper', {
      overdueAfterMs: options.overdueAfterMs,
      intervalMs: options.intervalMs,
      batchSize: this.batchSize,
      redisTimeoutMs: this.redisTimeoutMs,
    });
    const { queues } = options;
    const { sweeps } = options.operator;
    const lane = <T>(l: Lane<T>): SweptQueue => ({ name: l.spec.queue, sweep: () => this.sweepLane(l) });
    this.lanes = [
      queues.webhookDelivery && lane({ sweep: sweeps.deliveries, spec: JOBS.webhookDelivery, queue: queues.webhookDelivery }),
      queues.auditExport && lane({ sweep: sweeps.auditExports, spec: JOBS.auditExport, queue: queues.auditExport }),
      queues.groupReconcile && lane({ sweep: sweeps.groupReconciles, spec: JOBS.groupReconcile, queue: queues.groupReconcile }),
    ].filter((l) => l !== undefined);
    if (this.lanes.length === 0) throw new Error('JobSweeper: no queue to sweep');
    this.log = options.logger.child({ component: 'job-sweeper' });
    this.loop = new PollingLoop(async () => {
      try {
        await this.sweepOnce();
      } catch (err) {
        this.log.warn({ err: { name: (err as Error).name, message: (err as Error).message } }, 'job sweep failed; next pass retries');
      }
      return options.intervalMs;
    });
  }

  /** Starts sweeping after one interval: a worker that just started lets its queues drain first. */
  start(): this {
    this.loop.start(this.options.intervalMs);
    return this;
  }

  /** Stops after the batch in progress. Safe twice. */
  close(): Promise<void> {
    return this.loop.close();
  }

  /**
   * One pass over every overdue row of every queue, a batch per claim; public for tests and tools.
   * A queue that fails (Redis away) does not stop the others; the pass then rejects with its error,
   * after what the others did is logged.
   */
  async sweepOnce(): Promise<Partial<Record<QueueName, SweepPass>>> {
    const passes: Partial<Record<QueueName, SweepPass>> = {};
    let failure: unknown;
    for (const lane of this.lanes) {
      try {
        const pass = await lane.sweep();
        passes[lane.name] = pass;
        // A job added or promoted means Redis lost or held back a row's job: worth a line every
        // time. Overdue rows still queued are only slow workers (the queue metrics show it).
        if (pass.added + pass.promoted > 0) this.log.warn({ queue: lane.name, ...pass }, 'overdue jobs re-driven');
        else if (pass.queued > 0) this.log.debug({ queue: lane.name, ...pass }, 'overdue jobs still queued');
      } catch (err) {
        failure ??= err;
      }
    }
    if (failure !== undefined) throw failure;
    return passes;
  }

  private async sweepLane<T>(lane: Lane<T>): Promise<SweepPass> {
    const total: SweepPass = { overdue: 0, added: 0, promoted: 0, queued: 0 };
    for (;;) {
      const claimed = await lane.sweep.claimOverdue({ overdueAfterMs: this.options.overdueAfterMs, limit: this.batchSize });
      if (claimed.length === 0) return total;
      let done: Requeued;
      try {
        const status = this.options.connection?.status;
        if (status !== undefined && status !== 'ready') throw new Error(`Redis connection is ${status}`);
        done = await redisWithin(
          requeue(
            lane.queue,
            lane.spec,
            claimed.map((c) => c.job),
          ),
          this.redisTimeoutMs,
        );
      } catch (err) {
        // Overdue again at once, for the next pass; if PostgreSQL is away too, after the grace.
        await lane.sweep.releaseClaims(claimed).catch(() => undefined);
        throw err;
      }
      total.overdue += claimed.length;
      total.added += done.added;
      total.promoted += done.promoted;
      total.queued += done.queued;
      if (claimed.length < this.batchSize || this.loop.stopped) return total;
    }
  }
}

/** The sweeper of every worker process, for every queue, on its own Redis connection (as the relay). */
export const startJobSweeper: StartProcessor = (deps) => {
  const connection = deps.redis();
  const options = { connection, prefix: deps.queuePrefix, logger: deps.logger };
  const queues = {
    webhookDelivery: createQueue(QUEUES.webhookDelivery, options),
    auditExport: createQueue(QUEUES.auditExport, options),
    groupReconcile: createQueue(QUEUES.groupReconcile, options),
  };
  const sweeper = new JobSweeper({
    operator: deps.repos.operator,
    queues,
    connection,
    logger: deps.logger,
    overdueAfterMs: parseDuration(deps.config.JOB_OVERDUE_AFTER),
    intervalMs: parseDuration(deps.config.JOB_SWEEP_INTERVAL),
  }).start();
  let closing: Promise<void> | undefined;
  return {
    name: 'job-sweeper',
    close: () =>
      (closing ??= (async () => {
        await sweeper.close();
        await Promise.all(Object.values(queues).map((q) => q.close()));
      })()),
  };
};
