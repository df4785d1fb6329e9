import type { Queue } from 'bullmq';
import { Router } from 'express';
import { pipeline } from 'node:stream/promises';
import { z } from 'zod';
import type { Repositories } from '../../../../shared/db/repositories';
import type { ExportStorage } from '../../../../shared/exports';
import type { AuditExport } from '../../../../shared/db/repositories/audit-exports';
import type { TenantId } from '../../../../shared/ids';
import { enqueue, JOBS, type AuditExportJob } from '../../../../shared/queue/catalog';
import { redisWithin } from '../../../../shared/queue/redis';
import { ScimError } from '../../../../shared/scim/errors';
import { captureTraceContext } from '../../../../shared/telemetry/context';
import { logger as defaultLogger, type Logger } from '../../../../shared/telemetry/logger';
import { sendScim } from '../../middleware/scim-json';
import { adminRoute, PATH_PARAMS } from './route-catalog';
import { auditExportShape, listOf } from './shapes';
import { pathId, tenantOr404 } from './validate';

/** A time range [from, to): ISO 8601 instants with an offset or Z, from strictly before to. */
const createExport = z
  .object({
    from: z.iso.datetime({ offset: true }).describe('The first instant, with an offset or Z'),
    to: z.iso.datetime({ offset: true }).describe('The instant after the last, later than from'),
  })
  .refine((r) => Date.parse(r.from) < Date.parse(r.to), { message: 'must be after "from"', path: ['to'] });

const listQuery = z.object({ limit: z.coerce.number().int().min(1).max(100).default(20).describe('Exports to list') });

export interface ExportRouteDeps {
  readonly repos: Repositories;
  /** Where the worker wrote the exports; without one (an API built without it) downloads are a 503. */
  readonly storage?: ExportStorage;
  /** Where exports are queued; without one (an API built without Redis) starting one is a 503. */
  readonly queue?: Queue<AuditExportJob>;
  /**
   * Longest wait for Redis to take the job, ms. Past it the export still stands (queued in
   * PostgreSQL) and the workers' sweeper enqueues it once overdue. Default 5,000.
   */
  readonly enqueueTimeoutMs?: number;
  /** Where an export Redis did not take is logged. Default: the process logger. */
  readonly logger?: Logger;
}

const view = ({ storageKey: _internal, ...e }: AuditExport) => e;

/**
 * Audit exports of a tenant's events: start one (a worker writes it), watch its status,
 * download the gzip-compressed NDJSON when it is done.
 */
export function exportRoutes(deps: ExportRouteDeps): Router {
  const router = Router();
  const log = (deps.logger ?? defaultLogger).child({ component: 'audit-export-request' });
  const enqueueTimeoutMs = deps.enqueueTimeoutMs ?? 5000;
  const findTenant = (id: string) => tenantOr404(deps.repos.operator.tenants, id);
  const findExport = async (tenantId: TenantId, id: string) => {
    const found = await deps.repos.forTenant(tenantId).exports.find(pathId(id, 'export'));
    if (!found) throw new ScimError(404, undefined, `export "${id}" not found`);
    return found;
  };

  const tag = 'Audit exports';
  const loadTenant = ({ tenantId }: { tenantId: string }) => findTenant(tenantId);
  const exportId = { description: "The export's id", schema: z.uuid() };

  adminRoute(
    router,
    {
      method: 'post',
      path: '/tenants/{tenantId}/exports',
      operationId: 'startExport',
      tag,
      summary: "Start an export of the tenant's events",
      description: 'A worker writes the events whose time is in [from, to) as gzip-compressed NDJSON; poll the export until it is done.',
      params: { tenantId: PATH_PARAMS.tenantId },
      load: loadTenant,
      body: createExport,
      responses: {
        202: { description: 'Queued', schema: auditExportShape, headers: { Location: "The export's URL" } },
        503: 'This API was started without the job queue',
      },
    },
    async ({ loaded: tenant, body }, req, res) => {
      if (!deps.queue) throw new ScimError(503, undefined, 'exports need the job queue, which this API was started without');
      const created = await deps.repos.forTenant(tenant.id).exports.create({ from: new Date(body.from), to: new Date(body.to) });
      try {
        await redisWithin(
          enqueue(deps.queue, JOBS.auditExport, [{ exportId: created.id, tenantId: tenant.id, trace: captureTraceContext() }]),
          enqueueTimeoutMs,
        );
      } catch (err) {
        // The row is the export: queued it stays, and the sweeper gives it a job once Redis is back.
        log.warn(
          { 'tenant.id': tenant.id, 'export.id': created.id, err: { message: (err as Error).message } },
          'export not enqueued; the sweeper enqueues it once overdue',
        );
      }
      res.setHeader('Location', `${req.baseUrl}/tenants/${tenant.id}/exports/${created.id}`);
      sendScim(res, 202, view(created));
    },
  );

  adminRoute(
    router,
    {
      method: 'get',
      path: '/tenants/{tenantId}/exports',
      operationId: 'listExports',
      tag,
      summary: "List the tenant's exports, newest first",
      params: { tenantId: PATH_PARAMS.tenantId },
      load: loadTenant,
      query: listQuery,
      responses: { 200: { description: 'The exports', schema: listOf(auditExportShape, 'AuditExport') } },
    },
    async ({ loaded: tenant, query }, _req, res) => {
      sendScim(res, 200, { data: (await deps.repos.forTenant(tenant.id).exports.list(query.limit)).map(view) });
    },
  );

  adminRoute(
    router,
    {
      method: 'get',
      path: '/tenants/{tenantId}/exports/{exportId}',
      operationId: 'getExport',
      tag,
      summary: 'Get an export and its status',
      params: { tenantId: PATH_PARAMS.tenantId, exportId },
      load: loadTenant,
      responses: { 200: { description: 'The export', schema: auditExportShape } },
    },
    async ({ loaded: tenant, params }, _req, res) => {
      sendScim(res, 200, view(await findExport(tenant.id, params.exportId)));
    },
  );

  adminRoute(
    router,
    {
      method: 'get',
      path: '/tenants/{tenantId}/exports/{exportId}/download',
      operationId: 'downloadExport',
      tag,
      summary: 'Download a finished export',
      params: { tenantId: PATH_PARAMS.tenantId, exportId },
      load: loadTenant,
      responses: {
        200: {
          description: 'The events, one JSON object a line, gzip-compressed',
          mediaType: 'application/gzip',
          headers: { 'Content-Disposition': 'attachment; filename="audit-<tenant id>-<export id>.ndjson.gz"' },
        },
        409: 'The export is not done yet',
        410: "The export's file is no longer stored",
        503: 'This API was started without the export storage',
      },
    },
    async ({ loaded: tenant, params }, req, res) => {
      const found = await findExport(tenant.id, params.exportId);
      if (found.status !== 'done' || !found.storageKey) {
        throw new ScimError(409, undefined, `export "${found.id}" is ${found.status}; it can be downloaded once it is done`);
      }
      if (!deps.storage) throw new ScimError(503, undefined, 'downloads need the export storage, which this API was started without');
      if (!(await deps.storage.exists(found.storageKey))) throw new ScimError(410, undefined, `the file of export "${found.id}" is no longer stored`);
      res.status(200);
      res.setHeader('Content-Type', 'application/gzip');
      res.setHeader('Content-Disposition', `attachment; filename="audit-${tenant.id}-${found.id}.ndjson.gz"`);
      if (found.bytes !== null) res.setHeader('Content-Length', String(found.bytes));
      // Streamed: the API never holds an export in memory. A failure after the first byte can only
      // cut the response short, which the client sees as a truncated gzip.
      try {
        await pipeline(deps.storage.read(found.storageKey), res);
      } catch (err) {
        // The client hanging up mid-download is not our error.
        if (res.destroyed && !res.writableFinished && req.socket.destroyed) return;
        throw err;
      }
    },
  );

  return router;
}
