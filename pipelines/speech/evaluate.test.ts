import { describe, expect, it } from 'vitest';
import { MIN_GOLD_FOR_AUTOACCEPT, planAutoAccept, scoreTranscriptions } from './evaluate.ts';

describe('scoreTranscriptions', () => {
  it('is the corpus WER (errors over reference words, not a mean of clips) with an interval around it', () => {
    const s = scoreTranscriptions([
      { reference: 'a b c d e f g h i j', text: 'a b c d e f g h i j', confidence: 0.9 },
      { reference: 'k l', text: 'x', confidence: 0.2 },
    ]);
    // 2 errors over 12 words; the mean of the clips' rates would be 0.5.
    expect(s.wer).toBeCloseTo(2 / 12, 4);
    expect(s.n).toBe(2);
    expect(s.refWords).toBe(12);
    expect(s.interval![0]).toBeLessThanOrEqual(s.wer!);
    expect(s.interval![1]).toBeGreaterThanOrEqual(s.wer!);
    expect(s.cer).toBeGreaterThan(0);
  });

  it('has no rates without gold clips', () => {
    expect(scoreTranscriptions([])).toEqual({ n: 0, refWords: 0, wer: null, cer: null, interval: null });
  });
});

describe('planAutoAccept', () => {
  // 60 confident clips that are right, 40 unsure ones that are mostly wrong.
  const clips = [
    ...Array.from({ length: 60 }, (_, i) => ({ reference: 'send two crates of kale', text: 'send two crates of kale', confidence: 0.9 + i / 1000 })),
    ...Array.from({ length: 40 }, (_, i) => ({ reference: 'send two crates of kale', text: 'spend to great of kale', confidence: 0.3 + i / 1000 })),
  ];

  it('accepts down to the lowest confidence whose gold WER bound stays under the target', () => {
    const p = planAutoAccept(clips, 0.05, 0.95);
    // All 60 right clips, and the few most confident wrong ones that the bound can still afford (each costs 3 of 5 words).
    expect(p.n).toBeGreaterThanOrEqual(60);
    expect(p.n).toBeLessThan(66);
    expect(p.threshold).toBeLessThanOrEqual(0.9);
    expect(p.wer).toBeLessThan(p.upper!);
    expect(p.upper).toBeLessThanOrEqual(0.05);
    // A stricter target keeps only the clean clips.
    const strict = planAutoAccept(clips, 0.001, 0.95);
    expect(strict.threshold).toBeCloseTo(0.9, 6);
    expect(strict.wer).toBe(0);
  });

  it('accepts nothing when no threshold is safe, or with too few gold clips', () => {
    expect(planAutoAccept(clips.slice(60), 0.05, 0.95).threshold).toBeNull();
    expect(planAutoAccept(clips.slice(0, MIN_GOLD_FOR_AUTOACCEPT - 1), 0.05, 0.95).threshold).toBeNull();
  });

  it('a looser target admits less confident clips', () => {
    const strict = planAutoAccept(clips, 0.05, 0.95).threshold!;
    const loose = planAutoAccept(clips, 0.5, 0.95).threshold!;
    expect(loose).toBeLessThan(strict);
  });
});
