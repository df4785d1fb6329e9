import { Router } from 'express';
import { z } from 'zod';
import type { ApiKeyRepository } from '../../../../shared/db/repositories/api-keys';
import { PROVIDERS, type Directory, type TenantRepository } from '../../../../shared/db/repositories/tenants';
import type { Database, Transaction } from '../../../../shared/db/sequelize';
import type { DirectoryId } from '../../../../shared/ids';
import { ScimError } from '../../../../shared/scim/errors';
import { sendScim } from '../../middleware/scim-json';
import { directoryOr404, parseBody, pathId, tenantOr404 } from './validate';

const createDirectory = z.object({
  name: z.string().trim().min(1).max(200),
  provider: z.enum(PROVIDERS).default('generic'),
  keyName: z.string().trim().min(1).max(200).optional(),
});
const createKey = z.object({ name: z.string().trim().min(1).max(200).default('API key') });
// Entra needs 25 requests/s per tenant at least; the caps only stop typos the size of an outage.
const rateLimit = z
  .object({
    requestsPerSecond: z.number().int().min(1).max(100_000),
    /** The most requests one second may take; default twice the rate. */
    burst: z.number().int().min(1).max(1_000_000).optional(),
  })
  .refine((l) => l.burst === undefined || l.burst >= l.requestsPerSecond, { path: ['burst'], message: 'must be at least requestsPerSecond' })
  .transform((l) => ({ requestsPerSecond: l.requestsPerSecond, burst: l.burst ?? 2 * l.requestsPerSecond }));
/** `rateLimit: null` goes back to the platform default. */
const patchDirectory = z.object({ rateLimit: rateLimit.nullable() });

export interface DirectoryRouteDeps {
  readonly db: Database;
  readonly tenants: TenantRepository;
  readonly keys: ApiKeyRepository;
  readonly region: string;
  /** `{PUBLIC_BASE_URL}/scim/v1`: what a customer pastes into Entra as the Tenant URL. */
  readonly scimUrl: string;
  /**
   * Awaited after a change to what keys resolve to, before answering: this process forgets
   * cached keys at once and waits until the change has been sent to every other API process.
   */
  readonly onAuthChange: () => Promise<void>;
}

/** Operator API for directories and their keys. A key's token is shown once, at creation. */
export function directoryRoutes(deps: DirectoryRouteDeps): Router {
  const router = Router();
  const view = (d: Directory) => ({ ...d, scimUrl: deps.scimUrl });
  const findDirectory = (id: string) => directoryOr404(deps.tenants, id);

  router.post('/tenants/:tenantId/directories', async (req, res) => {
    const tenant = await tenantOr404(deps.tenants, req.params.tenantId);
    const input = parseBody(createDirectory, req.body);
    // The directory in its tenant's scope, its first key in the new directory's: one transaction.
    const created = await deps.db.forTenant(tenant.id).transaction(async (t) => {
      const directory = await deps.tenants.createDirectory(tenant.id, { name: input.name, provider: input.provider, region: deps.region }, t);
      const key = await deps.keys.issue({ tenantId: tenant.id, directoryId: directory.id }, input.keyName ?? `${input.name} key`, deps.region, t);
      return { ...view(directory), key };
    });
    sendScim(res, 201, created);
  });

  router.get('/tenants/:tenantId/directories', async (req, res) => {
    const tenant = await tenantOr404(deps.tenants, req.params.tenantId);
    sendScim(res, 200, { data: (await deps.tenants.listDirectories(tenant.id)).map(view) });
  });

  router.get('/directories/:directoryId', async (req, res) => {
    sendScim(res, 200, view(await findDirectory(req.params.directoryId)));
  });

  // The limit travels with each cached key, so API processes drop their caches, as on a revoke.
  router.patch('/directories/:directoryId', async (req, res) => {
    const directory = await findDirectory(req.params.directoryId);
    const input = parseBody(patchDirectory, req.body);
    const updated = await deps.tenants.setRateLimit(directory.id, input.rateLimit);
    if (!updated) throw new ScimError(404, undefined, `directory "${req.params.directoryId}" not found`);
    await deps.onAuthChange();
    sendScim(res, 200, view(updated));
  });

  router.delete('/directories/:directoryId', async (req, res) => {
    const directory = await findDirectory(req.params.directoryId);
    await deps.tenants.deleteDirectory(directory.id);
    await deps.onAuthChange();
    sendScim(res, 204);
  });

  router.post('/directories/:directoryId/keys', async (req, res) => {
    const directory = await findDirectory(req.params.directoryId);
    const { name } = parseBody(createKey, req.body);
    sendScim(res, 201, await deps.keys.issue({ tenantId: directory.tenantId, directoryId: directory.id }, name, deps.region));
  });

  router.get('/directories/:directoryId/keys', async (req, res) => {
    const directory = await findDirectory(req.params.directoryId);
    sendScim(res, 200, { data: await deps.keys.list(directory.id) });
  });

  // The seeds' "If lost, it can be regenerated": a new token under the same name, the old one revoked.
  router.post('/directories/:directoryId/keys/:keyId/regenerate', async (req, res) => {
    const directory = await findDirectory(req.params.directoryId);
    // One transaction: the customer is never left with the old key revoked and no new one.
    const issued = await deps.db.forDirectory({ directoryId: directory.id }).transaction(async (t) => {
      const old = await revokeOrFail(deps.keys, directory.id, req.params.keyId, t);
      return deps.keys.issue({ tenantId: directory.tenantId, directoryId: directory.id }, old.name, deps.region, t);
    });
    await deps.onAuthChange();
    sendScim(res, 201, issued);
  });

  router.delete('/directories/:directoryId/keys/:keyId', async (req, res) => {
    const directory = await findDirectory(req.params.directoryId);
    await revokeOrFail(deps.keys, directory.id, req.params.keyId);
    await deps.onAuthChange();
    sendScim(res, 204);
  });

  return router;
}

async function revokeOrFail(keys: ApiKeyRepository, directoryId: DirectoryId, keyId: string, t?: Transaction) {
  const revoked = await keys.revoke(directoryId, pathId(keyId, 'key'), t);
  if (!revoked) throw new ScimError(404, undefined, `key "${keyId}" not found in this directory`);
  return revoked;
}
