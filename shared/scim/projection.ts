import { ScimError } from './errors';
import { resolvePath, type ResolvedPath, type ResourceSchemas } from './schema-registry';
import { isObject, type JsonObject } from './values';

/** The `attributes` / `excludedAttributes` parameters, resolved once per request. */
export interface Projection {
  readonly mode: 'default' | 'include' | 'exclude';
  readonly paths: readonly ResolvedPath[];
}

export const DEFAULT_PROJECTION: Projection = { mode: 'default', paths: [] };

/** Parses the comma-separated lists; `attributes` wins when both are given. */
export function parseProjection(schemas: ResourceSchemas, attributes?: unknown, excluded?: unknown): Projection {
  // A query string gives a string (or several); a SearchRequest body an array of strings.
  const list = (name: string, v: unknown) => {
    if (v === undefined || v === null) return [];
    const items: unknown[] = Array.isArray(v) ? v : [v];
    if (!items.every((s) => typeof s === 'string')) throw new ScimError(400, 'invalidValue', `"${name}" must be a string or an array of strings`);
    return items
      .join(',')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  };
  // `schemas` is no schema attribute, yet clients name it; it is always returned anyway.
  const resolve = (names: string[]) => names.filter((n) => n.toLowerCase() !== 'schemas').map((p) => resolvePath(schemas, p));
  const include = list('attributes', attributes);
  if (include.length) return { mode: 'include', paths: resolve(include) };
  const exclude = list('excludedAttributes', excluded);
  if (exclude.length) return { mode: 'exclude', paths: resolve(exclude) };
  return DEFAULT_PROJECTION;
}

/** Whether a top-level core attribute (such as Group `members`) will be returned. */
export function projects(projection: Projection, name: string): boolean {
  const hit = projection.paths.some((p) => !p.extension && p.attribute?.name === name);
  if (projection.mode === 'include') return hit;
  if (projection.mode === 'exclude') return !projection.paths.some((p) => !p.extension && p.attribute?.name === name && !p.subAttribute);
  return true;
}

/** Applies a projection to a rendered resource. `id` and `schemas` are always returned. */
export function applyProjection(resource: JsonObject, projection: Projection): JsonObject {
  if (projection.mode === 'default') return resource;
  if (projection.mode === 'exclude') {
    const out: JsonObject = { ...resource };
    for (const p of projection.paths) {
      if (p.attribute?.returned === 'always') continue;
      const holder = p.extension ? (out[p.extension] = isObject(out[p.extension]) ? { ...(out[p.extension] as JsonObject) } : out[p.extension]) : out;
      if (!isObject(holder) || !p.attribute) {
        if (p.extension && !p.attribute) delete out[p.extension];
        continue;
      }
      if (!p.subAttribute) delete holder[p.attribute.name];
      else holder[p.attribute.name] = withoutSub(holder[p.attribute.name], p.subAttribute.name);
    }
    return out;
  }
  const out: JsonObject = { schemas: resource.schemas, id: resource.id };
  for (const p of projection.paths) {
    if (p.extension && !p.attribute) {
      if (resource[p.extension] !== undefined) out[p.extension] = resource[p.extension];
      continue;
    }
    const source = p.extension ? resource[p.extension] : resource;
    if (!isObject(source) || !p.attribute) continue;
    const value = source[p.attribute.name];
    if (value === undefined) continue;
    const target = p.extension ? ((out[p.extension] as JsonObject | undefined) ?? (out[p.extension] = {})) : out;
    if (!p.subAttribute) {
      target[p.attribute.name] = value;
      continue;
    }
    const picked = onlySub(value, p.subAttribute.name);
    const existing = target[p.attribute.name];
    target[p.attribute.name] = mergePicked(existing, picked);
  }
  return out;
}

type Picked = JsonObject | JsonObject[] | undefined;

function withoutSub(value: unknown, sub: string) {
  const strip = (o: unknown) => {
    if (!isObject(o)) return o;
    const { [sub]: _gone, ...rest } = o;
    return rest;
  };
  return (Array.isArray(value) ? value.map(strip) : strip(value)) as JsonObject;
}

function onlySub(value: unknown, sub: string): Picked {
  const pick = (o: unknown): JsonObject => (isObject(o) && o[sub] !== undefined ? { [sub]: o[sub] } : {});
  if (Array.isArray(value)) return value.map(pick);
  return isObject(value) ? pick(value) : undefined;
}

function mergePicked(existing: unknown, picked: Picked): JsonObject | JsonObject[] {
  if (Array.isArray(picked)) {
    const prior = Array.isArray(existing) ? (existing as JsonObject[]) : [];
    return picked.map((p, i) => ({ ...(prior[i] ?? {}), ...p }));
  }
  return { ...(isObject(existing) ? existing : {}), ...(picked ?? {}) };
}
