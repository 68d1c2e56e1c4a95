import { describe, expect, it } from 'vitest';
import { createPrng } from '../../models/prng.ts';
import { annotatorStatus, DEFAULT_PAUSE_RULE, goldAccuracy, shouldPause, wilsonInterval } from './gold.ts';

describe('Wilson interval', () => {
  it('matches the reference values (workforce-quality.md §3)', () => {
    const round = ([lo, hi]: [number, number]) => [Math.round(lo * 100) / 100, Math.round(hi * 100) / 100];
    expect(round(wilsonInterval(16, 20))).toEqual([0.58, 0.92]);
    expect(round(wilsonInterval(40, 50))).toEqual([0.67, 0.89]);
    expect(round(wilsonInterval(80, 100))).toEqual([0.71, 0.87]);
    expect(round(wilsonInterval(160, 200))).toEqual([0.74, 0.85]);
    expect(round(wilsonInterval(45, 50))).toEqual([0.79, 0.96]);
  });

  it('is [0, 1] without data and stays inside [0, 1] at the extremes', () => {
    expect(wilsonInterval(0, 0)).toEqual([0, 1]);
    const [lo, hi] = wilsonInterval(10, 10);
    expect(hi).toBe(1);
    expect(lo).toBeGreaterThan(0.6);
    expect(goldAccuracy(0, 0).accuracy).toBeNull();
  });
});

describe('pause rule', () => {
  const run = (accuracy: number, seed: number, checks: number) => {
    const rng = createPrng(seed);
    return Array.from({ length: checks }, () => rng.next() < accuracy);
  };

  it('pauses a random clicker on 4 classes within 30 gold checks (40 seeds)', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const { status, pausedAtCheck } = annotatorStatus(run(0.25, seed, 30));
      expect(status).toBe('paused');
      expect(pausedAtCheck).toBeLessThanOrEqual(30);
    }
  });

  it('does not pause an annotator of accuracy 0.9 (40 seeds x 200 checks)', () => {
    for (let seed = 1; seed <= 40; seed++) expect(annotatorStatus(run(0.9, seed, 200)).status).not.toBe('paused');
  });

  it('never pauses before minChecks, and pauses at 5 of 15 right', () => {
    expect(shouldPause(0, DEFAULT_PAUSE_RULE.minChecks - 1)).toBe(false);
    expect(shouldPause(5, 15)).toBe(true);
    expect(shouldPause(6, 15)).toBe(false);
  });

  it('is sticky: a later good streak does not unpause; onboarding, watch and ok otherwise', () => {
    const bad = Array(15).fill(false);
    expect(annotatorStatus([...bad, ...Array(200).fill(true)]).status).toBe('paused');
    expect(annotatorStatus(Array(10).fill(true)).status).toBe('onboarding');
    // Errors spread evenly: 31 of 50 right (95 % upper bound 0.74 < 0.8) is watched, 45 of 50 is ok.
    const at = (right: number, n: number) => Array.from({ length: n }, (_, i) => Math.floor(((i + 1) * right) / n) > Math.floor((i * right) / n));
    expect(annotatorStatus(at(31, 50)).status).toBe('watch');
    expect(annotatorStatus(at(45, 50)).status).toBe('ok');
  });
});

describe('status after an engineer cleared a pause', () => {
  it('is ok or watch on the answers since the clearing, with no second onboarding, and pauses again on the same rule', () => {
    expect(annotatorStatus([], DEFAULT_PAUSE_RULE, { cleared: true }).status).toBe('ok');
    expect(annotatorStatus([true, true, true], DEFAULT_PAUSE_RULE, { cleared: true }).status).toBe('ok');
    expect(annotatorStatus([true, true, true]).status).toBe('onboarding');
    // 5 of 10 right: the 95 % interval lies below 0.8 (watch), too few checks to pause.
    expect(annotatorStatus([true, false, true, false, true, false, true, false, true, false], DEFAULT_PAUSE_RULE, { cleared: true }).status).toBe('watch');
    expect(annotatorStatus(new Array<boolean>(15).fill(false), DEFAULT_PAUSE_RULE, { cleared: true })).toEqual({ status: 'paused', pausedAtCheck: 15 });
  });
});
