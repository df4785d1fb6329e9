import type { Claim, JobSweep, WebhookDeliveryJob } from '../../queue/catalog';
import type { TraceCarrier } from '../../telemetry/context';
import type { Database, Sql } from '../sequelize';

/**
 * The statements of the workers' delivery sweeper and of the overdue metric. Like the outbox
 * relay they span every tenant: they read ids only, and the one column they write
 * (next_attempt_at) is on the very rows they claimed, each keeping its tenant. Both probe the
 * partial index of pending deliveries (migration 0005).
 */
export class DeliverySweep implements JobSweep<WebhookDeliveryJob> {
  private readonly db: Sql;

  constructor(db: Database) {
    this.db = db.acrossTenants();
  }

  /**
   * Claims up to `limit` pending deliveries due for longer than `overdueAfterMs`, oldest first,
   * by making them due now, in one statement: rows another sweeper is claiming are skipped
   * (SKIP LOCKED) and rows it has claimed are no longer overdue, so sweepers in any number of
   * processes each take their own. No transaction stays open while the caller talks to Redis
   * (a transaction holding an id would hold back the events feed's commit fence).
   */
  async claimOverdue(options: { overdueAfterMs: number; limit: number }): Promise<Claim<WebhookDeliveryJob>[]> {
    const rows = await this.db.query<{
      id: string;
      tenant_id: string;
      batch_id: string | null;
      trace_context: TraceCarrier | null;
      due_before: string;
      claimed_at: string;
    }>(
      `WITH due AS (
         SELECT d.tenant_id, d.id, d.next_attempt_at AS due_before
           FROM webhook_deliveries d
          WHERE d.status = 'pending' AND d.next_attempt_at < now() - $1 * interval '1 millisecond'
          ORDER BY d.next_attempt_at
          LIMIT $2
            FOR UPDATE SKIP LOCKED
       ), claimed AS (
         UPDATE webhook_deliveries w SET next_attempt_at = now()
           FROM due
          WHERE w.tenant_id = due.tenant_id AND w.id = due.id AND w.status = 'pending' AND w.next_attempt_at < now() - $1 * interval '1 millisecond'
         RETURNING w.id, w.tenant_id, w.event_id, due.due_before, w.next_attempt_at, CASE WHEN w.attempts = 0 THEN w.batch_id END AS batch_id
       )
       SELECT c.id, c.tenant_id, c.batch_id, e.trace_context, c.due_before::text AS due_before, c.next_attempt_at::text AS claimed_at
         FROM claimed c JOIN events e ON e.id = c.event_id AND e.tenant_id = c.tenant_id`,
      [options.overdueAfterMs, options.limit],
    );
    return rows.map((r) => ({
      // A never-tried delivery's batch: while it is queued or running, the delivery is left to it.
      job: { deliveryId: r.id, tenantId: r.tenant_id, ...(r.batch_id ? { batchId: r.batch_id } : {}), ...(r.trace_context ? { trace: r.trace_context } : {}) },
      dueBefore: r.due_before,
      claimedAt: r.claimed_at,
    }));
  }

  /**
   * Gives claims back when their jobs could not be enqueued: each delivery is overdue again at
   * once for the next pass, unless something else (a worker, a replay) has changed it since.
   */
  async releaseClaims(claims: readonly Claim<WebhookDeliveryJob>[]): Promise<void> {
    await this.db.exec(
      `UPDATE webhook_deliveries w SET next_attempt_at = c.due_before
         FROM unnest($1::uuid[], $2::uuid[], $3::timestamptz[], $4::timestamptz[]) AS c (tenant_id, id, due_before, claimed_at)
        WHERE w.tenant_id = c.tenant_id AND w.id = c.id AND w.status = 'pending' AND w.next_attempt_at = c.claimed_at`,
      [claims.map((c) => c.job.tenantId), claims.map((c) => c.job.deliveryId), claims.map((c) => c.dueBefore), claims.map((c) => c.claimedAt)],
    );
  }

  /** Pending deliveries due for longer than `overdueAfterMs` (the metric), across every tenant. */
  async countOverdue(overdueAfterMs: number): Promise<number> {
    const [row] = await this.db.query<{ n: string }>(
      `SELECT count(*)::text AS n FROM webhook_deliveries
        WHERE status = 'pending' AND next_attempt_at < now() - $1 * interval '1 millisecond'`,
      [overdueAfterMs],
    );
    return Number(row?.n ?? 0);
  }
}
