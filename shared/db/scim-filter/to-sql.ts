import { ScimError } from '../../scim/errors';
import { findAttribute, resolvePath, type ResourceSchemas } from '../../scim/schema-registry';
import type { AttributeDef, ResourceTypeName } from '../../scim/schema-types';
import type { ComparisonNode, FilterNode } from '../../scim/filter/parser';
import {
  arrayElements,
  comparisonSql,
  invalidFilter,
  isCaseInsensitiveText,
  numericSql,
  presentSql,
  sqlLiteral,
  SqlParams,
  textSql,
  timestampSql,
  type ColumnKind,
  type ColumnOperand,
  type JsonOperand,
  type Operand,
} from './sql-operands';
import { RESOURCE_TYPES, type ResourceDescriptor, type StoredColumn } from '../resource-types';

export { SqlParams };

/** The table a filter runs against (its schemas' resource type's, see resource-types.ts), under `alias`. */
export interface SqlTarget {
  readonly schemas: ResourceSchemas;
  /** Table alias, a plain identifier other than `e` and `gm` (which the compiled SQL uses itself). */
  readonly alias: string;
}

/**
 * Compiles a parsed filter into a PostgreSQL boolean expression over `target.alias`.
 * Throws ScimError 400 invalidFilter for unknown attributes and operator/type mismatches.
 *
 * Semantics, as SCIM defines them: strings compare case-insensitively unless caseExact; an absent
 * attribute matches no comparison, `ne` included, so `not (x eq "a")` is the way to include rows
 * without x; `x eq null` means `not (x pr)` and `x ne null` means `x pr`; a multi-valued
 * attribute matches when any element does.
 */
export function compileFilter(node: FilterNode, target: SqlTarget, params: SqlParams): string {
  checkAlias(target.alias);
  return compileNode(node, rowScope(target), params);
}

/**
 * An ORDER BY expression for sortBy: strings lower()-ed unless caseExact, multi-valued attributes
 * by their primary element, else their first. Rows without a value give NULL, which PostgreSQL's
 * defaults already put last ascending and first descending, where SCIM wants them.
 * Throws ScimError 400 invalidPath for paths that cannot be sorted by.
 */
export function compileSortKey(path: string, target: SqlTarget): string {
  checkAlias(target.alias);
  const fail = (why: string) => new ScimError(400, 'invalidPath', `sortBy "${path}" ${why}`);
  const row = resolveRowPath(target, path, 'invalidPath');
  switch (row.kind) {
    case 'column':
      return row.operand.sortSql ?? (isCaseInsensitiveText(row.operand) ? (row.operand.foldedSql ?? `lower(${row.operand.sql})`) : row.operand.sql);
    case 'membership':
      throw fail(`names "${row.attribute.name}", which lives in the membership table and cannot be sorted by`);
    case 'json':
      return jsonSortKey(row, fail);
  }
}

// ---------------------------------------------------------------------------------------------
// Where values live: operands and paths.

/** A row-level path, resolved against the schemas and the storage layout. */
type RowPath =
  | { readonly kind: 'column'; readonly operand: ColumnOperand }
  | { readonly kind: 'membership'; readonly attribute: AttributeDef; readonly sub?: AttributeDef }
  | { readonly kind: 'json'; readonly base: string; readonly attribute: AttributeDef; readonly sub?: AttributeDef; readonly label: string };

interface ColumnSpec {
  readonly column: ColumnKind;
  readonly notNull: boolean;
  readonly sql: (alias: string) => string;
  readonly sortSql?: (alias: string) => string;
  /** The stored lower() of a case-insensitive column (see ColumnOperand.foldedSql). */
  readonly foldedSql?: (alias: string) => string;
}

/** How a stored attribute of the descriptor reads in SQL over a table alias. */
function columnSpec({ column, type, notNull, folded }: StoredColumn): ColumnSpec {
  // The ETag as served (`W/"3"`), so `meta.version eq "W/\"3\""` works; sorted by the number.
  if (type === 'etag') return { column: 'text', notNull, sql: (a) => `('W/"' || ${a}.${column} || '"')`, sortSql: (a) => `${a}.${column}` };
  return { column: type, notNull, sql: (a) => `${a}.${column}`, foldedSql: folded === undefined ? undefined : (a) => `${a}.${folded}` };
}

/** The columns a filter or sort key of the type may read: the descriptor's, and meta.resourceType. */
function columnsOf(type: ResourceDescriptor): ReadonlyMap<string, ColumnSpec> {
  const name = sqlLiteral(type.resourceType);
  const columns = new Map(Object.entries(type.attributes).map(([path, stored]) => [path, columnSpec(stored)]));
  // PostgreSQL refuses a bare string constant in ORDER BY, hence the cast when sorting.
  columns.set('meta.resourceType', { column: 'text', notNull: true, sql: () => name, sortSql: () => `${name}::text` });
  return columns;
}

// Built once: a filter only looks its paths up.
const COLUMNS: Record<ResourceTypeName, ReadonlyMap<string, ColumnSpec>> = {
  User: columnsOf(RESOURCE_TYPES.User),
  Group: columnsOf(RESOURCE_TYPES.Group),
};

function resolveRowPath(target: SqlTarget, path: string, scimType: 'invalidFilter' | 'invalidPath'): RowPath {
  const { schemas, alias } = target;
  const resolved = resolvePath(schemas, path, scimType);
  const fail = (why: string) => new ScimError(400, scimType, `attribute path "${path}" ${why}`);
  const attribute = resolved.attribute;
  if (!attribute) throw fail('names a whole extension schema; name one of its attributes');
  const sub = resolved.subAttribute;

  if (resolved.extension === undefined) {
    const key = sub ? `${attribute.name}.${sub.name}` : attribute.name;
    const spec = COLUMNS[schemas.resourceType].get(key);
    if (spec) return { kind: 'column', operand: columnOperand(spec, alias, sub ?? attribute) };
    if (attribute.name === RESOURCE_TYPES[schemas.resourceType].membership.attribute) return { kind: 'membership', attribute, sub };
    if (resolved.common) throw fail('is not stored in a form that can be filtered or sorted by');
  }
  const base = resolved.extension === undefined ? `${alias}.data` : `${alias}.data->${sqlLiteral(resolved.extension)}`;
  return { kind: 'json', base, attribute, sub, label: path };
}

function columnOperand(spec: ColumnSpec, alias: string, def: AttributeDef): ColumnOperand {
  return {
    kind: 'column',
    sql: spec.sql(alias),
    column: spec.column,
    notNull: spec.notNull,
    def,
    sortSql: spec.sortSql?.(alias),
    foldedSql: spec.foldedSql?.(alias),
  };
}

// ---------------------------------------------------------------------------------------------
// Filters: scopes say where a path points; predicates say how to compare it.

/** How a comparison reaches its operand: directly, through a JSON array, or through group_members. */
type Reach =
  | { readonly via: 'row'; readonly operand: Operand }
  | { readonly via: 'array'; readonly array: string; readonly operand: Operand }
  | { readonly via: 'membership'; readonly target: SqlTarget; readonly operand?: Operand };

interface Scope {
  /** `presence` asks for the node itself: `emails pr` is "the array is non-empty", not "some element has a value". */
  leaf(path: string, presence: boolean): Reach;
  valuePath(path: string, filter: FilterNode, params: SqlParams): string;
}

function compileNode(node: FilterNode, scope: Scope, params: SqlParams): string {
  switch (node.op) {
    case 'and':
    case 'or':
      return `(${node.filters.map((f) => compileNode(f, scope, params)).join(` ${node.op.toUpperCase()} `)})`;
    case 'not':
      // NULL (an absent attribute) must not survive NOT as NULL: "not (x eq 1)" includes rows without x.
      return `NOT COALESCE(${compileNode(node.filter, scope, params)}, false)`;
    case 'valuePath':
      return scope.valuePath(node.path, node.filter, params);
    case 'pr':
      return reachSql(scope.leaf(node.path, true), presentSql);
    default:
      return compileComparison(node, scope, params);
  }
}

function compileComparison(node: ComparisonNode, scope: Scope, params: SqlParams): string {
  const { op, path, value } = node;
  if (value === null) {
    const present = reachSql(scope.leaf(path, true), presentSql);
    if (op === 'eq') return `NOT COALESCE(${present}, false)`;
    if (op === 'ne') return present;
    throw invalidFilter(`"${path} ${op} null": only eq and ne compare with null`);
  }
  return reachSql(scope.leaf(path, false), (operand) => comparisonSql(operand, op, value, path, params));
}

function reachSql(reach: Reach, predicate: (operand: Operand) => string): string {
  switch (reach.via) {
    case 'row':
      return predicate(reach.operand);
    case 'array':
      return `EXISTS (SELECT 1 FROM ${arrayElements(reach.array)} AS e(v) WHERE ${predicate(reach.operand)})`;
    case 'membership':
      return membershipExists(reach.target, reach.operand && predicate(reach.operand));
  }
}

function membershipExists(target: SqlTarget, condition: string | undefined): string {
  const { alias, schemas } = target;
  const { table, own } = RESOURCE_TYPES[schemas.resourceType].membership;
  const where = `gm.directory_id = ${alias}.directory_id AND gm.${own} = ${alias}.id${condition ? ` AND ${condition}` : ''}`;
  return `EXISTS (SELECT 1 FROM ${table} gm WHERE ${where})`;
}

function rowScope(target: SqlTarget): Scope {
  const scope: Scope = {
    leaf(path, presence) {
      const row = resolveRowPath(target, path, 'invalidFilter');
      switch (row.kind) {
        case 'column':
          return { via: 'row', operand: row.operand };
        case 'membership': {
          const sub = row.sub ?? (presence ? undefined : valueSubAttribute(row.attribute, path));
          return { via: 'membership', target, operand: sub && membershipOperand(row.attribute, sub, target) };
        }
        case 'json':
          return jsonLeaf(row, presence);
      }
    },

    valuePath(path, filter, params) {
      const { attribute, subAttribute } = resolvePath(target.schemas, path, 'invalidFilter');
      if (attribute?.type !== 'complex' || subAttribute) throw invalidFilter(`value path "${path}[…]" must name a complex attribute`);
      // A single complex attribute (`name[givenName eq "x"]`, `meta[created gt "…"]`): the
      // bracket paths are its sub-attributes, so `name.givenName` resolves them, columns included.
      if (!attribute.multiValued) return compileNode(filter, prefixedScope(scope, path), params);
      const row = resolveRowPath(target, path, 'invalidFilter');
      if (row.kind === 'membership') return membershipExists(target, compileNode(filter, membershipScope(attribute, target), params));
      if (row.kind !== 'json') throw invalidFilter(`value path "${path}[…]" must name a complex attribute`);
      const array = `${row.base}->${sqlLiteral(attribute.name)}`;
      const inner = compileNode(filter, elementScope(attribute, path), params);
      return `EXISTS (SELECT 1 FROM ${arrayElements(array)} AS e(v) WHERE ${inner})`;
    },
  };
  return scope;
}

/** Paths inside `name[…]`: `givenName` is `name.givenName` at row level. */
function prefixedScope(row: Scope, prefix: string): Scope {
  return {
    leaf: (path, presence) => row.leaf(`${prefix}.${path}`, presence),
    valuePath: () => {
      throw invalidFilter(`value paths cannot nest inside "${prefix}[…]"`);
    },
  };
}

/**
 * Paths inside `label[…]` of a multi-valued complex attribute: each names one of its
 * sub-attributes, compiled by `operandOf`; brackets do not nest.
 */
function subAttributeScope(parent: AttributeDef, label: string, operandOf: (sub: AttributeDef) => Operand): Scope {
  return {
    leaf(path) {
      const sub = findAttribute(parent.subAttributes, path);
      if (!sub) throw invalidFilter(`"${path}" in "${label}[…]" is not a sub-attribute of "${parent.name}"`);
      return { via: 'row', operand: operandOf(sub) };
    },
    valuePath: () => {
      throw invalidFilter(`value paths cannot nest inside "${label}[…]"`);
    },
  };
}

/** Paths inside `emails[…]`: sub-attributes of the array element `e.v`. */
const elementScope = (parent: AttributeDef, label: string): Scope =>
  subAttributeScope(parent, label, (sub) => ({ kind: 'json', parent: 'e.v', key: sub.name, def: sub }));

/** Paths inside `members[…]`, evaluated per group_members row `gm`. */
const membershipScope = (parent: AttributeDef, target: SqlTarget): Scope =>
  subAttributeScope(parent, parent.name, (sub) => membershipOperand(parent, sub, target));

/**
 * Only `value` (the member's or group's id) is stored in group_members. `display`, `type` and
 * `$ref` would need a join for little benefit: no provisioning client filters on them.
 */
function membershipOperand(parent: AttributeDef, sub: AttributeDef, target: SqlTarget): Operand {
  if (sub.name !== 'value') {
    throw invalidFilter(`"${parent.name}.${sub.name}" cannot be filtered; filter ${parent.name} by "value" (the id)`);
  }
  const column = `gm.${RESOURCE_TYPES[target.schemas.resourceType].membership.other}`;
  return { kind: 'column', sql: column, column: 'uuid', notNull: true, def: sub };
}

function jsonLeaf(row: Extract<RowPath, { kind: 'json' }>, presence: boolean): Reach {
  const { base, attribute, label } = row;
  const node = `${base}->${sqlLiteral(attribute.name)}`;
  if (attribute.type !== 'complex') {
    if (!attribute.multiValued || presence) return { via: 'row', operand: { kind: 'json', parent: base, key: attribute.name, def: attribute } };
    return { via: 'array', array: node, operand: { kind: 'json', parent: 'e.v', def: attribute } };
  }
  const sub = row.sub ?? (presence ? undefined : valueSubAttribute(attribute, label));
  if (!sub) return { via: 'row', operand: { kind: 'json', parent: base, key: attribute.name, def: attribute } };
  const operand: JsonOperand = { kind: 'json', parent: attribute.multiValued ? 'e.v' : node, key: sub.name, def: sub };
  return attribute.multiValued ? { via: 'array', array: node, operand } : { via: 'row', operand };
}

/** `emails co "x"` compares each email's `value`: `emails co "example.com"` finds addresses at that domain. */
function valueSubAttribute(attribute: AttributeDef, path: string, scimType: 'invalidFilter' | 'invalidPath' = 'invalidFilter'): AttributeDef {
  const value = findAttribute(attribute.subAttributes, 'value');
  if (!value) throw new ScimError(400, scimType, `attribute path "${path}" is complex; name one of its sub-attributes`);
  return value;
}

// ---------------------------------------------------------------------------------------------
// Sorting JSON attributes.

function jsonSortKey(row: Extract<RowPath, { kind: 'json' }>, fail: (why: string) => ScimError): string {
  const { base, attribute, label } = row;
  const node = `${base}->${sqlLiteral(attribute.name)}`;
  // A complex attribute sorts by a sub-attribute; `emails` means `emails.value`.
  const sub = attribute.type === 'complex' ? (row.sub ?? valueSubAttribute(attribute, label, 'invalidPath')) : undefined;
  if (!attribute.multiValued) {
    const operand: JsonOperand = sub
      ? { kind: 'json', parent: node, key: sub.name, def: sub }
      : { kind: 'json', parent: base, key: attribute.name, def: attribute };
    return sortSql(operand, fail);
  }
  const element: JsonOperand = sub ? { kind: 'json', parent: 'e.v', key: sub.name, def: sub } : { kind: 'json', parent: 'e.v', def: attribute };
  const primary = findAttribute(attribute.subAttributes, 'primary');
  const primaryFirst = primary ? `COALESCE(lower(e.v->>${sqlLiteral(primary.name)}) = 'true', false) DESC, ` : '';
  return `(SELECT ${sortSql(element, fail)} FROM ${arrayElements(node)} WITH ORDINALITY AS e(v, n) ORDER BY ${primaryFirst}e.n LIMIT 1)`;
}

function sortSql(operand: JsonOperand, fail: (why: string) => ScimError): string {
  switch (operand.def.type) {
    case 'integer':
    case 'decimal':
      return numericSql(operand);
    case 'dateTime':
      return timestampSql(operand);
    case 'boolean':
      return `lower(${textSql(operand)})`;
    case 'complex':
      throw fail('is complex; name one of its sub-attributes');
    default:
      return isCaseInsensitiveText(operand) ? `lower(${textSql(operand)})` : textSql(operand);
  }
}

function checkAlias(alias: string): void {
  // A programming error, not a client's: the alias is written into SQL as is.
  if (!/^[a-z_][a-z0-9_]*$/i.test(alias) || alias === 'e' || alias === 'gm') {
    throw new TypeError(`SqlTarget alias "${alias}" must be a plain identifier other than "e" and "gm"`);
  }
}
