import { Coalescer } from '../coalescer';
import type { Database } from '../sequelize';
import type { DirectoryId } from '../../ids';
import type { Row } from './resource-table';

interface Lookup {
  readonly directoryId: DirectoryId;
  readonly value: string;
}

/**
 * `userName eq "…"` and its kin, batched: the lookups of one event-loop turn that ask the same
 * table for the same unique attribute become one statement, whatever directories they come
 * from. Entra asks this before every create and update of a provisioning cycle, so it is the
 * API's most frequent read; one statement per turn instead of one per request spares the round
 * trips and PostgreSQL's per-statement work.
 *
 * Each lookup is the pair (directory, value), joined on both, and every row comes back tagged
 * with the ordinal of the pair that found it: a request only ever receives the rows of its own
 * directory, exactly as if it had run `directory_id = $1 AND …` alone.
 */
export class UniqueLookups {
  private readonly batches = new Map<string, Coalescer<Lookup, Row[]>>();

  constructor(private readonly db: Database) {}

  /**
   * Runs `sql` for this lookup together with the others of the turn that use the same text.
   * The statement takes the directories as `$1::uuid[]` and the values as `$2::text[]`, unnests
   * them `WITH ORDINALITY` as `(directory_id, value, n)` and returns `k.n` with each row.
   */
  find(sql: string, lookup: Lookup): Promise<Row[]> {
    let batch = this.batches.get(sql);
    if (!batch) {
      batch = new Coalescer(
        (items) => this.run(sql, items),
        (item) => `${item.directoryId}:${item.value}`,
      );
      this.batches.set(sql, batch);
    }
    return batch.submit(lookup);
  }

  private async run(sql: string, items: readonly Lookup[]): Promise<Row[][]> {
    const rows = await this.db.forDirectories(items).query<Row & { n: string }>(sql, [items.map((i) => i.directoryId), items.map((i) => i.value)]);
    const found: Row[][] = items.map(() => []);
    // `n` stays on the row (no per-row copy): the repository reads only the columns it knows.
    for (const row of rows) found[Number(row.n) - 1].push(row);
    return found;
  }
}

const perDatabase = new WeakMap<Database, UniqueLookups>();

/** One batcher per database handle (per process in practice), shared by every request's repositories. */
export function uniqueLookupsOf(db: Database): UniqueLookups {
  let lookups = perDatabase.get(db);
  if (!lookups) perDatabase.set(db, (lookups = new UniqueLookups(db)));
  return lookups;
}
