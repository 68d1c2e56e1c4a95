import { describe, expect, it } from 'vitest';
import { createTextFeaturizer } from './text-features.ts';
import { columnStats, fitLexiconProjection, LEXICON_DIM, LEXICON_FEATURES, lexiconFeatures, projectSparse, standardize } from './text-lexicon.ts';

const at = (name: (typeof LEXICON_FEATURES)[number]): number => LEXICON_FEATURES.indexOf(name);

describe('lexicon features', () => {
  it('gives LEXICON_DIM finite values, deterministically, also for empty text', () => {
    for (const text of ['', '!!!', 'Great coffee, GREAT price!<br />Would buy again.', 'とても美味しい']) {
      const f = lexiconFeatures(text);
      expect(f.length).toBe(LEXICON_DIM);
      expect(f.every(Number.isFinite)).toBe(true);
      expect(lexiconFeatures(text)).toEqual(f);
    }
    expect(LEXICON_FEATURES.length).toBe(LEXICON_DIM);
  });

  it('orders clear praise above a mixed review above a complaint', () => {
    const praise = lexiconFeatures('Absolutely love it. The best coffee ever, perfect every morning!');
    const mixed = lexiconFeatures('Good coffee, but a bit pricey. Overall ok.');
    const complaint = lexiconFeatures('Stale and bitter. Terrible, I want a refund.');
    for (const name of ['compound', 'valence/token', 'min sentence compound'] as const) {
      expect(praise[at(name)]).toBeGreaterThan(mixed[at(name)]);
      expect(mixed[at(name)]).toBeGreaterThan(complaint[at(name)]);
    }
    expect(mixed[at('log1p(hedges)')]).toBeGreaterThan(praise[at('log1p(hedges)')]);
    expect(praise[at('log1p(strong positive words)')]).toBeGreaterThan(mixed[at('log1p(strong positive words)')]);
  });

  it('treats HTML line breaks as sentence ends', () => {
    const f = lexiconFeatures('Love it<br />Hate the box');
    expect(f[at('max sentence compound')]).toBeGreaterThan(0);
    expect(f[at('min sentence compound')]).toBeLessThan(0);
  });
});

describe('lexicon projection', () => {
  it('averages the targets of the texts each bucket occurs in, shrunk toward 0', () => {
    const fz = createTextFeaturizer(256);
    const texts = ['yummy treat', 'yummy snack', 'soggy snack'];
    const grams = texts.map((t) => fz.featurize(t));
    const targets = [Float32Array.of(1, 0), Float32Array.of(1, 0), Float32Array.of(-1, 2)];
    const p = fitLexiconProjection(grams, targets, 256, 2, 0);
    // With no shrinkage a bucket seen in one text gets that text's targets divided by its feature value.
    const soggy = grams[2];
    const own = Array.from(soggy.indices).filter((b) => !grams[0].indices.includes(b) && !grams[1].indices.includes(b));
    expect(own.length).toBeGreaterThan(0);
    const j = Array.from(soggy.indices).indexOf(own[0]);
    expect(p[own[0] * 2]).toBeCloseTo(-1 / soggy.values[j], 4);
    expect(p[own[0] * 2 + 1]).toBeCloseTo(2 / soggy.values[j], 4);
    // A new text made of "yummy" n-grams projects like the yummy texts.
    const projected = projectSparse(fz.featurize('yummy'), fitLexiconProjection(grams, targets, 256, 2, 0.1), 2);
    expect(projected[0]).toBeGreaterThan(0);
    expect(projected[1]).toBeLessThan(0.5);
    expect(projectSparse(fz.featurize(''), p, 2)).toEqual(new Float32Array(2));
  });

  it('standardises columns, leaving constant ones unscaled', () => {
    const rows = [Float32Array.of(1, 5), Float32Array.of(3, 5)];
    const { mean, invStd } = columnStats(rows, 2);
    expect(Array.from(mean)).toEqual([2, 5]);
    expect(Array.from(invStd)).toEqual([1, 1]);
    expect(Array.from(standardize(Float32Array.of(3, 6), mean, invStd))).toEqual([1, 1]);
    expect(columnStats([], 2).invStd).toEqual(Float32Array.of(1, 1));
  });
});
