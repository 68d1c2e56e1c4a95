import { describe, expect, it } from 'vitest';
import { createPrng } from '../../models/prng.ts';
import { majorityVoteExpectedAccuracy } from './consolidate.ts';
import { needsAnotherLabel } from './overlap.ts';
import { simulate, simulateAdaptive, uniformPool } from './simulate.ts';

describe('adaptive overlap rule', () => {
  it('asks two, then one more until a class leads by two, capped at five', () => {
    expect(needsAnotherLabel([0, 0])).toBe(true);
    expect(needsAnotherLabel([1, 0])).toBe(true);
    expect(needsAnotherLabel([2, 0])).toBe(false);
    expect(needsAnotherLabel([1, 1])).toBe(true);
    expect(needsAnotherLabel([2, 1])).toBe(true);
    expect(needsAnotherLabel([3, 2])).toBe(false);
    expect(needsAnotherLabel([2, 0], undefined, [0.6, 0.4])).toBe(true);
    expect(needsAnotherLabel([2, 0], undefined, [0.95, 0.05])).toBe(false);
  });

  it('beats a fixed 3 labels per item with fewer labels (2 classes, pool of 10 at 0.7-0.9, 10 seeds)', () => {
    let fixed = 0;
    let adaptive = 0;
    let perItem = 0;
    const seeds = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    for (const seed of seeds) {
      const pool = uniformPool(createPrng(seed * 7919 + 17), 10, 0.7, 0.9);
      const a = simulate({ seed, items: 2000, classes: 2, pool, labelsPerItem: 3 });
      const b = simulateAdaptive({ seed, items: 2000, classes: 2, pool, needsAnother: (c) => needsAnotherLabel(c) });
      fixed += majorityVoteExpectedAccuracy(a.votes, a.truth);
      adaptive += majorityVoteExpectedAccuracy(b.votes, b.truth);
      perItem += b.votes.item.length / 2000;
    }
    expect(adaptive / seeds.length).toBeGreaterThanOrEqual(0.92);
    expect(perItem / seeds.length).toBeLessThanOrEqual(2.8);
    expect(adaptive).toBeGreaterThan(fixed);
  });
});

describe('mixing quality items into a batch', () => {
  it('keeps a batch ranked by uncertainty ranked, and spreads items into an unranked one', async () => {
    const { mixIntoBatch } = await import('./service.ts');
    const ranked = [0.9, 0.7, 0.5].map((u, i) => ({ id: `o${i}`, uncertainty: u }));
    const mixed = mixIntoBatch(ranked, [{ id: 'g', uncertainty: 0.6 }]);
    expect(mixed.map((r) => r.id)).toEqual(['o0', 'o1', 'g', 'o2']);
    const random = [0.2, 0.9, 0.5].map((u, i) => ({ id: `o${i}`, uncertainty: u }));
    const spread = mixIntoBatch(random, [{ id: 'g', uncertainty: 0.1 }]);
    expect(spread.map((r) => r.id).filter((id) => id !== 'g')).toEqual(['o0', 'o1', 'o2']);
    expect(spread).toHaveLength(4);
  });
});
