import { describe, expect, it } from 'vitest';
import { pseudoLabelQuota } from './train.ts';

describe('pseudo-label quota', () => {
  it('follows the class shares of the sample, two per human label in all', () => {
    const sample = [...Array(66).fill({ label: 'great' }), ...Array(34).fill({ label: 'other' })];
    expect(pseudoLabelQuota(['great', 'other'], 200, sample)).toEqual({ great: 264, other: 136 });
  });
  it('is even over balanced classes, and zero for a class the sample lacks', () => {
    const sample = ['a', 'b', 'c', 'a', 'b', 'c'].map((label) => ({ label }));
    expect(pseudoLabelQuota(['a', 'b', 'c', 'd'], 30, sample)).toEqual({ a: 20, b: 20, c: 20, d: 0 });
    expect(pseudoLabelQuota(['a'], 10, [])).toEqual({ a: 0 });
  });
});
