import { ScimError } from './errors';
import { findAttribute } from './schema-registry';
import type { AttributeDef } from './schema-types';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

const invalid = (path: string, why: string) => new ScimError(400, 'invalidValue', `"${path}" ${why}`);

// A SCIM dateTime (`2024-01-31T12:00:00.5Z`): fractional seconds optional, and the offset may be omitted.
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:Z|[+-](\d{2}):(\d{2}))?$/i;

/**
 * A SCIM dateTime with field ranges checked, so that what passes here never makes a `::timestamptz`
 * cast fail: Date.parse accepts "2024-02-30T…" and year 0, PostgreSQL refuses them (and day 31
 * of April, and offsets past ±15:59). Used for stored values and filter values alike.
 */
export function isDateTime(text: string): boolean {
  const m = DATE_TIME.exec(text);
  if (!m) return false;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number);
  const daysInMonth = [31, isLeapYear(year) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1] ?? 0;
  const offsetOk = m[7] === undefined || (Number(m[7]) <= 15 && Number(m[8]) <= 59);
  return year >= 1 && month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth && hour <= 23 && minute <= 59 && second <= 59 && offsetOk;
}

const isLeapYear = (y: number) => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;

/** True when a value means "unassigned" (null and empty arrays do, and so does an empty object here). */
export const isUnassigned = (v: unknown): boolean =>
  v === undefined || v === null || (Array.isArray(v) && v.length === 0) || (isObject(v) && Object.keys(v).length === 0);

/**
 * Checks and converts one value to what `def` declares. Returns undefined for an unassigned value.
 * Lenient only where real clients need it: Entra sends booleans as the strings "True"/"False",
 * a single object where an attribute is multi-valued, and `manager` as a bare id string.
 */
export function coerceValue(def: AttributeDef, value: unknown, path: string): Json | undefined {
  if (isUnassigned(value)) return undefined;
  if (def.multiValued) {
    const items = Array.isArray(value) ? value : [value];
    const out = items.map((item, i) => coerceSingle(def, item, `${path}[${i}]`)).filter((v) => v !== undefined) as Json[];
    if (def.type === 'complex') {
      checkSinglePrimary(out, path);
      checkKinds(def, out, path);
    }
    return out.length ? out : undefined;
  }
  if (Array.isArray(value)) {
    // Entra wraps single values in a one-element array in some PATCH bodies.
    if (value.length === 1) return coerceSingle(def, value[0], path);
    throw invalid(path, 'is single-valued but an array was given');
  }
  return coerceSingle(def, value, path);
}

function coerceSingle(def: AttributeDef, value: unknown, path: string): Json | undefined {
  if (isUnassigned(value)) return undefined;
  switch (def.type) {
    case 'string':
    case 'reference':
    case 'binary':
      // PostgreSQL cannot store NUL in jsonb; a filter escape ("\u0000" in a PATCH path that
      // creates an element) can produce one after the body checks.
      if (typeof value === 'string' && value.includes('\u0000')) throw invalid(path, 'contains a NUL character');
      if (typeof value === 'string') return value;
      throw invalid(path, `must be a string, got ${describe(value)}`);
    case 'boolean':
      if (typeof value === 'boolean') return value;
      if (typeof value === 'string' && /^(true|false)$/i.test(value)) return value.toLowerCase() === 'true';
      throw invalid(path, `must be a boolean, got ${describe(value)}`);
    case 'integer': {
      const n = typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : value;
      if (typeof n === 'number' && Number.isSafeInteger(n)) return n;
      throw invalid(path, `must be an integer, got ${describe(value)}`);
    }
    case 'decimal': {
      const n = typeof value === 'string' && /^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(value) ? Number(value) : value;
      if (typeof n === 'number' && Number.isFinite(n)) return n;
      throw invalid(path, `must be a number, got ${describe(value)}`);
    }
    case 'dateTime':
      if (typeof value === 'string' && isDateTime(value)) return value;
      throw invalid(path, `must be an xsd:dateTime such as 2026-01-31T12:00:00Z, got ${describe(value)}`);
    case 'complex':
      return coerceComplex(def, value, path);
  }
}

function coerceComplex(def: AttributeDef, value: unknown, path: string): JsonObject | undefined {
  if (typeof value === 'string' && findAttribute(def.subAttributes, 'value') && findAttribute(def.subAttributes, '$ref')) {
    // Entra sends `"manager": "<id>"` (and some clients `"members": "<id>"`): for a reference
    // attribute a bare string is its value sub-attribute. `"emails": "a@b"` stays an error.
    // An empty string names nobody: Entra's validator clears the manager with an empty value.
    return value === '' ? undefined : { value };
  }
  if (!isObject(value)) throw invalid(path, `must be an object, got ${describe(value)}`);
  const out: JsonObject = {};
  for (const [key, raw] of Object.entries(value)) {
    const sub = findAttribute(def.subAttributes, key) ?? displayAlias(def, key);
    if (!sub) throw new ScimError(400, 'invalidSyntax', `"${path}" has an unknown sub-attribute "${key}"`);
    if (sub.mutability === 'readOnly') continue;
    const v = coerceValue(sub, raw, `${path}.${sub.name}`);
    if (v !== undefined) out[sub.name] = v;
  }
  // Likewise `"manager": { "value": "" }`: a single reference with an empty value is no reference.
  if (!def.multiValued && out.value === '') delete out.value;
  return Object.keys(out).length ? out : undefined;
}

/**
 * Entra's AppRoleAssignmentsComplex mapping sends `roles[].displayName`, and Microsoft's reference
 * code sends `members[].displayName`, where the schemas name the sub-attribute `display`.
 */
function displayAlias(def: AttributeDef, key: string): AttributeDef | undefined {
  if (key.toLowerCase() !== 'displayname' || findAttribute(def.subAttributes, 'displayName')) return undefined;
  return findAttribute(def.subAttributes, 'display');
}

/**
 * Attributes Entra addresses by kind (`emails[type eq "work"].value`). Entra expects a type to
 * appear once in each, so such a path names one value. Not roles: Entra sends several roles of
 * type "WindowsAzureActiveDirectoryRole".
 */
const TYPED_BY_KIND = new Set(['emails', 'phoneNumbers', 'addresses', 'ims', 'photos']);

/** A multi-valued attribute addressed by kind holds each type once (checked again after a PATCH merges). */
export function checkKinds(def: AttributeDef, items: Json[], path: string): void {
  if (TYPED_BY_KIND.has(def.name)) checkUniqueTypes(items, path);
}

function checkUniqueTypes(items: Json[], path: string): void {
  const seen = new Set<string>();
  for (const item of items) {
    if (!isObject(item) || typeof item.type !== 'string') continue;
    const type = item.type.toLowerCase();
    if (seen.has(type)) throw invalid(path, `has more than one element of type "${item.type}"`);
    seen.add(type);
  }
}

function checkSinglePrimary(items: Json[], path: string): void {
  const primaries = items.filter((i) => isObject(i) && i.primary === true).length;
  // At most one element of a multi-valued attribute may be primary.
  if (primaries > 1) throw invalid(path, 'has more than one element with primary true');
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${JSON.stringify(value)?.slice(0, 40)}`;
}
