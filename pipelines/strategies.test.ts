import { describe, expect, it } from 'vitest';
import { argmax, uncertaintyOf } from './strategies.ts';

describe('uncertainty scores', () => {
  it('are 0 for a certain prediction and 1 for a uniform one', () => {
    for (const s of ['least-confidence', 'margin', 'entropy'] as const) {
      expect(uncertaintyOf([1, 0, 0], s)).toBeCloseTo(0);
      const u = uncertaintyOf([0.5, 0.5], s);
      expect(s === 'least-confidence' ? u : u).toBeCloseTo(s === 'least-confidence' ? 0.5 : 1);
    }
  });
  it('rank a close call above a clear one', () => {
    for (const s of ['least-confidence', 'margin', 'entropy'] as const)
      expect(uncertaintyOf([0.45, 0.4, 0.15], s)).toBeGreaterThan(uncertaintyOf([0.9, 0.05, 0.05], s));
  });
  it('margin looks at the top two only', () => {
    expect(uncertaintyOf([0.5, 0.5, 0], 'margin')).toBeCloseTo(1);
    expect(uncertaintyOf([0.6, 0.2, 0.2], 'margin')).toBeCloseTo(0.6);
  });
  it('argmax', () => {
    expect(argmax([0.1, 0.7, 0.2])).toBe(1);
  });
});
