import type { Sql, Transaction } from '../sequelize';

/**
 * One NDJSON line per event: id, type, timestamp, tenantId, directoryId, resourceType,
 * resourceId, actor, data — the webhook body's fields plus who did it. `data` is spliced in as
 * jsonb's own text (valid JSON), so a million events are not parsed only to be printed again.
 */
const LINE = `'{"id":' || to_json(id)::text
  || ',"type":' || to_json(type)::text
  || ',"timestamp":' || to_json(to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))::text
  || ',"tenantId":' || to_json(tenant_id)::text
  || ',"directoryId":' || coalesce(to_json(directory_id)::text, 'null')
  || ',"resourceType":' || to_json(resource_type)::text
  || ',"resourceId":' || to_json(resource_id)::text
  || ',"actor":' || coalesce(to_json(actor)::text, 'null')
  || ',"data":' || data::text || '}'`;

/**
 * The events of one tenant as audit-export lines (workers/audit-export.ts); not those addressed to
 * one webhook endpoint (webhook.test, migration 0011), which record no change.
 */
export class AuditExportRows {
  constructor(
    private readonly db: Sql,
    private readonly tenantId: string,
  ) {}

  /** A read-only transaction: one snapshot for the whole export, which lineBatches reads in. */
  snapshot<T>(work: (t: Transaction) => Promise<T>): Promise<T> {
    return this.db.transaction(work, { readOnly: true });
  }

  /**
   * The tenant's events in [from, to) as NDJSON lines, `batchSize` lines at a time, in
   * (occurred_at, seq) order, read through a server-side cursor in the caller's transaction: one
   * query, one snapshot, planned for fast start (cursor_tuple_fraction), so PostgreSQL walks
   * events_tenant_time_idx in order and hands over one batch per FETCH. Not keyset paging: with
   * stale statistics (right after a bulk load) its planner sorts the remaining range for every page.
   */
  async *lineBatches(t: Transaction, range: { from: Date; to: Date }, batchSize: number): AsyncGenerator<string[]> {
    await this.db.exec(
      `DECLARE audit_export NO SCROLL CURSOR FOR
       SELECT ${LINE} AS line FROM events
        WHERE tenant_id = $1 AND occurred_at >= $2 AND occurred_at < $3 AND endpoint_id IS NULL
        ORDER BY occurred_at, seq`,
      [this.tenantId, range.from, range.to],
      t,
    );
    for (;;) {
      const rows = await this.db.query<{ line: string }>(`FETCH FORWARD ${batchSize} FROM audit_export`, [], t);
      if (rows.length === 0) return;
      yield rows.map((r) => r.line);
      if (rows.length < batchSize) return;
    }
  }
}
