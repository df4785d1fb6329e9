import { ScimError } from '../../scim/errors';
import type { EventType } from '../../events/catalog';
import type { ResourceTypeName } from '../../scim/schema-types';
import type { TenantId } from '../../ids';
import { captureTraceContext } from '../../telemetry/context';
import { appendOutboxEvent, membershipEventData, type OutboxEvent, outboxInsertSelect, outboxRow } from '../outbox';
import type { Database, Sql, Transaction } from '../sequelize';
import { UUID_V7 } from '../sql';
import type { DirectoryScope } from './scope';

export interface EventInput {
  readonly type: EventType;
  readonly resourceType: ResourceTypeName;
  readonly resourceId: string;
  readonly data: unknown;
}

/** Writes events inside the caller's transaction: the event row is the outbox. */
export class EventWriter {
  private readonly db: Sql;

  constructor(
    db: Database,
    private readonly scope: DirectoryScope,
    /** Who made the change, e.g. `api_key:<id>`. */
    private readonly actor: string,
  ) {
    this.db = db.forDirectory(scope);
  }

  async append(t: Transaction, event: EventInput): Promise<void> {
    await appendOutboxEvent(this.db, t, this.outboxEvent(event));
  }

  /**
   * The column values of an event row (see outboxRow), for a caller that writes the change and
   * its event in one statement (see ResourceTable.insert).
   */
  outboxValues(event: EventInput): unknown[] {
    return outboxRow(this.outboxEvent(event));
  }

  private outboxEvent(event: EventInput): OutboxEvent {
    const { tenantId, directoryId } = this.scope;
    return { tenantId, directoryId, type: event.type, resourceType: event.resourceType, resourceId: event.resourceId, actor: this.actor, data: event.data };
  }

  /**
   * One group.user_added / group.user_removed event per user, built in SQL from the users'
   * rows so a 50,000-member change is one statement, not 50,000.
   */
  async appendMembership(
    t: Transaction,
    type: 'group.user_added' | 'group.user_removed',
    group: { id: string; displayName: string },
    userIds: readonly string[],
  ): Promise<void> {
    if (userIds.length === 0) return;
    await this.db.exec(
      outboxInsertSelect(`
       SELECT ${UUID_V7}, $1, $2, $3, 'Group', $4, $5, ${membershipEventData('$4::uuid', '$6::text')}, $8::jsonb
         FROM unnest($7::uuid[]) WITH ORDINALITY AS m(user_id, n)
         JOIN scim_users u ON u.directory_id = $2 AND u.id = m.user_id
        ORDER BY m.n`),
      [this.scope.tenantId, this.scope.directoryId, type, group.id, this.actor, group.displayName, userIds, captureTraceContext() ?? null],
      t,
    );
  }
}

export interface StoredEvent {
  id: string;
  type: string;
  tenantId: string;
  directoryId: string;
  resourceType: string;
  resourceId: string;
  actor: string | null;
  timestamp: string;
  data: unknown;
  cursor: string;
}

interface EventRow {
  seq: string;
  txid: string;
  id: string;
  type: string;
  tenant_id: string;
  directory_id: string;
  resource_type: string;
  resource_id: string;
  actor: string | null;
  occurred_at: Date;
  data: unknown;
}

/** An events cursor: base64url of "txid.seq" (shared by the feed, replay and the relay). */
export const encodeCursor = (txid: string, seq: string) => Buffer.from(`${txid}.${seq}`).toString('base64url');

export function decodeCursor(cursor: string): [string, string] {
  const m = /^(\d{1,20})\.(\d{1,20})$/.exec(Buffer.from(cursor, 'base64url').toString());
  if (!m) throw new ScimError(400, 'invalidValue', `"after" is not a cursor this API issued`);
  return [m[1], m[2]];
}

/**
 * The tenant's event feed in commit order. Sequence numbers are taken before commit, so a
 * transaction can commit after one with a higher number; the feed therefore stops below the
 * oldest transaction still running (pg_snapshot_xmin) and orders by transaction id, so a reader
 * that follows the cursor never skips a late commit. An event addressed to one webhook endpoint
 * (webhook.test, migration 0011) records no change and is left out.
 */
export async function listTenantEvents(
  db: Sql,
  tenantId: TenantId,
  options: { after?: string; limit: number },
): Promise<{ events: StoredEvent[]; next: string | undefined }> {
  const [txid, seq] = options.after ? decodeCursor(options.after) : ['0', '0'];
  const rows = await db.query<EventRow>(
    `SELECT seq, txid::text AS txid, id, type, tenant_id, directory_id, resource_type, resource_id, actor, occurred_at, data
       FROM events
      WHERE tenant_id = $1
        AND (txid, seq) > ($2::text::xid8, $3::bigint)
        AND txid < pg_snapshot_xmin(pg_current_snapshot())
        AND endpoint_id IS NULL
      ORDER BY txid, seq
      LIMIT $4`,
    [tenantId, txid, seq, options.limit],
  );
  const events = rows.map((r) => ({
    id: r.id,
    type: r.type,
    tenantId: r.tenant_id,
    directoryId: r.directory_id,
    resourceType: r.resource_type,
    resourceId: r.resource_id,
    actor: r.actor,
    timestamp: r.occurred_at.toISOString(),
    data: r.data,
    cursor: encodeCursor(r.txid, r.seq),
  }));
  const last = events.at(-1);
  return { events, next: last ? last.cursor : options.after };
}
