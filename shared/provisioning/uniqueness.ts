import type { Database, Transaction } from '../db/sequelize';
import type { DirectoryScope } from '../db/repositories/scope';
import { ScimError } from '../scim/errors';
import type { ResourceSchemas } from '../scim/schema-registry';
import type { AttributeDef } from '../scim/schema-types';
import { isObject, type JsonObject } from '../scim/values';

interface UniqueAttribute {
  readonly extension: string;
  readonly def: AttributeDef;
}

/**
 * Extension attributes an operator declared `uniqueness: server` or `global` (RFC 7643 §2.2).
 * Core ones (userName, externalId, group displayName) have unique indexes instead, and their
 * writers take the same kind of lock in the repository (resource-table.ts, UNIQUE_LOCKS), so
 * the index never has to refuse a value and log it.
 */
export function uniqueAttributes(schemas: ResourceSchemas): UniqueAttribute[] {
  return schemas.extensions.flatMap((ext) =>
    ext.schema.attributes
      .filter((def) => def.uniqueness !== 'none' && !def.multiValued && def.type !== 'complex')
      .map((def) => ({ extension: ext.schema.id, def })),
  );
}

/**
 * Refuses a value another resource of the directory already holds. An advisory lock on the
 * (directory, attribute, value) triple serialises concurrent writers of the same value, so the
 * check cannot race; it is released when the transaction ends.
 */
export async function checkUnique(
  db: Database,
  t: Transaction,
  scope: DirectoryScope,
  table: 'scim_users' | 'scim_groups',
  attributes: readonly UniqueAttribute[],
  data: JsonObject,
  selfId: string,
): Promise<void> {
  for (const { extension, def } of attributes) {
    const holder = data[extension];
    const value = isObject(holder) ? holder[def.name] : undefined;
    if (value === undefined || value === null) continue;
    const text = def.caseExact || typeof value !== 'string' ? JSON.stringify(value) : JSON.stringify(value.toLowerCase());
    await db.exec('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`${scope.directoryId}|${extension}:${def.name}|${text}`], t);
    const compare = def.caseExact || typeof value !== 'string' ? `r.data->$2->$3 = $4::jsonb` : `lower(r.data->$2->>$3) = lower($4::jsonb #>> '{}')`;
    const taken = await db.query(
      `SELECT 1 FROM ${table} r WHERE r.directory_id = $1 AND r.id <> $5 AND ${compare} LIMIT 1`,
      [scope.directoryId, extension, def.name, JSON.stringify(value), selfId],
      t,
    );
    if (taken.length) throw new ScimError(409, 'uniqueness', `${extension}:${def.name} is already taken in this directory`);
  }
}
