import { isDeepStrictEqual } from 'node:util';
import { ScimError } from './errors';
import type { ResourceSchemas } from './schema-registry';
import type { AttributeDef } from './schema-types';
import { isObject, type JsonObject } from './values';

/**
 * An "immutable" attribute is set once and never changed. A PUT that changes an immutable
 * attribute that already has a value is refused with 400 mutability.
 */
export function checkImmutable(schemas: ResourceSchemas, before: JsonObject, after: JsonObject): void {
  const scan = (defs: readonly AttributeDef[], a: unknown, b: unknown, prefix: string) => {
    if (!isObject(a)) return;
    for (const def of defs) {
      if (def.mutability !== 'immutable' || a[def.name] === undefined) continue;
      if (!isObject(b) || !isDeepStrictEqual(a[def.name], b[def.name])) {
        throw new ScimError(400, 'mutability', `"${prefix}${def.name}" is immutable once set`);
      }
    }
  };
  scan(schemas.core.attributes, before, after, '');
  for (const ext of schemas.extensions) scan(ext.schema.attributes, before[ext.schema.id], after[ext.schema.id], `${ext.schema.id}:`);
}
