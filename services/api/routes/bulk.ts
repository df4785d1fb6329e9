import { Router, type Request } from 'express';
import { isDatabaseUnavailable } from '../../../shared/db/errors';
import type { DirectoryContext } from '../../../shared/provisioning/context';
import { resourceService } from '../../../shared/provisioning/resource-service';
import { ScimError } from '../../../shared/scim/errors';
import { BULK_REQUEST_SCHEMA, BULK_RESPONSE_SCHEMA } from '../../../shared/scim/schema-types';
import { isObject, type Json } from '../../../shared/scim/values';
import { sendScim } from '../middleware/scim-json';

interface BulkOperation {
  method: string;
  bulkId?: string;
  path: string;
  data?: unknown;
  version?: string;
}

interface BulkResult {
  method: string;
  bulkId?: string;
  location?: string;
  version?: string;
  status: string;
  response?: unknown;
}

/**
 * SCIM /Bulk. Operations run in order, each in its own transaction (bulk is not atomic);
 * `bulkId:<id>` references to resources created earlier in the request are resolved.
 */
export function bulkRoutes(contextOf: (req: Request) => DirectoryContext, maxOperations: number): Router {
  const router = Router();
  router.post('/', async (req, res) => {
    const ops = parseBulkRequest(req.body, maxOperations);
    const failOnErrors = isObject(req.body) && typeof req.body.failOnErrors === 'number' ? req.body.failOnErrors : Infinity;
    const ctx = contextOf(req);
    const created = new Map<string, string>();
    const results: BulkResult[] = [];
    let errors = 0;
    for (const op of ops) {
      if (errors >= failOnErrors) break;
      let result: BulkResult;
      try {
        result = await runOperation(ctx, op, created);
      } catch (err) {
        // PostgreSQL went away mid-request. Operations already committed must be reported, so
        // only a request that changed nothing is answered 503 as a whole (and retried); otherwise
        // this operation answers 503 and the later ones are not run.
        if (!isDatabaseUnavailable(err) || !results.some((r) => Number(r.status) < 400)) throw err;
        const unavailable = new ScimError(503, undefined, 'the database is unavailable; this and the later operations were not run');
        results.push({ method: op.method.toUpperCase(), ...(op.bulkId ? { bulkId: op.bulkId } : {}), status: '503', response: unavailable.toJSON() });
        break;
      }
      if (Number(result.status) >= 400) errors++;
      results.push(result);
    }
    sendScim(res, 200, { schemas: [BULK_RESPONSE_SCHEMA], Operations: results });
  });
  return router;
}

function parseBulkRequest(body: unknown, maxOperations: number): BulkOperation[] {
  if (!isObject(body)) throw new ScimError(400, 'invalidSyntax', 'the request body must be a BulkRequest object');
  if (body.schemas !== undefined && !(Array.isArray(body.schemas) && body.schemas.includes(BULK_REQUEST_SCHEMA))) {
    throw new ScimError(400, 'invalidSyntax', `"schemas" must contain "${BULK_REQUEST_SCHEMA}"`);
  }
  const ops = body.Operations;
  if (!Array.isArray(ops) || ops.length === 0) throw new ScimError(400, 'invalidSyntax', '"Operations" must be a non-empty array');
  // More operations than the advertised maxOperations is 413 Payload Too Large.
  if (ops.length > maxOperations) throw new ScimError(413, undefined, `"Operations" has ${ops.length} entries; maxOperations is ${maxOperations}`);
  return ops.map((op, i) => {
    if (!isObject(op) || typeof op.method !== 'string' || typeof op.path !== 'string') {
      throw new ScimError(400, 'invalidSyntax', `Operations[${i}] needs a string "method" and "path"`);
    }
    if (op.method.toUpperCase() === 'POST' && typeof op.bulkId !== 'string') {
      throw new ScimError(400, 'invalidSyntax', `Operations[${i}]: POST needs a "bulkId"`);
    }
    return op as unknown as BulkOperation;
  });
}

async function runOperation(ctx: DirectoryContext, op: BulkOperation, created: Map<string, string>): Promise<BulkResult> {
  const method = op.method.toUpperCase();
  const base = { method, ...(op.bulkId ? { bulkId: op.bulkId } : {}) };
  try {
    const match = /^\/(Users|Groups)(?:\/([^/]+))?$/i.exec(op.path);
    if (!match) throw new ScimError(400, 'invalidPath', `path "${op.path}" is not /Users, /Groups or one of their resources`);
    const type = match[1].toLowerCase() === 'users' ? 'User' : 'Group';
    const service = resourceService(type, ctx);
    const id = match[2] ? resolveRef(match[2], created) : undefined;
    const data = resolveRefs(op.data, created);
    const needId = () => {
      if (!id) throw new ScimError(400, 'invalidPath', `${method} needs a resource path like /${match[1]}/{id}`);
      return id;
    };
    switch (method) {
      case 'POST': {
        if (id) throw new ScimError(400, 'invalidPath', 'POST goes to /Users or /Groups');
        const { resource, etag } = await service.create(data);
        created.set(op.bulkId!, String(resource.id));
        return { ...base, location: locationOf(resource), version: etag, status: '201' };
      }
      case 'PUT': {
        const { resource, etag } = await service.replace(needId(), data, op.version);
        return { ...base, location: locationOf(resource), version: etag, status: '200' };
      }
      case 'PATCH': {
        const { resource, etag } = await service.patch(needId(), data, op.version);
        if (resource) return { ...base, location: locationOf(resource), version: etag, status: '200' };
        return { ...base, location: `${ctx.baseUrl}/${type}s/${needId()}`, version: etag, status: '204' };
      }
      case 'DELETE':
        await service.delete(needId(), op.version);
        return { ...base, location: `${ctx.baseUrl}/${match[1]}/${needId()}`, status: '204' };
      default:
        throw new ScimError(400, 'invalidSyntax', `method "${op.method}" is not POST, PUT, PATCH or DELETE`);
    }
  } catch (err) {
    if (!(err instanceof ScimError)) throw err;
    return { ...base, status: String(err.status), response: err.toJSON() };
  }
}

const locationOf = (resource: Record<string, Json>) => String((resource.meta as { location: string }).location);

function resolveRef(value: string, created: Map<string, string>): string {
  if (!value.startsWith('bulkId:')) return value;
  const id = created.get(value.slice('bulkId:'.length));
  if (!id) throw new ScimError(409, undefined, `"${value}" refers to no resource created earlier in this request`);
  return id;
}

/** Replaces every string "bulkId:<id>" in the data with the id it created. */
function resolveRefs(value: unknown, created: Map<string, string>): unknown {
  if (typeof value === 'string') return resolveRef(value, created);
  if (Array.isArray(value)) return value.map((v) => resolveRefs(v, created));
  if (isObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveRefs(v, created)]));
  return value;
}
