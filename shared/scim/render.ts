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

export interface RenderOptions {
  /** `{PUBLIC_BASE_URL}/scim/v2`, for meta.location and $ref. */
  readonly baseUrl: string;
  readonly members?: readonly JsonObject[];
  readonly groups?: readonly JsonObject[];
}

const ENDPOINT: Record<ResourceTypeName, string> = { User: 'Users', Group: 'Groups' };

/** Weak ETag from the row version; the same string is meta.version. */
export const etagOf = (version: number) => `W/"${version}"`;

/** Builds the SCIM representation (schemas, id, attributes, meta) of a stored resource. */
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
