import type { DirectoryId, TenantId } from '../../ids';
import { newId } from '../../ids';
import { JOBS, type GroupReconcileJob, type JobSweep } from '../../queue/catalog';
import type { Database } from '../sequelize';
import { UnfinishedRows } from './unfinished-rows';

/** What one on-demand reconciliation asked for and, once run, what it changed (migration 0004). */
export interface ReconcileReportView {
  id: string;
  directoryId: string;
  status: string;
  reemitGroupIds: string[];
  runs: number;
  report: unknown;
  error: string | null;
  createdAt: string;
  completedAt: string | null;
}

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

const view = (r: ReportRow): ReconcileReportView => ({
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

/**
 * Reconciliation reports, written by the admin API (queued) and the reconcile worker (running,
 * done, failed). Every statement names the directory: a report id of another directory finds
 * nothing.
 */
export class ReconcileReportRepository {
  constructor(private readonly db: Database) {}

  /** The ids among `groupIds` that are groups of this directory. */
  async existingGroupIds(directoryId: DirectoryId, groupIds: readonly string[]): Promise<Set<string>> {
    const rows = await this.db
      .forDirectory({ directoryId })
      .query<{ id: string }>('SELECT id FROM scim_groups WHERE directory_id = $1 AND id = ANY($2::uuid[])', [directoryId, groupIds]);
    return new Set(rows.map((r) => r.id));
  }

  async create(scope: { tenantId: TenantId; directoryId: DirectoryId }, reemitGroupIds: readonly string[]): Promise<ReconcileReportView> {
    const [row] = await this.db
      .forDirectory(scope)
      .query<ReportRow>(`INSERT INTO reconcile_reports (id, tenant_id, directory_id, reemit_group_ids) VALUES ($1, $2, $3, $4::uuid[]) RETURNING ${COLUMNS}`, [
        newId(),
        scope.tenantId,
        scope.directoryId,
        reemitGroupIds,
      ]);
    return view(row);
  }

  async find(directoryId: DirectoryId, id: string): Promise<ReconcileReportView | undefined> {
    const [row] = await this.db
      .forDirectory({ directoryId })
      .query<ReportRow>(`SELECT ${COLUMNS} FROM reconcile_reports WHERE directory_id = $1 AND id = $2`, [directoryId, id]);
    return row && view(row);
  }

  /**
   * Marks the report running (creating it first when the job was queued by other means than the
   * API) and returns what it asked for, the report of an earlier run and the runs started (this
   * one included), or undefined when the id belongs to another directory.
   */
  async start<R>(
    scope: { tenantId: string; directoryId: string },
    id: string,
    reemitGroupIds: readonly string[],
  ): Promise<{ reemitGroupIds: string[]; previous: R | null; runs: number } | undefined> {
    await this.db
      .forDirectory(scope)
      .exec(`INSERT INTO reconcile_reports (id, tenant_id, directory_id, reemit_group_ids) VALUES ($1, $2, $3, $4::uuid[]) ON CONFLICT (id) DO NOTHING`, [
        id,
        scope.tenantId,
        scope.directoryId,
        reemitGroupIds,
      ]);
    const [row] = await this.db.forDirectory(scope).query<{ reemit_group_ids: string[]; report: R | null; runs: number }>(
      `UPDATE reconcile_reports SET status = 'running', runs = runs + 1, error = NULL, updated_at = now()
        WHERE id = $1 AND directory_id = $2 RETURNING reemit_group_ids, report, runs`,
      [id, scope.directoryId],
    );
    return row && { reemitGroupIds: row.reemit_group_ids, previous: row.report, runs: row.runs };
  }

  /** A running reconciliation's heartbeat: it is still making progress (see shared/queue/heartbeat.ts). */
  async touch(directoryId: string, id: string): Promise<void> {
    await this.db
      .forDirectory({ directoryId })
      .exec(`UPDATE reconcile_reports SET updated_at = now() WHERE id = $1 AND directory_id = $2 AND status = 'running'`, [id, directoryId]);
  }

  async finish(directoryId: string, id: string, report: unknown): Promise<void> {
    await this.db
      .forDirectory({ directoryId })
      .exec(`UPDATE reconcile_reports SET status = 'done', report = $3, completed_at = now(), updated_at = now() WHERE id = $1 AND directory_id = $2`, [
        id,
        directoryId,
        JSON.stringify(report),
      ]);
  }

  /** `failed` is final (completed now); `queued` means another attempt will follow. */
  async fail(directoryId: string, id: string, status: 'failed' | 'queued', error: string): Promise<void> {
    await this.db.forDirectory({ directoryId }).exec(
      `UPDATE reconcile_reports SET status = $3, error = $4, completed_at = CASE WHEN $3 = 'failed' THEN now() END, updated_at = now()
        WHERE id = $1 AND directory_id = $2`,
      [id, directoryId, status, error.slice(0, 1000)],
    );
  }
}

/**
 * The workers' sweep of reconciliations still queued or running past the grace period: each gets
 * its job again from the row (shared/queue/catalog.ts); a rerun resumes from its re-emit markers.
 */
export function reconcileReportSweep(db: Database): JobSweep<GroupReconcileJob> {
  return new UnfinishedRows<{ id: string; tenant_id: string; directory_id: string; reemit_group_ids: string[] }, GroupReconcileJob>(
    db,
    'reconcile_reports',
    ['id', 'tenant_id', 'directory_id', 'reemit_group_ids'],
    (r) => ({ reportId: r.id, tenantId: r.tenant_id, directoryId: r.directory_id, reemitGroupIds: r.reemit_group_ids }),
    JOBS.groupReconcile.idOf,
  );
}
