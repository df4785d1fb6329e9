import type { OperatorRepositories } from '../db/repositories';
import type { CrossTenantOutbox, FreshDelivery, OutboxBatchRow } from '../db/repositories/outbox-positions';
import type { Transaction } from '../db/sequelize';
import { DELIVERIES_PER_BATCH, type DeliveryQueue, type WebhookBatchJob, type WebhookDeliveryJob, enqueueBatches, enqueueDeliveries } from '../queue/catalog';
import type { RedisClient } from '../queue/redis';
import { assertPositiveIntegers, PollingLoop, withTimeout } from '../polling-loop';
import type { Logger } from '../telemetry/logger';
import { deliveryIdOf, newId } from '../ids';

/** The production relay's row in outbox_positions (created by migration 0003 at the start). */
export const WEBHOOKS_POSITION = 'webhooks';
/**
 * The BullMQ prefixes the worker uses in production (workers/main.ts): `scim`, or `{scim}` on a
 * Redis Cluster. Moving to a cluster keeps the position: the same events feed the new queues.
 */
const PRODUCTION_QUEUE_PREFIXES: ReadonlySet<string> = new Set(['scim', '{scim}']);

/**
 * The outbox position of the relay feeding the queues under `queuePrefix`. A position says how
 * far events have been handed to one set of queues, so each prefix has its own: production's is
 * `webhooks`; a test's own prefix gets its own row and never takes another test's events.
 */
export const outboxPositionFor = (queuePrefix: string): string =>
  PRODUCTION_QUEUE_PREFIXES.has(queuePrefix) ? WEBHOOKS_POSITION : `${WEBHOOKS_POSITION}:${queuePrefix}`;

export interface OutboxRelayOptions {
  /** The relay reads every tenant's events: the operator's repositories. */
  readonly operator: OperatorRepositories;
  /** Where delivery jobs go (QUEUES.webhookDelivery). The relay does not close it. */
  readonly queue: DeliveryQueue;
  /**
   * The Redis connection behind `queue`. While it is not ready the relay does not try to
   * enqueue (ioredis would hold every attempt in memory until Redis returns); it backs off.
   * Default: none, only the enqueue timeout applies.
   */
  readonly connection?: RedisClient;
  readonly logger: Logger;
  /**
   * Row of outbox_positions this relay advances. Default `webhooks`. A row that does not
   * exist yet is created at the outbox's current end: a new pipeline relays what is written
   * from then on, not history.
   */
  readonly positionName?: string;
  /** Events per transaction. Default 500. */
  readonly batchSize?: number;
  /** Pause between polls when there was nothing to do, ms. Default 100. */
  readonly pollIntervalMs?: number;
  /** Longest wait for Redis to take a batch before the pass is rolled back, ms. Default 5,000. */
  readonly enqueueTimeoutMs?: number;
  /** First delay after a failed pass, ms; doubles per failure. Default 200. */
  readonly minBackoffMs?: number;
  /** Longest delay between failed passes, ms. Default 5,000. */
  readonly maxBackoffMs?: number;
  /** Called after each committed batch (for metrics). Default: none. */
  readonly onBatch?: (batch: RelayedBatch) => void;
}

/** What one committed pass handed on. */
export interface RelayedBatch {
  readonly events: number;
  readonly deliveries: number;
  /** Age of the batch's oldest event when it was read, ms (commit → enqueue lag, roughly). */
  readonly lagMs: number;
  /** The batch was as large as allowed: more is waiting, so the relay goes again at once. */
  readonly full: boolean;
}

/** `idle`: nothing past the position; `busy`: another relay holds the position row. */
export type RelayPass = { readonly kind: 'idle' } | { readonly kind: 'busy' } | ({ readonly kind: 'batch' } & RelayedBatch);

/** Redis is known to be unreachable: the pass is abandoned before anything is sent. */
export class QueueUnavailableError extends Error {
  override readonly name = 'QueueUnavailableError';
}

/** A pass's jobs: batches of fresh deliveries, and the deliveries an earlier writer stored without one. */
interface RelayJobs {
  readonly batches: WebhookBatchJob[];
  readonly singles: WebhookDeliveryJob[];
}

/** Each stored delivery's job: its batch's, or its own (with its event's trace) when it has none. */
function jobsFor(rows: readonly OutboxBatchRow[], fresh: readonly FreshDelivery[], stored: ReadonlyMap<string, string | null>): RelayJobs {
  const batches = new Map<string, { batchId: string; tenantIds: string[]; deliveryIds: string[] }>();
  const singles: WebhookDeliveryJob[] = [];
  fresh.forEach((d, i) => {
    // Not stored: its endpoint was deleted meanwhile, and the row with it.
    if (!stored.has(d.id)) return;
    const batchId = stored.get(d.id);
    if (!batchId) {
      const trace = rows[i].trace_context;
      singles.push({ deliveryId: d.id, tenantId: d.tenantId, ...(trace ? { trace } : {}) });
      return;
    }
    let batch = batches.get(batchId);
    if (!batch) batches.set(batchId, (batch = { batchId, tenantIds: [], deliveryIds: [] }));
    batch.tenantIds.push(d.tenantId);
    batch.deliveryIds.push(d.id);
  });
  return { batches: [...batches.values()], singles };
}

/**
 * Hands committed events to the webhook delivery queue, at least once, in commit order.
 *
 * Each pass, in one transaction: lock the position row (FOR UPDATE SKIP LOCKED, so relays in
 * other processes skip the pass instead of queueing behind it), read a batch past the position,
 * store one pending delivery per (endpoint, event), each in a batch of up to DELIVERIES_PER_BATCH,
 * enqueue one job per batch (the contract of shared/queue/catalog.ts: jobId = the stored batch
 * id), then advance the position and commit. If Redis refuses or times out, the transaction rolls
 * back and the same batch is tried again after a capped backoff; SCIM writes only touch
 * PostgreSQL, so they carry on meanwhile. If the commit fails after the enqueue, the next pass
 * reads the same events again (and maybe more after them), finds their rows with the batches they
 * were stored with, and adds the same jobIds again, which BullMQ ignores: a delivery is never in
 * two batches. A job Redis loses after the add is the sweeper's (workers/job-sweeper.ts).
 *
 * The delivery rows are committed on their own connection before the jobs exist, not inside
 * the pass's transaction: a delivery worker can take a job within a millisecond of the add,
 * before the pass commits, and must find its row. Rows of a pass that then rolls back are
 * simply found again (ON CONFLICT DO NOTHING) and their jobs enqueued by the next pass.
 *
 * Polls every `pollIntervalMs` when idle and goes again at once after a full batch. No LISTEN:
 * a NOTIFY per event write would take PostgreSQL's global notify lock at every SCIM commit,
 * and a 100 ms poll (one indexed EXISTS) keeps commit → enqueue lag well under a second.
 */
export class OutboxRelay {
  private readonly outbox: CrossTenantOutbox;
  private readonly queue: DeliveryQueue;
  private readonly log: Logger;
  private readonly positionName: string;
  private readonly batchSize: number;
  private readonly pollIntervalMs: number;
  private readonly enqueueTimeoutMs: number;
  private readonly minBackoffMs: number;
  private readonly maxBackoffMs: number;
  private positionReady = false;
  private readonly loop: PollingLoop;
  private closing?: Promise<void>;
  private failures = 0;
  private summary = { batches: 0, events: 0, deliveries: 0, maxLagMs: 0, since: Date.now() };

  constructor(private readonly options: OutboxRelayOptions) {
    this.queue = options.queue;
    this.positionName = options.positionName ?? WEBHOOKS_POSITION;
    this.outbox = options.operator.outbox(this.positionName);
    this.batchSize = options.batchSize ?? 500;
    this.pollIntervalMs = options.pollIntervalMs ?? 100;
    this.enqueueTimeoutMs = options.enqueueTimeoutMs ?? 5000;
    this.minBackoffMs = options.minBackoffMs ?? 200;
    this.maxBackoffMs = options.maxBackoffMs ?? 5000;
    assertPositiveIntegers('OutboxRelay', {
      batchSize: this.batchSize,
      pollIntervalMs: this.pollIntervalMs,
      enqueueTimeoutMs: this.enqueueTimeoutMs,
      minBackoffMs: this.minBackoffMs,
      maxBackoffMs: this.maxBackoffMs,
    });
    this.log = options.logger.child({ component: 'outbox-relay', 'outbox.position': this.positionName });
    this.loop = new PollingLoop(() => this.pass());
  }

  /** Starts the loop; returns at once. */
  start(): this {
    this.log.info({ batchSize: this.batchSize, pollIntervalMs: this.pollIntervalMs }, 'outbox relay started');
    this.loop.start();
    return this;
  }

  /** Stops polling, lets a pass in progress commit or roll back, then resolves. Safe twice. */
  close(): Promise<void> {
    this.closing ??= this.loop.close().then(() => this.log.info('outbox relay stopped'));
    return this.closing;
  }

  /** One pass: what the loop runs; public so a tool can drain the outbox by hand. */
  async relayOnce(): Promise<RelayPass> {
    await this.ensurePosition();
    if (!(await this.outbox.hasPending())) return { kind: 'idle' };
    return this.outbox.transaction((t) => this.relayBatch(t));
  }

  private async relayBatch(t: Transaction): Promise<RelayPass> {
    const position = await this.outbox.lockPosition(t);
    if (!position) return { kind: 'busy' };
    const rows = await this.outbox.batchAfter(position, this.batchSize, t);
    if (rows.length === 0) return { kind: 'idle' };

    const deliveries = rows.filter((r): r is OutboxBatchRow & { endpoint_id: string } => r.endpoint_id !== null);
    if (deliveries.length > 0) {
      // Fresh rows go DELIVERIES_PER_BATCH to a batch job, in feed order, whatever their tenant.
      let batchId = '';
      const fresh = deliveries.map((r, i): FreshDelivery => {
        if (i % DELIVERIES_PER_BATCH === 0) batchId = newId();
        return { id: deliveryIdOf(r.endpoint_id, r.id), tenantId: r.tenant_id, endpointId: r.endpoint_id, eventId: r.id, eventType: r.type, batchId };
      });
      // No transaction argument: committed now, before any job can be taken (see class comment).
      const stored = await this.outbox.recordDeliveries(fresh);
      // Every delivery of the batch, not only rows inserted just now: a pass that enqueued and
      // then failed to commit left rows whose jobs may be missing; an existing jobId is a no-op.
      // A row stored by such a pass keeps its batch, so that batch is added again as it was.
      await this.enqueue(jobsFor(deliveries, fresh, stored));
    }

    const last = rows[rows.length - 1];
    await this.outbox.advancePosition(last, t);
    const events = new Set(rows.map((r) => r.seq)).size;
    return {
      kind: 'batch',
      events,
      deliveries: deliveries.length,
      lagMs: Math.round(Math.max(...rows.map((r) => r.lag_ms))),
      full: events >= this.batchSize,
    };
  }

  private async enqueue({ batches, singles }: RelayJobs): Promise<void> {
    const status = this.options.connection?.status;
    if (status !== undefined && status !== 'ready') throw new QueueUnavailableError(`Redis connection is ${status}`);
    // The abandoned add may still land when Redis returns; its jobIds make that harmless.
    const within = (add: Promise<void>) =>
      withTimeout(add, this.enqueueTimeoutMs, () => new QueueUnavailableError(`Redis did not take the batch within ${this.enqueueTimeoutMs} ms`));
    if (batches.length > 0) await within(enqueueBatches(this.queue, batches));
    if (singles.length > 0) await within(enqueueDeliveries(this.queue, singles));
  }

  /** Once per relay: creates its position row if missing (see CrossTenantOutbox.ensurePosition). */
  private async ensurePosition(): Promise<void> {
    if (this.positionReady) return;
    await this.outbox.ensurePosition();
    this.positionReady = true;
  }

  /** One pass of the loop; resolves with the pause before the next. */
  private async pass(): Promise<number> {
    try {
      const pass = await this.relayOnce();
      if (this.failures > 0) this.log.info({ failures: this.failures }, 'outbox relay recovered');
      this.failures = 0;
      if (pass.kind !== 'batch') return this.pollIntervalMs;
      this.record(pass);
      return pass.full ? 0 : this.pollIntervalMs;
    } catch (err) {
      this.failures += 1;
      // Capped exponential backoff with jitter, so several relays do not retry in step.
      const ceiling = Math.min(this.maxBackoffMs, this.minBackoffMs * 2 ** Math.min(this.failures - 1, 20));
      const delay = Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
      this.log.warn(
        { err: { name: (err as Error).name, message: (err as Error).message }, failures: this.failures, retryInMs: delay },
        'outbox relay pass failed; retrying',
      );
      return delay;
    }
  }

  private record(batch: RelayedBatch): void {
    this.options.onBatch?.(batch);
    this.log.debug({ events: batch.events, deliveries: batch.deliveries, lagMs: batch.lagMs, full: batch.full }, 'outbox batch relayed');
    const s = this.summary;
    s.batches += 1;
    s.events += batch.events;
    s.deliveries += batch.deliveries;
    s.maxLagMs = Math.max(s.maxLagMs, batch.lagMs);
    // One info line a minute at most: per-batch lines at 500 writes/s would drown the log.
    if (Date.now() - s.since >= 60_000) {
      this.log.info({ batches: s.batches, events: s.events, deliveries: s.deliveries, maxLagMs: s.maxLagMs }, 'outbox relay activity');
      this.summary = { batches: 0, events: 0, deliveries: 0, maxLagMs: 0, since: Date.now() };
    }
  }
}

/**
 * Events past the relay's position: how many, and how old the oldest is (0 when none). For the
 * metrics endpoint; counts every event past the position, committed or not yet visible.
 */
export async function outboxBacklog(
  operator: OperatorRepositories,
  positionName: string = WEBHOOKS_POSITION,
): Promise<{ events: number; oldestAgeSeconds: number }> {
  const row = await operator.outbox(positionName).backlog();
  return { events: Number(row?.events ?? 0), oldestAgeSeconds: Math.max(0, row?.oldest ?? 0) };
}
