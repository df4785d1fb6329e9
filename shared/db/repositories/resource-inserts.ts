import { Coalescer, togetherOrAlone } from '../coalescer';
import type { Database } from '../sequelize';
import type { Row } from './resource-table';
import type { DirectoryScope } from './scope';

/** One create: the directory it belongs to, the new resource's id and its statement's row of values. */
export interface ResourceInsert {
  readonly scope: DirectoryScope;
  readonly id: string;
  /** One value per array the statement unnests, in its order. */
  readonly values: readonly unknown[];
}

type Outcome = { readonly row: Row | undefined } | { readonly error: unknown };

/** The statement's parameters for these creates: one array per column, one element per create. */
export const columnsOf = (items: readonly ResourceInsert[]): unknown[][] => items[0].values.map((_, c) => items.map((i) => i.values[c]));

/**
 * Creates outside a transaction, batched: the POSTs of one event-loop turn that run the same
 * statement (one resource type, with or without its event) become one statement, whatever
 * directories they come from. Entra's initial cycle is mostly creates, each one statement and
 * one commit; PostgreSQL's per-statement work (the counters trigger, the commit) is then shared.
 *
 * Each create is matched back by its id, so a request only ever receives its own row: none when
 * a unique value of it is taken (the statement's ON CONFLICT DO NOTHING, see UNIQUE_LOCKS). If
 * the batch fails as a whole (a constraint one of its creates breaks, say), each create runs
 * again alone, so one create's failure is never another's.
 */
export class ResourceInserts {
  private readonly batches = new Map<string, Coalescer<ResourceInsert, Outcome>>();

  constructor(private readonly db: Database) {}

  /** The stored row, or undefined when another resource holds one of its unique values. */
  async insert(sql: string, item: ResourceInsert): Promise<Row | undefined> {
    let batch = this.batches.get(sql);
    if (!batch) {
      batch = new Coalescer(
        (items) => togetherOrAlone(items, (some) => this.together(sql, some)),
        (i) => i.id,
      );
      this.batches.set(sql, batch);
    }
    const outcome = await batch.submit(item);
    if ('error' in outcome) throw outcome.error;
    return outcome.row;
  }

  private async together(sql: string, items: readonly ResourceInsert[]): Promise<Outcome[]> {
    const rows = await this.db.forDirectories(items.map((i) => i.scope)).query<Row>(sql, columnsOf(items));
    const stored = new Map(rows.map((r) => [r.id, r]));
    return items.map((i) => ({ row: stored.get(i.id) }));
  }
}

const perDatabase = new WeakMap<Database, ResourceInserts>();

/** One batcher per database handle (per process in practice), shared by every request's repositories. */
export function resourceInsertsOf(db: Database): ResourceInserts {
  let inserts = perDatabase.get(db);
  if (!inserts) perDatabase.set(db, (inserts = new ResourceInserts(db)));
  return inserts;
}
