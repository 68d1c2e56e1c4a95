import { describe, expect, it } from 'vitest';
import { EXPLORE_BASE, EXPLORE_MAX, EXPLORE_STALLED, explorationCount, explorationShare, mixExploration } from './exploration.ts';

describe('queue exploration rule', () => {
  it('keeps the base share while gold accuracy rises, and grows it when retrains stop paying off', () => {
    expect(explorationShare([])).toBe(EXPLORE_BASE);
    expect(explorationShare([0.7])).toBe(EXPLORE_BASE);
    expect(explorationShare([0.72, 0.7, 0.6])).toBe(EXPLORE_BASE);
    expect(explorationShare([0.7, 0.7])).toBe(EXPLORE_STALLED);
    expect(explorationShare([0.69, 0.7, 0.6])).toBe(EXPLORE_STALLED);
    expect(explorationShare([0.69, 0.7, 0.71])).toBe(EXPLORE_MAX);
    // Versions without a gold measurement are skipped, not read as a stall.
    expect(explorationShare([null, 0.72, null, 0.7])).toBe(EXPLORE_BASE);
  });

  it('hands out the share on average, also for batches of one', () => {
    let total = 0;
    for (let s = 0; s < 2000; s++) total += explorationCount(1, 0.1, s);
    expect(total / 2000).toBeGreaterThan(0.08);
    expect(total / 2000).toBeLessThan(0.12);
    for (let s = 0; s < 50; s++) expect([1, 2]).toContain(explorationCount(10, 0.1, s));
    expect(explorationCount(3, 1, 0)).toBe(3);
  });

  it('puts the random picks inside the batch, after the best ranked ones', () => {
    expect(mixExploration(['a', 'b', 'c', 'd'], ['x'], 3)).toEqual(['a', 'b', 'x', 'c', 'd']);
    expect(mixExploration(['a', 'b', 'c'], ['b'], 2)).toEqual(['a', 'b', 'c']);
  });
});
