import type { TraceCarrier } from '../../telemetry/context';
import type { Database, Transaction } from '../sequelize';

/** A pending delivery whose job should have run by now, as the sweeper enqueues it again. */
export interface OverdueDelivery {
  readonly deliveryId: string;
  readonly tenantId: string;
  readonly trace: TraceCarrier | null;
}

/**
 * The statements of the workers' delivery sweeper and of the overdue metric. Like the outbox
 * relay they span every tenant: they read ids only, and the one column they write
 * (next_attempt_at) is on the very rows they locked, each keeping its tenant. Both probe the
 * partial index of pending deliveries (migration 0005).
 */
export class DeliverySweep {
  constructor(private readonly db: Database) {}

  /**
   * Locks up to `limit` pending deliveries due for longer than `overdueAfterMs`, oldest first,
   * inside `t`. Rows another sweeper holds are skipped (SKIP LOCKED), so sweepers in any number
   * of processes each take their own.
   */
  async lockOverdue(t: Transaction, options: { overdueAfterMs: number; limit: number }): Promise<OverdueDelivery[]> {
    const rows = await this.db.query<{ id: string; tenant_id: string; trace_context: TraceCarrier | null }>(
      `SELECT d.id, d.tenant_id, e.trace_context
         FROM webhook_deliveries d
         JOIN events e ON e.id = d.event_id AND e.tenant_id = d.tenant_id
        WHERE d.status = 'pending' AND d.next_attempt_at < now() - $1 * interval '1 millisecond'
        ORDER BY d.next_attempt_at
        LIMIT $2
          FOR UPDATE OF d SKIP LOCKED`,
      [options.overdueAfterMs, options.limit],
      t,
    );
    return rows.map((r) => ({ deliveryId: r.id, tenantId: r.tenant_id, trace: r.trace_context }));
  }

  /**
   * The locked deliveries have a job again: due now, so they count as overdue again only if that
   * job does not run within the grace period either. Status and attempts are the worker's.
   */
  async markRequeued(t: Transaction, deliveryIds: readonly string[]): Promise<void> {
    await this.db.exec(
      `UPDATE webhook_deliveries SET next_attempt_at = now() WHERE id = ANY ($1::uuid[]) AND status = 'pending'`,
      [deliveryIds],
      t,
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
