/**
 * Scores for the transcription benchmark (scripts/bench-transcribe.ts): corpus WER/CER with a bootstrap
 * interval over clips, recall of given words, how many word errors a confidence ranking puts in front of a
 * reviewer, and the word-level AUC of the posterior. Pure functions over per-clip results.
 */
import { mulberry32 } from './sampling.ts';

/** One decoded clip, reduced to what the scores need. */
export interface ScoredClip {
  /** Reference and hypothesis tokens (already normalised). */
  ref: readonly string[];
  hyp: readonly string[];
  /** Per hypothesis word: its posterior. */
  hypConfidence: readonly number[];
  /** Utterance confidence (mean word posterior). */
  confidence: number;
  /** Character edits and reference characters, for CER. */
  charErrors: number;
  refChars: number;
}

/** A word alignment with flags on both sides. */
export interface WordAlignment {
  errors: number;
  /** Per reference word: recognised exactly, aligned to an identical hypothesis word. */
  refCorrect: boolean[];
  /** Per hypothesis word: substituted or inserted. */
  hypWrong: boolean[];
}

/**
 * Levenshtein alignment of token arrays (the same costs and tie-breaking as models/speech/wer.ts alignWords:
 * a substitution is preferred over a deletion plus an insertion), returning which reference words were
 * recognised, which the engine's alignment does not expose.
 */
export function alignTokens(ref: readonly string[], hyp: readonly string[]): WordAlignment {
  const cols = hyp.length + 1;
  const d = new Uint32Array((ref.length + 1) * cols);
  for (let i = 0; i <= ref.length; i++) d[i * cols] = i;
  for (let j = 0; j <= hyp.length; j++) d[j] = j;
  for (let i = 1; i <= ref.length; i++) {
    for (let j = 1; j <= hyp.length; j++) {
      const sub = d[(i - 1) * cols + j - 1] + (ref[i - 1] === hyp[j - 1] ? 0 : 1);
      d[i * cols + j] = Math.min(sub, d[(i - 1) * cols + j] + 1, d[i * cols + j - 1] + 1);
    }
  }
  const refCorrect = new Array<boolean>(ref.length).fill(false);
  const hypWrong = new Array<boolean>(hyp.length).fill(false);
  let i = ref.length;
  let j = hyp.length;
  while (i > 0 || j > 0) {
    const here = d[i * cols + j];
    if (i > 0 && j > 0 && here === d[(i - 1) * cols + j - 1] + (ref[i - 1] === hyp[j - 1] ? 0 : 1)) {
      if (ref[i - 1] === hyp[j - 1]) refCorrect[i - 1] = true;
      else hypWrong[j - 1] = true;
      i--, j--;
    } else if (i > 0 && here === d[(i - 1) * cols + j] + 1) {
      i--;
    } else {
      hypWrong[j - 1] = true;
      j--;
    }
  }
  return { errors: d[ref.length * cols + hyp.length], refCorrect, hypWrong };
}

/** The 2.5th and 97.5th percentiles of a statistic over `reps` bootstrap resamples of the items (seeded). */
export function bootstrapInterval<T>(items: readonly T[], stat: (sample: readonly T[]) => number, reps = 1000, seed = 1): [number, number] {
  if (items.length === 0) return [Number.NaN, Number.NaN];
  const rand = mulberry32(seed);
  const values: number[] = [];
  const sample = new Array<T>(items.length);
  for (let r = 0; r < reps; r++) {
    for (let k = 0; k < items.length; k++) sample[k] = items[Math.floor(rand() * items.length)];
    values.push(stat(sample));
  }
  values.sort((a, b) => a - b);
  const at = (q: number) => values[Math.min(values.length - 1, Math.max(0, Math.round(q * (values.length - 1))))];
  return [at(0.025), at(0.975)];
}

/** Corpus WER: all word errors over all reference words. */
export function corpusWordErrorRate(clips: readonly ScoredClip[]): number {
  let e = 0;
  let n = 0;
  for (const c of clips) (e += alignTokens(c.ref, c.hyp).errors), (n += c.ref.length);
  return e / Math.max(1, n);
}

/**
 * Area under the ROC curve of `scores` for telling positives from negatives: the chance that a random positive
 * scores higher than a random negative, ties counting half (Mann-Whitney). NaN without both classes.
 */
export function rocAuc(scores: readonly number[], positive: readonly boolean[]): number {
  const idx = scores.map((_, i) => i).sort((a, b) => scores[a] - scores[b]);
  let rankSumPos = 0;
  let nPos = 0;
  for (let k = 0; k < idx.length; ) {
    let end = k;
    while (end + 1 < idx.length && scores[idx[end + 1]] === scores[idx[k]]) end++;
    const midRank = (k + end) / 2 + 1; // average 1-based rank of the tie group
    for (let t = k; t <= end; t++) if (positive[idx[t]]) (rankSumPos += midRank), nPos++;
    k = end + 1;
  }
  const nNeg = idx.length - nPos;
  if (nPos === 0 || nNeg === 0) return Number.NaN;
  return (rankSumPos - (nPos * (nPos + 1)) / 2) / (nPos * nNeg);
}

/**
 * Share of all word errors that sit in the `fraction` of clips a reviewer would open first: by lowest utterance
 * confidence, by chance (the expectation: the clip share itself), and by an oracle that knows the error counts.
 */
export function errorCapture(clips: readonly ScoredClip[], fraction = 0.2): { lowestConfidence: number; random: number; oracle: number; clips: number } {
  const k = Math.round(fraction * clips.length);
  const errs = clips.map((c) => alignTokens(c.ref, c.hyp).errors);
  const total = errs.reduce((s, e) => s + e, 0);
  if (total === 0 || k === 0) return { lowestConfidence: Number.NaN, random: k / Math.max(1, clips.length), oracle: Number.NaN, clips: k };
  const order = clips.map((_, i) => i).sort((a, b) => clips[a].confidence - clips[b].confidence || a - b);
  const caught = order.slice(0, k).reduce((s, i) => s + errs[i], 0);
  const oracle = [...errs]
    .sort((a, b) => b - a)
    .slice(0, k)
    .reduce((s, e) => s + e, 0);
  return { lowestConfidence: caught / total, random: k / clips.length, oracle: oracle / total, clips: k };
}

/** Word-level AUC of (1 − posterior) for "this hypothesis word is wrong" over all clips. */
export function wordConfidenceAuc(clips: readonly ScoredClip[]): number {
  const scores: number[] = [];
  const wrong: boolean[] = [];
  for (const c of clips) {
    const a = alignTokens(c.ref, c.hyp);
    c.hyp.forEach((_, j) => {
      scores.push(1 - c.hypConfidence[j]);
      wrong.push(a.hypWrong[j]);
    });
  }
  return rocAuc(scores, wrong);
}

/** Of the reference tokens that are in `words`, the share recognised (aligned to the same word). */
export function wordRecall(clips: readonly ScoredClip[], words: ReadonlySet<string>): { recall: number; tokens: number } {
  let hit = 0;
  let n = 0;
  for (const c of clips) {
    const a = alignTokens(c.ref, c.hyp);
    c.ref.forEach((w, i) => {
      if (words.has(w)) (n += 1), (hit += a.refCorrect[i] ? 1 : 0);
    });
  }
  return { recall: n ? hit / n : Number.NaN, tokens: n };
}
