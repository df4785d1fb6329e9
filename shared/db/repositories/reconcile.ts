import type { ResourceTypeName } from '../../scim/schema-types';
import type { TraceCarrier } from '../../telemetry/context';
import { membershipEventData, outboxInsertSelect } from '../outbox';
import { RESOURCE_TYPES } from '../resource-types';
import type { Database, Sql, Transaction } from '../sequelize';
import { UUID_V7 } from '../sql';
import type { DirectoryScope } from './scope';

/** The number of counter shards the triggers of migration 0002 write to (pg_backend_pid() % 16). */
const COUNTER_SHARDS = 16;

export type ReemitStatus = 'pending' | 'done' | 'missing';

/**
 * The statements of the group reconciliation worker (workers/group-reconcile.ts), bound to one
 * directory: counters, group versions and re-emitted membership events. Re-emit markers are
 * keyed by the reconciliation's report, which belongs to this directory.
 */
export class ReconcileRepository {
  private readonly db: Sql;

  constructor(
    db: Database,
    private readonly scope: DirectoryScope,
  ) {
    this.db = db.forDirectory(scope);
  }

  /** A transaction in this directory's scope, for the statements below that take one. */
  transaction<T>(work: (t: Transaction) => Promise<T>): Promise<T> {
    return this.db.transaction(work);
  }

  /**
   * Makes sure all counter shards of the resource type exist and locks them, so a concurrent
   * write's trigger waits for the caller's commit. Returns each shard's sums, in shard order.
   */
  async lockCounterShards(resourceType: ResourceTypeName, t: Transaction): Promise<{ inserted: string; deleted: string }[]> {
    await this.db.exec(
      `INSERT INTO resource_counters (directory_id, resource_type, shard)
       SELECT $1, $2, s FROM generate_series(0, ${COUNTER_SHARDS - 1}) AS s ON CONFLICT DO NOTHING`,
      [this.scope.directoryId, resourceType],
      t,
    );
    return this.db.query<{ inserted: string; deleted: string }>(
      `SELECT inserted, deleted FROM resource_counters WHERE directory_id = $1 AND resource_type = $2 ORDER BY shard FOR UPDATE`,
      [this.scope.directoryId, resourceType],
      t,
    );
  }

  /** The rows of the resource type there are. */
  async countRows(resourceType: ResourceTypeName, t: Transaction): Promise<bigint> {
    const [{ actual }] = await this.db.query<{ actual: string }>(
      `SELECT count(*) AS actual FROM ${RESOURCE_TYPES[resourceType].table} WHERE directory_id = $1`,
      [this.scope.directoryId],
      t,
    );
    return BigInt(actual);
  }

  /** Puts the given sums in shard 0 and zeroes the others; the caller holds the shards' locks. */
  async rewriteCounters(resourceType: ResourceTypeName, sums: { inserted: bigint; deleted: bigint }, t: Transaction): Promise<void> {
    await this.db.exec(
      `UPDATE resource_counters SET inserted = CASE WHEN shard = 0 THEN $3::bigint ELSE 0 END, deleted = CASE WHEN shard = 0 THEN $4::bigint ELSE 0 END
        WHERE directory_id = $1 AND resource_type = $2`,
      [this.scope.directoryId, resourceType, String(sums.inserted), String(sums.deleted)],
      t,
    );
  }

  /**
   * Of up to `limit` groups with ids after `after`, in id order, bumps the version of each whose
   * newest membership is later than its lastModified by more than `skew` (an interval), setting
   * lastModified to that membership's time. Returns the last group id looked at (null: none
   * left) and the ids bumped.
   */
  async bumpStaleGroupVersions(after: string, limit: number, skew: string): Promise<{ last: string | null; bumped: string[] }> {
    const [row] = await this.db.query<{ last: string | null; bumped: string[] | null }>(
      `WITH batch AS (SELECT id FROM scim_groups WHERE directory_id = $1 AND id > $2 ORDER BY id LIMIT $3),
            newest AS (
              SELECT gm.group_id, date_trunc('milliseconds', max(gm.created_at)) AS at
                FROM batch JOIN group_members gm ON gm.directory_id = $1 AND gm.group_id = batch.id
               GROUP BY gm.group_id),
            bumped AS (
              UPDATE scim_groups g SET version = g.version + 1, updated_at = newest.at
                FROM newest
               WHERE g.directory_id = $1 AND g.id = newest.group_id AND newest.at > g.updated_at + $4::interval
              RETURNING g.id)
       SELECT (SELECT id FROM batch ORDER BY id DESC LIMIT 1) AS last, (SELECT array_agg(id) FROM bumped) AS bumped`,
      [this.scope.directoryId, after, limit, skew],
    );
    return { last: row.last, bumped: row.bumped ?? [] };
  }

  /** Creates the re-emit marker of (report, group) unless it exists. */
  async startReemit(reportId: string, groupId: string): Promise<void> {
    await this.db.exec(`INSERT INTO reconcile_reemits (directory_id, report_id, group_id) VALUES ($3, $1, $2) ON CONFLICT DO NOTHING`, [
      reportId,
      groupId,
      this.scope.directoryId,
    ]);
  }

  /** Locks the re-emit marker for the caller's transaction: two runs of one job take turns. */
  async lockReemit(reportId: string, groupId: string, t: Transaction): Promise<{ lastUserId: string | null; status: ReemitStatus }> {
    const [marker] = await this.db.query<{ last_user_id: string | null; status: ReemitStatus }>(
      `SELECT last_user_id, status FROM reconcile_reemits WHERE directory_id = $3 AND report_id = $1 AND group_id = $2 FOR UPDATE`,
      [reportId, groupId, this.scope.directoryId],
      t,
    );
    return { lastUserId: marker.last_user_id, status: marker.status };
  }

  /**
   * Writes group.user_added for up to `limit` members of the group with user ids after `after`,
   * in user id order, with the same event data as live membership events (membershipEventData).
   * Returns whether the group exists, the events written, the members taken and the last one.
   */
  async reemitMembers(
    groupId: string,
    batch: { after: string; limit: number; actor: string; trace: TraceCarrier | undefined },
    t: Transaction,
  ): Promise<{ found: boolean; emitted: number; taken: number; last: string | null }> {
    const [row] = await this.db.query<{ found: boolean; emitted: number; taken: number; last: string | null }>(
      `WITH g AS (SELECT id, display_name FROM scim_groups WHERE directory_id = $1 AND id = $2),
              batch AS (
                SELECT gm.user_id FROM group_members gm
                 WHERE gm.directory_id = $1 AND gm.group_id = $2 AND gm.user_id > $4
                 ORDER BY gm.user_id LIMIT $5),
              ev AS (
                ${outboxInsertSelect(`
                SELECT ${UUID_V7}, $3, $1, 'group.user_added', 'Group', g.id, $6, ${membershipEventData('g.id', 'g.display_name')}, $7::jsonb
                  FROM batch JOIN scim_users u ON u.directory_id = $1 AND u.id = batch.user_id, g
                 ORDER BY u.id
                RETURNING 1`)})
         SELECT EXISTS (SELECT 1 FROM g) AS found,
                (SELECT count(*)::int FROM ev) AS emitted,
                (SELECT count(*)::int FROM batch) AS taken,
                (SELECT user_id FROM batch ORDER BY user_id DESC LIMIT 1) AS last`,
      [this.scope.directoryId, groupId, this.scope.tenantId, batch.after, batch.limit, batch.actor, batch.trace ?? null],
      t,
    );
    return row;
  }

  /** Advances the re-emit marker after a batch, in the batch's transaction. */
  async recordReemit(
    reportId: string,
    groupId: string,
    progress: { last: string | null; emitted: number; status: ReemitStatus },
    t: Transaction,
  ): Promise<void> {
    await this.db.exec(
      `UPDATE reconcile_reemits SET last_user_id = coalesce($3, last_user_id), emitted = emitted + $4, status = $5
          WHERE directory_id = $6 AND report_id = $1 AND group_id = $2`,
      [reportId, groupId, progress.last, progress.emitted, progress.status, this.scope.directoryId],
      t,
    );
  }

  /** The report's re-emits so far, in the order of `groupIds`. */
  async reemitProgress(reportId: string, groupIds: readonly string[]): Promise<{ groupId: string; events: number; status: ReemitStatus }[]> {
    return this.db.query<{ groupId: string; events: number; status: ReemitStatus }>(
      `SELECT group_id AS "groupId", emitted::int AS events, status FROM reconcile_reemits WHERE directory_id = $3 AND report_id = $1 ORDER BY array_position($2::uuid[], group_id)`,
      [reportId, groupIds, this.scope.directoryId],
    );
  }
}
