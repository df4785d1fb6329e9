import { UniqueConstraintError } from 'sequelize';
import { ScimError } from '../../scim/errors';
import type { StoredResource } from '../../scim/render';
import type { JsonObject } from '../../scim/values';
import { isUuid } from '../../ids';
import type { Database, Transaction } from '../sequelize';
import type { DirectoryScope } from './scope';

/** How one SCIM resource type maps onto its table. */
export interface TableSpec {
  readonly table: 'scim_users' | 'scim_groups';
  /** Indexed columns derived from the stored data, in insert order. */
  readonly columns: readonly string[];
  readonly extract: (data: JsonObject) => unknown[];
  /** Unique index name → the attribute it protects, for 409 details. */
  readonly uniqueIndexes: Readonly<Record<string, string>>;
}

export interface ListQuery {
  /** SQL boolean over alias `r`, with parameters numbered from $2 ($1 is the directory). */
  readonly where?: string;
  readonly params?: readonly unknown[];
  /** SQL expression to order by, over alias `r`; the id breaks ties so pages are stable. */
  readonly orderBy?: string;
  readonly descending?: boolean;
  readonly offset: number;
  readonly limit: number;
}

interface Row {
  id: string;
  data: JsonObject;
  version: number;
  created_at: Date;
  updated_at: Date;
}

const RETURNING = 'id, data, version, created_at, updated_at';

const toStored = (r: Row): StoredResource => ({
  id: r.id,
  data: r.data,
  version: r.version,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

/**
 * Reads and writes of one resource table, bound to one directory: every statement filters on
 * `directory_id = $1`, and no method exists that could reach another directory's rows.
 */
export class ResourceTable {
  constructor(
    protected readonly db: Database,
    protected readonly scope: DirectoryScope,
    private readonly spec: TableSpec,
  ) {}

  async insert(id: string, data: JsonObject, t: Transaction): Promise<StoredResource> {
    const cols = this.spec.columns;
    const placeholders = cols.map((_, i) => `$${i + 5}`).join(', ');
    const sql = `INSERT INTO ${this.spec.table} (directory_id, tenant_id, id, data, ${cols.join(', ')})
      VALUES ($1, $2, $3, $4, ${placeholders}) RETURNING ${RETURNING}`;
    const rows = await this.guard(() =>
      this.db.query<Row>(sql, [this.scope.directoryId, this.scope.tenantId, id, data, ...this.spec.extract(data)], t),
    );
    return toStored(rows[0]);
  }

  async find(id: string, t?: Transaction, lock = false): Promise<StoredResource | undefined> {
    if (!isUuid(id)) return undefined;
    const rows = await this.db.query<Row>(
      `SELECT ${RETURNING} FROM ${this.spec.table} WHERE directory_id = $1 AND id = $2${lock ? ' FOR UPDATE' : ''}`,
      [this.scope.directoryId, id],
      t,
    );
    return rows[0] && toStored(rows[0]);
  }

  /** Stores new data and bumps the version; the caller holds the row lock. */
  async update(id: string, data: JsonObject, t: Transaction): Promise<StoredResource> {
    const sets = this.spec.columns.map((c, i) => `${c} = $${i + 4}`).join(', ');
    const sql = `UPDATE ${this.spec.table} SET data = $3, ${sets}, version = version + 1, updated_at = now()
      WHERE directory_id = $1 AND id = $2 RETURNING ${RETURNING}`;
    const rows = await this.guard(() => this.db.query<Row>(sql, [this.scope.directoryId, id, data, ...this.spec.extract(data)], t));
    return toStored(rows[0]);
  }

  /** Bumps version and lastModified without touching data (a membership change). */
  async touch(id: string, t: Transaction): Promise<StoredResource> {
    const rows = await this.db.query<Row>(
      `UPDATE ${this.spec.table} SET version = version + 1, updated_at = now() WHERE directory_id = $1 AND id = $2 RETURNING ${RETURNING}`,
      [this.scope.directoryId, id],
      t,
    );
    return toStored(rows[0]);
  }

  async delete(id: string, t: Transaction): Promise<StoredResource | undefined> {
    if (!isUuid(id)) return undefined;
    const rows = await this.db.query<Row>(
      `DELETE FROM ${this.spec.table} WHERE directory_id = $1 AND id = $2 RETURNING ${RETURNING}`,
      [this.scope.directoryId, id],
      t,
    );
    return rows[0] && toStored(rows[0]);
  }

  /**
   * One page and the total. Without a sort the page is found on the primary key alone
   * (index-only), then joined back for its rows, so deep pages do not read skipped rows.
   */
  async list(q: ListQuery): Promise<{ total: number; rows: StoredResource[] }> {
    const where = `r.directory_id = $1${q.where ? ` AND (${q.where})` : ''}`;
    const bind = [this.scope.directoryId, ...(q.params ?? [])];
    const n = bind.length;
    const dir = q.descending ? 'DESC' : 'ASC';
    const order = q.orderBy ? `${q.orderBy} ${dir} NULLS LAST, r.id ${dir}` : `r.id ${dir}`;
    const pageSql = q.orderBy
      ? `SELECT ${prefixed('r')} FROM ${this.spec.table} r WHERE ${where} ORDER BY ${order} LIMIT $${n + 1} OFFSET $${n + 2}`
      : `SELECT ${prefixed('t')} FROM (SELECT r.id FROM ${this.spec.table} r WHERE ${where} ORDER BY ${order} LIMIT $${n + 1} OFFSET $${n + 2}) p
         JOIN ${this.spec.table} t ON t.directory_id = $1 AND t.id = p.id ORDER BY t.id ${dir}`;
    const [counted, rows] = await Promise.all([
      this.db.query<{ total: string }>(`SELECT count(*) AS total FROM ${this.spec.table} r WHERE ${where}`, bind),
      q.limit > 0 ? this.db.query<Row>(pageSql, [...bind, q.limit, q.offset]) : Promise.resolve([] as Row[]),
    ]);
    return { total: Number(counted[0].total), rows: rows.map(toStored) };
  }

  /** Turns unique-index violations into 409 uniqueness naming the attribute. */
  private async guard<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (err) {
      if (err instanceof UniqueConstraintError) {
        const index = (err.parent as { constraint?: string } | undefined)?.constraint ?? '';
        const attribute = this.spec.uniqueIndexes[index];
        if (attribute) throw new ScimError(409, 'uniqueness', `${attribute} is already taken in this directory`);
      }
      throw err;
    }
  }
}

const prefixed = (alias: string) => RETURNING.split(', ').map((c) => `${alias}.${c}`).join(', ');
