import { isDeepStrictEqual } from 'node:util';
import type { JsonObject } from '../scim/values';
import { isObject } from '../scim/values';

/**
 * What a write changed, as attribute paths (`name`, `urn:…:enterprise:2.0:User:employeeNumber`)
 * and their previous values. Extension objects are compared attribute by attribute.
 */
export function diffAttributes(before: JsonObject, after: JsonObject): { changed: string[]; previous: JsonObject } {
  const changed: string[] = [];
  const previous: JsonObject = {};
  for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
    const a = before[key];
    const b = after[key];
    if (isDeepStrictEqual(a, b)) continue;
    if (key.startsWith('urn:') && (isObject(a) || isObject(b))) {
      const inner = diffAttributes(isObject(a) ? a : {}, isObject(b) ? b : {});
      for (const name of inner.changed) {
        changed.push(`${key}:${name}`);
        previous[`${key}:${name}`] = inner.previous[name] ?? null;
      }
      continue;
    }
    changed.push(key);
    previous[key] = a ?? null;
  }
  return { changed, previous };
}
