import { Router } from 'express';
import { z } from 'zod';
import type { Repositories } from '../../../../shared/db/repositories';
import { sendScim } from '../../middleware/scim-json';
import { adminRoute, PATH_PARAMS } from './route-catalog';
import { eventPageShape, listOf, tenantShape } from './shapes';
import { tenantOr404 } from './validate';

const createTenant = z.object({ name: z.string().trim().min(1).max(200) });
const eventsQuery = z.object({
  after: z.string().max(200).optional().describe("The `next` (or an event's `cursor`) of the page before; omit for the oldest events"),
  limit: z.coerce.number().int().min(1).max(1000).default(100).describe('Events per page'),
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
      description: 'A cursor feed: follow `next` until `hasMore` is false, and poll from the last `next` later.',
      params: { tenantId: PATH_PARAMS.tenantId },
      load: ({ tenantId }) => tenantOr404(tenants, tenantId),
      query: eventsQuery,
      responses: { 200: { description: 'A page of events', schema: eventPageShape }, 400: 'The query is invalid, or `after` is not a cursor this API issued' },
    },
    async ({ loaded: tenant, query }, _req, res) => {
      const { events, next } = await deps.repos.forTenant(tenant.id).events(query);
      sendScim(res, 200, { data: events, next: next ?? null, hasMore: events.length === query.limit });
    },
  );

  return router;
}
