import type { Queue } from 'bullmq';
import { Router } from 'express';
import { z } from 'zod';
import type { Repositories } from '../../../../shared/db/repositories';
import type { Directory } from '../../../../shared/db/repositories/tenants';
import { isUuid } from '../../../../shared/ids';
import { enqueue, JOBS, type GroupReconcileJob } from '../../../../shared/queue/catalog';
import { redisWithin } from '../../../../shared/queue/redis';
import { ScimError } from '../../../../shared/scim/errors';
import { captureTraceContext } from '../../../../shared/telemetry/context';
import { logger as defaultLogger, type Logger } from '../../../../shared/telemetry/logger';
import { sendScim } from '../../middleware/scim-json';
import { adminRoute, PATH_PARAMS } from './route-catalog';
import { reconcileShape } from './shapes';
import { directoryOr404, pathId } from './validate';

const requestReconcile = z.object({
  reemitGroupIds: z
    .array(z.string().refine(isUuid, 'must be a group id').describe("A group's id"))
    .max(1000)
    .default([])
    .transform((ids) => [...new Set(ids.map((id) => id.toLowerCase()))])
    .describe('Groups whose current members a consumer wants group.user_added for again'),
});

export interface ReconcileRouteDeps {
  readonly repos: Repositories;
  /** Where reconciliations are queued; without one starting one is a 503. */
  readonly queue?: Queue<GroupReconcileJob>;
  /**
   * Longest wait for Redis to take the job, ms. Past it the reconciliation still stands (queued
   * in PostgreSQL) and the workers' sweeper enqueues it once overdue. Default 5,000.
   */
  readonly enqueueTimeoutMs?: number;
  /** Where a reconciliation Redis did not take is logged. Default: the process logger. */
  readonly logger?: Logger;
}

/**
 * On-demand reconciliation of a directory: a worker repairs what can drift (counters, group
 * versions) and re-emits group.user_added for the groups a consumer names, then reports what it
 * changed under the job's id (table reconcile_reports, see migration 0004).
 */
export function reconcileRoutes(deps: ReconcileRouteDeps): Router {
  const router = Router();
  const reportsOf = (directory: Directory) => deps.repos.forDirectory({ tenantId: directory.tenantId, directoryId: directory.id }).reconcileReports;
  const log = (deps.logger ?? defaultLogger).child({ component: 'reconcile-request' });
  const enqueueTimeoutMs = deps.enqueueTimeoutMs ?? 5000;
  const findDirectory = (id: string) => directoryOr404(deps.repos.operator.tenants, id);

  const tag = 'Directories';
  const loadDirectory = ({ directoryId }: { directoryId: string }) => findDirectory(directoryId);

  adminRoute(
    router,
    {
      method: 'post',
      path: '/directories/{directoryId}/reconcile',
      operationId: 'startReconciliation',
      tag,
      summary: 'Reconcile a directory',
      description:
        "A worker repairs what can drift (resource counters, group versions) and sends group.user_added again for the current members of the groups named; poll the answer's URL for its report.",
      params: { directoryId: PATH_PARAMS.directoryId },
      load: loadDirectory,
      body: requestReconcile,
      responses: {
        202: { description: 'Queued', schema: reconcileShape, headers: { Location: "The reconciliation's URL" } },
        400: 'The body is invalid, or names a group this directory does not have',
        503: 'This API was started without the job queue',
      },
    },
    async ({ loaded: directory, body: { reemitGroupIds } }, req, res) => {
      if (reemitGroupIds.length) {
        const found = await reportsOf(directory).existingGroupIds(reemitGroupIds);
        const unknown = reemitGroupIds.findIndex((id) => !found.has(id));
        if (unknown >= 0)
          throw new ScimError(400, 'invalidValue', `reemitGroupIds[${unknown}]: group "${reemitGroupIds[unknown]}" not found in this directory`);
      }
      if (!deps.queue) throw new ScimError(503, undefined, 'reconciliation needs the job queue, which this API was started without');
      const row = await reportsOf(directory).create(reemitGroupIds);
      // Job id = report id: the re-emit markers are keyed by it, so however often the job runs,
      // this request re-emits each member once.
      const job = { reportId: row.id, tenantId: directory.tenantId, directoryId: directory.id, reemitGroupIds, trace: captureTraceContext() };
      try {
        await redisWithin(enqueue(deps.queue, JOBS.groupReconcile, [job]), enqueueTimeoutMs);
      } catch (err) {
        // The row is the request: queued it stays, and the sweeper gives it a job once Redis is back.
        log.warn(
          { 'directory.id': directory.id, 'report.id': row.id, err: { message: (err as Error).message } },
          'reconciliation not enqueued; the sweeper enqueues it once overdue',
        );
      }
      res.setHeader('Location', `${req.baseUrl}/directories/${directory.id}/reconcile/${row.id}`);
      sendScim(res, 202, row);
    },
  );

  adminRoute(
    router,
    {
      method: 'get',
      path: '/directories/{directoryId}/reconcile/{jobId}',
      operationId: 'getReconciliation',
      tag,
      summary: 'Get a reconciliation and its report',
      params: { directoryId: PATH_PARAMS.directoryId, jobId: { description: "The reconciliation's id", schema: z.uuid() } },
      load: loadDirectory,
      responses: { 200: { description: 'The reconciliation', schema: reconcileShape } },
    },
    async ({ loaded: directory, params }, _req, res) => {
      const row = await reportsOf(directory).find(pathId(params.jobId, 'reconciliation'));
      if (!row) throw new ScimError(404, undefined, `reconciliation "${params.jobId}" not found`);
      sendScim(res, 200, row);
    },
  );

  return router;
}
