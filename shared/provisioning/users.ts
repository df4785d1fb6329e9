import type { UserRepository } from '../db/repositories/users';
import type { EventType } from '../events/catalog';
import { newId, type UserId } from '../ids';
import { checkImmutable } from '../scim/mutability';
import { applyPatch } from '../scim/patch/apply';
import { parsePatchRequest } from '../scim/patch/parse';
import { etagOf, renderResource, type StoredResource } from '../scim/render';
import { normalizeResource } from '../scim/resource';
import type { JsonObject } from '../scim/values';
import { diffAttributes } from './changes';
import type { DirectoryContext } from './context';
import type { PatchResult, ResourceService, WriteResult } from './resource-service';
import { StoredResources } from './stored-resources';
import { checkPrecondition } from './preconditions';
import { checkUnique, uniqueAttributes } from './uniqueness';

/** SCIM User operations of one directory: each write and its event commit together. */
export class UserService extends StoredResources<UserRepository> implements ResourceService {
  constructor(ctx: DirectoryContext) {
    super(ctx, ctx.repos.users, { name: 'User', schemas: 'user', related: 'groups' });
  }

  /** One statement writes the user and its user.created event (atomic, one round trip). */
  async create(body: unknown): Promise<WriteResult> {
    const { data } = normalizeResource(this.schemas, body);
    const id = newId<UserId>();
    const now = new Date();
    const resource = this.render({ id, data, version: 1, createdAt: now, updatedAt: now });
    const event = this.events.outboxValues({ type: 'user.created', resourceType: 'User', resourceId: id, data: { resource } });
    const unique = uniqueAttributes(this.schemas);
    const row = unique.length
      ? await this.ctx.repos.transaction(async (t) => {
          await checkUnique(this.ctx.repos.uniqueValues, t, 'User', unique, data, id);
          return this.table.insert(id, data, t, { createdAt: now, event });
        })
      : await this.table.insert(id, data, undefined, { createdAt: now, event });
    return { resource, etag: etagOf(row.version) };
  }

  async replace(id: string, body: unknown, ifMatch?: string): Promise<WriteResult> {
    const { data } = normalizeResource(this.schemas, body);
    return this.write(id, ifMatch, () => data);
  }

  /** Answers with the user: Entra's validator expects 200 with the representation. */
  async patch(id: string, body: unknown, ifMatch?: string): Promise<PatchResult> {
    const operations = parsePatchRequest(this.schemas, body, this.ctx.limits.maxPatchOperations);
    const { resource, etag } = await this.write(id, ifMatch, (current) => applyPatch(this.schemas, current, operations));
    return { id: String(resource.id), etag, resource };
  }

  async delete(id: string, ifMatch?: string): Promise<void> {
    await this.ctx.repos.transaction(async (t) => {
      const current = await this.table.find(id, t, { lock: true });
      if (!current) throw this.notFound(id);
      checkPrecondition(ifMatch, current.version);
      const left = await this.table.leaveAllGroups(current.id, t);
      for (const group of left) await this.events.appendMembership(t, 'group.user_removed', group, [current.id]);
      await this.table.delete(current.id, t);
      const resource = this.render(current);
      await this.events.append(t, { type: 'user.deleted', resourceType: 'User', resourceId: current.id, data: { resource } });
    });
  }

  /**
   * Locks the row, computes the new data, and stores it only if it differs: a write that
   * changes nothing keeps the version (and so the ETag) and records no event.
   */
  private async write(id: string, ifMatch: string | undefined, next: (current: JsonObject) => JsonObject): Promise<WriteResult> {
    return this.ctx.repos.transaction(async (t) => {
      const current = await this.table.find(id, t, { lock: true, withRelated: true });
      if (!current) throw this.notFound(id);
      checkPrecondition(ifMatch, current.version);
      const data = next(current.data);
      const { changed, previous } = diffAttributes(current.data, data);
      if (changed.length === 0) return { resource: this.render(current), etag: etagOf(current.version) };
      checkImmutable(this.schemas, current.data, data);
      await checkUnique(this.ctx.repos.uniqueValues, t, 'User', uniqueAttributes(this.schemas), data, current.id);
      const row = await this.table.update(current.id, data, t, { withRelated: true, previous: current.data });
      const resource = this.render(row);
      await this.events.append(t, {
        type: eventTypeFor(current.data, data),
        resourceType: 'User',
        resourceId: row.id,
        data: { resource, changedAttributes: changed, previousAttributes: previous },
      });
      return { resource, etag: etagOf(row.version) };
    });
  }

  protected render(row: StoredResource): JsonObject {
    // By name, as a person reads them; display names are unique in a directory, and the query leaves the order to us.
    const groups = ((row.related ?? []) as { value: string; display: string }[]).sort((a, b) => (a.display < b.display ? -1 : a.display > b.display ? 1 : 0));
    return renderResource(this.schemas, row, {
      baseUrl: this.ctx.baseUrl,
      groups: groups.map((g) => ({ value: g.value, $ref: `${this.ctx.baseUrl}/Groups/${g.value}`, display: g.display, type: 'direct' })),
    });
  }
}

function eventTypeFor(before: JsonObject, after: JsonObject): EventType {
  const wasActive = before.active !== false;
  const isActive = after.active !== false;
  if (wasActive && !isActive) return 'user.deactivated';
  if (!wasActive && isActive) return 'user.reactivated';
  return 'user.updated';
}
