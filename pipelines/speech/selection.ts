/**
 * Which clips to send for correction when the corrections are used to adapt the recogniser (domain LM + new
 * words). Pure functions over the current model's transcripts: the caller decodes, these rank.
 *
 * Why not just "lowest confidence first": the adapted model learns only from the corrected *text*, while
 * confidence mostly measures *audio* quality (a formant voice or a noisy line scores low whatever it says), so
 * lowest-confidence picks spend the budget on bad audio of already-covered sentences (the study's §5 measured
 * it worse than random). The coverage rule instead looks for clips whose uncertain stretches are unlike the
 * ones already picked: a word the dictionary lacks comes out as a low-confidence run of short stand-in words
 * ("sell a rock" for celeriac), and the same missing word tends to give the same stand-ins, so a clip with new
 * low-confidence n-grams probably holds a word the corrections have not taught yet.
 */
import { createPrng } from '../../models/prng.ts';

/** What a ranking needs of a clip's current transcript. */
export interface SelectionCandidate {
  id: string;
  /** The utterance confidence (mean word posterior), in [0, 1]. */
  confidence: number;
  /** The recognised words and their posteriors, in order. */
  words: readonly { word: string; confidence: number }[];
}

/** The rules {@link selectForCorrection} knows. */
export type CorrectionStrategy = 'random' | 'lowest-confidence' | 'coverage';

export interface CoverageOptions {
  /** A word below this posterior is "uncertain" (default 0.6). */
  lowConfidence?: number;
  /** Weight of a new n-gram inside an uncertain stretch (default 1). */
  uncertainWeight?: number;
  /** Weight of a new confident bigram: new phrasing, a weaker sign of something to learn (default 0.2). */
  phrasingWeight?: number;
}

/**
 * The features of a clip for the coverage rule, each with its weight: every distinct unigram, bigram and trigram
 * lying entirely inside a run of uncertain words (including the run's confident neighbours as context for
 * bigrams), and every confident bigram.
 */
export function coverageUnits(c: SelectionCandidate, opts: CoverageOptions = {}): Map<string, number> {
  const low = opts.lowConfidence ?? 0.6;
  const uw = opts.uncertainWeight ?? 1;
  const pw = opts.phrasingWeight ?? 0.2;
  const units = new Map<string, number>();
  const add = (key: string, w: number) => units.set(key, Math.max(units.get(key) ?? 0, w));
  const ws = c.words.map((w) => w.word);
  const uncertain = c.words.map((w) => w.confidence < low);
  for (let i = 0; i < ws.length; i++) {
    if (uncertain[i]) {
      add(`u1:${ws[i]}`, uw);
      if (i + 1 < ws.length && uncertain[i + 1]) add(`u2:${ws[i]} ${ws[i + 1]}`, uw);
      if (i + 2 < ws.length && uncertain[i + 1] && uncertain[i + 2]) add(`u3:${ws[i]} ${ws[i + 1]} ${ws[i + 2]}`, uw);
      // The confident word just before an uncertain run places it ("of <item>", "the <drug>").
      if (i > 0 && !uncertain[i - 1]) add(`uc:${ws[i - 1]} ${ws[i]}`, uw / 2);
    } else if (i + 1 < ws.length && !uncertain[i + 1]) {
      add(`c2:${ws[i]} ${ws[i + 1]}`, pw);
    }
  }
  return units;
}

/**
 * The first `n` clips to correct under `strategy`, in order:
 * - `random`: a seeded shuffle (`seed`, default 1);
 * - `lowest-confidence`: ascending utterance confidence (ties by id);
 * - `coverage`: greedy maximum coverage of {@link coverageUnits}: each pick is the clip adding the most weight
 *   of units no earlier pick had; ties go to the less confident clip, then the id. When nothing new is left,
 *   the rest follow by ascending confidence.
 */
export function selectForCorrection(
  candidates: readonly SelectionCandidate[],
  n: number,
  strategy: CorrectionStrategy,
  opts: { seed?: number; coverage?: CoverageOptions } = {},
): string[] {
  const k = Math.max(0, Math.min(n, candidates.length));
  const byConfidence = [...candidates].sort((a, b) => a.confidence - b.confidence || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  if (strategy === 'random') {
    const ids = candidates.map((c) => c.id).sort();
    return createPrng(opts.seed ?? 1)
      .shuffle(ids)
      .slice(0, k);
  }
  if (strategy === 'lowest-confidence') return byConfidence.slice(0, k).map((c) => c.id);
  if (strategy !== 'coverage') throw new Error(`unknown correction strategy ${JSON.stringify(strategy)}`);
  const units = new Map(byConfidence.map((c) => [c.id, coverageUnits(c, opts.coverage)]));
  const covered = new Set<string>();
  const picked: string[] = [];
  const left = new Set(byConfidence.map((c) => c.id));
  while (picked.length < k) {
    let best: string | undefined;
    let bestGain = 0;
    // byConfidence order makes the first maximum the least confident clip: the tie-break.
    for (const c of byConfidence) {
      if (!left.has(c.id)) continue;
      let gain = 0;
      for (const [u, w] of units.get(c.id)!) if (!covered.has(u)) gain += w;
      if (gain > bestGain) (bestGain = gain), (best = c.id);
    }
    if (best === undefined) break;
    picked.push(best);
    left.delete(best);
    for (const u of units.get(best)!.keys()) covered.add(u);
  }
  for (const c of byConfidence) if (picked.length < k && left.has(c.id)) picked.push(c.id), left.delete(c.id);
  return picked;
}
