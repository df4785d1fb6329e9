import { Router } from 'express';
import type { ExtensionSchemaRepository, StoredExtensionSchema } from '../../../../shared/db/repositories/extension-schemas';
import type { TenantRepository } from '../../../../shared/db/repositories/tenants';
import { ScimError } from '../../../../shared/scim/errors';
import { parseExtensionSchema } from '../../../../shared/scim/schema-definition';
import { sendScim } from '../../middleware/scim-json';
import { directoryOr404 } from './validate';

const view = (s: StoredExtensionSchema) => ({
  schemas: ['urn:ietf:params:scim:schemas:core:2.0:Schema'],
  ...s.schema,
  resourceType: s.resourceType,
  required: s.required,
  scope: s.scope,
  ...(s.directoryId ? { directoryId: s.directoryId } : {}),
  createdAt: s.createdAt,
});

/**
 * Extension schemas (SCIM Schema resources: an id, a name and attributes): platform-wide for
 * every directory, or for one directory. Validated when posted; enforced on every write of the
 * directories they reach.
 */
export function schemaRoutes(deps: { tenants: TenantRepository; schemas: ExtensionSchemaRepository; onAuthChange: () => Promise<void> }): Router {
  const router = Router();
  const findDirectory = (id: string) => directoryOr404(deps.tenants, id);

  router.post('/schemas', async (req, res) => {
    const created = await deps.schemas.create(parseExtensionSchema(req.body), 'platform');
    await deps.onAuthChange();
    sendScim(res, 201, view(created));
  });

  router.get('/schemas', async (_req, res) => {
    sendScim(res, 200, { data: (await deps.schemas.list('platform')).map(view) });
  });

  router.delete('/schemas/:urn', async (req, res) => {
    if (!(await deps.schemas.delete(req.params.urn, 'platform'))) throw new ScimError(404, undefined, `schema "${req.params.urn}" not found`);
    await deps.onAuthChange();
    sendScim(res, 204);
  });

  router.post('/directories/:directoryId/schemas', async (req, res) => {
    const directory = await findDirectory(req.params.directoryId);
    const input = parseExtensionSchema(req.body);
    const created = await deps.schemas.create(input, { tenantId: directory.tenantId, directoryId: directory.id });
    await deps.onAuthChange();
    sendScim(res, 201, view(created));
  });

  router.get('/directories/:directoryId/schemas', async (req, res) => {
    const directory = await findDirectory(req.params.directoryId);
    sendScim(res, 200, { data: (await deps.schemas.list(directory.id)).map(view) });
  });

  router.delete('/directories/:directoryId/schemas/:urn', async (req, res) => {
    const directory = await findDirectory(req.params.directoryId);
    if (!(await deps.schemas.delete(req.params.urn, directory.id))) throw new ScimError(404, undefined, `schema "${req.params.urn}" not found`);
    await deps.onAuthChange();
    sendScim(res, 204);
  });

  return router;
}
