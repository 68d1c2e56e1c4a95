import { describe, expect, it } from 'vitest';
import { alignWords, cer, corpusWer, rocAuc, wordEdits } from './wer.ts';

describe('alignWords', () => {
  it('counts substitutions, deletions and insertions of a minimum alignment', () => {
    const a = alignWords('the cat sat on the mat', 'the bat sat the mat today');
    expect(a).toMatchObject({ substitutions: 1, deletions: 1, insertions: 1, refWords: 6 });
    expect(a.wer).toBeCloseTo(3 / 6, 12);
    expect(a.hypWordWrong).toEqual([false, true, false, false, false, true]);
  });

  it('is 0 for identical text and 1 when every word is substituted', () => {
    expect(alignWords('a b c', 'A, b. C!').wer).toBe(0);
    expect(alignWords('take the m one', 'take the m1').substitutions).toBe(1); // recogniser output never throws
    expect(alignWords(['a', 'b'], ['c', 'd'])).toMatchObject({ substitutions: 2, wer: 1, hypWordWrong: [true, true] });
  });

  it('handles empty sides: all deletions, or insertions over a zero-word reference', () => {
    expect(alignWords('one two', '')).toMatchObject({ deletions: 2, wer: 1, hypWordWrong: [] });
    expect(alignWords('', 'one two')).toMatchObject({ insertions: 2, refWords: 0, wer: 2 });
  });

  it('corpus WER pools errors over reference words', () => {
    expect(
      corpusWer([
        { ref: 'a b c d', hyp: 'a b c d' },
        { ref: 'e f', hyp: 'e' },
      ]),
    ).toBeCloseTo(1 / 6, 12);
  });
});

describe('cer and wordEdits', () => {
  it('cer counts character edits over the reference characters', () => {
    // celer(i→y)(+' ')ac(+t): three edits over eight reference characters
    expect(cer('celeriac', 'celery act')).toBeCloseTo(3 / 8, 12);
    expect(cer('abc', 'abc')).toBe(0);
  });

  it('wordEdits counts the words an annotator changed', () => {
    expect(wordEdits('please add twelve crates of celery act', 'please add twelve crates of celeriac')).toBe(2);
    expect(wordEdits('same text', 'Same text.')).toBe(0);
  });
});

describe('rocAuc', () => {
  it('is 1 for a perfect ranking, 0 for a reversed one, 0.5 with ties or one class', () => {
    expect(rocAuc([0.9, 0.8, 0.1, 0.2], [true, true, false, false])).toBe(1);
    expect(rocAuc([0.1, 0.2, 0.9, 0.8], [true, true, false, false])).toBe(0);
    expect(rocAuc([0.5, 0.5, 0.5], [true, false, false])).toBe(0.5);
    expect(rocAuc([0.3, 0.7], [true, true])).toBe(0.5);
  });

  it('counts pairs: one of four positive-negative pairs misordered → 0.75', () => {
    expect(rocAuc([0.9, 0.4, 0.5, 0.1], [true, true, false, false])).toBe(0.75);
  });
});
