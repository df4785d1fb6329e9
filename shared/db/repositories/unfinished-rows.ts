import type { Claim, JobSweep } from '../../queue/catalog';
import type { Database, Sql } from '../sequelize';

/** The tables whose rows are `queued` → `running` → `done` | `failed`, with `updated_at` (migration 0007). */
type JobTable = 'audit_exports' | 'reconcile_reports';

/** Each table's owner column, which leads its primary key (migration 0013): every row is named by (owner, id). */
const OWNER: Record<JobTable, 'tenant_id' | 'directory_id'> = { audit_exports: 'tenant_id', reconcile_reports: 'directory_id' };

const UNFINISHED = `status IN ('queued', 'running')`;

/**
 * The sweep of a table of job rows (audit exports, reconcile reports): a row still queued or
 * running whose `updated_at` is older than the grace period may have lost its job, so the sweeper
 * claims it (makes it due now) and makes sure it has one. Like the delivery sweep it spans every
 * tenant: it reads ids, and writes only `updated_at` of the rows it claims. Each table's partial
 * index of unfinished rows (migration 0007) serves the probe.
 */
export class UnfinishedRows<R extends Record<string, unknown>, T> implements JobSweep<T> {
  /**
   * `columns`: the row's columns the job is built from (constants of the caller, never input);
   * `toJob`: the job that wakes the row up; `idOf` and `ownerOf`: the row's id and owner (OWNER) in a job.
   */
  private readonly db: Sql;

  constructor(
    db: Database,
    private readonly table: JobTable,
    private readonly columns: readonly (keyof R & string)[],
    private readonly toJob: (row: R) => T,
    private readonly idOf: (job: T) => string,
    private readonly ownerOf: (job: T) => string,
  ) {
    this.db = db.acrossTenants();
  }

  async claimOverdue(options: { overdueAfterMs: number; limit: number }): Promise<Claim<T>[]> {
    const rows = await this.db.query<R & { due_before: string; claimed_at: string }>(
      `WITH due AS (
         SELECT ${OWNER[this.table]} AS owner, id, updated_at AS due_before FROM ${this.table}
          WHERE ${UNFINISHED} AND updated_at < now() - $1 * interval '1 millisecond'
          ORDER BY updated_at
          LIMIT $2
            FOR UPDATE SKIP LOCKED
       )
       UPDATE ${this.table} r SET updated_at = now()
         FROM due
        WHERE r.${OWNER[this.table]} = due.owner AND r.id = due.id AND r.${UNFINISHED} AND r.updated_at < now() - $1 * interval '1 millisecond'
       RETURNING ${this.columns.map((c) => `r.${c}`).join(', ')}, due.due_before::text AS due_before, r.updated_at::text AS claimed_at`,
      [options.overdueAfterMs, options.limit],
    );
    return rows.map((r) => ({ job: this.toJob(r), dueBefore: r.due_before, claimedAt: r.claimed_at }));
  }

  async releaseClaims(claims: readonly Claim<T>[]): Promise<void> {
    await this.db.exec(
      `UPDATE ${this.table} r SET updated_at = c.due_before
         FROM unnest($1::uuid[], $2::uuid[], $3::timestamptz[], $4::timestamptz[]) AS c (owner, id, due_before, claimed_at)
        WHERE r.${OWNER[this.table]} = c.owner AND r.id = c.id AND r.${UNFINISHED} AND r.updated_at = c.claimed_at`,
      [claims.map((c) => this.ownerOf(c.job)), claims.map((c) => this.idOf(c.job)), claims.map((c) => c.dueBefore), claims.map((c) => c.claimedAt)],
    );
  }

  async countOverdue(overdueAfterMs: number): Promise<number> {
    const [row] = await this.db.query<{ n: string }>(
      `SELECT count(*)::text AS n FROM ${this.table} WHERE ${UNFINISHED} AND updated_at < now() - $1 * interval '1 millisecond'`,
      [overdueAfterMs],
    );
    return Number(row?.n ?? 0);
  }
}
