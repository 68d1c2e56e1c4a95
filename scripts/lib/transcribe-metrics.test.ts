import { describe, expect, it } from 'vitest';
import { alignWords } from '../../models/speech/wer.ts';
import {
  alignTokens,
  bootstrapInterval,
  corpusWordErrorRate,
  errorCapture,
  rocAuc,
  type ScoredClip,
  wordConfidenceAuc,
  wordRecall,
} from './transcribe-metrics.ts';

const clip = (ref: string, hyp: string, conf: number[] = [], confidence = 0.5): ScoredClip => ({
  ref: ref ? ref.split(' ') : [],
  hyp: hyp ? hyp.split(' ') : [],
  hypConfidence: conf.length ? conf : hyp.split(' ').map(() => 0.5),
  confidence,
  charErrors: 0,
  refChars: ref.length,
});

describe('alignTokens', () => {
  it('flags recognised reference words and wrong hypothesis words', () => {
    const a = alignTokens('two crates of celeriac please'.split(' '), 'two crates of sell a rock please'.split(' '));
    expect(a.errors).toBe(3);
    expect(a.refCorrect).toEqual([true, true, true, false, true]);
    expect(a.hypWrong).toEqual([false, false, false, true, true, true, false]);
  });

  it('counts the same errors as the engine alignment on awkward cases', () => {
    const cases = [
      ['a b c d', 'a x c d e'],
      ['', 'a b'],
      ['a b', ''],
      ['the the the', 'the'],
      ['a b a b a', 'b a b a b'],
    ];
    for (const [r, h] of cases) {
      const mine = alignTokens(r ? r.split(' ') : [], h ? h.split(' ') : []);
      const theirs = alignWords(r, h);
      expect(mine.errors, `${r} / ${h}`).toBe(theirs.substitutions + theirs.deletions + theirs.insertions);
      expect(mine.hypWrong).toEqual(theirs.hypWordWrong);
    }
  });
});

describe('rocAuc', () => {
  it('is 1 for a perfect ranking, 0.5 for ties, and counts ties half', () => {
    expect(rocAuc([0.1, 0.2, 0.8, 0.9], [false, false, true, true])).toBe(1);
    expect(rocAuc([0.9, 0.8, 0.2, 0.1], [false, false, true, true])).toBe(0);
    expect(rocAuc([0.5, 0.5, 0.5, 0.5], [false, true, false, true])).toBe(0.5);
    expect(rocAuc([0.1, 0.5, 0.5, 0.9], [false, false, true, true])).toBe(0.875);
    expect(rocAuc([0.1, 0.2], [true, true])).toBeNaN();
  });
});

describe('scores over clips', () => {
  const clips = [
    clip('two crates of celeriac', 'two crates of sell a rock', [0.9, 0.9, 0.8, 0.1, 0.2, 0.1], 0.2),
    clip('ten boxes of kale', 'ten boxes of kale', [0.9, 0.9, 0.9, 0.9], 0.9),
    clip('refill lisinopril', 'refill lisinopril', [0.9, 0.6], 0.8),
    clip('stop the tatsoi', 'stop the tots', [0.95, 0.9, 0.3], 0.7),
    clip('five bags', 'five bags', [1, 1], 1),
  ];

  it('corpus WER, recall of chosen words, word AUC', () => {
    expect(corpusWordErrorRate(clips)).toBeCloseTo(4 / 15, 10);
    expect(wordRecall(clips, new Set(['celeriac', 'lisinopril', 'tatsoi']))).toEqual({ recall: 1 / 3, tokens: 3 });
    expect(wordConfidenceAuc(clips)).toBe(1); // every wrong word has a lower posterior than every right one
  });

  it('error capture: the least confident fifth against chance and the oracle', () => {
    const c = errorCapture(clips, 0.2);
    expect(c.clips).toBe(1);
    expect(c.lowestConfidence).toBeCloseTo(3 / 4, 10);
    expect(c.oracle).toBeCloseTo(3 / 4, 10);
    expect(c.random).toBeCloseTo(0.2, 10);
    const shuffled = clips.map((x, i) => ({ ...x, confidence: [0.9, 0.1, 0.5, 0.6, 0.7][i] }));
    expect(errorCapture(shuffled, 0.2).lowestConfidence).toBe(0);
  });

  it('bootstrap interval brackets the statistic and is seeded', () => {
    const [lo, hi] = bootstrapInterval(clips, corpusWordErrorRate, 500, 3);
    expect(lo).toBeLessThanOrEqual(4 / 15);
    expect(hi).toBeGreaterThanOrEqual(4 / 15);
    expect(hi).toBeGreaterThan(lo);
    expect(bootstrapInterval(clips, corpusWordErrorRate, 500, 3)).toEqual([lo, hi]);
    expect(bootstrapInterval([], corpusWordErrorRate)[0]).toBeNaN();
  });
});
