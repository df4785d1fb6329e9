import type { Queue } from 'bullmq';
import { Router } from 'express';
import { z } from 'zod';
import type { TenantRepository } from '../../../../shared/db/repositories/tenants';
import type { Database } from '../../../../shared/db/sequelize';
import { isUuid, newId } from '../../../../shared/ids';
import type { GroupReconcileJob } from '../../../../shared/queue/jobs';
import { ScimError } from '../../../../shared/scim/errors';
import { captureTraceContext } from '../../../../shared/telemetry/context';
import { sendScim } from '../../middleware/scim-json';
import { parseBody, pathId } from './validate';

const requestReconcile = z.object({
  /** Groups whose current members a consumer wants group.user_added for again. */
  reemitGroupIds: z
    .array(z.string().refine(isUuid, 'must be a group id'))
    .max(1000)
    .default([])
    .transform((ids) => [...new Set(ids.map((id) => id.toLowerCase()))]),
});

interface ReportRow {
  id: string;
  directory_id: string;
  status: string;
  reemit_group_ids: string[];
  runs: number;
  report: unknown;
  error: string | null;
  created_at: Date;
  completed_at: Date | null;
}

const COLUMNS = 'id, directory_id, status, reemit_group_ids, runs, report, error, created_at, completed_at';

const view = (r: ReportRow) => ({
  id: r.id,
  directoryId: r.directory_id,
  status: r.status,
  reemitGroupIds: r.reemit_group_ids,
  runs: r.runs,
  report: r.report,
  error: r.error,
  createdAt: r.created_at.toISOString(),
  completedAt: r.completed_at?.toISOString() ?? null,
});

export interface ReconcileRouteDeps {
  readonly db: Database;
  readonly tenants: TenantRepository;
  /** Where reconciliations are queued; without one starting one is a 503. */
  readonly queue?: Queue<GroupReconcileJob>;
}

/**
 * On-demand reconciliation of a directory: a worker repairs what can drift (counters, group
 * versions) and re-emits group.user_added for the groups a consumer names, then reports what it
 * changed under the job's id (table reconcile_reports, see migration 0004).
 */
export function reconcileRoutes(deps: ReconcileRouteDeps): Router {
  const router = Router();
  const findDirectory = async (id: string) => {
    const directory = await deps.tenants.findDirectory(pathId(id, 'directory'));
    if (!directory) throw new ScimError(404, undefined, `directory "${id}" not found`);
    return directory;
  };

  router.post('/directories/:directoryId/reconcile', async (req, res) => {
    const directory = await findDirectory(req.params.directoryId);
    const { reemitGroupIds } = parseBody(requestReconcile, req.body);
    if (reemitGroupIds.length) {
      const known = await deps.db.query<{ id: string }>(
        'SELECT id FROM scim_groups WHERE directory_id = $1 AND id = ANY($2::uuid[])',
        [directory.id, reemitGroupIds],
      );
      const found = new Set(known.map((r) => r.id));
      const unknown = reemitGroupIds.findIndex((id) => !found.has(id));
      if (unknown >= 0) throw new ScimError(400, 'invalidValue', `reemitGroupIds[${unknown}]: group "${reemitGroupIds[unknown]}" not found in this directory`);
    }
    if (!deps.queue) throw new ScimError(503, undefined, 'reconciliation needs the job queue, which this API was started without');
    const [row] = await deps.db.query<ReportRow>(
      `INSERT INTO reconcile_reports (id, tenant_id, directory_id, reemit_group_ids) VALUES ($1, $2, $3, $4::uuid[]) RETURNING ${COLUMNS}`,
      [newId(), directory.tenantId, directory.id, reemitGroupIds],
    );
    try {
      // jobId = report id: the re-emit markers are keyed by it, so however often the job runs,
      // this request re-emits each member once.
      await deps.queue.add(
        'reconcile',
        { tenantId: directory.tenantId, directoryId: directory.id, reemitGroupIds, trace: captureTraceContext() },
        { jobId: row.id, attempts: 3, backoff: { type: 'exponential', delay: 5_000 } },
      );
    } catch (err) {
      await deps.db.exec(`UPDATE reconcile_reports SET status = 'failed', error = 'could not be queued', completed_at = now() WHERE id = $1`, [row.id]);
      throw err;
    }
    res.setHeader('Location', `${req.baseUrl}/directories/${directory.id}/reconcile/${row.id}`);
    sendScim(res, 202, view(row));
  });

  router.get('/directories/:directoryId/reconcile/:jobId', async (req, res) => {
    const directory = await findDirectory(req.params.directoryId);
    const [row] = await deps.db.query<ReportRow>(`SELECT ${COLUMNS} FROM reconcile_reports WHERE directory_id = $1 AND id = $2`, [
      directory.id,
      pathId(req.params.jobId, 'reconciliation'),
    ]);
    if (!row) throw new ScimError(404, undefined, `reconciliation "${req.params.jobId}" not found`);
    sendScim(res, 200, view(row));
  });

  return router;
}
