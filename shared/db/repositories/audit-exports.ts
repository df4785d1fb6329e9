import { newId } from '../../ids';
import { UnfinishedRows } from './unfinished-rows';
import type { Database } from '../sequelize';
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

interface Row {
  id: string;
  tenant_id: string;
  from_time: Date;
  to_time: Date;
  status: AuditExportStatus;
  storage_key: string | null;
  event_count: string | null;
  bytes: string | null;
  error: string | null;
  created_at: Date;
  completed_at: Date | null;
}

const COLUMNS = 'id, tenant_id, from_time, to_time, status, storage_key, event_count, bytes, error, created_at, completed_at';

const toExport = (r: Row): AuditExport => ({
  id: r.id,
  tenantId: r.tenant_id,
  from: r.from_time.toISOString(),
  to: r.to_time.toISOString(),
  status: r.status,
  eventCount: r.event_count === null ? null : Number(r.event_count),
  bytes: r.bytes === null ? null : Number(r.bytes),
  error: r.error,
  createdAt: r.created_at.toISOString(),
  completedAt: r.completed_at?.toISOString() ?? null,
  storageKey: r.storage_key,
});

/**
 * The audit_exports table. Every method takes the tenant and filters by it, so an export id of
 * another tenant finds nothing.
 */
export class AuditExportRepository {
  constructor(private readonly db: Database) {}

  async create(tenantId: string, range: { from: Date; to: Date }): Promise<AuditExport> {
    const rows = await this.db
      .forTenant(tenantId)
      .query<Row>(`INSERT INTO audit_exports (id, tenant_id, from_time, to_time) VALUES ($1, $2, $3, $4) RETURNING ${COLUMNS}`, [
        newId(),
        tenantId,
        range.from,
        range.to,
      ]);
    return toExport(rows[0]);
  }

  async find(tenantId: string, id: string): Promise<AuditExport | undefined> {
    const rows = await this.db.forTenant(tenantId).query<Row>(`SELECT ${COLUMNS} FROM audit_exports WHERE tenant_id = $1 AND id = $2`, [tenantId, id]);
    return rows[0] && toExport(rows[0]);
  }

  /** The tenant's most recent exports, newest first. */
  async list(tenantId: string, limit: number): Promise<AuditExport[]> {
    const rows = await this.db
      .forTenant(tenantId)
      .query<Row>(`SELECT ${COLUMNS} FROM audit_exports WHERE tenant_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2`, [tenantId, limit]);
    return rows.map(toExport);
  }

  /** Marks the export running and returns how many runs it has started, this one included. */
  async markRunning(tenantId: string, id: string): Promise<number> {
    const [row] = await this.db
      .forTenant(tenantId)
      .query<{ runs: number }>(
        `UPDATE audit_exports SET status = 'running', error = NULL, updated_at = now(), runs = runs + 1 WHERE tenant_id = $1 AND id = $2 RETURNING runs`,
        [tenantId, id],
      );
    return row?.runs ?? 0;
  }

  /** A running export's heartbeat: it is still making progress (see shared/queue/heartbeat.ts). */
  async touch(tenantId: string, id: string): Promise<void> {
    await this.db
      .forTenant(tenantId)
      .exec(`UPDATE audit_exports SET updated_at = now() WHERE tenant_id = $1 AND id = $2 AND status = 'running'`, [tenantId, id]);
  }

  async markDone(tenantId: string, id: string, result: { storageKey: string; eventCount: number; bytes: number }): Promise<void> {
    await this.db.forTenant(tenantId).exec(
      `UPDATE audit_exports SET status = 'done', storage_key = $3, event_count = $4, bytes = $5, error = NULL, completed_at = now(), updated_at = now()
        WHERE tenant_id = $1 AND id = $2`,
      [tenantId, id, result.storageKey, result.eventCount, result.bytes],
    );
  }

  /** `final`: no retry follows, so the export is failed; otherwise it waits for the retry. */
  async markFailed(tenantId: string, id: string, error: string, final: boolean): Promise<void> {
    await this.db.forTenant(tenantId).exec(
      `UPDATE audit_exports SET status = $3, error = $4, completed_at = CASE WHEN $3 = 'failed' THEN now() END, updated_at = now()
        WHERE tenant_id = $1 AND id = $2`,
      [tenantId, id, final ? 'failed' : 'queued', error.slice(0, 1000)],
    );
  }
}

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
  );
}
