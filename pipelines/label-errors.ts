import { createPrng } from '../models/prng.ts';

/**
 * Label-error detection by confident learning (Northcutt et al. 2021, the idea behind cleanlab's
 * find_label_issues): with out-of-sample probabilities, each class j gets a threshold t_j, the mean
 * probability of j over items labelled j (its typical self-confidence). An item counts toward the confident
 * joint at (given label, the most probable class among those whose probability reaches their threshold); an
 * item off the diagonal whose given label's probability is also far below that label's threshold is a likely
 * label error, and the class it lands on is the suggested label.
 */
export interface LabelIssue {
  /** Index into the inputs. */
  index: number;
  suggested: number;
  /** p(suggested) - p(given): how strongly the model disputes the label. */
  score: number;
}

export function classThresholds(probs: Float32Array, given: ArrayLike<number>, k: number): Float64Array {
  const sum = new Float64Array(k);
  const cnt = new Float64Array(k);
  for (let i = 0; i < given.length; i++) {
    sum[given[i]] += probs[i * k + given[i]];
    cnt[given[i]]++;
  }
  return sum.map((s, j) => (cnt[j] ? s / cnt[j] : Infinity));
}

export interface LabelIssueOptions {
  /**
   * Besides landing off the diagonal of the confident joint, the given label's probability must be below
   * this fraction of its class's threshold (1 = the plain confident joint). Default defaultFarBelow(k).
   */
  farBelow?: number;
  /** The least score (p(suggested) - p(given)) of a flagged label; 0 when absent. */
  minScore?: number;
}

/**
 * How far below its class's typical self-confidence a disputed label's probability must be: 0.1 / (k - 1),
 * i.e. 0.05 with 3 classes, 0.011 with 10. A model fitted to labels of which a fraction e are wrong, spread
 * over the k - 1 other classes, gives a clean item about e / (k - 1) for each wrong class; flips land near that
 * floor, so the cut sits at about twice it for e = 5%. A looser cut also flags the model's own confusions
 * between look-alike classes (Shirt vs T-shirt): the plain confident joint does, and in a labelling service
 * the labels audited are the ones the queue chose because the model was unsure of them (its out-of-sample
 * accuracy on them is only 0.65-0.8).
 * - On 3,000 random Fashion-MNIST labels with 5% flipped, 4-fold cross-validation, seeds 1 / 2
 *   (scripts/bench-label-errors.ts): the plain rule flagged 356 / 391 labels at precision 0.37 / 0.41, recall
 *   0.90 / 0.88; a cut at 0.05 216 / 238 at 0.60 / 0.65, recall 0.88 / 0.84; at 0.01 175 / 183 at 0.71 / 0.78,
 *   recall 0.84 / 0.78. A minimum score instead (p(suggested) - p(given) >= 0.7 / 0.9) did worse at every
 *   recall.
 * - End to end (scripts/bench-autolabel.ts: 3,000 labels chosen by the queue in rounds of 500, an audit after
 *   each round, every label re-audited each time), the same out-of-sample probabilities re-scored: a cut at
 *   0.05 flagged 377 labels at precision 0.34, recall 0.83 (seed 1); at 0.01 200 at 0.57, recall 0.73. Run
 *   again with this cut, seeds 1 / 2 / 3: precision 0.49 / 0.58 / 0.56 at recall 0.75 / 0.76 / 0.80.
 * What a strict cut gives up are errors between look-alike classes, where the model itself hesitates.
 */
export function defaultFarBelow(k: number): number {
  return 0.1 / Math.max(1, k - 1);
}

/** Likely label errors, strongest first. `probs` must be out-of-sample (n*k), `given` the labels. */
export function findLabelIssues(probs: Float32Array, given: ArrayLike<number>, k: number, opts: LabelIssueOptions = {}): LabelIssue[] {
  const t = classThresholds(probs, given, k);
  const farBelow = opts.farBelow ?? defaultFarBelow(k);
  const out: LabelIssue[] = [];
  for (let i = 0; i < given.length; i++) {
    let best = -1;
    for (let j = 0; j < k; j++) if (probs[i * k + j] >= t[j] && (best < 0 || probs[i * k + j] > probs[i * k + best])) best = j;
    const y = given[i];
    if (best < 0 || best === y || probs[i * k + y] >= farBelow * t[y]) continue;
    if (probs[i * k + best] - probs[i * k + y] < (opts.minScore ?? 0)) continue;
    out.push({ index: i, suggested: best, score: probs[i * k + best] - probs[i * k + y] });
  }
  return out.sort((a, b) => b.score - a.score);
}

/**
 * The fold (0..folds-1) of each of n items in one repeat of a cross-validation: repeat 0 puts item i in fold
 * i % folds; later repeats shuffle which items share a fold, with `shuffleSeed`.
 */
export function crossValidationFolds(n: number, folds: number, repeat: number, shuffleSeed: number): Int32Array {
  const identity = Int32Array.from({ length: n }, (_, i) => i);
  const order = repeat === 0 ? identity : createPrng(shuffleSeed).shuffle(identity);
  const fold = new Int32Array(n);
  order.forEach((i, pos) => (fold[i] = pos % folds));
  return fold;
}
