import type { TraceCarrier } from '../../telemetry/context';
import { deliveryIdOf } from '../../ids';
import type { SecretBox } from '../../secrets';
import type { TenantId } from '../../ids';
import type { Sql } from '../sequelize';
import type { AttemptLog, AttemptOutcome, DeliveryBatches } from './delivery-batches';
import { decodeCursor, encodeCursor } from './events';
import {
  type DeliveryStatus,
  type WebhookDelivery,
  type WebhookAttempt,
  type DeliveryTarget,
  type DeliveryRef,
  type DeliveryRow,
  DELIVERY_COLUMNS,
  deliveryView,
  encodeDeliveryCursor,
  decodeDeliveryCursor,
} from './webhook-records';

/** A tenant's deliveries: the delivery log, replay lookups and the worker's reads and writes. */
export class TenantDeliveries {
  /** Every statement runs in the tenant's scope (PostgreSQL's row-level policies hold it to it). */
  protected readonly db: Sql;

  constructor(
    db: Sql,
    protected readonly box: SecretBox,
    private readonly batches: DeliveryBatches,
    readonly tenantId: TenantId,
  ) {
    this.db = db;
  }

  async listDeliveries(
    endpointId: string,
    options: { status?: DeliveryStatus; after?: string; limit: number },
  ): Promise<{ deliveries: WebhookDelivery[]; next: string | null; hasMore: boolean }> {
    const [micros, afterId] = options.after ? decodeDeliveryCursor(options.after) : [null, null];
    const rows = await this.db.query<DeliveryRow & { micros: string }>(
      `SELECT ${DELIVERY_COLUMNS}, (extract(epoch FROM d.created_at) * 1000000)::bigint::text AS micros
         FROM webhook_deliveries d
        WHERE d.tenant_id = $1 AND d.endpoint_id = $2
          AND ($3::text IS NULL OR d.status = $3)
          AND ($4::bigint IS NULL OR (d.created_at, d.id) < (timestamptz 'epoch' + $4::bigint * interval '1 microsecond', $5::uuid))
        ORDER BY d.created_at DESC, d.id DESC
        LIMIT $6`,
      [this.tenantId, endpointId, options.status ?? null, micros, afterId, options.limit + 1],
    );
    // One row more than the page says whether another page follows.
    const hasMore = rows.length > options.limit;
    const page = hasMore ? rows.slice(0, options.limit) : rows;
    const last = page.at(-1);
    return {
      deliveries: page.map(deliveryView),
      next: last && hasMore ? encodeDeliveryCursor(last.micros, last.id) : null,
      hasMore,
    };
  }

  async getDelivery(endpointId: string, deliveryId: string): Promise<(WebhookDelivery & { attempts: WebhookAttempt[] }) | undefined> {
    const rows = await this.db.query<DeliveryRow>(
      `SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries d WHERE d.tenant_id = $1 AND d.endpoint_id = $2 AND d.id = $3`,
      [this.tenantId, endpointId, deliveryId],
    );
    if (!rows[0]) return undefined;
    const attempts = await this.db.query<{
      attempt: number;
      started_at: Date;
      duration_ms: number | null;
      status_code: number | null;
      error: string | null;
      response_excerpt: string | null;
    }>(
      `SELECT attempt, started_at, duration_ms, status_code, error, response_excerpt
         FROM webhook_attempts WHERE tenant_id = $1 AND delivery_id = $2 ORDER BY attempt, id`,
      [this.tenantId, deliveryId],
    );
    return {
      ...deliveryView(rows[0]),
      attempts: attempts.map((a) => ({
        attempt: a.attempt,
        startedAt: a.started_at.toISOString(),
        durationMs: a.duration_ms,
        statusCode: a.status_code,
        error: a.error,
        responseExcerpt: a.response_excerpt,
      })),
    };
  }

  // ---- replay ----

  /** One delivery, whatever its status, to send again. */
  async deliveryRef(endpointId: string, deliveryId: string): Promise<DeliveryRef | undefined> {
    const rows = await this.db.query<{ id: string; trace_context: TraceCarrier | null }>(
      `SELECT d.id, e.trace_context FROM webhook_deliveries d JOIN events e ON e.tenant_id = d.tenant_id AND e.id = d.event_id
        WHERE d.tenant_id = $1 AND d.endpoint_id = $2 AND d.id = $3`,
      [this.tenantId, endpointId, deliveryId],
    );
    return rows[0] && { deliveryId: rows[0].id, trace: rows[0].trace_context };
  }

  /**
   * The endpoint's dead letters, a page at a time in a stable order (`after` = the last id of
   * the previous page), so a caller can enqueue each page before asking for the next.
   */
  async deadLetters(endpointId: string, options: { after?: string; limit: number }): Promise<DeliveryRef[]> {
    const rows = await this.db.query<{ id: string; trace_context: TraceCarrier | null }>(
      `SELECT d.id, e.trace_context FROM webhook_deliveries d JOIN events e ON e.tenant_id = d.tenant_id AND e.id = d.event_id
        WHERE d.tenant_id = $1 AND d.endpoint_id = $2 AND d.status = 'dead' AND ($3::uuid IS NULL OR d.id > $3)
        ORDER BY d.id LIMIT $4`,
      [this.tenantId, endpointId, options.after ?? null, options.limit],
    );
    return rows.map((r) => ({ deliveryId: r.id, trace: r.trace_context }));
  }

  /**
   * The next page of the tenant's events after an events-feed cursor that this endpoint
   * subscribes to, each with its delivery: created when missing (as the relay would have),
   * found when it exists. Like the feed, it skips events addressed to one endpoint (webhook.test). Below the same commit fence as the events feed, so nothing is skipped;
   * events not yet past the fence are the relay's to deliver. `next` is the position after the page.
   */
  async deliveriesAfter(endpointId: string, options: { after: string; limit: number }): Promise<{ refs: DeliveryRef[]; next: string | undefined }> {
    const [txid, seq] = decodeCursor(options.after);
    return this.db.transaction(async (t) => {
      const events = await this.db.query<{ id: string; type: string; txid: string; seq: string; trace_context: TraceCarrier | null }>(
        `SELECT e.id, e.type, e.txid::text AS txid, e.seq::text AS seq, e.trace_context
           FROM events e JOIN webhook_endpoints w ON w.tenant_id = e.tenant_id AND w.id = $2
          WHERE e.tenant_id = $1
            AND (e.txid, e.seq) > ($3::text::xid8, $4::bigint)
            AND e.txid < pg_snapshot_xmin(pg_current_snapshot())
            AND e.endpoint_id IS NULL
            AND (w.event_types IS NULL OR e.type = ANY (w.event_types))
          ORDER BY e.txid, e.seq
          LIMIT $5`,
        [this.tenantId, endpointId, txid, seq, options.limit],
        t,
      );
      if (events.length === 0) return { refs: [], next: undefined };
      const ids = events.map((e) => deliveryIdOf(endpointId, e.id));
      await this.db.exec(
        `INSERT INTO webhook_deliveries (id, tenant_id, endpoint_id, event_id, event_type)
         SELECT x.id, $1::uuid, $3::uuid, x.event_id, x.event_type FROM unnest($2::uuid[], $4::uuid[], $5::text[]) AS x(id, event_id, event_type)
         ON CONFLICT (tenant_id, endpoint_id, event_id) DO NOTHING`,
        [this.tenantId, ids, endpointId, events.map((e) => e.id), events.map((e) => e.type)],
        t,
      );
      const last = events.at(-1)!;
      return {
        refs: events.map((e, i) => ({ deliveryId: ids[i], trace: e.trace_context })),
        next: encodeCursor(last.txid, last.seq),
      };
    });
  }

  /**
   * Replayed deliveries become pending again, due now, with a new run of retries (the whole
   * schedule; attempt numbers keep counting). Written before their jobs are enqueued: if Redis
   * then fails, the sweeper re-drives them. Returns the batch of each one never tried whose row
   * names one (its first attempt is that batch job's while it is queued or running).
   */
  async restartDeliveries(deliveryIds: readonly string[]): Promise<Map<string, string>> {
    const rows = await this.db.query<{ id: string; batch_id: string | null }>(
      `UPDATE webhook_deliveries SET status = 'pending', retry_base = attempts, next_attempt_at = now(), updated_at = now()
        WHERE tenant_id = $1 AND id = ANY ($2::uuid[])
       RETURNING id, CASE WHEN attempts = 0 THEN batch_id END AS batch_id`,
      [this.tenantId, deliveryIds],
    );
    return new Map(rows.flatMap((r) => (r.batch_id ? [[r.id, r.batch_id]] : [])));
  }

  // ---- deliveries: the worker's side ----

  /**
   * The delivery with its endpoint (secrets opened) and event, or undefined when any is gone.
   * Read in one statement with the other deliveries being loaded at the same moment.
   */
  loadDeliveryTarget(deliveryId: string): Promise<DeliveryTarget | undefined> {
    return this.batches.load(this.tenantId, deliveryId);
  }

  /**
   * Logs one attempt and moves the delivery to its outcome (in one statement with the other
   * attempts finishing at the same moment); returns the attempt's number (1 for the first
   * ever, counting replays), or undefined when the delivery is gone.
   */
  recordAttempt(deliveryId: string, attempt: AttemptLog, outcome: AttemptOutcome): Promise<number | undefined> {
    return this.batches.record(this.tenantId, deliveryId, attempt, outcome);
  }

  /** A delivery that will not be attempted (its endpoint is disabled) becomes a dead letter. */
  async markDead(deliveryId: string, reason: string): Promise<void> {
    await this.db.exec(
      `UPDATE webhook_deliveries SET status = 'dead', next_attempt_at = NULL, last_error = $3, updated_at = now()
        WHERE tenant_id = $1 AND id = $2 AND status <> 'delivered'`,
      [this.tenantId, deliveryId, reason],
    );
  }
}
