import { ScimError } from '../../scim/errors';
import type { AttributeDef } from '../../scim/schema-types';
import { isDateTime } from '../../scim/values';
import type { CompareOp } from '../../scim/filter/parser';

// The leaves of a compiled filter: where a value lives (a column or a JSON node) and the SQL
// predicate comparing it with a bound value, by SCIM type (string, boolean, number, dateTime, …).

/** Collects bind values; every value from a filter reaches PostgreSQL as `$n`, never as SQL text. */
export class SqlParams {
  readonly values: unknown[] = [];

  /** `start` reserves `$1…$start` for the caller, e.g. 1 for the directory id. */
  constructor(private readonly start = 0) {}

  add(value: unknown): string {
    this.values.push(value);
    return `$${this.start + this.values.length}`;
  }
}

export type ColumnKind = 'text' | 'uuid' | 'boolean' | 'timestamptz';

export interface ColumnOperand {
  readonly kind: 'column';
  readonly sql: string;
  readonly column: ColumnKind;
  readonly notNull: boolean;
  readonly def: AttributeDef;
  /** When ordering differs from the compared text (meta.version sorts by the integer). */
  readonly sortSql?: string;
  /**
   * The column's lower() as a stored, indexed column (migration 0009), for case-insensitive
   * comparison: under row-level security only a leakproof condition (`=` on text is, lower() is
   * not) can use an index, so `lower(user_name) = …` would scan the directory.
   */
  readonly foldedSql?: string;
}

/** `parent->>'key'`, or the jsonb `parent` itself when `key` is undefined (a simple multi-valued element). */
export interface JsonOperand {
  readonly kind: 'json';
  readonly parent: string;
  readonly key?: string;
  readonly def: AttributeDef;
}

export type Operand = ColumnOperand | JsonOperand;

// ---------------------------------------------------------------------------------------------
// Predicates on one operand.

const SQL_OPS: Partial<Record<CompareOp, string>> = { eq: '=', ne: '<>', gt: '>', ge: '>=', lt: '<', le: '<=' };
const isSubstringOp = (op: CompareOp) => op === 'co' || op === 'sw' || op === 'ew';

/** `pr` (present): a non-empty value, or a non-empty node for complex and multi-valued attributes. */
export function presentSql(operand: Operand): string {
  if (operand.kind === 'json') {
    return `${jsonNode(operand)} NOT IN ('null'::jsonb, '""'::jsonb, '[]'::jsonb, '{}'::jsonb)`;
  }
  if (operand.notNull) return 'TRUE';
  // NULL <> '' is NULL, which excludes the row, as absent attributes should be.
  return operand.column === 'text' ? `${operand.sql} <> ''` : `${operand.sql} IS NOT NULL`;
}

export function comparisonSql(operand: Operand, op: CompareOp, value: string | number | boolean, path: string, params: SqlParams): string {
  if (operand.kind === 'column' && operand.column === 'uuid') return uuidComparison(operand.sql, op, value, params);
  switch (operand.def.type) {
    case 'boolean':
      return booleanComparison(operand, op, value, path, params);
    case 'integer':
    case 'decimal':
      return numberComparison(operand, op, value, path, params);
    case 'dateTime':
      return dateComparison(operand, op, value, path, params);
    case 'complex':
      throw invalidFilter(`attribute path "${path}" is complex; name one of its sub-attributes`);
    default:
      return textComparison(textSql(operand), op, String(value), !operand.def.caseExact, params, operand.kind === 'column' ? operand.foldedSql : undefined);
  }
}

function textComparison(text: string, op: CompareOp, value: string, caseInsensitive: boolean, params: SqlParams, folded?: string): string {
  if (isSubstringOp(op)) return `${text} ${caseInsensitive ? 'ILIKE' : 'LIKE'} ${params.add(likePattern(op, value))}`;
  const p = params.add(value);
  if (!caseInsensitive) return `${text} ${SQL_OPS[op]} ${p}`;
  // The folded column is indexed (directory_id, user_name_folded) and compared with a leakproof `=`.
  return `${folded ?? `lower(${text})`} ${SQL_OPS[op]} lower(${p})`;
}

/**
 * `id eq "not-a-uuid"` must not make PostgreSQL fail the cast: it is simply FALSE.
 * UUIDs are case-insensitive (hex digits in either case), so substring and ordering compare the lowercase text.
 */
function uuidComparison(column: string, op: CompareOp, value: string | number | boolean, params: SqlParams): string {
  const text = String(value);
  if (op === 'eq' || op === 'ne') {
    if (!UUID.test(text)) return op === 'eq' ? 'FALSE' : 'TRUE';
    return `${column} ${SQL_OPS[op]} ${params.add(text)}::uuid`;
  }
  return textComparison(`${column}::text`, op, text, true, params);
}

function booleanComparison(operand: Operand, op: CompareOp, value: string | number | boolean, path: string, params: SqlParams): string {
  if (op !== 'eq' && op !== 'ne') throw invalidFilter(`"${path}" is a boolean; "${op}" is not supported, only eq and ne`);
  // Entra sends string booleans ("True"), in filters and in stored resources alike.
  const wanted = typeof value === 'boolean' ? value : /^(true|false)$/i.test(String(value)) ? String(value).toLowerCase() === 'true' : undefined;
  if (wanted === undefined) throw invalidFilter(`"${path}" is a boolean; ${JSON.stringify(value)} is not true or false`);
  if (operand.kind === 'column') return `${operand.sql} ${SQL_OPS[op]} ${params.add(wanted)}`;
  return `lower(${textSql(operand)}) ${SQL_OPS[op]} ${params.add(String(wanted))}`;
}

function numberComparison(operand: Operand, op: CompareOp, value: string | number | boolean, path: string, params: SqlParams): string {
  if (isSubstringOp(op)) throw invalidFilter(`"${path}" is a number; "${op}" is not supported`);
  const number = typeof value === 'number' ? value : typeof value === 'string' && NUMBER.test(value) ? Number(value) : undefined;
  if (number === undefined) throw invalidFilter(`"${path}" is a number; ${JSON.stringify(value)} is not a number`);
  return `${numericSql(operand)} ${SQL_OPS[op]} ${params.add(number)}::numeric`;
}

function dateComparison(operand: Operand, op: CompareOp, value: string | number | boolean, path: string, params: SqlParams): string {
  if (isSubstringOp(op)) throw invalidFilter(`"${path}" is a dateTime; "${op}" is not supported`);
  if (typeof value !== 'string' || !isDateTime(value)) {
    throw invalidFilter(`"${path}" is a dateTime; ${JSON.stringify(value)} is not an xsd:dateTime like "2024-05-13T04:42:34Z"`);
  }
  return `${timestampSql(operand)} ${SQL_OPS[op]} ${params.add(value)}::timestamptz`;
}

// ---------------------------------------------------------------------------------------------
// SQL fragments.

export function textSql(operand: Operand): string {
  if (operand.kind === 'column') return operand.sql;
  return operand.key === undefined ? `(${operand.parent} #>> '{}')` : `${operand.parent}->>${sqlLiteral(operand.key)}`;
}

export function jsonNode(operand: JsonOperand): string {
  return operand.key === undefined ? operand.parent : `${operand.parent}->${sqlLiteral(operand.key)}`;
}

// `data` holds what clients sent: a non-number must compare as absent, not fail the cast.
export function numericSql(operand: Operand): string {
  if (operand.kind === 'column') return operand.sql;
  const node = jsonNode(operand);
  return `(CASE jsonb_typeof(${node}) WHEN 'number' THEN (${node})::numeric END)`;
}

// Only strings PostgreSQL can read as a timestamp are cast (the write path validates dateTime
// values; rows stored before it checked calendar days hold "2024-02-30T…"). Field ranges, year 0
// and offsets past ±15:59 by pattern, the day of the month by make_date in a nested CASE, since
// only CASE orders PostgreSQL's evaluation.
const STORED_DATE_TIME =
  "'^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[Tt]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]+)?([Zz]|[+-](0[0-9]|1[0-5]):[0-5][0-9])?$'";
export function timestampSql(operand: Operand): string {
  if (operand.kind === 'column') return operand.sql;
  const t = textSql(operand);
  const lastDay = `extract(day from make_date(left(${t}, 4)::int, substr(${t}, 6, 2)::int, 1) + interval '1 month - 1 day')`;
  return `(CASE WHEN ${t} ~ ${STORED_DATE_TIME} AND left(${t}, 4) <> '0000' THEN CASE WHEN substr(${t}, 9, 2)::int <= ${lastDay} THEN (${t})::timestamptz END END)`;
}

/** A multi-valued attribute's elements; a stored non-array counts as empty instead of failing. */
export function arrayElements(array: string): string {
  return `jsonb_array_elements(CASE jsonb_typeof(${array}) WHEN 'array' THEN ${array} ELSE '[]'::jsonb END)`;
}

/** co/sw/ew as a LIKE pattern; `\` is LIKE's default escape, so the value's wildcards stay literal. */
function likePattern(op: CompareOp, value: string): string {
  const escaped = value.replace(/[\\%_]/g, (c) => `\\${c}`);
  return op === 'co' ? `%${escaped}%` : op === 'sw' ? `${escaped}%` : `%${escaped}`;
}

/** Schema-defined names only (extension URNs, attribute names), never filter values. */
export function sqlLiteral(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

export function isCaseInsensitiveText(operand: Operand): boolean {
  const textual = operand.kind === 'column' ? operand.column === 'text' : !['boolean', 'integer', 'decimal', 'dateTime'].includes(operand.def.type);
  return textual && !operand.def.caseExact;
}

// ---------------------------------------------------------------------------------------------
// Values and guards.

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;
export const invalidFilter = (detail: string) => new ScimError(400, 'invalidFilter', detail);
