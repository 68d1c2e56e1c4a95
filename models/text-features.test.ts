import { describe, expect, it } from 'vitest';
import { createPrng } from './prng.ts';
import { createTextFeaturizer } from './text-features.ts';

describe('hashed text features', () => {
  const fz = createTextFeaturizer(2 ** 12);

  it('gives sorted in-range indices and an L2-normalised vector', () => {
    const { indices, values } = fz.featurize('Great coffee, GREAT price!<br />Would buy again.');
    expect(indices.length).toBeGreaterThan(10);
    expect(values.length).toBe(indices.length);
    for (let i = 0; i < indices.length; i++) {
      expect(indices[i]).toBeGreaterThanOrEqual(0);
      expect(indices[i]).toBeLessThan(2 ** 12);
      if (i > 0) expect(indices[i]).toBeGreaterThan(indices[i - 1]);
    }
    expect(values.reduce((s, v) => s + v * v, 0)).toBeCloseTo(1, 5);
  });

  it('is deterministic, case-insensitive and ignores HTML tags', () => {
    const a = fz.featurize('Great coffee');
    expect(fz.featurize('Great coffee')).toEqual(a);
    expect(fz.featurize('GREAT   coffee')).toEqual(a);
    expect(fz.featurize('great<br/>coffee')).toEqual(fz.featurize('great coffee'));
    // A second featuriser with the same size hashes identically (no hidden state between calls).
    expect(createTextFeaturizer(2 ** 12).featurize('Great coffee')).toEqual(a);
  });

  it('distinguishes word order through bigrams', () => {
    expect(fz.featurize('not good, bad')).not.toEqual(fz.featurize('good, not bad'));
  });

  it('handles empty and non-Latin text', () => {
    expect(fz.featurize('')).toEqual({ indices: new Int32Array(0), values: new Float32Array(0) });
    const jp = fz.featurize('とても美味しいコーヒーです');
    expect(jp.values.reduce((s, v) => s + v * v, 0)).toBeCloseTo(1, 5);
  });

  it('spreads features over the buckets', () => {
    const prng = createPrng(1);
    const used = new Set<number>();
    for (let i = 0; i < 200; i++) {
      const words = Array.from({ length: 10 }, () => Math.floor(prng.next() * 1e6).toString(36));
      for (const j of fz.featurize(words.join(' ')).indices) used.add(j);
    }
    expect(used.size).toBeGreaterThan(0.9 * 2 ** 12);
  });
});
