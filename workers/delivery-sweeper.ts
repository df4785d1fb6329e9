import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { DeliverySweep } from '../shared/db/repositories/delivery-sweep';
import type { Database } from '../shared/db/sequelize';
import type { WebhookDeliveryJob } from '../shared/queue/jobs';
import { QUEUES } from '../shared/queue/names';
import { createQueue } from '../shared/queue/queues';
import { redisWithin } from '../shared/queue/redis';
import type { Logger } from '../shared/telemetry/logger';
import { requeueDeliveries, type Requeued } from '../shared/webhooks/jobs';
import { parseDuration } from '../shared/webhooks/retry-schedule';
import type { StartProcessor } from './deps';

export interface DeliverySweeperOptions {
  readonly db: Database;
  /** The delivery queue (QUEUES.webhookDelivery); the sweeper does not close it. */
  readonly queue: Queue<WebhookDeliveryJob>;
  /** The Redis connection behind `queue`: while it is not ready a pass is skipped, not queued in memory. Default: none. */
  readonly connection?: Redis;
  readonly logger: Logger;
  /** A pending delivery this long past its due time is re-driven (WEBHOOK_OVERDUE_AFTER). */
  readonly overdueAfterMs: number;
  /** Pause between passes, ms (WEBHOOK_SWEEP_INTERVAL); the first pass waits one interval too. */
  readonly intervalMs: number;
  /** Deliveries claimed and re-driven per batch. Default 500. */
  readonly batchSize?: number;
  /** Longest wait for Redis per batch before its claims are given back, ms. Default 5,000. */
  readonly redisTimeoutMs?: number;
}

/** What one pass did: deliveries found overdue; of those, jobs added, promoted, or found queued. */
export interface SweepPass {
  overdue: number;
  added: number;
  promoted: number;
  queued: number;
}

/**
 * Re-drives deliveries whose job Redis lost (restarted empty, evicted, failed over) or that
 * no job will run any more: every pending delivery due for longer than the grace period gets a
 * job again (shared/webhooks/jobs.ts requeueDeliveries). Each batch is first claimed in one
 * statement (SKIP LOCKED, made due now), then enqueued; so with any number of worker processes
 * each overdue delivery is re-driven once per pass. If Redis fails, the claims are given back
 * and the next pass tries again.
 */
export class DeliverySweeper {
  private readonly sweep: DeliverySweep;
  private readonly log: Logger;
  private readonly batchSize: number;
  private readonly redisTimeoutMs: number;
  private stopping = false;
  private loop?: Promise<void>;
  private closing?: Promise<void>;
  private wake?: () => void;

  constructor(private readonly options: DeliverySweeperOptions) {
    this.batchSize = options.batchSize ?? 500;
    this.redisTimeoutMs = options.redisTimeoutMs ?? 5000;
    for (const [key, value] of Object.entries({
      overdueAfterMs: options.overdueAfterMs,
      intervalMs: options.intervalMs,
      batchSize: this.batchSize,
      redisTimeoutMs: this.redisTimeoutMs,
    })) {
      if (!Number.isInteger(value) || value < 1) throw new Error(`DeliverySweeper: ${key} must be a positive integer, got ${value}`);
    }
    this.sweep = new DeliverySweep(options.db);
    this.log = options.logger.child({ component: 'delivery-sweeper' });
  }

  start(): this {
    this.loop ??= this.run();
    return this;
  }

  /** Stops after the batch in progress. Safe twice. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.stopping = true;
      this.wake?.();
      await this.loop;
    })();
    return this.closing;
  }

  /** One pass over every overdue delivery, a batch per claim; public for tests and tools. */
  async sweepOnce(): Promise<SweepPass> {
    const total: SweepPass = { overdue: 0, added: 0, promoted: 0, queued: 0 };
    for (;;) {
      const claimed = await this.sweep.claimOverdue({ overdueAfterMs: this.options.overdueAfterMs, limit: this.batchSize });
      if (claimed.length === 0) return total;
      let done: Requeued;
      try {
        const status = this.options.connection?.status;
        if (status !== undefined && status !== 'ready') throw new Error(`Redis connection is ${status}`);
        const jobs = claimed.map((d) => ({ deliveryId: d.deliveryId, tenantId: d.tenantId, ...(d.trace ? { trace: d.trace } : {}) }));
        done = await redisWithin(requeueDeliveries(this.options.queue, jobs), this.redisTimeoutMs);
      } catch (err) {
        // Overdue again at once, for the next pass; if PostgreSQL is away too, after the grace.
        await this.sweep.releaseClaims(claimed).catch(() => undefined);
        throw err;
      }
      total.overdue += claimed.length;
      total.added += done.added;
      total.promoted += done.promoted;
      total.queued += done.queued;
      if (claimed.length < this.batchSize || this.stopping) return total;
    }
  }

  private async run(): Promise<void> {
    // The first pass waits an interval: a worker that just started lets its queue drain first.
    await this.sleep(this.options.intervalMs);
    while (!this.stopping) {
      try {
        const pass = await this.sweepOnce();
        // A job added or promoted means Redis lost or held back a delivery: worth a line every
        // time. Overdue deliveries still queued are only slow workers (the queue metrics show it).
        if (pass.added + pass.promoted > 0) this.log.warn({ ...pass }, 'overdue webhook deliveries re-driven');
        else if (pass.queued > 0) this.log.debug({ ...pass }, 'overdue webhook deliveries still queued');
      } catch (err) {
        this.log.warn({ err: { name: (err as Error).name, message: (err as Error).message } }, 'delivery sweep failed; next pass retries');
      }
      await this.sleep(this.options.intervalMs);
    }
  }

  private sleep(ms: number): Promise<void> {
    if (this.stopping) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }
}

/** The sweeper of every worker process, on its own Redis connection (as the relay). */
export const startDeliverySweeper: StartProcessor = (deps) => {
  const connection = deps.redis();
  const queue = createQueue(QUEUES.webhookDelivery, { connection, prefix: deps.queuePrefix, logger: deps.logger });
  const sweeper = new DeliverySweeper({
    db: deps.db,
    queue,
    connection,
    logger: deps.logger,
    overdueAfterMs: parseDuration(deps.config.WEBHOOK_OVERDUE_AFTER),
    intervalMs: parseDuration(deps.config.WEBHOOK_SWEEP_INTERVAL),
  }).start();
  let closing: Promise<void> | undefined;
  return {
    name: 'delivery-sweeper',
    close: () =>
      (closing ??= (async () => {
        await sweeper.close();
        await queue.close();
      })()),
  };
};
