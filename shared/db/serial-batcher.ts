/** What `run` decides for one item of a batch. */
export type BatchOutcome<O> = { readonly value: O } | { readonly error: unknown } | { readonly retry: true };

export interface SerialBatcherOptions<I> {
  /** Most items in one batch. Default 100. */
  readonly maxItems?: number;
  /** Weight of an item (e.g. ids it carries); a batch stops growing past `maxWeight`. Default 1 each. */
  readonly weightOf?: (item: I) => number;
  /** Default: unbounded. One item heavier than this still runs, alone. */
  readonly maxWeight?: number;
}

interface Call<I, O> {
  readonly item: I;
  readonly resolve: (o: O) => void;
  readonly reject: (err: unknown) => void;
}

/**
 * Group commit for one hot row. Calls under the same key run one batch at a time: while a batch
 * is in flight, new calls wait and then go together as the next one. Fifty requests changing one
 * group would otherwise queue on its row lock inside PostgreSQL, each waiting for the previous
 * one's commit; here they share a few statements, and the row is locked a few times instead of
 * fifty. Different keys run independently.
 *
 * `run` answers one outcome per item, in order: a value, an error for that caller alone, or
 * `retry` (the item goes back to the front of the queue, e.g. when another item's error made the
 * statement change nothing). If `run` throws, every caller of the batch gets that error.
 */
export class SerialBatcher<I, O> {
  private readonly queues = new Map<string, { calls: Call<I, O>[]; busy: boolean }>();
  private readonly maxItems: number;
  private readonly weightOf: (item: I) => number;
  private readonly maxWeight: number;

  constructor(
    private readonly run: (key: string, items: readonly I[]) => Promise<readonly BatchOutcome<O>[]>,
    options: SerialBatcherOptions<I> = {},
  ) {
    this.maxItems = options.maxItems ?? 100;
    this.weightOf = options.weightOf ?? (() => 1);
    this.maxWeight = options.maxWeight ?? Infinity;
  }

  submit(key: string, item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      let queue = this.queues.get(key);
      if (!queue) {
        queue = { calls: [], busy: false };
        this.queues.set(key, queue);
      }
      queue.calls.push({ item, resolve, reject });
      if (!queue.busy) {
        queue.busy = true;
        // One turn of the event loop gathers the calls that arrived together.
        setImmediate(() => void this.drain(key));
      }
    });
  }

  private async drain(key: string): Promise<void> {
    const queue = this.queues.get(key)!;
    while (queue.calls.length > 0) {
      const batch = this.take(queue.calls);
      let outcomes: readonly BatchOutcome<O>[];
      try {
        outcomes = await this.run(
          key,
          batch.map((c) => c.item),
        );
      } catch (err) {
        for (const call of batch) call.reject(err);
        continue;
      }
      const retry: Call<I, O>[] = [];
      batch.forEach((call, i) => {
        const outcome = outcomes[i];
        if ('value' in outcome) call.resolve(outcome.value);
        else if ('error' in outcome) call.reject(outcome.error);
        else retry.push(call);
      });
      if (retry.length === batch.length) {
        // A batch that settled nothing would be retried forever: fail it instead.
        for (const call of retry) call.reject(new Error('batch made no progress'));
        continue;
      }
      queue.calls.unshift(...retry);
    }
    queue.busy = false;
    this.queues.delete(key);
  }

  private take(calls: Call<I, O>[]): Call<I, O>[] {
    let weight = 0;
    let n = 0;
    while (n < calls.length && n < this.maxItems) {
      const w = this.weightOf(calls[n].item);
      if (n > 0 && weight + w > this.maxWeight) break;
      weight += w;
      n++;
    }
    return calls.splice(0, n);
  }
}
