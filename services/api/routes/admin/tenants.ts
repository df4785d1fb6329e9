import { Router } from 'express';
import { z } from 'zod';
import type { Repositories } from '../../../../shared/db/repositories';
import { FILTERED_WALK } from '../../../../shared/db/repositories/events';
import { type EventType, SUBSCRIBABLE_EVENT_TYPES } from '../../../../shared/events/catalog';
import { sendScim } from '../../middleware/scim-json';
import { adminRoute, PATH_PARAMS } from './route-catalog';
import { eventPageShape, listOf, tenantShape } from './shapes';
import { tenantOr404 } from './validate';

const createTenant = z.object({ name: z.string().trim().min(1).max(200) });
const FEED_TYPES: readonly string[] = SUBSCRIBABLE_EVENT_TYPES;

/** `type=a,b` or `type=a&type=b`: each a type the feed lists, named when it is not. */
const eventTypes = z
  .union([z.string().max(1000), z.array(z.string().max(1000)).max(20)])
  .transform((value, ctx) => {
    const types = [
      ...new Set(
        (Array.isArray(value) ? value : [value])
          .flatMap((v) => v.split(','))
          .map((v) => v.trim())
          .filter(Boolean),
      ),
    ];
    for (const type of types) {
      if (!FEED_TYPES.includes(type)) ctx.addIssue({ code: 'custom', message: `"${type}" is not an event type of the feed (${FEED_TYPES.join(', ')})` });
    }
    return types as EventType[];
  })
  .describe(`Only events of these types: one or more of ${SUBSCRIBABLE_EVENT_TYPES.join(', ')}, comma-separated or the parameter repeated`);

const eventsQuery = z.object({
  after: z.string().max(200).optional().describe("The `next` (or an event's `cursor`) of the page before; omit for the oldest events"),
  limit: z.coerce.number().int().min(1).max(1000).default(100).describe('Events per page'),
  type: eventTypes.optional(),
  directoryId: z.uuid().optional().describe("Only events of this directory of the tenant (another tenant's directory matches nothing)"),
  resourceId: z.uuid().optional().describe("Only events of this user or group (a membership event is its group's)"),
  since: z.iso.datetime({ offset: true }).optional().describe('Only events that occurred at or after this instant, with an offset or Z'),
  until: z.iso.datetime({ offset: true }).optional().describe('Only events that occurred before this instant, with an offset or Z'),
});

/** Operator API for tenants and their event feed. */
export function tenantRoutes(deps: { repos: Repositories }): Router {
  const { tenants } = deps.repos.operator;
  const router = Router();
  const tag = 'Tenants';

  adminRoute(
    router,
    {
      method: 'post',
      path: '/tenants',
      operationId: 'createTenant',
      tag,
      summary: 'Create a tenant',
      body: createTenant,
      responses: { 201: { description: 'The tenant', schema: tenantShape } },
    },
    async ({ body }, _req, res) => {
      sendScim(res, 201, await tenants.createTenant(body.name));
    },
  );

  adminRoute(
    router,
    {
      method: 'get',
      path: '/tenants',
      operationId: 'listTenants',
      tag,
      summary: 'List the tenants',
      responses: { 200: { description: 'Every tenant, oldest first', schema: listOf(tenantShape, 'Tenant') } },
    },
    async (_input, _req, res) => {
      sendScim(res, 200, { data: await tenants.listTenants() });
    },
  );

  adminRoute(
    router,
    {
      method: 'get',
      path: '/tenants/{tenantId}',
      operationId: 'getTenant',
      tag,
      summary: 'Get a tenant',
      params: { tenantId: PATH_PARAMS.tenantId },
      load: ({ tenantId }) => tenantOr404(tenants, tenantId),
      responses: { 200: { description: 'The tenant', schema: tenantShape } },
    },
    async ({ loaded: tenant }, _req, res) => {
      sendScim(res, 200, tenant);
    },
  );

  adminRoute(
    router,
    {
      method: 'get',
      path: '/tenants/{tenantId}/events',
      operationId: 'listTenantEvents',
      tag,
      summary: "Read the tenant's events in commit order",
      description:
        'A cursor feed: follow `next` until `hasMore` is false, and poll from the last `next` later. ' +
        `The filters narrow the same walk, and \`next\` continues it in commit order. A filtered page looks at ${FILTERED_WALK.toLocaleString('en')} events ` +
        'of the feed at most, so it may hold fewer than `limit` events, even none, while `hasMore` is true.',
      params: { tenantId: PATH_PARAMS.tenantId },
      load: ({ tenantId }) => tenantOr404(tenants, tenantId),
      query: eventsQuery,
      responses: { 200: { description: 'A page of events', schema: eventPageShape }, 400: 'The query is invalid, or `after` is not a cursor this API issued' },
    },
    async ({ loaded: tenant, query }, _req, res) => {
      const { after, limit, type, directoryId, resourceId, since, until } = query;
      const filter = { types: type, directoryId, resourceId, since: since ? new Date(since) : undefined, until: until ? new Date(until) : undefined };
      const { events, next, hasMore } = await deps.repos.forTenant(tenant.id).events({ after, limit, filter });
      sendScim(res, 200, { data: events, next: next ?? null, hasMore });
    },
  );

  return router;
}
