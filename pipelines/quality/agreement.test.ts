import { describe, expect, it } from 'vitest';
import { agreement, cohenKappa, fleissKappa, kappaFrom, krippendorffAlphaNominal } from './agreement.ts';
import { votesFrom } from './votes.ts';

describe("Cohen's kappa", () => {
  it('is 0.40 for p_o = 0.70, p_e = 0.50 (workforce-quality.md §8)', () => {
    expect(kappaFrom(0.7, 0.5)).toBeCloseTo(0.4, 12);
  });

  it('is 0.40 on 20 paired labels with p_o = 0.70 and balanced marginals (p_e = 0.50)', () => {
    // a: ten 0s then ten 1s; b disagrees on 3 of the 0s and 3 of the 1s: 14 of 20 agree, both marginals 10/10.
    const a = [...Array(10).fill(0), ...Array(10).fill(1)];
    const b = [1, 1, 1, ...Array(7).fill(0), 0, 0, 0, ...Array(7).fill(1)];
    expect(cohenKappa(a, b, 2)).toBeCloseTo(0.4, 12);
  });

  it('is 1 for identical raters and null when undefined', () => {
    expect(cohenKappa([0, 1, 2], [0, 1, 2], 3)).toBe(1);
    expect(cohenKappa([1, 1], [1, 1], 2)).toBeNull();
    expect(cohenKappa([], [], 2)).toBeNull();
  });
});

describe("Fleiss' kappa", () => {
  it('is 0.210 on the worked example (10 subjects, 14 raters, 5 categories)', () => {
    const table = [
      [0, 0, 0, 0, 14],
      [0, 2, 6, 4, 2],
      [0, 0, 3, 5, 6],
      [0, 3, 9, 2, 0],
      [2, 2, 8, 1, 1],
      [7, 7, 0, 0, 0],
      [3, 2, 6, 3, 0],
      [2, 5, 3, 2, 2],
      [6, 5, 2, 1, 0],
      [0, 2, 2, 3, 7],
    ];
    expect(fleissKappa(table)).toBeCloseTo(0.21, 3);
  });

  it('refuses tables with unequal rating counts', () => {
    expect(
      fleissKappa([
        [1, 1],
        [2, 1],
      ]),
    ).toBeNull();
  });
});

describe("Krippendorff's alpha (nominal)", () => {
  it('is 0.743 on Krippendorff (2011), 4 observers x 12 units with missing values', () => {
    // Rows = observers A-D, columns = units 1-12, null = missing.
    const data: (number | null)[][] = [
      [1, 2, 3, 3, 2, 1, 4, 1, 2, null, null, null],
      [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, null, 3],
      [null, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, null],
      [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, null],
    ];
    const units = data[0].map((_, u) => data.map((row) => row[u]).filter((x): x is number => x !== null));
    expect(krippendorffAlphaNominal(units)).toBeCloseTo(0.743, 3);
  });

  it('is 1 for perfect agreement over two values, null without pairable or varied values', () => {
    expect(
      krippendorffAlphaNominal([
        [0, 0],
        [1, 1, 1],
      ]),
    ).toBe(1);
    expect(krippendorffAlphaNominal([[0], [1]])).toBeNull();
    expect(
      krippendorffAlphaNominal([
        [0, 0],
        [0, 0],
      ]),
    ).toBeNull();
  });
});

describe('agreement summary', () => {
  it('reports alpha, pairwise agreement and the per-pair table; single-label items do not count', () => {
    // item 0: a0=0, a1=0, a2=1 ; item 1: a0=1, a1=1 ; item 2: a2=0 only.
    const v = votesFrom(2, 3, 3, [0, 0, 0, 1, 1, 2], [0, 1, 2, 0, 1, 2], [0, 0, 1, 1, 1, 0]);
    const s = agreement(v);
    expect(s.overlappingItems).toBe(2);
    // pairs: item0 (0,0)=agree, (0,1) no, (0,1) no; item1 agree -> 2 of 4
    expect(s.pairwise).toBe(0.5);
    const p01 = s.pairs.find((p) => p.a === 0 && p.b === 1);
    expect(p01).toMatchObject({ shared: 2, agreement: 1 });
    const p02 = s.pairs.find((p) => p.a === 0 && p.b === 2);
    expect(p02).toMatchObject({ shared: 1, agreement: 0 });
    expect(s.alpha).toBeCloseTo(
      krippendorffAlphaNominal([
        [0, 0, 1],
        [1, 1],
      ]) ?? Number.NaN,
      12,
    );
  });

  it('has no pairs and null figures when nobody overlaps', () => {
    const v = votesFrom(2, 2, 2, [0, 1], [0, 1], [0, 1]);
    expect(agreement(v)).toEqual({ alpha: null, pairwise: null, overlappingItems: 0, pairs: [] });
  });
});
