/**
 * Consolidation: many annotators' votes -> one label per item with a posterior.
 *
 * - {@link majorityVote}: the transparent baseline, kept beside the EM result.
 * - {@link dawidSkene}: Dawid & Skene (1979) EM with one confusion matrix per annotator, each row shrunk toward
 *   that annotator's one-coin matrix (accuracy s on the diagonal, (1 - s)/(K - 1) elsewhere) by `shrink`
 *   pseudo-labels (default 2K). A prolific annotator gets a full confusion matrix (blind spots between look-alike
 *   classes are learnt); a sparse one (~20 labels) is described by one number, its accuracy, which is what keeps
 *   DS from losing to majority vote on sparse data (../shared/workforce-quality.md §3, §4.4). Gold answers are
 *   clamped: a gold item's posterior is its answer in every E-step.
 *
 * Everything works on {@link Votes} (typed arrays) so that 100,000 labels fit in well under a second.
 */
import type { Votes } from './votes.ts';

export interface Consolidation {
  method: 'majority' | 'dawid-skene';
  /** Per item, K probabilities (row-major, items x K). */
  posterior: Float64Array;
  /** Per item, the consolidated class (argmax of the posterior), or -1 for an item with no vote and no gold. */
  label: Int32Array;
  /** Per item, how many distinct annotators voted. */
  votesPerItem: Int32Array;
}

export interface DawidSkeneFit extends Consolidation {
  method: 'dawid-skene';
  /** Class priors (K). */
  priors: Float64Array;
  /** Per annotator, K x K confusion probabilities P(says l | truth k) (annotators x K x K, row-major). */
  confusion: Float64Array;
  /** Per annotator, the expected share of its votes that are right: mean over its votes of P(truth = its vote). */
  accuracy: Float64Array;
  /** Per annotator, the number of votes. */
  labels: Int32Array;
  iterations: number;
  converged: boolean;
}

export interface DawidSkeneOptions {
  /** Pseudo-labels per confusion row pulling it toward the annotator's one-coin matrix; default 2K. 0 = plain DS. */
  shrink?: number;
  maxIterations?: number;
  /** Stop when no posterior moves more than this between iterations. */
  tolerance?: number;
  /** Also stop when an iteration raises the log-likelihood by less than this share of it (default 1e-6). */
  likelihoodTolerance?: number;
  /** Start from these posteriors (a previous fit over the same items, e.g. for a warm start); default soft MV. */
  initialPosterior?: Float64Array;
}

const FLOOR = 1e-6;

function countVotesPerItem(v: Votes): Int32Array {
  const n = new Int32Array(v.items);
  for (let j = 0; j < v.item.length; j++) n[v.item[j]]++;
  return n;
}

function argmaxRows(post: Float64Array, items: number, K: number, votesPerItem: Int32Array, gold: Int32Array): Int32Array {
  const out = new Int32Array(items);
  for (let i = 0; i < items; i++) {
    if (votesPerItem[i] === 0 && gold[i] < 0) {
      out[i] = -1;
      continue;
    }
    let best = 0;
    for (let k = 1; k < K; k++) if (post[i * K + k] > post[i * K + best]) best = k;
    out[i] = best;
  }
  return out;
}

/**
 * Majority vote. The posterior is the vote share; a tie is broken toward the class voted most often over the
 * whole project (then the lowest index), so the result is deterministic. Gold items take their gold answer.
 */
export function majorityVote(v: Votes): Consolidation {
  const K = v.classes;
  const post = new Float64Array(v.items * K);
  const overall = new Float64Array(K);
  for (let j = 0; j < v.item.length; j++) {
    post[v.item[j] * K + v.label[j]]++;
    overall[v.label[j]]++;
  }
  const votesPerItem = countVotesPerItem(v);
  const label = new Int32Array(v.items);
  for (let i = 0; i < v.items; i++) {
    const n = votesPerItem[i];
    if (v.gold[i] >= 0) {
      for (let k = 0; k < K; k++) post[i * K + k] = k === v.gold[i] ? 1 : 0;
      label[i] = v.gold[i];
      continue;
    }
    if (n === 0) {
      label[i] = -1;
      for (let k = 0; k < K; k++) post[i * K + k] = 1 / K;
      continue;
    }
    let best = 0;
    for (let k = 1; k < K; k++) {
      const a = post[i * K + k];
      const b = post[i * K + best];
      if (a > b || (a === b && overall[k] > overall[best])) best = k;
    }
    label[i] = best;
    for (let k = 0; k < K; k++) post[i * K + k] /= n;
  }
  return { method: 'majority', posterior: post, label, votesPerItem };
}

/**
 * Expected accuracy of majority vote against a known truth, counting a tie as its expected value (1/t when the
 * truth is among t tied classes), as the reference numbers do.
 */
export function majorityVoteExpectedAccuracy(v: Votes, truth: ArrayLike<number>, itemsToScore?: ArrayLike<number>): number {
  const K = v.classes;
  const counts = new Float64Array(v.items * K);
  for (let j = 0; j < v.item.length; j++) counts[v.item[j] * K + v.label[j]]++;
  let sum = 0;
  let n = 0;
  const score = (i: number) => {
    let max = 0;
    for (let k = 0; k < K; k++) max = Math.max(max, counts[i * K + k]);
    if (max === 0) return;
    let tied = 0;
    for (let k = 0; k < K; k++) if (counts[i * K + k] === max) tied++;
    sum += counts[i * K + truth[i]] === max ? 1 / tied : 0;
    n++;
  };
  if (itemsToScore) for (let t = 0; t < itemsToScore.length; t++) score(itemsToScore[t]);
  else for (let i = 0; i < v.items; i++) score(i);
  return n === 0 ? Number.NaN : sum / n;
}

/** Dawid-Skene EM with one-coin shrinkage and clamped gold. See the module comment. */
export function dawidSkene(v: Votes, options: DawidSkeneOptions = {}): DawidSkeneFit {
  const K = v.classes;
  const A = v.annotators;
  const N = v.items;
  const V = v.item.length;
  const shrink = options.shrink ?? 2 * K;
  const maxIterations = options.maxIterations ?? 100;
  const tolerance = options.tolerance ?? 1e-5;
  const votesPerItem = countVotesPerItem(v);

  let post: Float64Array;
  if (options.initialPosterior && options.initialPosterior.length === N * K) post = Float64Array.from(options.initialPosterior);
  else post = majorityVote(v).posterior;
  clampGold(post, v);

  const priors = new Float64Array(K);
  const counts = new Float64Array(A * K * K);
  const confusion = new Float64Array(A * K * K);
  const logConfusion = new Float64Array(A * K * K);
  const accuracy = new Float64Array(A);
  const labels = new Int32Array(A);
  for (let j = 0; j < V; j++) labels[v.annotator[j]]++;
  const logPost = new Float64Array(N * K);
  const logPriors = new Float64Array(K);

  let iterations = 0;
  let converged = false;
  let previousLogLikelihood = -Infinity;
  const likelihoodTolerance = options.likelihoodTolerance ?? 1e-6;
  for (; iterations < maxIterations; ) {
    iterations++;
    // M-step: priors (Laplace-smoothed over items with any evidence), confusion counts, one-coin accuracies.
    priors.fill(1);
    let evidenced = K;
    for (let i = 0; i < N; i++) {
      if (votesPerItem[i] === 0 && v.gold[i] < 0) continue;
      evidenced++;
      for (let k = 0; k < K; k++) priors[k] += post[i * K + k];
    }
    for (let k = 0; k < K; k++) {
      priors[k] /= evidenced;
      logPriors[k] = Math.log(priors[k]);
    }
    counts.fill(0);
    accuracy.fill(0);
    for (let j = 0; j < V; j++) {
      const i = v.item[j];
      const a = v.annotator[j];
      const l = v.label[j];
      const base = a * K * K + l;
      for (let k = 0; k < K; k++) counts[base + k * K] += post[i * K + k];
      accuracy[a] += post[i * K + l];
    }
    for (let a = 0; a < A; a++) {
      const s = labels[a] > 0 ? Math.min(1 - FLOOR, Math.max(FLOOR, accuracy[a] / labels[a])) : 1 / K;
      accuracy[a] = s;
      const off = K > 1 ? (1 - s) / (K - 1) : 0;
      // Plain DS (shrink 0) still needs a whisker of uniform smoothing so an unseen (k, l) is not log(0).
      const beta = shrink > 0 ? shrink : 0.01 * K;
      const onDiagonal = shrink > 0 ? s : 1 / K;
      const offDiagonal = shrink > 0 ? off : 1 / K;
      for (let k = 0; k < K; k++) {
        const row = a * K * K + k * K;
        let total = 0;
        for (let l = 0; l < K; l++) total += counts[row + l];
        const denominator = total + beta;
        for (let l = 0; l < K; l++) {
          const p = Math.max(FLOOR, (counts[row + l] + beta * (l === k ? onDiagonal : offDiagonal)) / denominator);
          confusion[row + l] = p;
          logConfusion[row + l] = Math.log(p);
        }
      }
    }
    // E-step.
    for (let i = 0; i < N; i++) for (let k = 0; k < K; k++) logPost[i * K + k] = logPriors[k];
    for (let j = 0; j < V; j++) {
      const i = v.item[j];
      const base = v.annotator[j] * K * K + v.label[j];
      for (let k = 0; k < K; k++) logPost[i * K + k] += logConfusion[base + k * K];
    }
    let change = 0;
    let logLikelihood = 0;
    for (let i = 0; i < N; i++) {
      const g = v.gold[i];
      const row = i * K;
      let max = -Infinity;
      for (let k = 0; k < K; k++) max = Math.max(max, logPost[row + k]);
      if (g >= 0) {
        logLikelihood += logPost[row + g];
        continue;
      }
      let z = 0;
      for (let k = 0; k < K; k++) {
        const e = Math.exp(logPost[row + k] - max);
        logPost[row + k] = e;
        z += e;
      }
      logLikelihood += max + Math.log(z);
      for (let k = 0; k < K; k++) {
        const p = logPost[row + k] / z;
        const d = Math.abs(p - post[row + k]);
        if (d > change) change = d;
        post[row + k] = p;
      }
    }
    // Converged when no posterior moves by `tolerance`, or when the (penalised) likelihood has stopped rising:
    // a few items can keep drifting by more than the tolerance long after every label is settled.
    const gain = logLikelihood - previousLogLikelihood;
    previousLogLikelihood = logLikelihood;
    if (change < tolerance || Math.abs(gain) < likelihoodTolerance * Math.abs(logLikelihood)) {
      converged = true;
      break;
    }
  }
  // Report accuracy as the expected share right under the final posteriors (not the floored M-step value).
  accuracy.fill(0);
  for (let j = 0; j < V; j++) accuracy[v.annotator[j]] += post[v.item[j] * K + v.label[j]];
  for (let a = 0; a < A; a++) accuracy[a] = labels[a] > 0 ? accuracy[a] / labels[a] : Number.NaN;
  return {
    method: 'dawid-skene',
    posterior: post,
    label: argmaxRows(post, N, K, votesPerItem, v.gold),
    votesPerItem,
    priors,
    confusion,
    accuracy,
    labels,
    iterations,
    converged,
  };
}

function clampGold(post: Float64Array, v: Votes): void {
  const K = v.classes;
  for (let i = 0; i < v.items; i++) {
    const g = v.gold[i];
    if (g < 0) continue;
    for (let k = 0; k < K; k++) post[i * K + k] = k === g ? 1 : 0;
  }
}

/**
 * Incremental update for one item, off a stored fit: the posterior from its current votes, without refitting.
 * Annotators the fit does not know (index -1 or out of range) are treated as one-coin at `unknownAccuracy`.
 * This is what runs after each new label; a full {@link dawidSkene} job refreshes the parameters.
 */
export function itemPosterior(
  fit: Pick<DawidSkeneFit, 'priors' | 'confusion'>,
  K: number,
  votes: readonly { annotator: number; label: number }[],
  unknownAccuracy = 0.7,
): Float64Array {
  const A = fit.confusion.length / (K * K);
  const log = new Float64Array(K);
  for (let k = 0; k < K; k++) log[k] = Math.log(fit.priors[k] ?? 1 / K);
  const off = K > 1 ? Math.log((1 - unknownAccuracy) / (K - 1)) : 0;
  for (const { annotator, label } of votes) {
    for (let k = 0; k < K; k++) {
      if (annotator >= 0 && annotator < A) log[k] += Math.log(fit.confusion[annotator * K * K + k * K + label]);
      else log[k] += k === label ? Math.log(unknownAccuracy) : off;
    }
  }
  let max = -Infinity;
  for (let k = 0; k < K; k++) max = Math.max(max, log[k]);
  let z = 0;
  for (let k = 0; k < K; k++) z += Math.exp(log[k] - max);
  const out = new Float64Array(K);
  for (let k = 0; k < K; k++) out[k] = Math.exp(log[k] - max) / z;
  return out;
}

/** Per-class recall of one annotator from a fit: the diagonal of its confusion matrix. */
export function annotatorRecall(fit: Pick<DawidSkeneFit, 'confusion'>, K: number, annotator: number): number[] {
  const out: number[] = [];
  for (let k = 0; k < K; k++) out.push(fit.confusion[annotator * K * K + k * K + k]);
  return out;
}

/** Share of `items` (default all items with a truth >= 0) whose consolidated label equals the truth. */
export function accuracyAgainst(label: Int32Array, truth: ArrayLike<number>, itemsToScore?: ArrayLike<number>): number {
  let right = 0;
  let n = 0;
  const score = (i: number) => {
    if (truth[i] < 0) return;
    n++;
    if (label[i] === truth[i]) right++;
  };
  if (itemsToScore) for (let t = 0; t < itemsToScore.length; t++) score(itemsToScore[t]);
  else for (let i = 0; i < label.length; i++) score(i);
  return n === 0 ? Number.NaN : right / n;
}
