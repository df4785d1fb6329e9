import type { EventType } from '../events/catalog';
import { newId } from '../ids';
import type { ResourceTypeName } from '../scim/schema-types';
import { captureTraceContext } from '../telemetry/context';
import type { Sql, Transaction } from './sequelize';

/**
 * The one writer of the events table, which is the outbox: every statement that writes an event
 * gets its INSERT text from here, so the columns, their order and the row's values are defined once.
 */
const OUTBOX_COLUMNS = 'id, tenant_id, directory_id, type, resource_type, resource_id, actor, data, trace_context';

/** One event row before it is written. */
export interface OutboxEvent {
  readonly tenantId: string;
  /** null for a tenant-level event (a webhook endpoint's), which no directory owns. */
  readonly directoryId: string | null;
  readonly type: EventType;
  readonly resourceType: ResourceTypeName | 'WebhookEndpoint';
  readonly resourceId: string;
  /** Who made the change, e.g. `api_key:<id>` or `system:webhook-delivery`. */
  readonly actor: string;
  readonly data: unknown;
}

/**
 * The column values of an event row, in column order, with a new id and the current trace (the
 * request's trace travels with the event to the worker and the webhook call). For a caller that
 * writes a change and its event in one statement (see outboxInsertSelect).
 */
export function outboxRow(event: OutboxEvent): unknown[] {
  return [
    newId(),
    event.tenantId,
    event.directoryId,
    event.type,
    event.resourceType,
    event.resourceId,
    event.actor,
    JSON.stringify(event.data),
    captureTraceContext() ?? null,
  ];
}

/** The SQL type of each of outboxRow's values, for a statement that unnests a batch of them from arrays. */
export const OUTBOX_TYPES: readonly string[] = ['uuid', 'uuid', 'uuid', 'text', 'text', 'uuid', 'text', 'jsonb', 'jsonb'];

const INSERT_ONE = `INSERT INTO events (${OUTBOX_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`;

/** Writes one event in the caller's transaction, in the scope of the caller's executor. */
export async function appendOutboxEvent(db: Sql, t: Transaction, event: OutboxEvent): Promise<void> {
  await db.exec(INSERT_ONE, outboxRow(event), t);
}

/**
 * `INSERT INTO events (<columns>) <select>`, for a statement that writes its events from rows (a
 * CTE, or one event per member). `select` yields the columns in outboxRow's order; it may start
 * with its own line break and indent, which is kept, else one space separates it. Callers build
 * the text once or identically each time, so the prepared-statement cache sees one statement.
 */
export function outboxInsertSelect(select: string): string {
  return `INSERT INTO events (${OUTBOX_COLUMNS})${/^\s/.test(select) ? '' : ' '}${select}`;
}

/**
 * `INSERT INTO events (<columns>, endpoint_id) <select>`: an event addressed to one webhook
 * endpoint (webhook.test, migration 0011), which the relay does not fan out and the events feed
 * and audit exports leave out. `select` yields outboxRow's columns, then the endpoint's id; the
 * caller stores the event's one delivery in the same statement.
 */
export function addressedOutboxInsertSelect(select: string): string {
  return `INSERT INTO events (${OUTBOX_COLUMNS}, endpoint_id)${/^\s/.test(select) ? '' : ' '}${select}`;
}

/**
 * The `data` of a group.user_added / group.user_removed event, as SQL over a users row `u` and
 * the group's id and displayName expressions. Shared by every statement that writes one.
 */
export const membershipEventData = (groupId: string, displayName: string) => `jsonb_build_object(
  'group', jsonb_build_object('id', ${groupId}, 'displayName', ${displayName}),
  'user', jsonb_build_object('id', u.id, 'userName', u.user_name, 'externalId', u.external_id,
                             'displayName', u.display_name, 'active', u.active))`;
