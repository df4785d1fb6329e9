import type { ResourceTypeName } from '../../scim/schema-types';
import { RESOURCE_TYPES } from '../resource-types';
import type { Database, Sql, Transaction } from '../sequelize';
import type { DirectoryScope } from './scope';

/**
 * Values of extension attributes declared unique (shared/provisioning/uniqueness.ts), bound to
 * one directory: the lock that serialises writers of one value, and the check that another
 * resource holds it.
 */
export class UniqueValues {
  private readonly db: Sql;

  constructor(
    db: Database,
    private readonly scope: DirectoryScope,
  ) {
    this.db = db.forDirectory(scope);
  }

  /**
   * Takes the transaction-scoped advisory lock of `key` (attribute and value) in this directory;
   * PostgreSQL releases it when the transaction ends.
   */
  async lock(key: string, t: Transaction): Promise<void> {
    await this.db.exec('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`${this.scope.directoryId}|${key}`], t);
  }

  /**
   * Whether a resource of `resourceType` other than `selfId` holds `value` in `extension`'s attribute
   * `name`: compared as JSON, or with `caseExact: false` as lower-cased text.
   */
  async heldByAnother(
    resourceType: ResourceTypeName,
    attribute: { extension: string; name: string; caseExact: boolean },
    value: unknown,
    selfId: string,
    t: Transaction,
  ): Promise<boolean> {
    const compare = attribute.caseExact ? `r.data->$2->$3 = $4::jsonb` : `lower(r.data->$2->>$3) = lower($4::jsonb #>> '{}')`;
    const taken = await this.db.query(
      `SELECT 1 FROM ${RESOURCE_TYPES[resourceType].table} r WHERE r.directory_id = $1 AND r.id <> $5 AND ${compare} LIMIT 1`,
      [this.scope.directoryId, attribute.extension, attribute.name, JSON.stringify(value), selfId],
      t,
    );
    return taken.length > 0;
  }
}
