import { ScimError } from '../errors';
import { parseValuePathFilter, type FilterNode } from '../filter/parser';
import { findAttribute, resolvePath, type ResolvedPath, type ResourceSchemas } from '../schema-registry';
import { PATCH_OP_SCHEMA, type AttributeDef } from '../schema-types';
import { isObject } from '../values';

export type PatchOpName = 'add' | 'replace' | 'remove';

/** A PATCH path: `attrPath`, `attrPath[valFilter]` or `attrPath[valFilter].subAttr`. */
export interface PatchPath {
  readonly text: string;
  readonly target: ResolvedPath;
  readonly filter?: FilterNode;
  /** The sub-attribute after a value filter: `emails[type eq "work"].value`. */
  readonly filteredSub?: AttributeDef;
  /**
   * `attr[sub eq null].sub` on a multi-valued complex attribute: Entra's spelling of "the single
   * value of this list", not the value filter's literal "the elements without a sub" (apply.ts
   * has the rule).
   */
  readonly singleValue?: true;
}

export interface PatchOperation {
  /** 1-based position in the request, for error details. */
  readonly index: number;
  readonly op: PatchOpName;
  readonly path?: PatchPath;
  readonly value: unknown;
}

/**
 * Checks every operation of a PatchOp request before any is applied (all or nothing).
 * Path-less add/replace is expanded into one operation per key of `value`, since Entra sends
 * keys that are themselves paths: `"name.givenName"`, `"urn:…:enterprise:2.0:User:employeeNumber"`,
 * `"emails[type eq \"work\"].value"`.
 */
export function parsePatchRequest(schemas: ResourceSchemas, body: unknown, maxOperations: number): PatchOperation[] {
  if (!isObject(body)) throw new ScimError(400, 'invalidSyntax', 'the request body must be a PatchOp JSON object');
  const declared = body.schemas;
  if (
    declared !== undefined &&
    !(Array.isArray(declared) && declared.some((s) => typeof s === 'string' && s.toLowerCase() === PATCH_OP_SCHEMA.toLowerCase()))
  ) {
    throw new ScimError(400, 'invalidSyntax', `"schemas" must contain "${PATCH_OP_SCHEMA}"`);
  }
  // Some clients capitalise the key ("Operations" is the standard spelling).
  const key = Object.keys(body).find((k) => k.toLowerCase() === 'operations');
  const raw = key ? body[key] : undefined;
  // SCIM wants at least one operation, but Microsoft's SCIM validator sends an empty array;
  // nothing to apply is answered as a no-op rather than a failed test.
  if (!Array.isArray(raw)) throw new ScimError(400, 'invalidSyntax', '"Operations" must be an array');
  if (raw.length > maxOperations) throw new ScimError(400, 'tooMany', `"Operations" has ${raw.length} entries; at most ${maxOperations} are accepted`);

  const out: PatchOperation[] = [];
  for (const [i, entry] of raw.entries()) out.push(...parseOperation(schemas, entry, i + 1));
  return out;
}

function parseOperation(schemas: ResourceSchemas, entry: unknown, index: number): PatchOperation[] {
  const fail = (scimType: 'invalidSyntax' | 'noTarget' | 'invalidValue', why: string) => new ScimError(400, scimType, `operation ${index}: ${why}`);
  if (!isObject(entry)) throw fail('invalidSyntax', 'must be an object');
  const field = (name: string) => entry[Object.keys(entry).find((k) => k.toLowerCase() === name) ?? name];
  const opRaw = field('op');
  // Entra sent "Add"/"Replace"/"Remove" before its 2020 compliance fix, and some tenants still do.
  const op = typeof opRaw === 'string' ? opRaw.toLowerCase() : undefined;
  if (op !== 'add' && op !== 'replace' && op !== 'remove') {
    throw fail('invalidSyntax', `"op" must be add, replace or remove, got ${JSON.stringify(opRaw)}`);
  }
  const pathRaw = field('path');
  const value = field('value');
  if (pathRaw !== undefined && (typeof pathRaw !== 'string' || pathRaw.trim() === '')) {
    throw fail('invalidSyntax', '"path" must be a non-empty string');
  }
  if (pathRaw === undefined || (typeof pathRaw === 'string' && pathRaw.trim() === '')) {
    if (op === 'remove') throw fail('noTarget', 'remove needs a "path" (RFC 7644 §3.5.2.2)');
    if (!isObject(value)) throw fail('invalidValue', `${op} without "path" needs an object "value"`);
    return Object.entries(value).map(([k, v]) => ({ index, op, path: checkFilterTarget(parsePatchPath(schemas, k, index), op, index), value: v }));
  }
  if (op !== 'remove' && value === undefined) throw fail('invalidValue', `${op} needs a "value"`);
  return [{ index, op, path: checkFilterTarget(parsePatchPath(schemas, pathRaw as string, index), op, index), value }];
}

/** A filter on a single-valued attribute selects it for removal only (`manager[value eq "id"]`). */
function checkFilterTarget(path: PatchPath, op: PatchOpName, index: number): PatchPath {
  if (path.filter && !path.target.attribute!.multiValued && op !== 'remove') {
    throw new ScimError(400, 'invalidPath', `operation ${index}: path "${path.text}" filters a single-valued attribute; only remove may do that`);
  }
  return path;
}

/** Parses one PATCH path; errors are invalidPath naming the operation and the path. */
export function parsePatchPath(schemas: ResourceSchemas, text: string, index = 1): PatchPath {
  const trimmed = text.trim();
  const open = trimmed.indexOf('[');
  if (open < 0) return { text: trimmed, target: resolvePath(schemas, trimmed) };

  const close = findClosingBracket(trimmed, open);
  if (close < 0) throw new ScimError(400, 'invalidPath', `operation ${index}: path "${text}" has an unclosed "["`);
  const target = resolvePath(schemas, trimmed.slice(0, open));
  // A single-valued complex attribute may carry a filter too: Entra clears a manager with
  // `remove manager[value eq "id"]` (parseOperation allows that for remove only).
  if (!target.attribute || target.subAttribute || (!target.attribute.multiValued && target.attribute.type !== 'complex')) {
    throw new ScimError(400, 'invalidPath', `operation ${index}: path "${text}" filters an attribute that is not multi-valued`);
  }
  let filter: FilterNode;
  try {
    filter = parseValuePathFilter(trimmed.slice(open + 1, close));
  } catch (err) {
    const why = err instanceof ScimError ? err.detail : String(err);
    throw new ScimError(400, 'invalidPath', `operation ${index}: path "${text}" has a bad filter: ${why}`);
  }
  const rest = trimmed.slice(close + 1);
  if (rest === '') return { text: trimmed, target, filter };
  const sub = rest.startsWith('.') ? findAttribute(target.attribute.subAttributes, rest.slice(1)) : undefined;
  if (!sub) throw new ScimError(400, 'invalidPath', `operation ${index}: path "${text}" has "${rest}" after the filter; expected ".subAttribute"`);
  const singleValue = target.attribute.multiValued && filter.op === 'eq' && filter.value === null && filter.path.toLowerCase() === sub.name.toLowerCase();
  return { text: trimmed, target, filter, filteredSub: sub, ...(singleValue ? { singleValue: true as const } : {}) };
}

/** Index of the "]" matching the "[" at `open`, skipping quoted strings; -1 when unclosed. */
function findClosingBracket(text: string, open: number): number {
  let inString = false;
  for (let i = open + 1; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === ']') return i;
  }
  return -1;
}
