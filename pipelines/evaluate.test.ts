import { describe, expect, it } from 'vitest';
import { goldMetrics } from './evaluate.ts';

describe('gold metrics', () => {
  it('accuracy, confusion, per-class precision/recall and ECE', () => {
    // 4 items, 2 classes: predictions a, a, b, b; truth a, b, b, b.
    const probs = new Float32Array([0.9, 0.1, 0.6, 0.4, 0.2, 0.8, 0.25, 0.75]);
    const m = goldMetrics(probs, [0, 1, 1, 1], ['a', 'b']);
    expect(m.n).toBe(4);
    expect(m.accuracy).toBeCloseTo(0.75);
    expect(m.confusion).toEqual([
      [1, 0],
      [1, 2],
    ]);
    expect(m.perClass.a).toMatchObject({ precision: 0.5, recall: 1, support: 1 });
    expect(m.perClass.b).toMatchObject({ precision: 1, support: 3 });
    expect(m.perClass.b.recall).toBeCloseTo(2 / 3, 5);
    // one item per bin: 0.9 (correct), 0.6 (wrong), 0.8 (correct), 0.75 (correct)
    expect(m.ece).toBeCloseTo((0.1 + 0.6 + 0.2 + 0.25) / 4, 5);
  });
  it('an empty gold set has no accuracy', () => {
    const m = goldMetrics(new Float32Array(0), [], ['a', 'b']);
    expect(m.accuracy).toBeNull();
    expect(m.ece).toBeNull();
  });
});
