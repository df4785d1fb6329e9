import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SerialBatcher, type BatchOutcome } from '../../shared/db/serial-batcher';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('SerialBatcher', () => {
  it('one key › never two batches in flight; calls arriving meanwhile go together next', async () => {
    const batches: number[][] = [];
    let inFlight = 0;
    let most = 0;
    const b = new SerialBatcher<number, number>(async (_key, items) => {
      inFlight++;
      most = Math.max(most, inFlight);
      batches.push([...items]);
      await sleep(20);
      inFlight--;
      return items.map((n) => ({ value: n + 1 }));
    });
    const first = b.submit('g', 1);
    await sleep(5); // the first batch is running now
    const rest = [2, 3, 4].map((n) => b.submit('g', n));
    assert.deepEqual(await Promise.all([first, ...rest]), [2, 3, 4, 5]);
    assert.equal(most, 1);
    assert.deepEqual(batches, [[1], [2, 3, 4]]);
  });

  it('two keys › run side by side, each its own batches', async () => {
    const seen: string[] = [];
    const b = new SerialBatcher<string, string>(async (key, items) => {
      seen.push(`${key}:${items.join('+')}`);
      return items.map((i) => ({ value: `${key}/${i}` }));
    });
    const out = await Promise.all([b.submit('a', 'x'), b.submit('b', 'y'), b.submit('a', 'z')]);
    assert.deepEqual(out, ['a/x', 'b/y', 'a/z']);
    assert.deepEqual(seen.sort(), ['a:x+z', 'b:y']);
  });

  it('an error for one item and retry for the rest › that caller rejects, the others run again and resolve', async () => {
    const runs: string[][] = [];
    const b = new SerialBatcher<string, string>(async (_key, items) => {
      runs.push([...items]);
      const bad = items.includes('bad');
      return items.map((i): BatchOutcome<string> => (i === 'bad' ? { error: new Error('not a user') } : bad ? { retry: true } : { value: i.toUpperCase() }));
    });
    const settled = await Promise.allSettled(['a', 'bad', 'c'].map((i) => b.submit('g', i)));
    assert.deepEqual(
      settled.map((s) => (s.status === 'fulfilled' ? s.value : (s.reason as Error).message)),
      ['A', 'not a user', 'C'],
    );
    assert.deepEqual(runs, [
      ['a', 'bad', 'c'],
      ['a', 'c'],
    ]);
  });

  it('run throws › every caller of the batch rejects; a batch that settles nothing fails instead of looping', async () => {
    const throwing = new SerialBatcher<number, number>(async () => {
      throw new Error('statement failed');
    });
    const settled = await Promise.allSettled([throwing.submit('k', 1), throwing.submit('k', 2)]);
    assert.ok(settled.every((s) => s.status === 'rejected'));
    const stuck = new SerialBatcher<number, number>(async (_key, items) => items.map(() => ({ retry: true as const })));
    await assert.rejects(stuck.submit('k', 1), /no progress/);
  });

  it('maxItems and maxWeight › batches split, a single heavy item still runs alone', async () => {
    const sizes: number[][] = [];
    const b = new SerialBatcher<number, number>(
      async (_key, items) => {
        sizes.push([...items]);
        return items.map((n) => ({ value: n }));
      },
      { maxItems: 3, maxWeight: 10, weightOf: (n) => n },
    );
    await Promise.all([1, 2, 3, 4, 20, 5].map((n) => b.submit('k', n)));
    assert.deepEqual(sizes, [[1, 2, 3], [4], [20], [5]]);
  });
});
