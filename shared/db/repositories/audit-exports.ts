import { newId, type TenantId } from '../../ids';
import { UnfinishedRows } from './unfinished-rows';
import type { AuditExportRecord } from '../models';
import type { Database, Sql } from '../sequelize';
import { JOBS, type AuditExportJob, type JobSweep } from '../../queue/catalog';

export type AuditExportStatus = 'queued' | 'running' | 'done' | 'failed';

/** One audit export as the admin API shows it. */
export interface AuditExport {
  id: string;
  tenantId: string;
  from: string;
  to: string;
  status: AuditExportStatus;
  eventCount: number | null;
  bytes: number | null;
  error: string | null;
  createdAt: string;
  completedAt: string | null;
  /** Internal: where the file is; not shown by the API. */
  storageKey: string | null;
}

const toExport = (r: AuditExportRecord): AuditExport => ({
  id: r.id,
  tenantId: r.tenantId,
  from: r.fromTime.toISOString(),
  to: r.toTime.toISOString(),
  status: r.status,
  eventCount: r.eventCount === null ? null : Number(r.eventCount),
  bytes: r.bytes === null ? null : Number(r.bytes),
  error: r.error,
  createdAt: r.createdAt.toISOString(),
  completedAt: r.completedAt?.toISOString() ?? null,
  storageKey: r.storageKey,
});

/** One tenant's audit exports: an export id of another tenant finds nothing. */
export class TenantExports {
  constructor(
    private readonly sql: Sql,
    private readonly tenantId: TenantId,
  ) {}

  async create(range: { from: Date; to: Date }): Promise<AuditExport> {
    const created = await this.sql.transaction((transaction) =>
      this.sql.models.AuditExport.create({ id: newId(), tenantId: this.tenantId, fromTime: range.from, toTime: range.to }, { returning: true, transaction }),
    );
    return toExport(created);
  }

  async find(id: string): Promise<AuditExport | undefined> {
    const found = await this.sql.transaction(
      (transaction) => this.sql.models.AuditExport.findOne({ where: { tenantId: this.tenantId, id }, transaction }),
      READ_ONLY,
    );
    return found ? toExport(found) : undefined;
  }

  /** The tenant's most recent exports, newest first. */
  async list(limit: number): Promise<AuditExport[]> {
    const rows = await this.sql.transaction(
      (transaction) =>
        this.sql.models.AuditExport.findAll({
          where: { tenantId: this.tenantId },
          order: [
            ['createdAt', 'DESC'],
            ['id', 'DESC'],
          ],
          limit,
          transaction,
        }),
      READ_ONLY,
    );
    return rows.map(toExport);
  }

  // The worker's state changes: single statements, timed by the database's clock like the sweep
  // that reads updated_at.

  /** Marks the export running and returns how many runs it has started, this one included. */
  async markRunning(id: string): Promise<number> {
    const [row] = await this.sql.query<{ runs: number }>(
      `UPDATE audit_exports SET status = 'running', error = NULL, updated_at = now(), runs = runs + 1 WHERE tenant_id = $1 AND id = $2 RETURNING runs`,
      [this.tenantId, id],
    );
    return row?.runs ?? 0;
  }

  /** A running export's heartbeat: it is still making progress (see shared/queue/heartbeat.ts). */
  async touch(id: string): Promise<void> {
    await this.sql.exec(`UPDATE audit_exports SET updated_at = now() WHERE tenant_id = $1 AND id = $2 AND status = 'running'`, [this.tenantId, id]);
  }

  async markDone(id: string, result: { storageKey: string; eventCount: number; bytes: number }): Promise<void> {
    await this.sql.exec(
      `UPDATE audit_exports SET status = 'done', storage_key = $3, event_count = $4, bytes = $5, error = NULL, completed_at = now(), updated_at = now()
        WHERE tenant_id = $1 AND id = $2`,
      [this.tenantId, id, result.storageKey, result.eventCount, result.bytes],
    );
  }

  /** `final`: no retry follows, so the export is failed; otherwise it waits for the retry. */
  async markFailed(id: string, error: string, final: boolean): Promise<void> {
    await this.sql.exec(
      `UPDATE audit_exports SET status = $3, error = $4, completed_at = CASE WHEN $3 = 'failed' THEN now() END, updated_at = now()
        WHERE tenant_id = $1 AND id = $2`,
      [this.tenantId, id, final ? 'failed' : 'queued', error.slice(0, 1000)],
    );
  }
}

const READ_ONLY = { readOnly: true };

/**
 * The workers' sweep of exports still queued or running past the grace period: each gets its job
 * again from the row (shared/queue/catalog.ts), so an export outlives Redis losing its job.
 */
export function auditExportSweep(db: Database): JobSweep<AuditExportJob> {
  return new UnfinishedRows<{ id: string; tenant_id: string }, AuditExportJob>(
    db,
    'audit_exports',
    ['id', 'tenant_id'],
    (r) => ({ exportId: r.id, tenantId: r.tenant_id }),
    JOBS.auditExport.idOf,
    (job) => job.tenantId,
  );
}
