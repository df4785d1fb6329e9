import type { ResourceSchemas } from './schema-registry';
import type { ResourceTypeName } from './schema-types';
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

/** A stored resource as text, for renderResourceJson (ResourceTable.listText). */
export interface StoredResourceText {
  readonly id: string;
  readonly related?: unknown;
  /** The stored attributes as PostgreSQL prints jsonb: an object. */
  readonly dataText: string;
  readonly version: number;
  /** ISO 8601, as Date.toISOString() writes it. */
  readonly created: string;
  readonly lastModified: string;
  /** The top-level keys of the stored attributes that are schema URNs (extension blocks). */
  readonly urns: readonly string[];
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

/**
 * renderResource's output as JSON text, assembled around the stored JSON text instead of parsing
 * and re-serialising it: the same members in the same order (PostgreSQL prints jsonb with a space
 * after each `:` and `,`, which JSON readers ignore). Used for list pages in the default projection.
 */
export function renderResourceJson(schemas: ResourceSchemas, row: StoredResourceText, options: RenderOptions): string {
  const present = schemas.extensions.filter((e) => row.urns.includes(e.schema.id)).map((e) => e.schema.id);
  const head = JSON.stringify({ schemas: [schemas.core.id, ...present], id: row.id });
  const attributes = row.dataText.length > 2 ? `,${row.dataText.slice(1, -1)}` : '';
  const members = options.members ? `,"members":${JSON.stringify(options.members)}` : '';
  const groups = options.groups?.length ? `,"groups":${JSON.stringify(options.groups)}` : '';
  const meta = JSON.stringify({
    resourceType: schemas.resourceType,
    created: row.created,
    lastModified: row.lastModified,
    location: `${options.baseUrl}/${ENDPOINT[schemas.resourceType]}/${row.id}`,
    version: etagOf(row.version),
  });
  return `${head.slice(0, -1)}${attributes}${members}${groups},"meta":${meta}}`;
}
