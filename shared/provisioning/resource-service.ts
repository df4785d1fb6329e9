import type { Projection } from '../scim/projection';
import type { ResourceTypeName } from '../scim/schema-types';
import type { JsonObject } from '../scim/values';
import type { DirectoryContext } from './context';
import { GroupService } from './groups';
import type { ListParams } from './list-query';
import { UserService } from './users';

export interface WriteResult {
  readonly resource: JsonObject;
  readonly etag: string;
}

/**
 * What a PATCH answers: the new ETag, and the representation when the resource type returns one
 * (a User: Entra's validator expects 200 with it). A Group returns none: it can hold 100,000
 * members, so the caller answers 204 unless the client asked for attributes.
 */
export interface PatchResult {
  readonly id: string;
  readonly etag: string;
  readonly resource?: JsonObject;
}

/** The SCIM operations of one resource type in one directory; routes and /Bulk use nothing else. */
export interface ResourceService {
  create(body: unknown): Promise<WriteResult>;
  get(id: string, projection?: Projection): Promise<WriteResult>;
  list(params: ListParams, projection: Projection): Promise<{ total: number; startIndex: number; resources: JsonObject[] }>;
  replace(id: string, body: unknown, ifMatch?: string): Promise<WriteResult>;
  patch(id: string, body: unknown, ifMatch?: string): Promise<PatchResult>;
  delete(id: string, ifMatch?: string): Promise<void>;
}

const SERVICES: Record<ResourceTypeName, (ctx: DirectoryContext) => ResourceService> = {
  User: (ctx) => new UserService(ctx),
  Group: (ctx) => new GroupService(ctx),
};

/** The service of `type` for the directory of `ctx`. */
export function resourceService(type: ResourceTypeName, ctx: DirectoryContext): ResourceService {
  return SERVICES[type](ctx);
}
