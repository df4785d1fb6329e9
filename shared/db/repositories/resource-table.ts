import { ScimError } from '../../scim/errors';
import type { StoredResource } from '../../scim/render';
import type { JsonObject } from '../../scim/values';
import { isUuid } from '../../ids';
import { uniqueViolation } from '../errors';
import type { Database, Sql, Transaction } from '../sequelize';
import { EVERY_ROW_OF, NOW_MS } from '../sql';
import { OUTBOX_TYPES, outboxInsertSelect } from '../outbox';
import type { ResourceDescriptor, UniqueIndex } from '../resource-types';
import type { DirectoryScope } from './scope';
import { pageAnchorsOf } from './page-anchors';
import { uniqueLookupsOf } from './unique-lookups';
import { columnsOf, resourceInsertsOf } from './resource-inserts';
import { lockedInKeyOrder, lockKeyOf } from './unique-locks';

export interface ListQuery {
  /** SQL boolean over alias `r`, with parameters numbered from $2 ($1 is the directory). */
  readonly where?: string;
  readonly params?: readonly unknown[];
  /** SQL expression to order by, over alias `r`; the id breaks ties so pages are stable. */
  readonly orderBy?: string;
  readonly descending?: boolean;
  readonly offset: number;
  readonly limit: number;
  /** Also fetch the table's related rows (see ResourceTable's `related`) into each row's `related`. */
  readonly withRelated?: boolean;
  /** Set when the whole filter is `<core attribute> eq "<string>"` (`where` says the same). */
  readonly equals?: { readonly attribute: string; readonly value: string };
}

export interface Row {
  related?: unknown;
  id: string;
  data: JsonObject;
  version: number;
  created_at: Date;
  updated_at: Date;
}

const RETURNING = 'id, data, version, created_at, updated_at';

/**
 * Plain assignments, not a conditional spread: V8 builds `{ ...(c ? {} : { related }), … }` at
 * several microseconds a row, far more than these assignments cost (figures in BENCHMARKS.md).
 */
const toStored = (r: Row): StoredResource => {
  const stored: { -readonly [K in keyof StoredResource]: StoredResource[K] } = {
    id: r.id,
    data: r.data,
    version: r.version,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
  if (r.related !== undefined) stored.related = r.related;
  return stored;
};

/**
 * Reads and writes of one resource table, bound to one directory: every statement filters on
 * `directory_id = $1`, and no method exists that could reach another directory's rows.
 */
export class ResourceTable {
  /** Every statement runs in the directory's scope (PostgreSQL's row-level policies hold it to it). */
  protected readonly db: Sql;

  constructor(
    protected readonly database: Database,
    protected readonly scope: DirectoryScope,
    /** The resource type's table, columns and unique indexes. */
    private readonly type: ResourceDescriptor,
    /**
     * A correlated subquery over alias `t` returning the resource's related rows as JSON (a user's
     * groups, a group's members), fetched in the same statement when asked for.
     */
    private readonly related: string,
  ) {
    this.db = database.forDirectory(scope);
  }

  /**
   * Inserts a resource. With `event` (column values from outboxRow, via EventWriter.outboxValues),
   * the event row is written by the same statement, so a create is one round trip and still atomic. A value
   * another resource holds answers 409 uniqueness without ever raising a unique violation (see
   * UNIQUE_LOCKS): the statement takes the values' locks, and ON CONFLICT DO NOTHING turns a
   * clash into no row. Outside a transaction the create shares its statement with the other
   * creates of the moment (resource-inserts.ts).
   */
  async insert(id: string, data: JsonObject, t?: Transaction, options: { createdAt?: Date; event?: unknown[] } = {}): Promise<StoredResource> {
    const event = options.event ?? [];
    const sql = insertStatement(this.type, event.length > 0);
    const item = {
      scope: this.scope,
      id,
      values: [this.scope.directoryId, this.scope.tenantId, id, data, options.createdAt ?? new Date(), ...this.type.extract(data), ...event],
    };
    const write = t ? async () => (await this.db.query<Row>(sql, columnsOf([item]), t))[0] : () => resourceInsertsOf(this.database).insert(sql, item);
    return this.untilStored(data, id, () => this.guard(write), t);
  }

  async find(id: string, t?: Transaction, options: { lock?: boolean; withRelated?: boolean } = {}): Promise<StoredResource | undefined> {
    if (!isUuid(id)) return undefined;
    const related = options.withRelated ? `, ${this.related} AS related` : '';
    const rows = await this.db.query<Row>(
      `SELECT ${prefixed('t')}${related} FROM ${this.type.table} t WHERE t.directory_id = $1 AND t.id = $2${options.lock ? ' FOR UPDATE' : ''}`,
      [this.scope.directoryId, id],
      t,
    );
    return rows[0] && toStored(rows[0]);
  }

  /**
   * Stores new data and bumps the version; the caller holds the row lock. When a unique value
   * changes from `previous` (every unique value, without it), its lock is taken first and the
   * UPDATE writes nothing if another resource holds the value, so a clash is a 409 uniqueness
   * and never a unique violation (UNIQUE_LOCKS): one more round trip, for renames only.
   */
  async update(id: string, data: JsonObject, t: Transaction, options: { withRelated?: boolean; previous?: JsonObject } = {}): Promise<StoredResource> {
    const next = this.type.extract(data);
    const before = options.previous && this.type.extract(options.previous);
    const changed = this.type.unique.filter((u) => {
      const i = this.type.dataColumns.indexOf(u.column);
      return next[i] !== null && next[i] !== undefined && (!before || before[i] !== next[i]);
    });
    const params = [this.scope.directoryId, id, data, ...next];
    const param = (u: UniqueIndex) => `$${this.type.dataColumns.indexOf(u.column) + 4}`;
    let guard = '';
    if (changed.length) {
      const keys = changed.map((u, i) => `SELECT ${lockKeyOf(u, '$1', `$${i + 2}`)}`).join(' UNION ALL ');
      await this.db.query(lockedInKeyOrder(keys), [this.lockPrefix(), ...changed.map((u) => next[this.type.dataColumns.indexOf(u.column)])], t);
      guard = ` AND NOT EXISTS (SELECT 1 FROM ${this.type.table} o WHERE o.directory_id = $1 AND o.id <> $2 AND (${changed.map((u) => matchOf(u, 'o', param(u))).join(' OR ')}))`;
    }
    const sets = this.type.dataColumns.map((c, i) => `${c} = $${i + 4}`).join(', ');
    const related = options.withRelated ? `, ${this.related} AS related` : '';
    const sql = `UPDATE ${this.type.table} t SET data = $3, ${sets}, version = t.version + 1, updated_at = ${NOW_MS}
      WHERE t.directory_id = $1 AND t.id = $2${guard} RETURNING ${prefixed('t')}${related}`;
    return this.untilStored(data, id, async () => (await this.guard(() => this.db.query<Row>(sql, params, t)))[0], t);
  }

  /** Bumps version and lastModified without touching data (a membership change). */
  async touch(id: string, t: Transaction): Promise<StoredResource> {
    const rows = await this.db.query<Row>(
      `UPDATE ${this.type.table} SET version = version + 1, updated_at = ${NOW_MS} WHERE directory_id = $1 AND id = $2 RETURNING ${RETURNING}`,
      [this.scope.directoryId, id],
      t,
    );
    return toStored(rows[0]);
  }

  async delete(id: string, t: Transaction): Promise<StoredResource | undefined> {
    if (!isUuid(id)) return undefined;
    const rows = await this.db.query<Row>(
      `DELETE FROM ${this.type.table} WHERE directory_id = $1 AND id = $2 RETURNING ${RETURNING}`,
      [this.scope.directoryId, id],
      t,
    );
    return rows[0] && toStored(rows[0]);
  }

  /**
   * One page and the total. An unfiltered list in id order is one statement: the total from the
   * sharded counters, and the page found on the primary key from an anchor or from whichever end
   * is nearer, so no page of 100,000 users skips many index entries (page-anchors.ts). Filtered or sorted
   * lists get the page's ids and the total (a window count) from one statement, then read only
   * those rows. A whole filter of `<unique attribute> eq "…"` is one probe of that attribute's
   * unique index, batched with the concurrent lookups of other requests (unique-lookups.ts).
   */
  async list(q: ListQuery): Promise<{ total: number; rows: StoredResource[] }> {
    if (q.equals && !q.orderBy && q.offset === 0 && q.limit > 0) {
      const { attribute, value } = q.equals;
      const unique = this.type.unique.find((u) => u.attribute === attribute);
      if (unique) {
        const rows = (await this.findUnique(unique, value, q.withRelated)).map(toStored);
        return { total: rows.length, rows };
      }
    }
    if (!q.where && q.limit <= 0) return { total: await this.countAll(), rows: [] };
    if (!q.where && !q.orderBy && !q.descending) return this.pageById(q);
    const where = `r.directory_id = $1${q.where ? ` AND (${q.where})` : ''}`;
    const bind = [this.scope.directoryId, ...(q.params ?? [])];
    const count = async () => {
      const rows = await this.db.query<{ total: string }>(`SELECT count(*) AS total FROM ${this.type.table} r WHERE ${where}`, bind);
      return Number(rows[0].total);
    };
    if (q.limit <= 0) return { total: await count(), rows: [] };

    const n = bind.length;
    const dir = q.descending ? 'DESC' : 'ASC';
    // Resources without the value sort last ascending and first descending, as SCIM asks,
    // which is PostgreSQL's default null ordering for each direction.
    const order = q.orderBy ? `${q.orderBy} ${dir}, r.id ${dir}` : `r.id ${dir}`;
    const related = q.withRelated ? `, ${this.related} AS related` : '';
    const rows = await this.db.query<Row & { total: string }>(
      `WITH page AS (
         SELECT r.id, count(*) OVER () AS total, row_number() OVER (ORDER BY ${order}) AS n
           FROM ${this.type.table} r WHERE ${where}
          ORDER BY ${order} LIMIT $${n + 1} OFFSET $${n + 2})
       SELECT ${prefixed('t')}${related}, page.total
         FROM page JOIN ${this.type.table} t ON t.directory_id = $1 AND t.id = page.id
        ORDER BY page.n`,
      [...bind, q.limit, q.offset],
    );
    if (rows.length === 0) return { total: q.offset > 0 ? await count() : 0, rows: [] };
    return { total: Number(rows[0].total), rows: rows.map(toStored) };
  }

  /** The row (none or one) whose unique attribute equals `value`, batched with concurrent peers. */
  private findUnique(unique: UniqueIndex, value: string, withRelated = false): Promise<Row[]> {
    const related = withRelated ? `, ${this.related} AS related` : '';
    // Materialised so `k.folded` stays a column of k: a join condition calling lower() on it
    // would not be leakproof, and under row-level security could not use the index.
    const sql = `WITH k AS MATERIALIZED (
         SELECT u.directory_id, u.value, lower(u.value) AS folded, u.n
           FROM unnest($1::uuid[], $2::text[]) WITH ORDINALITY AS u(directory_id, value, n)
          ${EVERY_ROW_OF('$1::uuid[]')})
       SELECT k.n, ${prefixed('t')}${related}
         FROM k JOIN ${this.type.table} t ON t.directory_id = k.directory_id AND ${lookupOf(unique)}`;
    return uniqueLookupsOf(this.database).find(sql, { directoryId: this.scope.directoryId, value });
  }

  /** Resources in this directory, from the sharded counters (see migration 0002). */
  async countAll(): Promise<number> {
    const rows = await this.db.query<{ total: string | null }>(
      `SELECT sum(inserted - deleted) AS total FROM resource_counters WHERE directory_id = $1 AND resource_type = $2`,
      [this.scope.directoryId, this.type.resourceType],
    );
    return Number(rows[0]?.total ?? 0);
  }

  /**
   * A page in id order and the total, in one round trip. The counters give the total, and
   * their sums an epoch (see page-anchors.ts). Three scans of the primary key are planned, and
   * one-time filters on those figures run exactly one: from the page's anchor when the epoch is
   * the anchors' own, else from whichever end is nearer. The outer `LIMIT $2` tells the planner
   * the page's size, which the computed inner limits hide: without it, it guesses 10 % of the
   * table, hashes the table instead of probing it, and JIT-compiles the statement.
   * With no rows (a start past the end) the total still comes back, on a row of nulls. A page
   * that had to skip far asks for the directory's anchors afresh.
   */
  private async pageById(q: ListQuery): Promise<{ total: number; rows: StoredResource[] }> {
    const anchors = pageAnchorsOf(this.database);
    const anchor = anchors.nearest(this.type.table, this.scope.directoryId, q.offset);
    const related = q.withRelated ? `, ${this.related} AS related` : '';
    const rows = await this.db.query<Row & { total: string; anchored: boolean }>(
      `WITH c AS MATERIALIZED (
         SELECT total, least($2, greatest(total - $3, 0)) AS take, coalesce(inserted = $5::numeric AND deleted = $6::numeric, false) AS anchored
           FROM (SELECT coalesce(sum(inserted - deleted), 0)::int8 AS total, sum(inserted) AS inserted, sum(deleted) AS deleted
                   FROM resource_counters WHERE directory_id = $1 AND resource_type = $4) s),
       page AS (SELECT id FROM (
         (SELECT r.id FROM ${this.type.table} r WHERE r.directory_id = $1 AND r.id >= $7::uuid AND (SELECT anchored FROM c)
           ORDER BY r.id ASC LIMIT (SELECT take FROM c) OFFSET $3 - $8::int8)
         UNION ALL
         (SELECT r.id FROM ${this.type.table} r WHERE r.directory_id = $1 AND (SELECT NOT anchored AND $3 <= total - $3 - take FROM c)
           ORDER BY r.id ASC LIMIT (SELECT take FROM c) OFFSET $3)
         UNION ALL
         (SELECT r.id FROM ${this.type.table} r WHERE r.directory_id = $1 AND (SELECT NOT anchored AND $3 > total - $3 - take FROM c)
           ORDER BY r.id DESC LIMIT (SELECT take FROM c) OFFSET (SELECT greatest(total - $3 - take, 0) FROM c))) scans LIMIT $2)
       SELECT c.total, c.anchored, ${prefixed('t')}${related}
         FROM c LEFT JOIN (page JOIN ${this.type.table} t ON t.directory_id = $1 AND t.id = page.id) ON true
        ORDER BY t.id`,
      [
        this.scope.directoryId,
        q.limit,
        q.offset,
        this.type.resourceType,
        anchor?.inserted ?? null,
        anchor?.deleted ?? null,
        anchor?.id ?? null,
        anchor?.position ?? 0,
      ],
    );
    const total = Number(rows[0].total);
    if (rows[0].anchored) anchors.stats.anchoredPages++;
    else if (Math.min(q.offset, total - q.offset) >= anchors.minSkip)
      await anchors.refresh(this.type.table, this.type.resourceType, this.scope.directoryId, total);
    return { total, rows: rows[0].id === null ? [] : rows.map(toStored) };
  }

  /**
   * `${directory}|${table}|`: with a column name and a value, the key of UNIQUE_LOCKS. The create
   * statement (insertStatement) builds the same prefix in SQL from each row's directory.
   */
  private lockPrefix(): string {
    return `${this.scope.directoryId}|${this.type.table}|`;
  }

  /**
   * Runs a guarded write until it stores its row. No row means another resource holds one of
   * the unique values: that is a 409 naming the attribute. If the holder is gone by the time
   * it is looked for (deleted or renamed in between), the write is simply tried again.
   */
  private async untilStored(data: JsonObject, selfId: string, write: () => Promise<Row | undefined>, t?: Transaction): Promise<StoredResource> {
    for (let attempt = 1; ; attempt++) {
      const row = await write();
      if (row) return toStored(row);
      const taken = await this.takenAttribute(data, selfId, t);
      if (taken || attempt === 3) throw new ScimError(409, 'uniqueness', `${taken ?? this.type.unique[0].attribute} is already taken in this directory`);
    }
  }

  /** The first unique attribute of `data` another resource of the directory holds. */
  private async takenAttribute(data: JsonObject, selfId: string, t?: Transaction): Promise<string | undefined> {
    const next = this.type.extract(data);
    const params: unknown[] = [this.scope.directoryId, selfId];
    const probes = this.type.unique.flatMap((u) => {
      const value = next[this.type.dataColumns.indexOf(u.column)];
      if (value === null || value === undefined) return [];
      params.push(value);
      return [
        `(SELECT '${u.attribute}'::text AS attribute FROM ${this.type.table} o WHERE o.directory_id = $1 AND o.id <> $2 AND ${matchOf(u, 'o', `$${params.length}::text`)} LIMIT 1)`,
      ];
    });
    if (probes.length === 0) return undefined;
    const rows = await this.db.query<{ attribute: string }>(`SELECT attribute FROM (${probes.join(' UNION ALL ')}) p LIMIT 1`, params, t);
    return rows[0]?.attribute;
  }

  /** Turns unique-index violations into 409 uniqueness naming the attribute; a backstop, see UNIQUE_LOCKS. */
  private async guard<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (err) {
      const index = uniqueViolation(err);
      const attribute = index === undefined ? undefined : this.type.unique.find((u) => u.index === index)?.attribute;
      if (attribute) throw new ScimError(409, 'uniqueness', `${attribute} is already taken in this directory`);
      throw err;
    }
  }
}

const prefixed = (alias: string) =>
  RETURNING.split(', ')
    .map((c) => `${alias}.${c}`)
    .join(', ');

const matchOf = (u: UniqueIndex, alias: string, value: string) => (u.folded ? `${alias}.${u.folded} = lower(${value})` : `${alias}.${u.column} = ${value}`);

/**
 * The join of a batched unique lookup between `t` and a looked-up `k.value`, or `k.folded` (its
 * lower()) for a case-insensitive attribute; see unique-lookups.ts.
 */
const lookupOf = (u: UniqueIndex) => (u.folded ? `t.${u.folded} = k.folded` : `t.${u.column} = k.value`);

const INSERT_STATEMENTS = new Map<string, string>();

/**
 * The create statement of a resource type, with or without its event, over a batch of rows
 * given as one array per column (columnsOf); a create in a transaction is a batch of one. Every
 * unique value's lock is taken (in key order, UNIQUE_LOCKS) before any row is written.
 */
function insertStatement(type: ResourceDescriptor, withEvent: boolean): string {
  const key = `${type.table}:${withEvent}`;
  const known = INSERT_STATEMENTS.get(key);
  if (known) return known;
  const typeOf = (column: string) => Object.values(type.attributes).find((a) => a.column === column)?.type ?? 'text';
  const columns = [
    ['directory_id', 'uuid'],
    ['tenant_id', 'uuid'],
    ['id', 'uuid'],
    ['data', 'jsonb'],
    ['created_at', 'timestamptz'],
    ...type.dataColumns.map((c) => [c, typeOf(c)]),
    ...(withEvent ? OUTBOX_TYPES.map((t, i) => [`event_${i}`, t]) : []),
  ];
  const prefix = `(i.directory_id::text || '|${type.table}|')`;
  const keys = type.unique.map((u) => `SELECT ${lockKeyOf(u, prefix, `i.${u.column}`)} FROM input i`).join(' UNION ALL ');
  const events = withEvent
    ? `, e AS (${outboxInsertSelect(`SELECT ${OUTBOX_TYPES.map((_, i) => `i.event_${i}`).join(', ')} FROM r JOIN input i ON i.id = r.id`)})`
    : '';
  const sql = `WITH input AS (
      SELECT * FROM unnest(${columns.map(([, t], i) => `$${i + 1}::${t}[]`).join(', ')}) AS i (${columns.map(([c]) => c).join(', ')})
       ${EVERY_ROW_OF('$1::uuid[]')}),
    locked AS MATERIALIZED (${lockedInKeyOrder(keys)}),
    r AS (INSERT INTO ${type.table} (directory_id, tenant_id, id, data, created_at, updated_at, ${type.dataColumns.join(', ')})
      SELECT i.directory_id, i.tenant_id, i.id, i.data, i.created_at, i.created_at, ${type.dataColumns.map((c) => `i.${c}`).join(', ')}
        FROM input i WHERE (SELECT count(*) FROM locked) >= 0
      ON CONFLICT DO NOTHING RETURNING ${RETURNING})${events}
    SELECT * FROM r`;
  INSERT_STATEMENTS.set(key, sql);
  return sql;
}
