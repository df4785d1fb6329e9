import { Router, type Request } from 'express';
import type { DirectoryContext } from '../../../shared/provisioning/context';
import { ScimError } from '../../../shared/scim/errors';
import type { ResourceSchemas } from '../../../shared/scim/schema-registry';
import { LIST_RESPONSE_SCHEMA, type SchemaDef } from '../../../shared/scim/schema-types';
import { sendScim } from '../middleware/scim-json';

const SPC_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig';
const RESOURCE_TYPE_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:ResourceType';
const SCHEMA_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Schema';

export interface DiscoveryLimits {
  readonly maxPageSize: number;
  readonly maxBulkOperations: number;
  readonly maxPayloadBytes: number;
}

/** Where ServiceProviderConfig's documentationUri points, under the public base URL (routes/docs.ts serves it). */
export const DOCS_PATH = '/docs';

/**
 * What every directory's endpoint supports (the ServiceProviderConfig). One source for
 * /ServiceProviderConfig and the /docs page, so the page never tells a different story.
 */
export function serviceProviderConfig(limits: DiscoveryLimits, publicBaseUrl: string) {
  return {
    schemas: [SPC_SCHEMA],
    documentationUri: `${publicBaseUrl}${DOCS_PATH}`,
    patch: { supported: true },
    bulk: { supported: true, maxOperations: limits.maxBulkOperations, maxPayloadSize: limits.maxPayloadBytes },
    filter: { supported: true, maxResults: limits.maxPageSize },
    changePassword: { supported: false },
    sort: { supported: true },
    etag: { supported: true },
    authenticationSchemes: [
      {
        type: 'oauthbearertoken',
        name: 'Bearer token',
        description: 'The directory API key, sent as Authorization: Bearer <key>',
        specUri: 'https://www.rfc-editor.org/rfc/rfc6750',
        primary: true,
      },
    ],
  };
}

const list = (resources: unknown[]) => ({
  schemas: [LIST_RESPONSE_SCHEMA],
  totalResults: resources.length,
  startIndex: 1,
  itemsPerPage: resources.length,
  Resources: resources,
});

function resourceType(ctx: DirectoryContext, rs: ResourceSchemas) {
  const endpoint = rs.resourceType === 'User' ? '/Users' : '/Groups';
  return {
    schemas: [RESOURCE_TYPE_SCHEMA],
    id: rs.resourceType,
    name: rs.resourceType,
    endpoint,
    description: rs.core.description,
    schema: rs.core.id,
    schemaExtensions: rs.extensions.map((e) => ({ schema: e.schema.id, required: e.required })),
    meta: { resourceType: 'ResourceType', location: `${ctx.baseUrl}/ResourceTypes/${rs.resourceType}` },
  };
}

const schemaResource = (ctx: DirectoryContext, s: SchemaDef) => ({
  schemas: [SCHEMA_SCHEMA],
  ...s,
  meta: { resourceType: 'Schema', location: `${ctx.baseUrl}/Schemas/${s.id}` },
});

/**
 * Discovery: what this directory supports, told truthfully, its own extension schemas
 * included. Entra reads /Schemas during "Test connection" for gallery validation.
 */
export function discoveryRoutes(contextOf: (req: Request) => DirectoryContext, limits: DiscoveryLimits): Router {
  const router = Router();

  // Discovery endpoints ignore paging and sorting, and answer a filter with 403, so that a
  // client cannot believe its conditions were applied.
  router.use(['/ServiceProviderConfig', '/ResourceTypes', '/Schemas'], (req, _res, next) => {
    if (req.query.filter !== undefined) throw new ScimError(403, undefined, `${req.baseUrl}${req.path}: discovery endpoints cannot be filtered`);
    next();
  });

  router.get('/ServiceProviderConfig', (req, res) => {
    const ctx = contextOf(req);
    sendScim(res, 200, {
      ...serviceProviderConfig(limits, ctx.baseUrl.replace(/\/scim\/v\d$/, '')),
      meta: { resourceType: 'ServiceProviderConfig', location: `${ctx.baseUrl}/ServiceProviderConfig` },
    });
  });

  router.get('/ResourceTypes', (req, res) => {
    const ctx = contextOf(req);
    sendScim(res, 200, list([resourceType(ctx, ctx.schemas.user), resourceType(ctx, ctx.schemas.group)]));
  });

  router.get('/ResourceTypes/:name', (req, res) => {
    const ctx = contextOf(req);
    const name = req.params.name.toLowerCase();
    const rs = name === 'user' ? ctx.schemas.user : name === 'group' ? ctx.schemas.group : undefined;
    if (!rs) throw new ScimError(404, undefined, `ResourceType "${req.params.name}" not found`);
    sendScim(res, 200, resourceType(ctx, rs));
  });

  router.get('/Schemas', (req, res) => {
    const ctx = contextOf(req);
    sendScim(res, 200, list(ctx.schemas.all().map((s) => schemaResource(ctx, s))));
  });

  router.get('/Schemas/:id', (req, res) => {
    const ctx = contextOf(req);
    const found = ctx.schemas.all().find((s) => s.id.toLowerCase() === req.params.id.toLowerCase());
    if (!found) throw new ScimError(404, undefined, `Schema "${req.params.id}" not found`);
    sendScim(res, 200, schemaResource(ctx, found));
  });

  return router;
}
