import type { ResourceTypeName } from '../../scim/schema-types';
import { logger } from '../../telemetry/logger';
import type { ResourceDescriptor } from '../resource-types';
import type { Database } from '../sequelize';

/** Where a directory's ids stood when its anchors were taken (see PageAnchors). */
export interface Anchor {
  /** The counters' sums when the anchors were taken (migration 0002): together, an epoch. */
  readonly inserted: string;
  readonly deleted: string;
  /** The id at ascending position `position` (0-based) of the directory's table. */
  readonly id: string;
  readonly position: number;
}

export interface PageAnchorsOptions {
  /** Fewest index entries between anchors; more in big directories, to keep ~1,000 anchors. Default 1,000. */
  readonly minSpacing?: number;
  /** Least skip that makes a page ask for anchors. Default 2 × minSpacing. */
  readonly minSkip?: number;
  /** Least time between two builds for one directory, so churn cannot make every page build. Default 5,000 ms. */
  readonly minIntervalMs?: number;
  /** Directories whose anchors are kept, least recently built dropped first. Default 200. */
  readonly maxDirectories?: number;
}

interface Built {
  readonly inserted: string;
  readonly deleted: string;
  readonly spacing: number;
  readonly ids: readonly string[];
}

/**
 * Every n-th id of a directory's users (or groups) in id order, so a page deep in a big
 * directory seeks to the anchor before it and skips fewer than n index entries, instead of up
 * to half the directory: a reconciliation walking a million users page by page would otherwise
 * skip quadratically. The counters' `inserted` and `deleted` only grow, so their pair changes
 * whenever an id comes or goes; anchors carry the pair they were taken at, and the page
 * statement uses them only if the pair it reads in its own snapshot is the same. Stale anchors
 * are never wrong, merely unused until the next build. Per process, per database handle; each
 * directory's anchors are separate, and a statement only ever reads its own directory's rows.
 */
export class PageAnchors {
  readonly minSkip: number;
  private readonly minSpacing: number;
  private readonly minIntervalMs: number;
  private readonly maxDirectories: number;
  private readonly built = new Map<string, Built>();
  private readonly lastBuild = new Map<string, number>();
  /** Pages served from an anchor, and anchor builds run: for tests and the curious. */
  readonly stats = { anchoredPages: 0, builds: 0 };

  constructor(
    private readonly db: Database,
    options: PageAnchorsOptions = {},
  ) {
    this.minSpacing = options.minSpacing ?? 1_000;
    this.minSkip = options.minSkip ?? 2 * this.minSpacing;
    this.minIntervalMs = options.minIntervalMs ?? 5_000;
    this.maxDirectories = options.maxDirectories ?? 200;
  }

  /** The anchor at or before `position` in `table` of the directory, if anchors were taken. */
  nearest(table: string, directoryId: string, position: number): Anchor | undefined {
    const built = this.built.get(`${table}:${directoryId}`);
    if (!built) return undefined;
    const k = Math.min(Math.floor(position / built.spacing), built.ids.length - 1);
    if (k < 0) return undefined;
    return { inserted: built.inserted, deleted: built.deleted, id: built.ids[k], position: k * built.spacing };
  }

  /**
   * Takes the directory's anchors afresh, unless a build for it started less than minIntervalMs
   * ago. One statement reads the counters and walks the primary key, hopping `spacing` entries
   * at a time, so the anchors and their epoch come from one snapshot. Anchors only save work:
   * a failed build is logged and leaves the page that asked for it answered as it was.
   */
  async refresh(table: ResourceDescriptor['table'], resourceType: ResourceTypeName, directoryId: string, total: number): Promise<void> {
    const key = `${table}:${directoryId}`;
    const now = Date.now();
    if (now - (this.lastBuild.get(key) ?? -Infinity) < this.minIntervalMs) return;
    this.lastBuild.set(key, now);
    const spacing = Math.max(this.minSpacing, Math.ceil(total / 1_000));
    let rows: { inserted: string; deleted: string; ids: string[] }[];
    try {
      rows = await this.db.forDirectory({ directoryId }).query(
        `WITH RECURSIVE a(id) AS (
           SELECT (SELECT r.id FROM ${table} r WHERE r.directory_id = $1 ORDER BY r.id LIMIT 1)
           UNION ALL
           SELECT (SELECT r.id FROM ${table} r WHERE r.directory_id = $1 AND r.id > a.id ORDER BY r.id OFFSET $3 - 1 LIMIT 1)
             FROM a WHERE a.id IS NOT NULL)
         SELECT coalesce(sum(c.inserted), 0)::text AS inserted, coalesce(sum(c.deleted), 0)::text AS deleted,
                ARRAY(SELECT id FROM a WHERE id IS NOT NULL) AS ids
           FROM resource_counters c WHERE c.directory_id = $1 AND c.resource_type = $2`,
        [directoryId, resourceType, spacing],
      );
    } catch (err) {
      logger.warn({ err, 'directory.id': directoryId }, 'page anchors not taken; pages skip from the nearer end meanwhile');
      return;
    }
    this.stats.builds++;
    this.built.delete(key);
    this.built.set(key, { inserted: rows[0].inserted, deleted: rows[0].deleted, spacing, ids: rows[0].ids });
    if (this.built.size > this.maxDirectories) this.built.delete(this.built.keys().next().value!);
    if (this.lastBuild.size > 4 * this.maxDirectories) this.lastBuild.delete(this.lastBuild.keys().next().value!);
  }
}

const perDatabase = new WeakMap<Database, PageAnchors>();

/** One set of anchors per database handle (per process in practice); options apply when first made. */
export function pageAnchorsOf(db: Database, options?: PageAnchorsOptions): PageAnchors {
  let anchors = perDatabase.get(db);
  if (!anchors) perDatabase.set(db, (anchors = new PageAnchors(db, options)));
  return anchors;
}
