import { isDeepStrictEqual } from 'node:util';
import { ScimError } from '../errors';
import { matchesFilter } from '../filter/parser';
import { findExtension, type ResourceSchemas } from '../schema-registry';
import type { AttributeDef } from '../schema-types';
import { checkRequired } from '../resource';
import { checkKinds, coerceValue, isObject, isUnassigned, type Json, type JsonObject } from '../values';
import type { PatchOperation } from './parse';
import { templateFromFilter } from './template';

/**
 * Applies operations to a copy of a stored resource and returns the copy; the input is never
 * touched, so a failing operation leaves nothing half-applied (a PATCH applies all or none).
 */
export function applyPatch(schemas: ResourceSchemas, data: JsonObject, operations: readonly PatchOperation[]): JsonObject {
  const next = structuredClone(data);
  for (const op of operations) applyOperation(schemas, next, op);
  checkRequired(schemas, next);
  return next;
}

function applyOperation(schemas: ResourceSchemas, data: JsonObject, op: PatchOperation): void {
  const { target } = op.path!;
  const where = `operation ${op.index}: "${op.path!.text}"`;

  if (!target.attribute) {
    applyToExtension(schemas, data, op, target.extension!);
    return;
  }
  const def = target.attribute;
  if (target.common && def.name !== 'externalId') throw new ScimError(400, 'mutability', `${where} is read-only`);
  if (def.mutability === 'readOnly') throw new ScimError(400, 'mutability', `${where} is read-only`);

  const holder = holderOf(data, target.extension, op.op !== 'remove');
  if (!holder) return;
  const before = holder[def.name];

  if (op.path!.singleValue) applySingleValue(holder, def, op.path!.filteredSub!, op, where);
  else if (op.path!.filter) applyFiltered(holder, def, op, where);
  else if (target.subAttribute) applySub(holder, def, target.subAttribute, op, where);
  else applyWhole(holder, def, op, where);

  if (def.mutability === 'immutable' && before !== undefined && !isDeepStrictEqual(before, holder[def.name])) {
    throw new ScimError(400, 'mutability', `${where} is immutable once set`);
  }
  if (target.extension && Object.keys(holder).length === 0) delete data[target.extension];
}

/** `path: "urn:…:enterprise:2.0:User"` with an object of that extension's attributes. */
function applyToExtension(schemas: ResourceSchemas, data: JsonObject, op: PatchOperation, urn: string): void {
  if (op.op === 'remove') {
    delete data[urn];
    return;
  }
  if (!isObject(op.value)) {
    throw new ScimError(400, 'invalidValue', `operation ${op.index}: "${urn}" needs an object of its attributes`);
  }
  const ext = findExtension(schemas, urn)!;
  for (const [key, value] of Object.entries(op.value)) {
    const def = ext.schema.attributes.find((a) => a.name.toLowerCase() === key.toLowerCase());
    if (!def) throw new ScimError(400, 'invalidPath', `operation ${op.index}: "${urn}" has no attribute "${key}"`);
    applyOperation(schemas, data, {
      ...op,
      path: { text: `${urn}:${def.name}`, target: { extension: ext.schema.id, attribute: def, common: false } },
      value,
    });
  }
}

function holderOf(data: JsonObject, extension: string | undefined, create: boolean): JsonObject | undefined {
  if (!extension) return data;
  if (isObject(data[extension])) return data[extension] as JsonObject;
  if (!create) return undefined;
  return (data[extension] = {});
}

/** add/replace/remove of a whole attribute. */
function applyWhole(holder: JsonObject, def: AttributeDef, op: PatchOperation, where: string): void {
  const current = holder[def.name];
  if (op.op === 'remove') {
    if (def.multiValued && op.value !== undefined && Array.isArray(current)) {
      // Remove the listed values only: {"op":"remove","path":"emails","value":[{"value":"a@b"}]}
      const doomed = coerceValue(def, op.value, where) as Json[] | undefined;
      setOrDelete(
        holder,
        def.name,
        current.filter((el) => !doomed?.some((d) => sameElement(el, d))),
      );
    } else delete holder[def.name];
    return;
  }
  const value = coerceValue(def, op.value, where);
  if (value === undefined) {
    // Entra clears with an empty value, e.g. replace manager with {"value": ""}.
    delete holder[def.name];
    return;
  }
  if (def.multiValued) {
    const incoming = value as Json[];
    if (op.op === 'replace' || !Array.isArray(current)) {
      holder[def.name] = incoming;
    } else {
      const merged = [...current];
      for (const el of incoming) if (!merged.some((m) => sameElement(m, el))) merged.push(el);
      // Each element was checked alone; together they may repeat a kind (a second work email).
      checkKinds(def, merged, where);
      holder[def.name] = merged;
    }
    demoteOtherPrimaries(holder[def.name] as Json[], incoming);
    return;
  }
  if (def.type === 'complex' && isObject(current) && isObject(value)) {
    // Sub-attributes not given are left unchanged, for add and replace alike.
    holder[def.name] = { ...current, ...value };
    return;
  }
  holder[def.name] = value;
}

/** `name.givenName` on a single complex attribute, or `emails.value` on every element. */
function applySub(holder: JsonObject, def: AttributeDef, sub: AttributeDef, op: PatchOperation, where: string): void {
  if (sub.mutability === 'readOnly') throw new ScimError(400, 'mutability', `${where} is read-only`);
  const value = op.op === 'remove' ? undefined : coerceValue(sub, op.value, where);
  const current = holder[def.name];
  if (def.multiValued) {
    const items = Array.isArray(current) && current.length ? current : value === undefined ? [] : [{}];
    setOrDelete(
      holder,
      def.name,
      items.map((el) => withSub(isObject(el) ? el : {}, sub.name, value)).filter((el) => !isUnassigned(el)),
    );
    return;
  }
  const next = withSub(isObject(current) ? current : {}, sub.name, value);
  setOrDelete(holder, def.name, Object.keys(next).length ? next : undefined);
}

/** `emails[type eq "work"]` and `emails[type eq "work"].value`. */
function applyFiltered(holder: JsonObject, def: AttributeDef, op: PatchOperation, where: string): void {
  const { filter, filteredSub } = op.path!;
  if (!def.multiValued) {
    // Only remove gets here (parse.ts): Entra clears the manager with manager[value eq "id"],
    // which removes it when it still is that id and is a no-op otherwise.
    const current = holder[def.name];
    if (isObject(current) && matchesFilter(filter!, current)) {
      setOrDelete(holder, def.name, filteredSub ? withSub(current, filteredSub.name, undefined) : undefined);
    }
    return;
  }
  const items = (Array.isArray(holder[def.name]) ? holder[def.name] : []) as JsonObject[];
  const hits = items.map((el) => isObject(el) && matchesFilter(filter!, el));

  if (op.op === 'remove') {
    const kept = filteredSub
      ? items.map((el, i) => (hits[i] ? withSub(el, filteredSub.name, undefined) : el)).filter((el) => !isUnassigned(el))
      : items.filter((_, i) => !hits[i]);
    setOrDelete(holder, def.name, kept);
    return;
  }

  const value = filteredSub ? coerceValue(filteredSub, op.value, where) : coerceValue({ ...def, multiValued: false }, op.value, where);
  if (hits.some(Boolean)) {
    const updated = items.map((el, i) => {
      if (!hits[i]) return el;
      if (filteredSub) return withSub(el, filteredSub.name, value);
      return op.op === 'add' && isObject(value) ? { ...el, ...value } : (value as JsonObject | undefined);
    });
    const next = updated.filter((el): el is JsonObject => el !== undefined && !isUnassigned(el));
    // Entra moves primary with `replace emails[type eq "home"].primary = true`; the old primary yields.
    demoteOtherPrimaries(
      next,
      updated.filter((el, i): el is JsonObject => hits[i] && el !== undefined),
    );
    setOrDelete(holder, def.name, next);
    return;
  }
  if (value === undefined) return;
  // No element matches. Entra expects the element to be created from the filter's equalities
  // (it sends PATCH emails[type eq "work"].value for a user without a work email).
  const template = templateFromFilter(filter!);
  if (!template) {
    throw new ScimError(400, 'noTarget', `${where} matches no value and its filter is not a plain equality to create one from`);
  }
  const created = filteredSub ? { ...template, [filteredSub.name]: value } : { ...template, ...(value as JsonObject) };
  const element = coerceValue({ ...def, multiValued: false }, created, where);
  // An element whose every sub-attribute is unassigned (`emails[value eq "x"].value` set to "")
  // is no element: nothing is added.
  if (!isObject(element) || isUnassigned(element)) return;
  // Entra re-sends the same Add every cycle: an element already there is not added twice.
  if (items.some((el) => sameElement(el, element))) return;
  const next = [...items, element];
  demoteOtherPrimaries(next, [element]);
  holder[def.name] = next;
}

/**
 * `attr[sub eq null].sub`, as the README's ActivTrak mapping writes the UPN:
 * `urn:ietf:params:scim:schemas:extension:activtrak:2.0:User.userPrincipalNames[value eq null].value`.
 * Entra uses it to write one source value into a multi-valued attribute, so it means "the
 * single value of this list". Taken literally as a value filter ("set `value` on the elements
 * without one"), each UPN change would add an element, and the list would keep every UPN the
 * user ever had.
 * - add or replace v, whatever the list holds (0, 1 or several elements): the list becomes one
 *   element holding v; that element is the one already holding v (ignoring case unless the
 *   sub-attribute is caseExact), else the first one, so its other sub-attributes stay; with
 *   none, a new `{sub: v}`.
 * - remove, or add or replace with null (null means unassigned): the attribute is cleared,
 *   as when the source value of Entra's mapping goes away.
 * Any other value filter keeps its ordinary meaning: the elements it matches (applyFiltered).
 */
function applySingleValue(holder: JsonObject, def: AttributeDef, sub: AttributeDef, op: PatchOperation, where: string): void {
  const value = op.op === 'remove' ? undefined : coerceValue(sub, op.value, where);
  if (value === undefined) {
    delete holder[def.name];
    return;
  }
  const elements = (Array.isArray(holder[def.name]) ? (holder[def.name] as Json[]) : []).filter(isObject);
  const holds = (el: JsonObject) =>
    !sub.caseExact && typeof el[sub.name] === 'string' && typeof value === 'string'
      ? (el[sub.name] as string).toLowerCase() === value.toLowerCase()
      : isDeepStrictEqual(el[sub.name], value);
  holder[def.name] = [withSub(elements.find(holds) ?? elements[0] ?? {}, sub.name, value)];
}

function withSub(el: JsonObject, sub: string, value: Json | undefined): JsonObject {
  const { [sub]: _old, ...rest } = el;
  return value === undefined ? rest : { ...rest, [sub]: value };
}

function setOrDelete(holder: JsonObject, name: string, value: Json | undefined): void {
  if (isUnassigned(value)) delete holder[name];
  else holder[name] = value!;
}

/** Elements are the same value when their `value` (and `type`, when both have one) agree. */
function sameElement(a: Json, b: Json): boolean {
  if (isObject(a) && isObject(b) && a.value !== undefined && b.value !== undefined) {
    const sameValue =
      typeof a.value === 'string' && typeof b.value === 'string' ? a.value.toLowerCase() === b.value.toLowerCase() : isDeepStrictEqual(a.value, b.value);
    return sameValue && (a.type === undefined || b.type === undefined || a.type === b.type);
  }
  return isDeepStrictEqual(a, b);
}

/** A newly added or updated primary value takes primary from the others: at most one element is primary. */
function demoteOtherPrimaries(items: Json[], incoming: Json[]): void {
  const added = incoming.find((el) => isObject(el) && el.primary === true);
  if (!added) return;
  for (let i = 0; i < items.length; i++) {
    const el = items[i];
    if (isObject(el) && el.primary === true && el !== added) items[i] = { ...el, primary: false };
  }
}
