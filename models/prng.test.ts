import { describe, expect, it } from 'vitest';
import { createPrng } from './prng.ts';

describe('seeded prng', () => {
  it('repeats for a seed and differs between seeds', () => {
    const take = (seed: number) => {
      const p = createPrng(seed);
      return Array.from({ length: 5 }, () => p.uint32());
    };
    expect(take(42)).toEqual(take(42));
    expect(take(42)).not.toEqual(take(43));
  });

  it('draws uniform floats in [0, 1) and standard normals', () => {
    const p = createPrng(7);
    const u = Array.from({ length: 20000 }, () => p.next());
    expect(Math.min(...u)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...u)).toBeLessThan(1);
    expect(u.reduce((a, b) => a + b) / u.length).toBeCloseTo(0.5, 1);
    const z = Array.from({ length: 20000 }, () => p.normal());
    const mean = z.reduce((a, b) => a + b) / z.length;
    const variance = z.reduce((a, b) => a + (b - mean) ** 2, 0) / z.length;
    expect(mean).toBeCloseTo(0, 1);
    expect(variance).toBeCloseTo(1, 1);
  });

  it('shuffles into a permutation', () => {
    const a = Int32Array.from({ length: 50 }, (_, i) => i);
    createPrng(3).shuffle(a);
    expect(Array.from(a)).not.toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(Array.from(a).sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });
});
