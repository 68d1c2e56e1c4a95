import { describe, expect, it } from 'vitest';
import { EmbeddingCache, type Embeddings } from './embedding-cache.ts';

/** A fake model: item "x<n>" embeds to [n, version]; records which ids it was asked for. */
function model(version: number, ids: readonly string[], asked: string[][]) {
  return async (missing: number[]): Promise<Embeddings> => {
    asked.push(missing.map((i) => ids[i]));
    return { dim: 2, data: Float32Array.from(missing.flatMap((i) => [Number(ids[i].slice(1)), version])) };
  };
}

describe('EmbeddingCache', () => {
  it('asks the model only for items it has not embedded under the same version', async () => {
    const cache = new EmbeddingCache();
    const asked: string[][] = [];
    const a = ['x1', 'x2', 'x3'];
    expect(Array.from((await cache.get('p', 1, a, model(1, a, asked))).data)).toEqual([1, 1, 2, 1, 3, 1]);
    const b = ['x3', 'x4', 'x1'];
    expect(Array.from((await cache.get('p', 1, b, model(1, b, asked))).data)).toEqual([3, 1, 4, 1, 1, 1]);
    expect(asked).toEqual([['x1', 'x2', 'x3'], ['x4']]);
    // All cached: the model is not called.
    expect(Array.from((await cache.get('p', 1, ['x2'], model(1, ['x2'], asked))).data)).toEqual([2, 1]);
    expect(asked).toHaveLength(2);
    // A new version embeds everything again and replaces the old rows.
    expect(Array.from((await cache.get('p', 2, b, model(2, b, asked))).data)).toEqual([3, 2, 4, 2, 1, 2]);
    expect(asked[2]).toEqual(['x3', 'x4', 'x1']);
    expect(cache.rows).toBe(3);
  });

  it('keeps projects apart and stays within its size, dropping other projects first', async () => {
    const cache = new EmbeddingCache(4);
    const asked: string[][] = [];
    const a = ['x1', 'x2', 'x3'];
    await cache.get('p', 1, a, model(1, a, asked));
    const b = ['x1', 'x5'];
    expect(Array.from((await cache.get('q', 1, b, model(7, b, asked))).data)).toEqual([1, 7, 5, 7]);
    expect(asked[1]).toEqual(['x1', 'x5']);
    expect(cache.rows).toBe(2); // p's 3 rows went to make room for q's 2
    const c = ['x6', 'x7', 'x8'];
    await cache.get('q', 1, c, model(7, c, asked));
    expect(cache.rows).toBe(4); // at most 4, the rest computed but not kept
    const again = ['x1', 'x5', 'x6', 'x7', 'x8'];
    expect(Array.from((await cache.get('q', 1, again, model(7, again, asked))).data)).toEqual([1, 7, 5, 7, 6, 7, 7, 7, 8, 7]);
    expect(asked[3]).toEqual(['x8']);
  });

  it('keeps nothing from a computation that a newer version overtook', async () => {
    const cache = new EmbeddingCache();
    const ids = ['x1', 'x2'];
    let release!: () => void;
    const slow = cache.get('p', 1, ids, async (missing) => {
      await new Promise<void>((r) => (release = r));
      return { dim: 2, data: Float32Array.from(missing.flatMap((i) => [i, 1])) };
    });
    await Promise.resolve();
    await cache.get('p', 2, ['x9'], async () => ({ dim: 2, data: Float32Array.from([9, 2]) }));
    release();
    expect(Array.from((await slow).data)).toEqual([0, 1, 1, 1]);
    expect(cache.rows).toBe(1);
  });

  it('takes rows computed elsewhere, unless the project has moved on to another version', async () => {
    const cache = new EmbeddingCache(3);
    cache.put('p', 0, ['x1', 'x2'], { dim: 2, data: Float32Array.from([1, 0, 2, 0]) });
    const asked: string[][] = [];
    const ids = ['x2', 'x3'];
    expect(Array.from((await cache.get('p', 0, ids, model(0, ids, asked))).data)).toEqual([2, 0, 3, 0]);
    expect(asked).toEqual([['x3']]);
    cache.put('p', 0, ['x4', 'x5'], { dim: 2, data: Float32Array.from([4, 0, 5, 0]) });
    expect(cache.rows).toBe(3); // full: x5 is not kept
    await cache.get('p', 1, ['x1'], model(1, ['x1'], asked));
    cache.put('p', 0, ['x6'], { dim: 2, data: Float32Array.from([6, 0]) });
    expect(cache.rows).toBe(1); // version 1 rows only
  });
});
