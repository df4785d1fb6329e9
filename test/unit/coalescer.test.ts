import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Coalescer } from '../../shared/db/coalescer';

/** A Coalescer that doubles numbers and remembers each batch it ran. */
function doubler(maxBatch?: number, fail?: (items: readonly number[]) => boolean) {
  const batches: number[][] = [];
  const c = new Coalescer<number, number>(
    async (items) => {
      batches.push([...items]);
      if (fail?.(items)) throw new Error('statement failed');
      return items.map((n) => n * 2);
    },
    (n) => String(n),
    maxBatch,
  );
  return { c, batches };
}

describe('Coalescer', () => {
  it('calls in one turn › one batch, each caller gets its own result in order', async () => {
    const { c, batches } = doubler();
    assert.deepEqual(await Promise.all([1, 2, 3].map((n) => c.submit(n))), [2, 4, 6]);
    assert.deepEqual(batches, [[1, 2, 3]]);
  });

  it('calls in separate turns › separate batches', async () => {
    const { c, batches } = doubler();
    assert.equal(await c.submit(1), 2);
    assert.equal(await c.submit(2), 4);
    assert.deepEqual(batches, [[1], [2]]);
  });

  it('the same key twice in one turn › the second waits for the next batch', async () => {
    const { c, batches } = doubler();
    assert.deepEqual(await Promise.all([5, 6, 5].map((n) => c.submit(n))), [10, 12, 10]);
    assert.deepEqual(batches, [[5, 6], [5]]);
  });

  it('more than maxBatch calls › split into batches of at most maxBatch, none lost', async () => {
    const { c, batches } = doubler(4);
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => c.submit(i)));
    assert.deepEqual(
      results,
      Array.from({ length: 10 }, (_, i) => i * 2),
    );
    assert.deepEqual(
      batches.map((b) => b.length),
      [4, 4, 2],
    );
  });

  it('a weight limit › a batch stops before the item that would pass it, the rest keep their order; a heavier item runs alone', async () => {
    const batches: number[][] = [];
    const c = new Coalescer<number, number>(
      async (items) => {
        batches.push([...items]);
        return items.map((n) => n);
      },
      (n) => String(n),
      200,
      { of: (n) => n, max: 7 },
    );
    assert.deepEqual(await Promise.all([3, 4, 2, 20, 1].map((n) => c.submit(n))), [3, 4, 2, 20, 1]);
    assert.deepEqual(batches, [[3, 4], [2], [20], [1]]);
  });

  it('a failing batch › every caller of that batch rejects; the next batch is unaffected', async () => {
    const { c } = doubler(2, (items) => items.includes(1));
    const settled = await Promise.allSettled([0, 1, 2].map((n) => c.submit(n)));
    assert.deepEqual(
      settled.map((s) => s.status),
      ['rejected', 'rejected', 'fulfilled'],
    );
    assert.equal(await c.submit(3), 6);
  });
});
