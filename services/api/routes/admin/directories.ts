import { Router } from 'express';
import { z } from 'zod';
import type { Repositories } from '../../../../shared/db/repositories';
import { PROVIDERS, type Directory } from '../../../../shared/db/repositories/tenants';
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
  readonly repos: Repositories;
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
  const { tenants } = deps.repos.operator;
  const findDirectory = (id: string) => directoryOr404(tenants, id);
  const keysOf = (directory: Directory) => deps.repos.forDirectory({ tenantId: directory.tenantId, directoryId: directory.id }).apiKeys;

  router.post('/tenants/:tenantId/directories', async (req, res) => {
    const tenant = await tenantOr404(tenants, req.params.tenantId);
    const input = parseBody(createDirectory, req.body);
    const { directory, key } = await tenants.createDirectory(tenant.id, {
      name: input.name,
      provider: input.provider,
      region: deps.region,
      keyName: input.keyName ?? `${input.name} key`,
    });
    sendScim(res, 201, { ...view(directory), key });
  });

  router.get('/tenants/:tenantId/directories', async (req, res) => {
    const tenant = await tenantOr404(tenants, req.params.tenantId);
    sendScim(res, 200, { data: (await tenants.listDirectories(tenant.id)).map(view) });
  });

  router.get('/directories/:directoryId', async (req, res) => {
    sendScim(res, 200, view(await findDirectory(req.params.directoryId)));
  });

  // The limit travels with each cached key, so API processes drop their caches, as on a revoke.
  router.patch('/directories/:directoryId', async (req, res) => {
    const directory = await findDirectory(req.params.directoryId);
    const input = parseBody(patchDirectory, req.body);
    const updated = await tenants.setRateLimit(directory.id, input.rateLimit);
    if (!updated) throw new ScimError(404, undefined, `directory "${req.params.directoryId}" not found`);
    await deps.onAuthChange();
    sendScim(res, 200, view(updated));
  });

  router.delete('/directories/:directoryId', async (req, res) => {
    const directory = await findDirectory(req.params.directoryId);
    await tenants.deleteDirectory(directory.id);
    await deps.onAuthChange();
    sendScim(res, 204);
  });

  router.post('/directories/:directoryId/keys', async (req, res) => {
    const directory = await findDirectory(req.params.directoryId);
    const { name } = parseBody(createKey, req.body);
    sendScim(res, 201, await keysOf(directory).issue(name, deps.region));
  });

  router.get('/directories/:directoryId/keys', async (req, res) => {
    const directory = await findDirectory(req.params.directoryId);
    sendScim(res, 200, { data: await keysOf(directory).list() });
  });

  // A lost key can be regenerated: a new token under the same name, the old one revoked.
  router.post('/directories/:directoryId/keys/:keyId/regenerate', async (req, res) => {
    const directory = await findDirectory(req.params.directoryId);
    const issued = await keysOf(directory).regenerate(pathId(req.params.keyId, 'key'), deps.region);
    if (!issued) throw keyNotFound(req.params.keyId);
    await deps.onAuthChange();
    sendScim(res, 201, issued);
  });

  router.delete('/directories/:directoryId/keys/:keyId', async (req, res) => {
    const directory = await findDirectory(req.params.directoryId);
    if (!(await keysOf(directory).revoke(pathId(req.params.keyId, 'key')))) throw keyNotFound(req.params.keyId);
    await deps.onAuthChange();
    sendScim(res, 204);
  });

  return router;
}

const keyNotFound = (keyId: string) => new ScimError(404, undefined, `key "${keyId}" not found in this directory`);
