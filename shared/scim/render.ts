import { topLevelKeys } from './json-text';
import type { ResourceSchemas } from './schema-registry';
import { LIST_RESPONSE_SCHEMA, type ResourceTypeName } from './schema-types';
import type { JsonObject } from './values';

/** What a repository hands back for one stored User or Group. */
export interface StoredResource {
  readonly id: string;
  /** Related rows fetched with the resource when asked for (a user's groups, a group's members). */
  readonly related?: unknown;
  readonly data: JsonObject;
  readonly version: number;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

/** A stored resource read for a list page, its data still the JSON text PostgreSQL printed. */
export interface StoredResourceText extends Omit<StoredResource, 'data'> {
  readonly dataText: string;
}

export interface RenderOptions {
  /** `{PUBLIC_BASE_URL}/scim/v2`, for meta.location and $ref. */
  readonly baseUrl: string;
  readonly members?: readonly JsonObject[];
  readonly groups?: readonly JsonObject[];
}

const ENDPOINT: Record<ResourceTypeName, string> = { User: 'Users', Group: 'Groups' };

/** Weak ETag from the row version (RFC 7644 §3.14); the same string is meta.version. */
export const etagOf = (version: number) => `W/"${version}"`;

/** Builds the SCIM representation (RFC 7643 §3) of a stored resource. */
export function renderResource(schemas: ResourceSchemas, row: StoredResource, options: RenderOptions): JsonObject {
  const present = schemas.extensions.filter((e) => row.data[e.schema.id] !== undefined).map((e) => e.schema.id);
  const location = `${options.baseUrl}/${ENDPOINT[schemas.resourceType]}/${row.id}`;
  const out: JsonObject = { schemas: [schemas.core.id, ...present], id: row.id };
  Object.assign(out, row.data);
  if (options.members) out.members = options.members as JsonObject[];
  if (options.groups?.length) out.groups = options.groups as JsonObject[];
  out.meta = {
    resourceType: schemas.resourceType,
    created: row.createdAt.toISOString(),
    lastModified: row.updatedAt.toISOString(),
    location,
    version: etagOf(row.version),
  };
  return out;
}

/** Names the renderer writes itself; stored data never holds them (resource.ts drops them). */
const RENDERED_NAMES = new Set(['schemas', 'id', 'meta', 'members', 'groups']);

/**
 * The same representation as `renderResource`, as JSON text, with the stored data's text spliced
 * in rather than parsed and serialised again: a page of 100 users is about 90 KB of JSON, and
 * parsing it, copying it into new objects and serialising it were the larger part of the API's
 * work on a deep page. Data that is not a plain object, or that holds a name the renderer writes,
 * takes the parsing path, so the text never carries a name twice.
 */
export function renderResourceText(schemas: ResourceSchemas, row: StoredResourceText, options: RenderOptions): string {
  const keys = topLevelKeys(row.dataText);
  if (!keys || keys.some((k) => RENDERED_NAMES.has(k))) {
    const { dataText, ...rest } = row;
    return JSON.stringify(renderResource(schemas, { ...rest, data: JSON.parse(dataText) }, options));
  }
  const present = schemas.extensions.filter((e) => keys.includes(e.schema.id)).map((e) => e.schema.id);
  const location = `${options.baseUrl}/${ENDPOINT[schemas.resourceType]}/${row.id}`;
  let text = `{"schemas":${JSON.stringify([schemas.core.id, ...present])},"id":${JSON.stringify(row.id)}`;
  if (keys.length) text += `,${row.dataText.slice(row.dataText.indexOf('{') + 1, row.dataText.lastIndexOf('}'))}`;
  if (options.members) text += `,"members":${JSON.stringify(options.members)}`;
  if (options.groups?.length) text += `,"groups":${JSON.stringify(options.groups)}`;
  const meta = `{"resourceType":"${schemas.resourceType}","created":"${row.createdAt.toISOString()}","lastModified":"${row.updatedAt.toISOString()}","location":${JSON.stringify(location)},"version":${JSON.stringify(etagOf(row.version))}}`;
  return `${text},"meta":${meta}}`;
}

/** One page of a list, each resource already serialised (see renderResourceText). */
export interface ListPage {
  readonly total: number;
  readonly startIndex: number;
  readonly resources: readonly string[];
}

/** The ListResponse (RFC 7644 §3.4.2) of a page, as JSON text. */
export function renderListResponse(page: ListPage): string {
  return `{"schemas":["${LIST_RESPONSE_SCHEMA}"],"totalResults":${page.total},"startIndex":${page.startIndex},"itemsPerPage":${page.resources.length},"Resources":[${page.resources.join(',')}]}`;
}
