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

import { baldScores, diverseBatch } from './strategies.ts';

describe('BALD', () => {
  it('is zero when every pass agrees, high when confident passes disagree', () => {
    // 2 passes, 2 items, 2 classes. Item 0: both passes say [0.5, 0.5] (aleatoric, BALD 0).
    // Item 1: pass 1 says [1, 0], pass 2 says [0, 1] (epistemic, BALD 1).
    const s = new Float32Array([0.5, 0.5, 1, 0, 0.5, 0.5, 0, 1]);
    const { mean, scores } = baldScores(s, 2, 2, 2);
    expect(Array.from(mean)).toEqual([0.5, 0.5, 0.5, 0.5]);
    expect(scores[0]).toBeCloseTo(0);
    expect(scores[1]).toBeCloseTo(1);
  });
});

describe('diverse batch (uncertainty-weighted k-center greedy)', () => {
  it('does not pick near-duplicates', () => {
    // Three tight clusters in 2-D; cluster A is slightly more uncertain and holds most points.
    const pts = [
      [0, 0],
      [0.01, 0],
      [0, 0.01],
      [0.01, 0.01],
      [5, 5],
      [5.01, 5],
      [-5, 5],
    ];
    const unc = [0.9, 0.89, 0.88, 0.87, 0.6, 0.59, 0.5];
    const picked = diverseBatch(Float32Array.from(pts.flat()), 2, unc, 3);
    expect(picked[0]).toBe(0);
    const clusters = picked.map((i) => (i < 4 ? 'A' : i < 6 ? 'B' : 'C'));
    expect(new Set(clusters).size).toBe(3);
  });
  it('returns at most the candidates it has', () => {
    expect(diverseBatch(new Float32Array([0, 1]), 1, [0.5, 0.4], 5)).toHaveLength(2);
    expect(diverseBatch(new Float32Array(0), 1, [], 5)).toEqual([]);
  });
});

import { kmeansppSample } from '../models/clustering.ts';
import { rawFeatures } from './cold-start.ts';

describe('cold-start sample (k-means++ on model-free features)', () => {
  it('covers every cluster before repeating one', () => {
    // 4 tight clusters of 50 points each in 2-D.
    const centres = [
      [0, 0],
      [10, 0],
      [0, 10],
      [10, 10],
    ];
    const pts: number[] = [];
    let s = 1;
    const rnd = () => (s = (s * 16807) % 2147483647) / 2147483647;
    for (let i = 0; i < 200; i++) pts.push(centres[i % 4][0] + rnd(), centres[i % 4][1] + rnd());
    const picked = kmeansppSample(Float32Array.from(pts), 2, 4, rnd);
    expect(new Set(picked.map((i) => i % 4)).size).toBe(4);
  });
  it('pools images and normalises rows', () => {
    const px = new Uint8Array(28 * 28).fill(200);
    const f = rawFeatures([{ input: px, data: {} }], 'image', { width: 28, height: 28, channels: 1 });
    expect(f.dim).toBe(7 * 7);
    const norm = Math.sqrt(f.data.reduce((a, v) => a + v * v, 0));
    expect(norm).toBeCloseTo(1, 5);
  });
  it('hashes text into a bag of words', () => {
    const f = rawFeatures(
      [
        { input: null, data: { text: 'great great coffee' } },
        { input: null, data: { text: 'awful tea' } },
      ],
      'text',
    );
    expect(f.data.length).toBe(2 * f.dim);
    let dot = 0;
    for (let j = 0; j < f.dim; j++) dot += f.data[j] * f.data[f.dim + j];
    expect(dot).toBeCloseTo(0, 5);
  });
});

import { typicalCoverage } from '../models/clustering.ts';

describe('cold-start coverage (typical items of uncovered clusters)', () => {
  // 4 tight clusters in 2-D, sizes 80/60/40/20, with one far outlier.
  const centres = [
    [0, 0],
    [10, 0],
    [0, 10],
    [10, 10],
  ];
  const sizes = [80, 60, 40, 20];
  const pts: number[] = [];
  const cluster: number[] = [];
  let s = 7;
  const rnd = () => (s = (s * 16807) % 2147483647) / 2147483647;
  sizes.forEach((n, c) => {
    for (let i = 0; i < n; i++) {
      pts.push(centres[c][0] + rnd() - 0.5, centres[c][1] + rnd() - 0.5);
      cluster.push(c);
    }
  });
  pts.push(100, 100);
  cluster.push(-1);
  const data = Float32Array.from(pts);

  it('spreads over the clusters and leaves the outlier alone', () => {
    const picked = typicalCoverage(data, new Float32Array(0), 2, 4, rnd);
    // k-means with 4 centres may give the outlier its own cluster; then one of the 4 real clusters is split.
    const got = picked.map((i) => cluster[i]);
    expect(got).not.toContain(-1);
    expect(new Set(got).size).toBeGreaterThanOrEqual(3);
  });
  it('goes to the clusters the labels do not cover yet', () => {
    // Labels already sit in clusters 0 and 1: the next two picks come from 2 and 3.
    const labelled = Float32Array.from([0, 0, 0.1, 0.1, 10, 0, 10.1, 0]);
    const picked = typicalCoverage(data.subarray(0, 200 * 2), labelled, 2, 2, rnd);
    expect(picked.map((i) => cluster[i]).sort()).toEqual([2, 3]);
  });
  it('returns every candidate when asked for as many or more', () => {
    expect(typicalCoverage(Float32Array.from([1, 2, 3, 4]), new Float32Array(0), 2, 5, rnd)).toEqual([0, 1]);
    expect(typicalCoverage(new Float32Array(0), new Float32Array(0), 2, 5, rnd)).toEqual([]);
  });
});
