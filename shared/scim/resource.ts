import { ScimError } from './errors';
import { findAttribute, findExtension, resolvePath, type ResourceSchemas } from './schema-registry';
import type { AttributeDef } from './schema-types';
import { coerceValue, isObject, type Json, type JsonObject } from './values';

/**
 * The stored form of a resource: core attributes under their canonical names, extension
 * attributes under their extension's canonical URN, nothing read-only (id, meta, groups),
 * nothing write-only (password is accepted and dropped, never stored). Group members are
 * kept in their own table, so `members` is returned separately.
 */
export interface NormalizedResource {
  readonly data: JsonObject;
  readonly members?: readonly JsonObject[];
}

const IGNORED_TOP_LEVEL = new Set(['schemas', 'id', 'meta']);

/** Validates and normalises a POST or PUT body. */
export function normalizeResource(schemas: ResourceSchemas, body: unknown): NormalizedResource {
  if (!isObject(body)) throw new ScimError(400, 'invalidSyntax', 'the request body must be a JSON object');
  checkDeclaredSchemas(body.schemas);
  const data: JsonObject = {};
  let members: JsonObject[] | undefined;
  for (const [key, value] of Object.entries(body)) {
    if (IGNORED_TOP_LEVEL.has(key.toLowerCase())) continue;
    // null means unassigned, so it sets nothing, whatever the key. Microsoft's reference code
    // creates users with `"department": null, "manager": null` at top level.
    if (value === null) continue;
    const resolved = resolveBodyKey(schemas, key);
    if (!resolved.attribute) {
      // A whole extension object: { "urn:…:enterprise:2.0:User": { "employeeNumber": "1" } }
      if (value === null) continue;
      if (!isObject(value)) throw new ScimError(400, 'invalidValue', `"${key}" must be an object of extension attributes`);
      const ext = findExtension(schemas, resolved.extension!)!;
      for (const [subKey, subValue] of Object.entries(value)) {
        const def = findAttribute(ext.schema.attributes, subKey);
        if (!def) throw new ScimError(400, 'invalidSyntax', `"${key}" has no attribute "${subKey}"`);
        setAttribute(data, resolved.extension, def, subValue, `${ext.schema.id}:${def.name}`);
      }
      continue;
    }
    if (resolved.subAttribute) {
      // Only in Entra-style flattened keys such as "name.givenName".
      const parent = (data[resolved.attribute.name] as JsonObject | undefined) ?? {};
      const v = coerceValue(resolved.subAttribute, value, key);
      if (v !== undefined) data[resolved.attribute.name] = { ...parent, [resolved.subAttribute.name]: v };
      continue;
    }
    if (resolved.common && resolved.attribute.name !== 'externalId') continue;
    if (schemas.resourceType === 'Group' && !resolved.extension && resolved.attribute.name === 'members') {
      members = (coerceValue(resolved.attribute, value, 'members') as JsonObject[] | undefined) ?? [];
      continue;
    }
    setAttribute(data, resolved.extension, resolved.attribute, value, key);
  }
  checkRequired(schemas, data);
  return { data, members };
}

function setAttribute(data: JsonObject, extension: string | undefined, def: AttributeDef, value: unknown, path: string) {
  if (def.mutability === 'readOnly' || def.mutability === 'writeOnly') return;
  const v = coerceValue(def, value, path);
  const target = extension ? ((data[extension] as JsonObject | undefined) ?? (data[extension] = {})) : data;
  if (v === undefined) delete target[def.name];
  else target[def.name] = v;
  if (extension && Object.keys(target).length === 0) delete data[extension];
}

/**
 * `schemas` must be an array of strings. Entries this directory does not know are ignored: they
 * declare nothing that is stored, and Entra's group create sends the non-URN
 * `http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group` beside the core URN
 * (Microsoft's reference code even declares a mistyped `…enterprise:2.0User` on users).
 * Attributes are still checked key by key, so an unknown extension's data is refused.
 */
function checkDeclaredSchemas(declared: unknown): void {
  if (declared === undefined) return;
  if (!Array.isArray(declared) || declared.some((s) => typeof s !== 'string')) {
    throw new ScimError(400, 'invalidSyntax', '"schemas" must be an array of schema URNs');
  }
}

/** Required attributes of the core schema and of every present or required extension. */
export function checkRequired(schemas: ResourceSchemas, data: JsonObject): void {
  const missing = (path: string) => new ScimError(400, 'invalidValue', `required attribute "${path}" is missing`);
  for (const def of schemas.core.attributes) {
    if (def.required && isBlank(data[def.name])) throw missing(def.name);
  }
  for (const ext of schemas.extensions) {
    const obj = data[ext.schema.id];
    if (obj === undefined) {
      if (ext.required) throw missing(ext.schema.id);
      continue;
    }
    for (const def of ext.schema.attributes) {
      if (def.required && isBlank((obj as JsonObject)[def.name])) throw missing(`${ext.schema.id}:${def.name}`);
    }
  }
}

const isBlank = (v: Json | undefined) => v === undefined || v === null || (typeof v === 'string' && v.trim() === '');

/** An attribute the schemas do not define is a body that does not fit them: invalidSyntax, not invalidPath. */
function resolveBodyKey(schemas: ResourceSchemas, key: string) {
  try {
    return resolvePath(schemas, key);
  } catch (err) {
    if (err instanceof ScimError) throw new ScimError(400, 'invalidSyntax', err.detail);
    throw err;
  }
}
