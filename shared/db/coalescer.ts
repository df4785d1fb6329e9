/**
 * Runs calls made in the same turn of the event loop as one batch. A worker with a hundred
 * deliveries in flight finishes many of them in one I/O poll; each would otherwise be its own
 * statement, its own round trip and its own commit. Under light load a batch is one call, and
 * the only added wait is one `setImmediate`.
 *
 * `run` gets the items in submission order and answers one result per item, in the same order.
 * If it throws, every call of the batch rejects with that error (callers retry as they would
 * after a failed statement of their own). Two items with the same `keyOf` never share a batch:
 * the later one waits for the next, so a statement may assume its keys are distinct.
 */
export class Coalescer<I, O> {
  private pending: { item: I; key: string; resolve: (o: O) => void; reject: (err: unknown) => void }[] = [];
  private scheduled = false;

  constructor(
    private readonly run: (items: readonly I[]) => Promise<readonly O[]>,
    private readonly keyOf: (item: I) => string,
    /** Largest batch. Default 200. */
    private readonly maxBatch = 200,
    /** Weight of an item (e.g. the rows it carries); a batch stops growing past `max`. Default: unweighed. */
    private readonly weight?: { readonly of: (item: I) => number; readonly max: number },
  ) {}

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.pending.push({ item, key: this.keyOf(item), resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.scheduled = false;
    const batch: typeof this.pending = [];
    const later: typeof this.pending = [];
    const keys = new Set<string>();
    let weight = 0;
    let full = false;
    for (const call of this.pending) {
      const w = this.weight?.of(call.item) ?? 0;
      // Past the weight, the rest keep their order for the next batch; one item heavier than
      // the limit still runs, alone.
      full ||= batch.length > 0 && this.weight !== undefined && weight + w > this.weight.max;
      if (batch.length < this.maxBatch && !keys.has(call.key) && !full) {
        keys.add(call.key);
        weight += w;
        batch.push(call);
      } else {
        later.push(call);
      }
    }
    this.pending = later;
    if (later.length > 0) this.schedule();
    if (batch.length === 0) return;
    this.run(batch.map((c) => c.item)).then(
      (results) => {
        for (const [i, c] of batch.entries()) c.resolve(results[i]);
      },
      (err: unknown) => {
        for (const c of batch) c.reject(err);
      },
    );
  }
}

/**
 * Runs a batch's items together and, if that statement fails as a whole (a constraint one of
 * them breaks, say), each alone, so one item's failure is never another's. One result per item,
 * in order: `run`'s, or the error of an item that failed alone.
 */
export async function togetherOrAlone<I, O>(
  items: readonly I[],
  run: (some: readonly I[]) => Promise<readonly O[]>,
): Promise<(O | { readonly error: unknown })[]> {
  try {
    return [...(await run(items))];
  } catch (error) {
    if (items.length === 1) return [{ error }];
    return Promise.all(
      items.map((item) =>
        run([item]).then(
          ([outcome]) => outcome,
          (err: unknown) => ({ error: err }),
        ),
      ),
    );
  }
}
