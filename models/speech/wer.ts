/**
 * Word and character error rates by Levenshtein alignment, plus the per-word flags that word-level confidence
 * AUC needs. Inputs are transcripts (cleaned here with `cleanTranscript`, which never throws: recogniser output may
 * hold cmudict entries such as "m1") or token arrays.
 */
import { cleanTranscript } from './text.ts';

const tokens = (s: string) => {
  const text = cleanTranscript(s);
  return text === '' ? [] : text.split(' ');
};

/** Counts from aligning a hypothesis to a reference. `wer` = (S + D + I) / max(refWords, 1). */
export interface Alignment {
  substitutions: number;
  deletions: number;
  insertions: number;
  refWords: number;
  wer: number;
  /** One flag per hypothesis word: true when it is wrong (substituted or inserted). */
  hypWordWrong: boolean[];
}

type Seq = string | readonly string[];
const words = (s: Seq): readonly string[] => (typeof s === 'string' ? tokens(s) : s);

/** Minimum-edit alignment of `hyp` to `ref` (ties prefer a substitution over a deletion plus an insertion). */
export function alignWords(ref: Seq, hyp: Seq): Alignment {
  const r = words(ref);
  const h = words(hyp);
  const cols = h.length + 1;
  const d = new Uint32Array((r.length + 1) * cols);
  for (let i = 0; i <= r.length; i++) d[i * cols] = i;
  for (let j = 0; j <= h.length; j++) d[j] = j;
  for (let i = 1; i <= r.length; i++) {
    for (let j = 1; j <= h.length; j++) {
      const sub = d[(i - 1) * cols + j - 1] + (r[i - 1] === h[j - 1] ? 0 : 1);
      d[i * cols + j] = Math.min(sub, d[(i - 1) * cols + j] + 1, d[i * cols + j - 1] + 1);
    }
  }
  let substitutions = 0;
  let deletions = 0;
  let insertions = 0;
  const hypWordWrong = new Array<boolean>(h.length).fill(false);
  let i = r.length;
  let j = h.length;
  while (i > 0 || j > 0) {
    const here = d[i * cols + j];
    if (i > 0 && j > 0 && here === d[(i - 1) * cols + j - 1] + (r[i - 1] === h[j - 1] ? 0 : 1)) {
      if (r[i - 1] !== h[j - 1]) substitutions++, (hypWordWrong[j - 1] = true);
      i--, j--;
    } else if (i > 0 && here === d[(i - 1) * cols + j] + 1) {
      deletions++, i--;
    } else {
      insertions++, (hypWordWrong[j - 1] = true), j--;
    }
  }
  const errors = substitutions + deletions + insertions;
  return { substitutions, deletions, insertions, refWords: r.length, wer: errors / Math.max(r.length, 1), hypWordWrong };
}

/** Corpus WER: all errors over all reference words (not the mean of per-clip WERs). */
export function corpusWer(pairs: Iterable<{ ref: Seq; hyp: Seq }>): number {
  let errors = 0;
  let refWords = 0;
  for (const { ref, hyp } of pairs) {
    const a = alignWords(ref, hyp);
    errors += a.substitutions + a.deletions + a.insertions;
    refWords += a.refWords;
  }
  return errors / Math.max(refWords, 1);
}

/** Character error rate over the normalised texts (spaces count as characters). */
export function cer(ref: string, hyp: string): number {
  const r = [...tokens(ref).join(' ')];
  const h = [...tokens(hyp).join(' ')];
  const a = alignWords(r, h);
  return (a.substitutions + a.deletions + a.insertions) / Math.max(r.length, 1);
}

/** How many words an annotator changed to turn `before` into `after` (substitutions + deletions + insertions). */
export function wordEdits(before: string, after: string): number {
  const a = alignWords(before, after);
  return a.substitutions + a.deletions + a.insertions;
}

/**
 * Area under the ROC curve of `scores` for telling `positives` from the rest (Mann-Whitney, ties count half);
 * 0.5 when either class is empty. For word-level confidence quality: scores = 1 − word confidence,
 * positives = `alignWords(...).hypWordWrong` (pass the transcription's `words` as the hypothesis array).
 */
export function rocAuc(scores: readonly number[], positives: readonly boolean[]): number {
  const order = scores.map((s, i) => [s, i] as const).sort((a, b) => a[0] - b[0]);
  let rankSumPos = 0;
  let nPos = 0;
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j < order.length && order[j][0] === order[i][0]) j++;
    const midRank = (i + j + 1) / 2; // 1-based average rank of the tie group
    for (let k = i; k < j; k++) if (positives[order[k][1]]) (rankSumPos += midRank), nPos++;
    i = j;
  }
  const nNeg = order.length - nPos;
  if (nPos === 0 || nNeg === 0) return 0.5;
  return (rankSumPos - (nPos * (nPos + 1)) / 2) / (nPos * nNeg);
}
