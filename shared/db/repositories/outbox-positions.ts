import type { TraceCarrier } from '../../telemetry/context';
import type { Database, Sql, Transaction } from '../sequelize';

/** One row of a relay batch: an event and one endpoint of its tenant that wants it. */
export interface OutboxBatchRow {
  seq: string;
  txid: string;
  id: string;
  tenant_id: string;
  type: string;
  trace_context: TraceCarrier | null;
  lag_ms: number;
  endpoint_id: string | null;
}

/** A delivery the relay stores: its event, its endpoint, and the batch job of its first attempt. */
export interface FreshDelivery {
  readonly id: string;
  readonly tenantId: string;
  readonly endpointId: string;
  readonly eventId: string;
  readonly eventType: string;
  readonly batchId: string;
}

/** A point in the outbox's commit order. */
export interface OutboxPoint {
  readonly txid: string;
  readonly seq: string;
}

/**
 * The next events after the position in commit order, one row per (event, matching endpoint),
 * or one row with a NULL endpoint for an event nobody subscribes to (the position still moves
 * past it). An event addressed to one endpoint (webhook.test, migration 0011) matches none: its
 * writer stored its one delivery with it, and the relay must not fan it out. Sequence numbers are taken before commit, so the batch stops below the oldest
 * transaction still running (pg_snapshot_xmin, as listTenantEvents does): a transaction holding
 * a lower number that commits late is read on a later pass, never skipped.
 */
const BATCH_SQL = `
  WITH batch AS (
    SELECT seq, txid, id, tenant_id, type, trace_context, occurred_at, endpoint_id
      FROM events
     WHERE (txid, seq) > ($1::text::xid8, $2::bigint)
       AND txid < pg_snapshot_xmin(pg_current_snapshot())
     ORDER BY txid, seq
     LIMIT $3
  )
  SELECT b.seq::text AS seq, b.txid::text AS txid, b.id, b.tenant_id, b.type, b.trace_context,
         (extract(epoch FROM clock_timestamp() - b.occurred_at) * 1000)::float8 AS lag_ms,
         w.id AS endpoint_id
    FROM batch b
    LEFT JOIN webhook_endpoints w
      ON w.tenant_id = b.tenant_id
     AND b.endpoint_id IS NULL
     AND w.status <> 'disabled'
     AND (w.event_types IS NULL OR b.type = ANY (w.event_types))
   ORDER BY b.txid, b.seq, w.id`;

/**
 * Cheap test for work, without taking the row lock (which costs a transaction id each time).
 * The ORDER BY … LIMIT 1 keeps it an index probe at the position: a bare EXISTS over the join
 * is planned as a sequential scan of events, every poll.
 */
const PENDING_SQL = `
  SELECT EXISTS (
    SELECT 1 FROM outbox_positions p
     CROSS JOIN LATERAL (
       SELECT 1 FROM events e
        WHERE (e.txid, e.seq) > (p.txid, p.seq) AND e.txid < pg_snapshot_xmin(pg_current_snapshot())
        ORDER BY e.txid, e.seq
        LIMIT 1) next
     WHERE p.name = $1
  ) AS pending`;

/**
 * The outbox relay's statements (shared/events/outbox-relay.ts), bound to one row of
 * outbox_positions. They read the events of every tenant and write deliveries for each event's
 * own tenant: the relay is the one reader that crosses tenants by design.
 */
export class CrossTenantOutbox {
  private readonly db: Sql;

  constructor(
    db: Database,
    private readonly positionName: string,
  ) {
    this.db = db.acrossTenants();
  }

  /** A transaction across tenants, for the statements below that take one. */
  transaction<T>(work: (t: Transaction) => Promise<T>): Promise<T> {
    return this.db.transaction(work);
  }

  /** The row for a new pipeline starts below the oldest running transaction: nothing in flight is missed. */
  async ensurePosition(): Promise<void> {
    await this.db.exec(
      `INSERT INTO outbox_positions (name, txid, seq) VALUES ($1, pg_snapshot_xmin(pg_current_snapshot()), 0)
       ON CONFLICT (name) DO NOTHING`,
      [this.positionName],
    );
  }

  /** Whether any event is visible past the position. */
  async hasPending(): Promise<boolean> {
    const [{ pending }] = await this.db.query<{ pending: boolean }>(PENDING_SQL, [this.positionName]);
    return pending;
  }

  /** Locks the position row for the caller's transaction, or undefined when another relay holds it (SKIP LOCKED). */
  async lockPosition(t: Transaction): Promise<OutboxPoint | undefined> {
    const [position] = await this.db.query<{ txid: string; seq: string }>(
      'SELECT txid::text AS txid, seq::text AS seq FROM outbox_positions WHERE name = $1 FOR UPDATE SKIP LOCKED',
      [this.positionName],
      t,
    );
    return position;
  }

  /** Up to `limit` events after `position` with their endpoints (see BATCH_SQL). */
  batchAfter(position: OutboxPoint, limit: number, t: Transaction): Promise<OutboxBatchRow[]> {
    return this.db.query<OutboxBatchRow>(BATCH_SQL, [position.txid, position.seq, limit], t);
  }

  /**
   * Stores one pending delivery per row, each in its event's tenant with its batch, committed at
   * once on its own connection (no transaction); rows already stored are left as they are.
   * Returns every row's batch as stored: a row an earlier pass stored keeps that pass's batch.
   */
  async recordDeliveries(rows: readonly FreshDelivery[]): Promise<Map<string, string | null>> {
    const inserted = await this.db.query<{ id: string }>(
      `INSERT INTO webhook_deliveries (id, tenant_id, endpoint_id, event_id, event_type, batch_id)
         SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::text[], $6::uuid[])
         ON CONFLICT DO NOTHING
       RETURNING id`,
      [
        rows.map((r) => r.id),
        rows.map((r) => r.tenantId),
        rows.map((r) => r.endpointId),
        rows.map((r) => r.eventId),
        rows.map((r) => r.eventType),
        rows.map((r) => r.batchId),
      ],
    );
    const batches = new Map<string, string | null>();
    const fresh = new Set(inserted.map((r) => r.id));
    for (const r of rows) if (fresh.has(r.id)) batches.set(r.id, r.batchId);
    const earlier = rows.filter((r) => !fresh.has(r.id));
    if (earlier.length === 0) return batches;
    const found = await this.db.query<{ id: string; batch_id: string | null }>(
      `SELECT d.id, d.batch_id FROM unnest($1::uuid[], $2::uuid[]) AS k (tenant_id, id)
         JOIN webhook_deliveries d ON d.tenant_id = k.tenant_id AND d.id = k.id`,
      [earlier.map((r) => r.tenantId), earlier.map((r) => r.id)],
    );
    for (const r of found) batches.set(r.id, r.batch_id);
    return batches;
  }

  /** Moves the position to `to`, in the pass's transaction. */
  async advancePosition(to: OutboxPoint, t: Transaction): Promise<void> {
    await this.db.exec(
      'UPDATE outbox_positions SET txid = $2::text::xid8, seq = $3::bigint, updated_at = now() WHERE name = $1',
      [this.positionName, to.txid, to.seq],
      t,
    );
  }

  /**
   * Events past the position: how many, and how old the oldest is in seconds (null when none).
   * Counts every event past the position, committed or not yet visible.
   */
  async backlog(): Promise<{ events: string; oldest: number | null } | undefined> {
    const [row] = await this.db.query<{ events: string; oldest: number | null }>(
      `SELECT count(e.seq)::text AS events, extract(epoch FROM now() - min(e.occurred_at))::float8 AS oldest
       FROM outbox_positions p
       LEFT JOIN events e ON (e.txid, e.seq) > (p.txid, p.seq)
      WHERE p.name = $1`,
      [this.positionName],
    );
    return row;
  }
}
