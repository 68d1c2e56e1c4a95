import { describe, expect, it } from 'vitest';
import { classThresholds, crossValidationFolds, defaultFarBelow, findLabelIssues } from './label-errors.ts';

describe('confident learning', () => {
  it('flags labels the out-of-sample model confidently disputes, and suggests the other class', () => {
    // 3 classes. Items 0-5 are labelled as the model predicts; item 6 is labelled a but the model is sure it is c.
    const rows = [
      [0.9, 0.05, 0.05],
      [0.8, 0.1, 0.1],
      [0.1, 0.8, 0.1],
      [0.2, 0.7, 0.1],
      [0.05, 0.05, 0.9],
      [0.1, 0.1, 0.8],
      [0.01, 0.14, 0.85],
    ];
    const given = [0, 0, 1, 1, 2, 2, 0];
    const issues = findLabelIssues(Float32Array.from(rows.flat()), given, 3);
    expect(issues).toEqual([{ index: 6, suggested: 2, score: expect.closeTo(0.84, 5) }]);
  });
  it('by default leaves a label the model doubts but does not rule out (a look-alike class); the plain confident joint flags it', () => {
    const rows = [
      [0.9, 0.1],
      [0.95, 0.05],
      [0.15, 0.85],
      [0.1, 0.9],
      [0.1, 0.9],
    ];
    const given = [0, 0, 1, 1, 0];
    expect(findLabelIssues(Float32Array.from(rows.flat()), given, 2)).toEqual([]);
    expect(findLabelIssues(Float32Array.from(rows.flat()), given, 2, { farBelow: 1 })).toEqual([{ index: 4, suggested: 1, score: expect.closeTo(0.8, 5) }]);
  });
  it('scales the cut with the number of classes: 0.1 / (k - 1) of the threshold', () => {
    expect(defaultFarBelow(3)).toBeCloseTo(0.05);
    expect(defaultFarBelow(10)).toBeCloseTo(0.1 / 9);
    // 10 classes: one item confidently of each class, seven more of class 0; items 17 and 18 are labelled 0 but
    // predicted 1, with p(0) 0.018 and 0.0045. Class 0's threshold is 0.72, the cut 0.008: only 18 is disputed.
    const k = 10;
    const row = (probs: Record<number, number>) => Array.from({ length: k }, (_, j) => probs[j] ?? 0);
    const clean = [...Array.from({ length: k }, (_, c) => c), 0, 0, 0, 0, 0, 0, 0];
    const rows = [...clean.map((c) => row({ [c]: 0.9, [(c + 1) % k]: 0.1 })), row({ 0: 0.018, 1: 0.982 }), row({ 0: 0.0045, 1: 0.9955 })];
    const given = [...clean, 0, 0];
    const issues = findLabelIssues(Float32Array.from(rows.flat()), given, k);
    expect(issues.map((i) => [i.index, i.suggested])).toEqual([[18, 1]]);
  });
  it('does not flag an uncertain item that reaches no class threshold', () => {
    const rows = [
      [0.9, 0.1],
      [0.95, 0.05],
      [0.1, 0.9],
      [0.05, 0.95],
      [0.55, 0.45],
    ];
    expect(findLabelIssues(Float32Array.from(rows.flat()), [0, 0, 1, 1, 1], 2)).toEqual([]);
  });
  it('thresholds are the mean self-confidence per class', () => {
    const t = classThresholds(Float32Array.from([0.9, 0.1, 0.7, 0.3, 0.2, 0.8]), [0, 0, 1], 2);
    expect(t[0]).toBeCloseTo(0.8);
    expect(t[1]).toBeCloseTo(0.8);
  });
});

describe('crossValidationFolds', () => {
  it('puts item i in fold i % folds in the first repeat, and shuffles evenly sized folds in later ones', () => {
    expect(Array.from(crossValidationFolds(10, 4, 0, 1))).toEqual([0, 1, 2, 3, 0, 1, 2, 3, 0, 1]);
    const later = crossValidationFolds(1000, 4, 1, 7919);
    expect(Array.from(later)).toEqual(Array.from(crossValidationFolds(1000, 4, 1, 7919)));
    expect(Array.from(later)).not.toEqual(Array.from(crossValidationFolds(1000, 4, 0, 7919)));
    expect(Array.from(later)).not.toEqual(Array.from(crossValidationFolds(1000, 4, 1, 7920)));
    for (let f = 0; f < 4; f++) expect(later.filter((x) => x === f).length).toBe(250);
  });
});
