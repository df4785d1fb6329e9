import { Router, type Request } from 'express';
import type { DirectoryContext } from '../../../shared/provisioning/context';
import { isNotModified } from '../../../shared/provisioning/preconditions';
import { resourceService } from '../../../shared/provisioning/resource-service';
import { ScimError } from '../../../shared/scim/errors';
import { parseProjection, type Projection } from '../../../shared/scim/projection';
import { LIST_RESPONSE_SCHEMA, SEARCH_REQUEST_SCHEMA, type ResourceTypeName } from '../../../shared/scim/schema-types';
import { isObject } from '../../../shared/scim/values';
import { sendScim } from '../middleware/scim-json';
import { noteListTotal } from '../scim-activity';

type ContextOf = (req: Request) => DirectoryContext;

const ifMatch = (req: Request) => req.get('if-match');

function projectionOf(ctx: DirectoryContext, type: ResourceTypeName, source: Record<string, unknown>): Projection {
  return parseProjection(ctx.schemas.of(type), source.attributes, source.excludedAttributes);
}

function listResponse(result: { total: number; startIndex: number; resources: unknown[] }) {
  return {
    schemas: [LIST_RESPONSE_SCHEMA],
    totalResults: result.total,
    startIndex: result.startIndex,
    itemsPerPage: result.resources.length,
    Resources: result.resources,
  };
}

/**
 * /Users or /Groups: create, read, list, search, replace, patch, delete.
 * The directory comes from the bearer key alone; services are built per request around it.
 */
export function resourceRoutes(type: ResourceTypeName, contextOf: ContextOf): Router {
  const router = Router();
  const serviceOf = (req: Request) => resourceService(type, contextOf(req));

  router.post('/', async (req, res) => {
    const { resource, etag } = await serviceOf(req).create(req.body);
    res.setHeader('Location', String((resource.meta as { location: string }).location));
    sendScim(res, 201, resource, etag);
  });

  router.get('/', async (req, res) => {
    const ctx = contextOf(req);
    const result = await serviceOf(req).list(req.query, projectionOf(ctx, type, req.query));
    noteListTotal(res, result.total);
    sendScim(res, 200, listResponse(result));
  });

  router.post('/.search', async (req, res) => {
    // An empty body is an empty SearchRequest; an array or a scalar is no SearchRequest at all.
    if (req.body !== undefined && !isObject(req.body)) throw new ScimError(400, 'invalidSyntax', 'the request body must be a SearchRequest object');
    const body: Record<string, unknown> = isObject(req.body) ? req.body : {};
    const declared = body.schemas;
    if (declared !== undefined && !(Array.isArray(declared) && declared.includes(SEARCH_REQUEST_SCHEMA))) {
      throw new ScimError(400, 'invalidSyntax', `"schemas" must contain "${SEARCH_REQUEST_SCHEMA}"`);
    }
    const ctx = contextOf(req);
    const projection = projectionOf(ctx, type, body);
    const result = await serviceOf(req).list(body, projection);
    sendScim(res, 200, listResponse(result));
  });

  router.get('/:id', async (req, res) => {
    const ctx = contextOf(req);
    const { resource, etag } = await serviceOf(req).get(req.params.id, projectionOf(ctx, type, req.query));
    if (isNotModified(req.get('if-none-match'), etag)) {
      sendScim(res, 304, undefined, etag);
      return;
    }
    sendScim(res, 200, resource, etag);
  });

  router.put('/:id', async (req, res) => {
    const { resource, etag } = await serviceOf(req).replace(req.params.id, req.body, ifMatch(req));
    sendScim(res, 200, resource, etag);
  });

  router.patch('/:id', async (req, res) => {
    const ctx = contextOf(req);
    const service = resourceService(type, ctx);
    const { resource, etag, id } = await service.patch(req.params.id, req.body, ifMatch(req));
    if (resource) {
      sendScim(res, 200, resource, etag);
      return;
    }
    if (req.query.attributes === undefined && req.query.excludedAttributes === undefined) {
      sendScim(res, 204, undefined, etag);
      return;
    }
    sendScim(res, 200, (await service.get(id, projectionOf(ctx, type, req.query))).resource, etag);
  });

  router.delete('/:id', async (req, res) => {
    await serviceOf(req).delete(req.params.id, ifMatch(req));
    sendScim(res, 204);
  });

  return router;
}
