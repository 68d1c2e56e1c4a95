import { describe, expect, it } from 'vitest';
import { errorAfterVotes, newItemGain, oneCoinPosterior, relabelGain } from './gain.ts';

const model = { accuracy: 0.8, classes: 2, cap: 5 };
const gainOf = (counts: number[]) =>
  relabelGain(
    oneCoinPosterior(counts, model.accuracy),
    counts.reduce((s, c) => s + c, 0),
    model,
  );

describe('expected gain of a label', () => {
  it('one more vote on a 1-1 split between annotators of accuracy 0.8 takes its error from 0.5 to 0.2', () => {
    expect(errorAfterVotes(0.5, 1, 0.8, 2)).toBeCloseTo(0.2, 12);
    expect(errorAfterVotes(2 / 3, 1, 0.8, 2)).toBeCloseTo(0.2, 12);
    // Expected error never rises with more evidence, and the binary case agrees with the K-class one at K = 2.
    for (const p of [0.5, 0.6, 0.8, 0.95]) for (const l of [1, 2, 3]) expect(errorAfterVotes(p, l, 0.8, 2)).toBeLessThanOrEqual(1 - p + 1e-12);
    // With 4 classes a vote for a third class moves neither hypothesis: still a probability distribution.
    expect(errorAfterVotes(0.5, 2, 0.7, 4)).toBeLessThan(0.5);
  });

  it('a split item is worth another label, a clear one is not, and a first vote looks two votes ahead', () => {
    expect(oneCoinPosterior([1, 1], 0.8)).toBeCloseTo(0.5, 12);
    expect(oneCoinPosterior([2, 0], 0.8)).toBeCloseTo(16 / 17, 12);
    // 1-1: 0.3 (0.5 -> 0.2) with 3 of the 4 extra labels of the cap left.
    expect(gainOf([1, 1])).toBeCloseTo(0.3 * 0.75, 12);
    // 1-0: one vote only ties it (gain 0), two can overturn it: (0.2 - 0.104) / 2 per label.
    expect(gainOf([1, 0])).toBeCloseTo(0.048, 12);
    // A lead of 2 cannot be overturned by two votes.
    expect(gainOf([2, 0])).toBeCloseTo(0, 12);
    expect(gainOf([3, 1])).toBeCloseTo(0, 12);
  });

  it('decreases with every label at the same agreement and is 0 at the cap', () => {
    const splits = [gainOf([1, 1]), gainOf([2, 2])];
    expect(splits[1]).toBeLessThan(splits[0]);
    expect(gainOf([2, 1])).toBeLessThan(gainOf([1, 0]));
    const p = 0.5;
    const byCount = [1, 2, 3, 4, 5, 6].map((n) => relabelGain(p, n, model));
    for (let i = 1; i < byCount.length; i++) expect(byCount[i]).toBeLessThan(byCount[i - 1] + (byCount[i - 1] === 0 ? 1e-12 : 0));
    expect(byCount[4]).toBe(0);
    expect(byCount[5]).toBe(0);
    expect(relabelGain(0.5, 0, model)).toBe(0);
    // No posterior beats a tie, so the tie's gain at n is a ceiling that falls with every label: no item can
    // keep winning the queue, whatever its votes.
    for (const K of [2, 4])
      for (let n = 1; n < 5; n++)
        for (let p = 1 / K; p <= 1; p += 0.01) {
          const m = { accuracy: 0.75, classes: K, cap: 5 };
          expect(relabelGain(p, n, m)).toBeLessThanOrEqual(relabelGain(0.5, n, m) + 1e-12);
          expect(relabelGain(0.5, n + 1, m)).toBeLessThan(relabelGain(0.5, n, m));
        }
  });

  it('puts new items and relabels on one scale: a split beats a confident new item, an uncertain new item beats a settled one', () => {
    expect(gainOf([1, 1])).toBeGreaterThan(newItemGain(0.95, 2));
    expect(gainOf([1, 1])).toBeGreaterThan(newItemGain(0.8, 2));
    expect(newItemGain(0.55, 2)).toBeGreaterThan(gainOf([2, 0]));
    expect(newItemGain(0.55, 2)).toBeGreaterThan(gainOf([1, 1]));
    // Before any model, the model's label is a coin flip of K classes; the annotator's is right 80 % of the time.
    expect(newItemGain(null, 2)).toBeCloseTo(0.3, 12);
    expect(newItemGain(null, 4)).toBeCloseTo(0.55, 12);
    // A model surer than the annotators: a new label makes the delivered label worse (it only teaches the model).
    expect(newItemGain(0.95, 2, 0.8)).toBeCloseTo(-0.15, 12);
    expect(newItemGain(0.7, 2, 0.9)).toBeCloseTo(0.2, 12);
    expect(newItemGain(0.97, 2, 0.9)).toBeCloseTo(-0.07, 12);
  });
});

describe('splitting queue slots between new items and another label', () => {
  it('takes the best gains of both lists, ties to the new item, held items first', async () => {
    const { relabelsToServe } = await import('./gain.ts');
    expect(relabelsToServe([0.225, 0.1], [0.45, 0.05, 0.04], 3)).toBe(2);
    expect(relabelsToServe([0.225, 0.1], [0.45, 0.3, 0.25], 3)).toBe(0);
    expect(relabelsToServe([0.225, 0.1], [0.45, 0.3, 0.2], 3)).toBe(1);
    expect(relabelsToServe([0.2], [0.2], 1)).toBe(0);
    // Nothing new left: every relabel fits.
    expect(relabelsToServe([0.1, 0.05], [], 5)).toBe(2);
    expect(relabelsToServe([0.1, 0.05, 0.01], [0.5], 2)).toBe(1);
    // A held relabel keeps its slot whatever the new items are worth.
    expect(relabelsToServe([0.01, 0.01], [0.5, 0.5], 2, 1)).toBe(1);
  });
});

describe('a fixed budget of labels (simulated, 2 classes, pool of 10 at 0.7-0.9)', () => {
  it('expected gain delivers more right labels than the adaptive half-batch rule', async () => {
    const { createPrng } = await import('../../models/prng.ts');
    const { needsAnotherLabel } = await import('./overlap.ts');
    const { simulateBudget, uniformPool } = await import('./simulate.ts');
    const { MIN_RELABEL_GAIN } = await import('./gain.ts');
    let half = 0;
    let gain = 0;
    for (const seed of [1, 2, 3]) {
      const common = {
        seed,
        items: 2000,
        pool: uniformPool(createPrng(seed * 7919 + 17), 10, 0.7, 0.9),
        budget: 3000,
        batch: 10,
        cap: 5,
        newGain: (c: number) => newItemGain(c, 2),
        relabelGain: (c: readonly number[], n: number) => {
          const g = relabelGain(oneCoinPosterior(c, 0.8), n, model);
          return g >= MIN_RELABEL_GAIN ? g : 0;
        },
        needsAnother: (c: readonly number[], shares: readonly number[]) => needsAnotherLabel(c, undefined, shares),
      };
      const a = simulateBudget({ ...common, policy: 'adaptive-half' });
      const b = simulateBudget({ ...common, policy: 'expected-gain' });
      expect(a.labels).toBe(3000);
      expect(b.labels).toBe(3000);
      half += a.finalAccuracy / 3;
      gain += b.finalAccuracy / 3;
    }
    expect(gain).toBeGreaterThan(half + 0.02);
  });
});

describe('what the consolidation stores for the queue', () => {
  it('required labels rank above any expected gain; adaptive ones carry their gain; none at the cap', async () => {
    const { overlapDemand } = await import('./service.ts');
    const { REQUIRED_GAIN } = await import('./gain.ts');
    const s = { goldCheckShare: 0, labelsPerItem: 2, adaptiveOverlap: true, overlapShare: 0, maxLabelsPerItem: 3, showAnnotatorNames: false };
    const item = (counts: number[], trusted = counts[0] + counts[1]) => ({
      rand: 0.5,
      counts,
      votes: counts[0] + counts[1],
      trustedVotes: trusted,
      posterior: null,
    });
    expect(overlapDemand(s, item([1, 0]), 0.8)).toEqual({ needsMore: true, gain: REQUIRED_GAIN });
    // A paused key's vote does not count toward the required two.
    expect(overlapDemand(s, item([2, 0], 1), 0.8)).toEqual({ needsMore: true, gain: REQUIRED_GAIN });
    expect(overlapDemand(s, item([1, 1]), 0.8).gain).toBeCloseTo(0.3 / 2, 12);
    expect(overlapDemand(s, item([2, 0]), 0.8)).toEqual({ needsMore: false, gain: 0 });
    expect(overlapDemand(s, item([2, 1]), 0.8)).toEqual({ needsMore: false, gain: 0 });
    expect(overlapDemand({ ...s, adaptiveOverlap: false }, item([1, 1]), 0.8)).toEqual({ needsMore: false, gain: 0 });
    // An item in the overlap share needs 2 labels even with labelsPerItem 1.
    expect(overlapDemand({ ...s, labelsPerItem: 1, overlapShare: 0.6 }, item([1, 0]), 0.8)).toEqual({ needsMore: true, gain: REQUIRED_GAIN });
    expect(overlapDemand({ ...s, labelsPerItem: 1 }, item([1, 0]), 0.8).gain).toBeCloseTo(0.048, 12);
  });
});
