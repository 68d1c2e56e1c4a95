import { describe, expect, it } from 'vitest';
import { accuracyInterval, fingerprintOf } from './rescore.ts';

describe('accuracyInterval', () => {
  it('is the two-sided 95% Clopper-Pearson interval', () => {
    // 6 of 6: the lower bound solves p^6 = 0.025.
    expect(accuracyInterval(6, 6)).toEqual([Math.round(0.025 ** (1 / 6) * 1e4) / 1e4, 1]);
    expect(accuracyInterval(0, 6)).toEqual([0, Math.round((1 - 0.025 ** (1 / 6)) * 1e4) / 1e4]);
    // 50 of 100: about 0.398 to 0.602 (tables).
    const [lo, hi] = accuracyInterval(50, 100)!;
    expect(lo).toBeCloseTo(0.3983, 3);
    expect(hi).toBeCloseTo(0.6017, 3);
    expect(accuracyInterval(0, 0)).toBeNull();
  });

  it('narrows as the gold set grows', () => {
    const [lo6, hi6] = accuracyInterval(5, 6)!;
    const [lo600, hi600] = accuracyInterval(500, 600)!;
    expect(hi6 - lo6).toBeGreaterThan(0.4);
    expect(hi600 - lo600).toBeLessThan(0.07);
  });
});

describe('fingerprintOf', () => {
  it('depends on the items and their labels, not on their order', () => {
    const a = [
      { id: 'x', label: 'cat' },
      { id: 'y', label: 'dog' },
    ];
    expect(fingerprintOf(a)).toBe(fingerprintOf([...a].reverse()));
    expect(fingerprintOf(a)).not.toBe(
      fingerprintOf([
        { id: 'x', label: 'dog' },
        { id: 'y', label: 'dog' },
      ]),
    );
    expect(fingerprintOf(a)).not.toBe(fingerprintOf(a.slice(1)));
  });
});
