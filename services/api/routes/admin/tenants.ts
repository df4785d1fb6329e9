import { Router } from 'express';
import { z } from 'zod';
import type { Repositories } from '../../../../shared/db/repositories';
import { sendScim } from '../../middleware/scim-json';
import { parseBody, tenantOr404 } from './validate';

const createTenant = z.object({ name: z.string().trim().min(1).max(200) });
const eventsQuery = z.object({
  after: z.string().max(200).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

/** Operator API for tenants and their event feed. */
export function tenantRoutes(deps: { repos: Repositories }): Router {
  const { tenants } = deps.repos.operator;
  const router = Router();

  router.post('/tenants', async (req, res) => {
    const { name } = parseBody(createTenant, req.body);
    sendScim(res, 201, await tenants.createTenant(name));
  });

  router.get('/tenants', async (_req, res) => {
    sendScim(res, 200, { data: await tenants.listTenants() });
  });

  router.get('/tenants/:tenantId', async (req, res) => {
    const tenant = await tenantOr404(tenants, req.params.tenantId);
    sendScim(res, 200, tenant);
  });

  router.get('/tenants/:tenantId/events', async (req, res) => {
    const tenant = await tenantOr404(tenants, req.params.tenantId);
    const query = parseBody(eventsQuery, req.query);
    const { events, next } = await deps.repos.forTenant(tenant.id).events(query);
    sendScim(res, 200, { data: events, next: next ?? null, hasMore: events.length === query.limit });
  });

  return router;
}
