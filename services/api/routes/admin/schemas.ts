import { Router } from 'express';
import type { ExtensionSchemaRepository, StoredExtensionSchema } from '../../../../shared/db/repositories/extension-schemas';
import type { TenantRepository } from '../../../../shared/db/repositories/tenants';
import { ScimError } from '../../../../shared/scim/errors';
import { parseExtensionSchema } from '../../../../shared/scim/schema-definition';
import { sendScim } from '../../middleware/scim-json';
import { adminRoute, PATH_PARAMS } from './route-catalog';
import { listOf, schemaInputShape, schemaShape } from './shapes';
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

// Checked by the parser in shared/scim (its messages name the attribute at fault); the shape documents it.
const schemaBody = { schema: schemaInputShape, parse: parseExtensionSchema };
const urn = { description: "The schema's id (its URN), percent-encoded" };

/**
 * Extension schemas (SCIM Schema resources: an id, a name and attributes): platform-wide for
 * every directory, or for one directory. Validated when posted; enforced on every write of the
 * directories they reach.
 */
export function schemaRoutes(deps: { tenants: TenantRepository; schemas: ExtensionSchemaRepository; onAuthChange: () => Promise<void> }): Router {
  const router = Router();
  const tag = 'Extension schemas';
  const loadDirectory = ({ directoryId }: { directoryId: string }) => directoryOr404(deps.tenants, directoryId);
  const created = {
    description: 'The schema as stored; the directories it reaches list it on /Schemas and /ResourceTypes',
    schema: schemaShape,
  };
  const conflict = 'The id is a built-in schema, or already registered where this one would apply';

  adminRoute(
    router,
    {
      method: 'post',
      path: '/schemas',
      operationId: 'createPlatformSchema',
      tag,
      summary: 'Register an extension schema for every directory',
      body: schemaBody,
      responses: { 201: created, 409: conflict },
    },
    async ({ body }, _req, res) => {
      const stored = await deps.schemas.create(body, 'platform');
      await deps.onAuthChange();
      sendScim(res, 201, view(stored));
    },
  );

  adminRoute(
    router,
    {
      method: 'get',
      path: '/schemas',
      operationId: 'listPlatformSchemas',
      tag,
      summary: 'List the platform-wide extension schemas',
      responses: { 200: { description: 'The schemas', schema: listOf(schemaShape, 'ExtensionSchema') } },
    },
    async (_input, _req, res) => {
      sendScim(res, 200, { data: (await deps.schemas.list('platform')).map(view) });
    },
  );

  adminRoute(
    router,
    {
      method: 'delete',
      path: '/schemas/{urn}',
      operationId: 'deletePlatformSchema',
      tag,
      summary: 'Remove a platform-wide extension schema',
      params: { urn },
      responses: { 204: 'Removed' },
    },
    async ({ params }, _req, res) => {
      if (!(await deps.schemas.delete(params.urn, 'platform'))) throw new ScimError(404, undefined, `schema "${params.urn}" not found`);
      await deps.onAuthChange();
      sendScim(res, 204);
    },
  );

  adminRoute(
    router,
    {
      method: 'post',
      path: '/directories/{directoryId}/schemas',
      operationId: 'createDirectorySchema',
      tag,
      summary: 'Register an extension schema for one directory',
      params: { directoryId: PATH_PARAMS.directoryId },
      load: loadDirectory,
      body: schemaBody,
      responses: { 201: created, 409: conflict },
    },
    async ({ loaded: directory, body }, _req, res) => {
      const stored = await deps.schemas.create(body, { tenantId: directory.tenantId, directoryId: directory.id });
      await deps.onAuthChange();
      sendScim(res, 201, view(stored));
    },
  );

  adminRoute(
    router,
    {
      method: 'get',
      path: '/directories/{directoryId}/schemas',
      operationId: 'listDirectorySchemas',
      tag,
      summary: "List a directory's own extension schemas",
      params: { directoryId: PATH_PARAMS.directoryId },
      load: loadDirectory,
      responses: { 200: { description: 'The schemas', schema: listOf(schemaShape, 'ExtensionSchema') } },
    },
    async ({ loaded: directory }, _req, res) => {
      sendScim(res, 200, { data: (await deps.schemas.list(directory.id)).map(view) });
    },
  );

  adminRoute(
    router,
    {
      method: 'delete',
      path: '/directories/{directoryId}/schemas/{urn}',
      operationId: 'deleteDirectorySchema',
      tag,
      summary: "Remove a directory's extension schema",
      params: { directoryId: PATH_PARAMS.directoryId, urn },
      load: loadDirectory,
      responses: { 204: 'Removed' },
    },
    async ({ loaded: directory, params }, _req, res) => {
      if (!(await deps.schemas.delete(params.urn, directory.id))) throw new ScimError(404, undefined, `schema "${params.urn}" not found`);
      await deps.onAuthChange();
      sendScim(res, 204);
    },
  );

  return router;
}
