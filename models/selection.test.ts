import { describe, expect, it } from 'vitest';
import type { ModelInput } from '../core/types.ts';
import type { ModelSpec } from './classifier.ts';
import { crossValidate, paired, type Candidate, type FoldRunner } from './selection.ts';

const base: ModelSpec = { modality: 'vector', labels: ['a', 'b'], dim: 1 };
const A: Candidate = { name: 'mlp', arch: 'mlp-v1' };
const B: Candidate = { name: 'linear', arch: 'linear-v1', params: { C: 1 } };

/** A runner whose candidates get a chosen share of each fold right: `right(arch, fold)` in [0, 1]. */
function runner(right: (arch: string, fold: number) => number): FoldRunner {
  return async (spec, _train, test, options) => {
    const fold = ((options.seed ?? 0) - 7) / 101;
    const share = right(spec.arch ?? '', fold);
    const out = new Float32Array(test.length * 2);
    test.forEach((x, i) => {
      const y = (x as Float32Array)[0];
      const correct = i < Math.round(share * test.length);
      out[i * 2 + (correct ? y : 1 - y)] = 1;
    });
    return out;
  };
}

const labels = Int32Array.from({ length: 100 }, (_, i) => i % 2);
const inputs: ModelInput[] = Array.from(labels, (y) => Float32Array.of(y));

describe('model selection keeps the incumbent unless it is beaten by more than one standard error', () => {
  it('keeps the previous model when the winner is ahead by noise', async () => {
    // B is ahead on average (0.71 vs 0.70) but behind on two of five folds.
    const noisy = runner((arch, f) => (arch === 'linear-v1' ? [0.8, 0.6, 0.8, 0.6, 0.75][f] : 0.7));
    const sel = await crossValidate({ base, candidates: [A, B], inputs, labels, maxFolds: 5, maxLabels: 1000, seed: 7, run: noisy, incumbent: 'mlp' });
    expect(sel.scores.find((s) => s.name === 'linear')!.mean).toBeGreaterThan(sel.scores.find((s) => s.name === 'mlp')!.mean);
    expect(sel.chosen).toBe('mlp');
    expect(sel.reason).toMatch(/previous model, mlp .* is kept/);
    // Without an incumbent the higher mean wins.
    const fresh = await crossValidate({ base, candidates: [A, B], inputs, labels, maxFolds: 5, maxLabels: 1000, seed: 7, run: noisy });
    expect(fresh.chosen).toBe('linear (C=1)');
  });

  it('switches when the winner is ahead on every fold', async () => {
    const clear = runner((arch) => (arch === 'linear-v1' ? 0.9 : 0.7));
    const sel = await crossValidate({ base, candidates: [A, B], inputs, labels, maxFolds: 5, maxLabels: 1000, seed: 7, run: clear, incumbent: 'mlp' });
    expect(sel.chosen).toBe('linear (C=1)');
    expect(sel.reason).not.toMatch(/is kept/);
  });

  it('pairs the folds', () => {
    expect(paired([0.8, 0.6], [0.7, 0.7], 2).mean).toBeCloseTo(0);
    expect(paired([0.8, 0.8, 0.8], [0.7, 0.7, 0.7], 3)).toEqual({ mean: expect.closeTo(0.1, 9), se: 0 });
  });
});
