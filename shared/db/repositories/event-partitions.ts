import type { Database, Sql } from '../sequelize';

/** The events table's partition period (migration 0014): a month in UTC. 'day' if volume ever warrants. */
export const EVENT_PARTITION_UNIT = 'month';
/** Periods kept ready after the current one, so an event always has its partition. */
export const EVENT_PARTITIONS_AHEAD = 2;

/** What retention did with one partition wholly older than the cut-off. */
export interface ExpiredPartition {
  readonly partition: string;
  readonly outcome: 'dropped' | 'deliveries pending' | 'export in progress';
  /** Finished deliveries deleted with it (their attempts go by cascade). */
  readonly deliveries: number;
}

/**
 * Upkeep of the events table's partitions, through the SECURITY DEFINER functions of migration
 * 0014 (the application's role may not create or drop tables). Across tenants by nature; each
 * call tries the same advisory lock and returns at once when another holds it, so any number of
 * workers may call at once.
 */
export class EventPartitions {
  private readonly db: Sql;

  constructor(db: Database) {
    this.db = db.acrossTenants();
  }

  /** Creates the current period's partition and the next EVENT_PARTITIONS_AHEAD unless they exist; returns the names created. */
  async ensure(): Promise<string[]> {
    const rows = await this.db.query<{ name: string }>('SELECT events_partitions_ensure AS name FROM events_partitions_ensure($1, $2)', [
      EVENT_PARTITION_UNIT,
      EVENT_PARTITIONS_AHEAD,
    ]);
    return rows.map((r) => r.name);
  }

  /**
   * Drops the partitions whose events are all older than `retentionDays` days, unless a delivery
   * of theirs is pending or an unfinished export starts before their end (those are tried again
   * on the next pass); their finished deliveries are deleted with them.
   */
  async dropExpired(retentionDays: number): Promise<ExpiredPartition[]> {
    const rows = await this.db.query<{ partition: string; outcome: ExpiredPartition['outcome']; deliveries: string }>(
      `SELECT partition, outcome, deliveries::text AS deliveries FROM events_partitions_drop(now() - $1 * interval '1 day')`,
      [retentionDays],
    );
    return rows.map((r) => ({ partition: r.partition, outcome: r.outcome, deliveries: Number(r.deliveries) }));
  }
}
