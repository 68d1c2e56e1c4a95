import { describe, expect, it } from 'vitest';
import { clopperPearsonLower, clopperPearsonUpper, planAutoLabel } from './autolabel.ts';

describe('Clopper-Pearson bounds', () => {
  it('match published values', () => {
    // Exact one-sided 95% bounds (e.g. scipy.stats.beta.ppf(0.05, k, n-k+1)).
    expect(clopperPearsonLower(95, 100)).toBeCloseTo(0.8979, 3);
    expect(clopperPearsonLower(100, 100)).toBeCloseTo(0.9705, 3);
    expect(clopperPearsonLower(0, 10)).toBe(0);
    expect(clopperPearsonUpper(5, 100)).toBeCloseTo(1 - clopperPearsonLower(95, 100), 6);
    expect(clopperPearsonUpper(10, 10)).toBe(1);
  });
  it('tighten with more data', () => {
    expect(clopperPearsonLower(970, 1000)).toBeGreaterThan(clopperPearsonLower(97, 100));
  });
});

/** Gold predictions for two classes where confidence above 0.9 is always right and below it a coin flip. */
function synthetic(n: number) {
  const probs = new Float32Array(n * 2);
  const truth: number[] = [];
  for (let i = 0; i < n; i++) {
    const conf = 0.5 + (0.5 * i) / n;
    const predicted = i % 2;
    probs[i * 2 + predicted] = conf;
    probs[i * 2 + 1 - predicted] = 1 - conf;
    truth.push(conf >= 0.9 ? predicted : i % 4 < 2 ? predicted : 1 - predicted);
  }
  return { probs, truth };
}

describe('auto-labelling plan', () => {
  it('picks the lowest threshold whose lower bound reaches the target', () => {
    const { probs, truth } = synthetic(1000);
    const plan = planAutoLabel(probs, truth, ['a', 'b'], { enabled: true, targetAccuracy: 0.95 });
    expect(plan.reason).toBeUndefined();
    for (const t of Object.values(plan.thresholds)) {
      expect(t).toBeGreaterThan(0.8);
      expect(t).toBeLessThan(0.95);
    }
    expect(plan.gold.lower!).toBeGreaterThanOrEqual(0.95);
    expect(plan.gold.accuracy!).toBeGreaterThanOrEqual(plan.gold.lower!);
  });
  it('refuses when the target cannot be shown', () => {
    const { probs, truth } = synthetic(1000);
    const plan = planAutoLabel(probs, truth, ['a', 'b'], { enabled: true, targetAccuracy: 0.999 });
    expect(plan.thresholds).toEqual({});
    expect(plan.reason).toMatch(/no confidence threshold/);
  });
  it('refuses on a gold set too small to bound anything', () => {
    const { probs, truth } = synthetic(20);
    expect(planAutoLabel(probs, truth, ['a', 'b'], { enabled: true, targetAccuracy: 0.8 }).thresholds).toEqual({});
  });
  it('gives a confusable class a stricter threshold than an easy one', () => {
    // Class a: right whenever predicted. Class b: wrong below 0.97.
    const n = 2000;
    const probs = new Float32Array(n * 2);
    const truth: number[] = [];
    for (let i = 0; i < n; i++) {
      const conf = 0.6 + (0.4 * (i >> 1)) / (n / 2);
      const predicted = i % 2;
      probs[i * 2 + predicted] = conf;
      probs[i * 2 + 1 - predicted] = 1 - conf;
      truth.push(predicted === 0 || conf >= 0.97 ? predicted : i % 4 === 1 ? 0 : 1);
    }
    const plan = planAutoLabel(probs, truth, ['a', 'b'], { enabled: true, targetAccuracy: 0.95 });
    // b's own need sets the global threshold (its mistakes are the only ones); a, always right, goes lower.
    expect(plan.basis).toEqual({ a: 'class', b: 'global' });
    expect(plan.thresholds.b).toBeGreaterThan(plan.thresholds.a);
  });
  it('gives a class shown to fall short above the global threshold a stricter one of its own', () => {
    // Classes a and c: always right. Class b: one in 8 wrong below 0.97. The global threshold, where a and c
    // dilute b's mistakes, is too low for b.
    const n = 3000;
    const probs = new Float32Array(n * 3);
    const truth: number[] = [];
    for (let i = 0; i < n; i++) {
      const conf = 0.6 + (0.4 * Math.floor(i / 3)) / (n / 3);
      const predicted = i % 3;
      for (let c = 0; c < 3; c++) probs[i * 3 + c] = c === predicted ? conf : (1 - conf) / 2;
      truth.push(predicted !== 1 || conf >= 0.97 || Math.floor(i / 3) % 8 !== 0 ? predicted : 0);
    }
    const plan = planAutoLabel(probs, truth, ['a', 'b', 'c'], { enabled: true, targetAccuracy: 0.95 });
    expect(plan.basis.b).toBe('class');
    expect(plan.thresholds.b).toBeGreaterThan(0.96);
    expect(plan.thresholds.a).toBeLessThan(0.7);
    expect(plan.gold.lower!).toBeGreaterThanOrEqual(0.95);
  });
  it('keeps the global threshold for a class with too few gold items to prove itself alone', () => {
    // Classes a and b: 400 gold items each, right above 0.8. Class c: 45 items, all right and confident. A class
    // needs 59 right out of 59 for a 95% lower bound of 0.95, so c cannot show the target alone, and nothing
    // says it falls short either: it is auto-labelled above the global threshold, not dropped.
    const probs: number[] = [];
    const truth: number[] = [];
    const add = (predicted: number, conf: number, right: boolean) => {
      const row = [0, 0, 0].map((_, c) => (c === predicted ? conf : (1 - conf) / 2));
      probs.push(...row);
      truth.push(right ? predicted : (predicted + 1) % 3);
    };
    for (let i = 0; i < 400; i++) {
      const conf = 0.5 + (0.5 * i) / 400;
      add(0, conf, conf >= 0.8 || i % 2 === 0);
      add(1, conf, conf >= 0.8 || i % 2 === 0);
    }
    for (let i = 0; i < 45; i++) add(2, 0.9 + (0.09 * i) / 45, true);
    const plan = planAutoLabel(Float32Array.from(probs), truth, ['a', 'b', 'c'], { enabled: true, targetAccuracy: 0.95 });
    expect(plan.basis.c).toBe('global');
    expect(plan.thresholds.c).toBe(plan.thresholds.a);
    expect(plan.thresholds.c).toBeLessThan(0.9);
    expect(plan.gold.lower!).toBeGreaterThanOrEqual(0.95);
  });
  it('is off when disabled', () => {
    const { probs, truth } = synthetic(1000);
    expect(planAutoLabel(probs, truth, ['a', 'b'], { enabled: false, targetAccuracy: 0.95 }).thresholds).toEqual({});
  });
});
