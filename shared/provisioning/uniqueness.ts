import type { Transaction } from '../db/sequelize';
import type { UniqueValues } from '../db/repositories/uniqueness';
import { ScimError } from '../scim/errors';
import type { ResourceSchemas } from '../scim/schema-registry';
import type { AttributeDef, ResourceTypeName } from '../scim/schema-types';
import { isObject, type JsonObject } from '../scim/values';

interface UniqueAttribute {
  readonly extension: string;
  readonly def: AttributeDef;
}

/**
 * Extension attributes an operator declared `uniqueness: server` or `global`.
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
  values: UniqueValues,
  t: Transaction,
  resourceType: ResourceTypeName,
  attributes: readonly UniqueAttribute[],
  data: JsonObject,
  selfId: string,
): Promise<void> {
  for (const { extension, def } of attributes) {
    const holder = data[extension];
    const value = isObject(holder) ? holder[def.name] : undefined;
    if (value === undefined || value === null) continue;
    const caseExact = def.caseExact || typeof value !== 'string';
    const text = caseExact ? JSON.stringify(value) : JSON.stringify(value.toLowerCase());
    await values.lock(`${extension}:${def.name}|${text}`, t);
    if (await values.heldByAnother(resourceType, { extension, name: def.name, caseExact }, value, selfId, t)) {
      throw new ScimError(409, 'uniqueness', `${extension}:${def.name} is already taken in this directory`);
    }
  }
}
