import type { EventPartitions } from '../shared/db/repositories/event-partitions';
import { assertPositiveIntegers, PollingLoop } from '../shared/polling-loop';
import type { Logger } from '../shared/telemetry/logger';
import type { StartProcessor } from './deps';

export interface PartitionUpkeepOptions {
  readonly partitions: EventPartitions;
  readonly logger: Logger;
  /** Days of events kept (EVENTS_RETENTION_DAYS); 0 keeps them for ever. */
  readonly retentionDays: number;
  /** Pause between passes, ms. Default one hour: a pass makes months ahead, so it is never urgent. */
  readonly intervalMs?: number;
}

/** What one pass did: partitions created, and what retention did with each expired one. */
export interface UpkeepPass {
  readonly created: string[];
  readonly expired: Awaited<ReturnType<EventPartitions['dropExpired']>>;
}

/**
 * Keeps the events table's partitions (migration 0014): every pass creates the current month's
 * and the next ones' unless they exist, then, with a retention set, drops the months wholly older
 * than it that nothing still needs. Each worker process runs one, at start and then every
 * interval; the functions take an advisory lock without waiting, so of many workers' passes at
 * once one does the work and the others return at once. A failed pass (PostgreSQL away, a lock timeout) is logged and tried next interval:
 * the months made ahead leave time.
 */
export class PartitionUpkeep {
  private readonly log: Logger;
  private readonly intervalMs: number;
  private readonly loop: PollingLoop;

  constructor(private readonly options: PartitionUpkeepOptions) {
    this.intervalMs = options.intervalMs ?? 3_600_000;
    assertPositiveIntegers('PartitionUpkeep', { intervalMs: this.intervalMs });
    if (!Number.isInteger(options.retentionDays) || options.retentionDays < 0) throw new Error('PartitionUpkeep: retentionDays must be an integer ≥ 0');
    this.log = options.logger.child({ component: 'event-partitions' });
    this.loop = new PollingLoop(async () => {
      try {
        await this.upkeepOnce();
      } catch (err) {
        this.log.warn({ err: { name: (err as Error).name, message: (err as Error).message } }, 'event partition upkeep failed; next pass retries');
      }
      return this.intervalMs;
    });
  }

  /** Runs the first pass at once: a worker started after a long outage makes the months it missed. */
  start(): this {
    this.loop.start(0);
    return this;
  }

  /** Stops after the pass in progress. Safe twice. */
  close(): Promise<void> {
    return this.loop.close();
  }

  /** One pass; public for tests and tools. */
  async upkeepOnce(): Promise<UpkeepPass> {
    const created = await this.options.partitions.ensure();
    if (created.length > 0) this.log.info({ partitions: created }, 'event partitions created');
    const expired = this.options.retentionDays > 0 ? await this.options.partitions.dropExpired(this.options.retentionDays) : [];
    for (const e of expired) {
      if (e.outcome === 'dropped') this.log.info({ partition: e.partition, deliveries: e.deliveries }, 'expired event partition dropped');
      else this.log.info({ partition: e.partition, reason: e.outcome }, 'expired event partition kept for now');
    }
    return { created, expired };
  }
}

/** The partition upkeep of every worker process. */
export const startEventPartitions: StartProcessor = (deps) => {
  const upkeep = new PartitionUpkeep({
    partitions: deps.repos.operator.eventPartitions,
    logger: deps.logger,
    retentionDays: deps.config.EVENTS_RETENTION_DAYS,
  }).start();
  return { name: 'event-partitions', close: () => upkeep.close() };
};
