import { newId } from '../../ids';
import { JOBS, type GroupReconcileJob, type JobSweep } from '../../queue/catalog';
import type { ReconcileReportRecord } from '../models';
import type { Database, Sql } from '../sequelize';
import type { DirectoryScope } from './scope';
import { UnfinishedRows } from './unfinished-rows';

/** What one on-demand reconciliation asked for and, once run, what it changed (migration 0004). */
export interface ReconcileReportView {
  id: string;
  directoryId: string;
  status: ReconcileReportRecord['status'];
  reemitGroupIds: string[];
  runs: number;
  report: unknown;
  error: string | null;
  createdAt: string;
  completedAt: string | null;
}

const view = (r: ReconcileReportRecord): ReconcileReportView => ({
  id: r.id,
  directoryId: r.directoryId,
  status: r.status,
  reemitGroupIds: r.reemitGroupIds,
  runs: r.runs,
  report: r.report,
  error: r.error,
  createdAt: r.createdAt.toISOString(),
  completedAt: r.completedAt?.toISOString() ?? null,
});

/**
 * One directory's reconciliation reports, written by the admin API (queued) and the reconcile
 * worker (running, done, failed). A report id of another directory finds nothing.
 */
export class DirectoryReconcileReports {
  constructor(
    private readonly sql: Sql,
    private readonly scope: DirectoryScope,
  ) {}

  /** The ids among `groupIds` that are groups of this directory. */
  async existingGroupIds(groupIds: readonly string[]): Promise<Set<string>> {
    const rows = await this.sql.query<{ id: string }>('SELECT id FROM scim_groups WHERE directory_id = $1 AND id = ANY($2::uuid[])', [
      this.scope.directoryId,
      groupIds,
    ]);
    return new Set(rows.map((r) => r.id));
  }

  async create(reemitGroupIds: readonly string[]): Promise<ReconcileReportView> {
    const { tenantId, directoryId } = this.scope;
    const created = await this.sql.transaction((transaction) =>
      this.sql.models.ReconcileReport.create({ id: newId(), tenantId, directoryId, reemitGroupIds: [...reemitGroupIds] }, { returning: true, transaction }),
    );
    return view(created);
  }

  async find(id: string): Promise<ReconcileReportView | undefined> {
    const found = await this.sql.transaction(
      (transaction) => this.sql.models.ReconcileReport.findOne({ where: { directoryId: this.scope.directoryId, id }, transaction }),
      { readOnly: true },
    );
    return found ? view(found) : undefined;
  }

  // The worker's state changes: single statements, timed by the database's clock like the sweep
  // that reads updated_at.

  /**
   * Marks the report running (creating it first when the job was queued by other means than the
   * API) and returns what it asked for, the report of an earlier run and the runs started (this
   * one included), or undefined when the id belongs to another directory.
   */
  async start<R>(id: string, reemitGroupIds: readonly string[]): Promise<{ reemitGroupIds: string[]; previous: R | null; runs: number } | undefined> {
    const { tenantId, directoryId } = this.scope;
    await this.sql.exec(
      `INSERT INTO reconcile_reports (id, tenant_id, directory_id, reemit_group_ids) VALUES ($1, $2, $3, $4::uuid[]) ON CONFLICT (directory_id, id) DO NOTHING`,
      [id, tenantId, directoryId, reemitGroupIds],
    );
    const [row] = await this.sql.query<{ reemit_group_ids: string[]; report: R | null; runs: number }>(
      `UPDATE reconcile_reports SET status = 'running', runs = runs + 1, error = NULL, updated_at = now()
        WHERE id = $1 AND directory_id = $2 RETURNING reemit_group_ids, report, runs`,
      [id, directoryId],
    );
    return row && { reemitGroupIds: row.reemit_group_ids, previous: row.report, runs: row.runs };
  }

  /** A running reconciliation's heartbeat: it is still making progress (see shared/queue/heartbeat.ts). */
  async touch(id: string): Promise<void> {
    await this.sql.exec(`UPDATE reconcile_reports SET updated_at = now() WHERE id = $1 AND directory_id = $2 AND status = 'running'`, [
      id,
      this.scope.directoryId,
    ]);
  }

  async finish(id: string, report: unknown): Promise<void> {
    await this.sql.exec(
      `UPDATE reconcile_reports SET status = 'done', report = $3, completed_at = now(), updated_at = now() WHERE id = $1 AND directory_id = $2`,
      [id, this.scope.directoryId, JSON.stringify(report)],
    );
  }

  /** `failed` is final (completed now); `queued` means another attempt will follow. */
  async fail(id: string, status: 'failed' | 'queued', error: string): Promise<void> {
    await this.sql.exec(
      `UPDATE reconcile_reports SET status = $3, error = $4, completed_at = CASE WHEN $3 = 'failed' THEN now() END, updated_at = now()
        WHERE id = $1 AND directory_id = $2`,
      [id, this.scope.directoryId, status, error.slice(0, 1000)],
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
    (job) => job.directoryId,
  );
}
