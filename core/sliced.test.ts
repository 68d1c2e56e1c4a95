import { describe, expect, it } from 'vitest';
import { createWorkQueue, forEachSliced } from './sliced.ts';

describe('forEachSliced', () => {
  it('visits every item in order and lets other work run between slices', async () => {
    const seen: string[] = [];
    setImmediate(() => seen.push('other'));
    // A zero-length slice yields after every item.
    await forEachSliced(['a', 'b', 'c'], (x, i) => seen.push(`${x}${i}`), 0);
    expect(seen).toEqual(['a0', 'other', 'b1', 'c2']);
  });
  it('runs a short batch without yielding', async () => {
    const seen: string[] = [];
    setImmediate(() => seen.push('other'));
    await forEachSliced([1, 2, 3], (x) => seen.push(String(x)), 60_000);
    expect(seen).toEqual(['1', '2', '3']);
  });
  it('propagates an error from the callback and stops there', async () => {
    const seen: number[] = [];
    await expect(
      forEachSliced(
        [1, 2, 3],
        (x) => {
          if (x === 2) throw new Error('bad item');
          seen.push(x);
        },
        0,
      ),
    ).rejects.toThrow('bad item');
    expect(seen).toEqual([1]);
  });
});

describe('createWorkQueue', () => {
  it('runs at most two jobs at once, the rest in arrival order', async () => {
    const q = createWorkQueue();
    let running = 0;
    let most = 0;
    const order: number[] = [];
    await Promise.all(
      [0, 1, 2, 3, 4].map((n) =>
        q.add(async () => {
          running++;
          most = Math.max(most, running);
          await new Promise((r) => setImmediate(r));
          order.push(n);
          running--;
        }),
      ),
    );
    expect(most).toBe(2);
    expect(order).toEqual([0, 1, 2, 3, 4]);
  });
});
