import { ScimError } from '../scim/errors';
import { parseFilter, type FilterNode } from '../scim/filter/parser';
import { compileFilter, compileSortKey, SqlParams } from '../db/scim-filter/to-sql';
import { resolvePath, type ResourceSchemas } from '../scim/schema-registry';
import type { ListQuery } from '../db/repositories/resource-table';

/** SCIM list parameters as they arrive (query string or POST /.search body). */
export interface ListParams {
  readonly filter?: unknown;
  readonly sortBy?: unknown;
  readonly sortOrder?: unknown;
  readonly startIndex?: unknown;
  readonly count?: unknown;
}

export interface Page {
  readonly query: ListQuery;
  /** 1-based, as SCIM defines it. */
  readonly startIndex: number;
}

/** Compiles filter, sort and pagination into one parameterised list query. */
export function buildListQuery(schemas: ResourceSchemas, params: ListParams, maxPageSize: number): Page {
  const startIndex = Math.max(1, integerParam('startIndex', params.startIndex) ?? 1);
  // A count above the maximum is cut to it, not refused; negative counts mean 0.
  const count = Math.min(maxPageSize, Math.max(0, integerParam('count', params.count) ?? maxPageSize));

  const sqlParams = new SqlParams(1);
  let where: string | undefined;
  let equals: ListQuery['equals'];
  if (params.filter !== undefined && params.filter !== '') {
    if (typeof params.filter !== 'string') throw new ScimError(400, 'invalidFilter', '"filter" must be a string');
    const filter = parseFilter(params.filter);
    where = compileFilter(filter, { schemas, alias: 'r' }, sqlParams);
    equals = coreEquality(schemas, filter);
    // A "\u0000" escape decodes to NUL, which PostgreSQL refuses in text parameters (a 500 otherwise).
    if (sqlParams.values.some((v) => typeof v === 'string' && v.includes('\u0000'))) {
      throw new ScimError(400, 'invalidFilter', 'a filter value contains a NUL character (U+0000)');
    }
  }
  let orderBy: string | undefined;
  if (params.sortBy !== undefined && params.sortBy !== '') {
    if (typeof params.sortBy !== 'string') throw new ScimError(400, 'invalidValue', '"sortBy" must be a string');
    orderBy = compileSortKey(params.sortBy, { schemas, alias: 'r' });
  }
  // A SearchRequest body may carry anything here; only a string is a sort order.
  const order =
    params.sortOrder === undefined || params.sortOrder === '' ? 'ascending' : typeof params.sortOrder === 'string' ? params.sortOrder.toLowerCase() : undefined;
  if (order !== 'ascending' && order !== 'descending') {
    throw new ScimError(400, 'invalidValue', '"sortOrder" must be "ascending" or "descending"');
  }
  return {
    startIndex,
    query: { where, equals, params: sqlParams.values, orderBy, descending: order === 'descending', offset: startIndex - 1, limit: count },
  };
}

/**
 * `<core attribute> eq "<string>"` as a whole filter (Entra's `userName eq "…"`), which the
 * repository may answer from a unique index. Called after compileFilter, so the path is valid.
 */
function coreEquality(schemas: ResourceSchemas, filter: FilterNode): ListQuery['equals'] {
  if (filter.op !== 'eq' || typeof filter.value !== 'string') return undefined;
  const path = resolvePath(schemas, filter.path, 'invalidFilter');
  if (path.extension || !path.attribute || path.subAttribute) return undefined;
  return { attribute: path.attribute.name, value: filter.value };
}

function integerParam(name: string, raw: unknown): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^-?\d+$/.test(raw.trim()) ? Number(raw) : NaN;
  if (!Number.isInteger(n)) throw new ScimError(400, 'invalidValue', `"${name}" must be an integer`);
  // A huge count is capped like any count above the maximum, and a huge startIndex is simply
  // past the end (an empty page); neither is an error.
  return Math.max(-Number.MAX_SAFE_INTEGER, Math.min(Number.MAX_SAFE_INTEGER, n));
}
