/**
 * How good a transcription model is on the gold clips: corpus word and character error rates with a bootstrap
 * interval over clips, and the auto-accept threshold (the lowest confidence at which the gold clips at least
 * that confident keep their word error rate under the target, as an upper bound).
 */
import { createPrng } from '../../models/prng.ts';
import { cleanTranscript } from '../../models/speech/text.ts';
import { alignWords } from '../../models/speech/wer.ts';

/** Bootstrap resamples behind each interval. */
export const BOOTSTRAP_RESAMPLES = 400;
/** Fewest gold clips above an auto-accept threshold (like auto-labelling's MIN_GOLD_FOR_AUTOLABEL). */
export const MIN_GOLD_FOR_AUTOACCEPT = 30;

export interface ScoredClip {
  reference: string;
  text: string;
  confidence: number;
}

/** Per clip: word errors and reference words, character errors and reference characters. */
interface ClipErrors {
  wordErrors: number;
  refWords: number;
  charErrors: number;
  refChars: number;
  confidence: number;
}

export interface TranscriptionScore {
  n: number;
  refWords: number;
  /** Corpus word error rate: all word errors over all reference words. Null without gold clips. */
  wer: number | null;
  cer: number | null;
  /** 95% bootstrap interval of `wer` over clips. */
  interval: [number, number] | null;
}

function errorsOf(c: ScoredClip): ClipErrors {
  const w = alignWords(c.reference, c.text);
  // Recogniser output may hold dictionary tokens like "m1": cleaned, never refused.
  const r = [...cleanTranscript(c.reference)];
  const ch = alignWords(r, [...cleanTranscript(c.text)]);
  return {
    wordErrors: w.substitutions + w.deletions + w.insertions,
    refWords: w.refWords,
    charErrors: ch.substitutions + ch.deletions + ch.insertions,
    refChars: r.length,
    confidence: c.confidence,
  };
}

const round = (x: number) => Math.round(x * 1e4) / 1e4;

/** Sorted bootstrap ratios sum(errors)/sum(words) of `clips` resampled with replacement. */
function bootstrapWer(clips: readonly ClipErrors[], seed: number, resamples = BOOTSTRAP_RESAMPLES): Float64Array {
  const rng = createPrng(seed);
  const out = new Float64Array(resamples);
  for (let b = 0; b < resamples; b++) {
    let e = 0;
    let w = 0;
    for (let i = 0; i < clips.length; i++) {
      const c = clips[rng.int(clips.length)];
      e += c.wordErrors;
      w += c.refWords;
    }
    out[b] = e / Math.max(w, 1);
  }
  return out.sort();
}

function quantile(sorted: Float64Array, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.round(q * (sorted.length - 1))))];
}

/** Gold metrics of one model version's transcriptions. */
export function scoreTranscriptions(clips: readonly ScoredClip[], seed = 1): TranscriptionScore {
  if (!clips.length) return { n: 0, refWords: 0, wer: null, cer: null, interval: null };
  const e = clips.map(errorsOf);
  const sum = (f: (c: ClipErrors) => number) => e.reduce((s, c) => s + f(c), 0);
  const refWords = sum((c) => c.refWords);
  const boot = bootstrapWer(e, seed);
  return {
    n: clips.length,
    refWords,
    wer: round(sum((c) => c.wordErrors) / Math.max(refWords, 1)),
    cer: round(
      sum((c) => c.charErrors) /
        Math.max(
          sum((c) => c.refChars),
          1,
        ),
    ),
    interval: [round(quantile(boot, 0.025)), round(quantile(boot, 0.975))],
  };
}

export interface AutoAcceptPlan {
  /** Transcriptions at least this confident are accepted; null: no threshold keeps the bound under the target. */
  threshold: number | null;
  /** Gold clips at or above the threshold, their word error rate and its upper bound. */
  n: number;
  wer: number | null;
  upper: number | null;
  target: number;
}

/**
 * The lowest confidence threshold whose gold clips (those at least as confident, at least MIN_GOLD_FOR_AUTOACCEPT
 * of them) have a bootstrap upper bound of their word error rate, at `level`, at most `targetWer`. Thresholds are
 * scanned from the most confident clip down; only cuts between distinct confidences count.
 */
export function planAutoAccept(clips: readonly ScoredClip[], targetWer: number, level: number, seed = 1, minN = MIN_GOLD_FOR_AUTOACCEPT): AutoAcceptPlan {
  const sorted = clips.map(errorsOf).sort((a, b) => b.confidence - a.confidence);
  let best: AutoAcceptPlan = { threshold: null, n: 0, wer: null, upper: null, target: targetWer };
  let errors = 0;
  let words = 0;
  for (let i = 0; i < sorted.length; i++) {
    errors += sorted[i].wordErrors;
    words += sorted[i].refWords;
    const n = i + 1;
    if (n < minN || (i + 1 < sorted.length && sorted[i + 1].confidence === sorted[i].confidence)) continue;
    const point = errors / Math.max(words, 1);
    // The bound is only worth computing where the point estimate itself is under the target.
    if (point > targetWer) continue;
    const upper = quantile(bootstrapWer(sorted.slice(0, n), seed + n), level);
    if (upper <= targetWer) best = { threshold: sorted[i].confidence, n, wer: round(point), upper: round(upper), target: targetWer };
  }
  return best;
}
