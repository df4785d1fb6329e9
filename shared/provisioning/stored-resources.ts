import type { EventWriter } from '../db/repositories/events';
import type { ResourceTable } from '../db/repositories/resource-table';
import { ScimError } from '../scim/errors';
import { applyProjection, DEFAULT_PROJECTION, projects, type Projection } from '../scim/projection';
import { etagOf, type StoredResource } from '../scim/render';
import type { ResourceSchemas } from '../scim/schema-registry';
import type { JsonObject } from '../scim/values';
import type { DirectoryContext } from './context';
import { buildListQuery, type ListParams } from './list-query';
import type { WriteResult } from './resource-service';

/**
 * What the User and Group services share: their directory, its event writer, and the reads (one
 * resource, a page), rendered in the directory's schema with the related ids (a user's groups, a
 * group's members) only when the projection asks for them.
 */
export abstract class StoredResources<Table extends ResourceTable> {
  protected readonly events: EventWriter;

  constructor(
    protected readonly ctx: DirectoryContext,
    protected readonly table: Table,
    private readonly kind: { readonly name: 'User' | 'Group'; readonly schemas: 'user' | 'group'; readonly related: 'groups' | 'members' },
  ) {
    this.events = ctx.repos.events(ctx.actor);
  }

  protected get schemas(): ResourceSchemas {
    return this.ctx.schemas[this.kind.schemas];
  }

  protected abstract render(row: StoredResource): JsonObject;

  protected notFound(id: string): ScimError {
    return new ScimError(404, undefined, `${this.kind.name} "${id}" not found`);
  }

  async get(id: string, projection: Projection = DEFAULT_PROJECTION): Promise<WriteResult> {
    const row = await this.table.find(id, undefined, { withRelated: projects(projection, this.kind.related) });
    if (!row) throw this.notFound(id);
    return { resource: applyProjection(this.render(row), projection), etag: etagOf(row.version) };
  }

  async list(params: ListParams, projection: Projection): Promise<{ total: number; startIndex: number; resources: JsonObject[] }> {
    const page = buildListQuery(this.schemas, params, this.ctx.limits.maxPageSize);
    const { total, rows } = await this.table.list({ ...page.query, withRelated: projects(projection, this.kind.related) });
    return { total, startIndex: page.startIndex, resources: rows.map((r) => applyProjection(this.render(r), projection)) };
  }
}
