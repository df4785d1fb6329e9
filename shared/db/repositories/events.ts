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

/** What a filtered feed keeps; each field left out keeps every event. */
export interface EventFeedFilter {
  /** Any of these types. */
  readonly types?: readonly EventType[];
  /** One directory's events; an id that is not one of the tenant's directories matches nothing. */
  readonly directoryId?: string;
  /** One user's or group's events (membership events carry the group's id). */
  readonly resourceId?: string;
  /** Events that occurred at or after this instant. */
  readonly since?: Date;
  /** Events that occurred before this instant. */
  readonly until?: Date;
}

export interface EventFeedOptions {
  after?: string;
  limit: number;
  filter?: EventFeedFilter;
  /**
   * Most events of the tenant's feed a filtered page looks at (default FILTERED_WALK). A page that
   * finds fewer matches stops there and hands back a `next` past everything it looked at.
   */
  walk?: number;
}

export interface EventFeedPage {
  events: StoredEvent[];
  /** Where the next page starts: past the last event returned, or looked at by a filtered page. */
  next: string | undefined;
  /** False once the page reached the feed's end (the oldest transaction still running). */
  hasMore: boolean;
}

/**
 * How many of the tenant's events one filtered page reads at most. A filter matching few events
 * would otherwise read the tenant's whole feed per request (its indexes are in commit order, not
 * by type or resource); bounded, a page costs what an unfiltered page of this size does (a few
 * ms), and the walk goes on from `next`. No index per filter: the events table is the write path
 * of every SCIM change, and a filter's combinations would each want their own.
 */
export const FILTERED_WALK = 10_000;

const EVENT_COLUMNS = 'seq, txid, id, type, tenant_id, directory_id, resource_type, resource_id, actor, occurred_at, data';

/**
 * The tenant's event feed in commit order. Sequence numbers are taken before commit, so a
 * transaction can commit after one with a higher number; the feed therefore stops below the
 * oldest transaction still running (pg_snapshot_xmin) and orders by transaction id, so a reader
 * that follows the cursor never skips a late commit. An event addressed to one webhook endpoint
 * (webhook.test, migration 0011) records no change and is left out.
 *
 * A filtered page walks the same feed from the cursor, at most `walk` events of it (see
 * FILTERED_WALK), and keeps those the filter matches: following `next` continues the one walk,
 * every matching event once, in commit order, however few match.
 */
export async function listTenantEvents(db: Sql, tenantId: TenantId, options: EventFeedOptions): Promise<EventFeedPage> {
  const [txid, seq] = options.after ? decodeCursor(options.after) : ['0', '0'];
  const filter = filterSql(options.filter ?? {}, 5);
  if (!filter) {
    // ORDER BY names the table's txid: a bare `txid` is the output column, the text, which sorted
    // "10000" before "9999" (and could not be read from the index, so every page sorted the tail).
    const rows = await db.query<EventRow>(
      `SELECT ${EVENT_COLUMNS.replace('txid', 'txid::text AS txid')}
         FROM events
        WHERE tenant_id = $1
          AND (txid, seq) > ($2::text::xid8, $3::bigint)
          AND txid < pg_snapshot_xmin(pg_current_snapshot())
          AND endpoint_id IS NULL
        ORDER BY events.txid, events.seq
        LIMIT $4`,
      [tenantId, txid, seq, options.limit],
    );
    const events = rows.map(storedEvent);
    return { events, next: events.at(-1)?.cursor ?? options.after, hasMore: events.length === options.limit };
  }
  // The walk is a subquery with its own ORDER BY … LIMIT, so it is read along the feed's index
  // and the filter cannot send the planner to another one (and to a sort of all it finds). Its
  // last event (n = walk) comes out too, matching or not, as the marker of where the walk ended.
  const walk = options.walk ?? FILTERED_WALK;
  const rows = await db.query<EventRow & { n: string; matches: boolean }>(
    `SELECT n, ${filter.where} AS matches, ${EVENT_COLUMNS.replace('txid', 'txid::text AS txid')}
       FROM (SELECT row_number() OVER (ORDER BY txid, seq) AS n, ${EVENT_COLUMNS}
               FROM events
              WHERE tenant_id = $1
                AND (txid, seq) > ($2::text::xid8, $3::bigint)
                AND txid < pg_snapshot_xmin(pg_current_snapshot())
                AND endpoint_id IS NULL
              ORDER BY txid, seq
              LIMIT $5) AS walk
      WHERE (${filter.where}) OR n = $5
      ORDER BY walk.txid, walk.seq
      LIMIT $4 + 1`,
    [tenantId, txid, seq, options.limit, walk, ...filter.values],
  );
  const events = rows
    .filter((r) => r.matches)
    .slice(0, options.limit)
    .map(storedEvent);
  if (events.length === options.limit) return { events, next: events.at(-1)?.cursor, hasMore: true };
  // Fewer matches than asked: the walk looked at every event up to its marker, or reached the
  // feed's end (then, like an unfiltered page, `next` stays after the last event returned).
  const marker = rows.find((r) => Number(r.n) === walk);
  if (marker) return { events, next: encodeCursor(marker.txid, marker.seq), hasMore: true };
  return { events, next: events.at(-1)?.cursor ?? options.after, hasMore: false };
}

function storedEvent(r: EventRow): StoredEvent {
  return {
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
  };
}

/** The filter's conditions on the walk's rows, its parameters numbered from `first`; undefined when it keeps every event. */
function filterSql(filter: EventFeedFilter, first: number): { where: string; values: unknown[] } | undefined {
  const conditions: string[] = [];
  const values: unknown[] = [];
  const param = (value: unknown, type: string) => {
    values.push(value);
    return `$${first + values.length}::${type}`;
  };
  if (filter.types?.length) conditions.push(`type = ANY(${param(filter.types, 'text[]')})`);
  if (filter.directoryId !== undefined) conditions.push(`directory_id = ${param(filter.directoryId, 'uuid')}`);
  if (filter.resourceId !== undefined) conditions.push(`resource_id = ${param(filter.resourceId, 'uuid')}`);
  if (filter.since) conditions.push(`occurred_at >= ${param(filter.since, 'timestamptz')}`);
  if (filter.until) conditions.push(`occurred_at < ${param(filter.until, 'timestamptz')}`);
  return conditions.length ? { where: conditions.join(' AND '), values } : undefined;
}
