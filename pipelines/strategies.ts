import { squaredDistance } from '../models/clustering.ts';
import type { Strategy } from './settings.ts';

/**
 * Uncertainty scores in [0, 1] from one row of class probabilities; higher means more worth a human look.
 * least-confidence: 1 - max p; margin: 1 - (p1 - p2); entropy: H(p) / log k.
 */
export function uncertaintyOf(probs: ArrayLike<number>, strategy: Strategy): number {
  let p1 = -1;
  let p2 = -1;
  let h = 0;
  for (let i = 0; i < probs.length; i++) {
    const p = probs[i];
    if (p > p1) {
      p2 = p1;
      p1 = p;
    } else if (p > p2) p2 = p;
    if (p > 0) h -= p * Math.log(p);
  }
  switch (strategy) {
    case 'least-confidence':
      return clamp01(1 - p1);
    case 'entropy':
      return probs.length > 1 ? clamp01(h / Math.log(probs.length)) : 0;
    case 'margin':
    case 'random':
    case 'diverse':
    case 'bald': // BALD needs several stochastic passes (baldScores); from one distribution, margin stands in.
      return clamp01(1 - (p1 - Math.max(p2, 0)));
  }
}

export function argmax(probs: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < probs.length; i++) if (probs[i] > probs[best]) best = i;
  return best;
}

function clamp01(x: number): number {
  return Number.isFinite(x) ? Math.min(1, Math.max(0, x)) : 1;
}

/** Monte-Carlo dropout passes used for BALD. */
export const BALD_SAMPLES = 10;

/**
 * BALD (Houlsby et al. 2011) from T stochastic passes laid out [t][i][class]: the mutual information between
 * the prediction and the model's weights, H(mean_t p) - mean_t H(p_t), divided by log k to lie in [0, 1].
 * Also returns the mean probabilities, which are what the item's prediction is.
 */
export function baldScores(samples: Float32Array, t: number, n: number, k: number): { mean: Float32Array; scores: Float32Array } {
  const mean = new Float32Array(n * k);
  const expectedEntropy = new Float64Array(n);
  for (let s = 0; s < t; s++)
    for (let i = 0; i < n; i++) {
      let h = 0;
      for (let c = 0; c < k; c++) {
        const p = samples[(s * n + i) * k + c];
        mean[i * k + c] += p / t;
        if (p > 0) h -= p * Math.log(p);
      }
      expectedEntropy[i] += h / t;
    }
  const scores = new Float32Array(n);
  const norm = Math.log(k);
  for (let i = 0; i < n; i++) {
    let h = 0;
    for (let c = 0; c < k; c++) {
      const p = mean[i * k + c];
      if (p > 0) h -= p * Math.log(p);
    }
    scores[i] = Math.min(1, Math.max(0, (h - expectedEntropy[i]) / norm));
  }
  return { mean, scores };
}

/**
 * Uncertainty-weighted k-center greedy (after Sener & Savarese 2018): picks `count` of the candidates so
 * that the batch is both uncertain and spread out in the model's embedding space, rather than `count`
 * near-duplicates. Each step takes the candidate with the largest uncertainty × distance to the nearest
 * already-picked one. Returns indices into the candidates, in pick order.
 */
export function diverseBatch(embeddings: Float32Array, dim: number, uncertainty: ArrayLike<number>, count: number): number[] {
  const n = uncertainty.length;
  if (n === 0 || count <= 0) return [];
  const nearest = new Float64Array(n).fill(Infinity);
  const picked: number[] = [];
  const taken = new Uint8Array(n);
  let next = 0;
  for (let i = 1; i < n; i++) if (uncertainty[i] > uncertainty[next]) next = i;
  while (picked.length < Math.min(count, n)) {
    picked.push(next);
    taken[next] = 1;
    let best = -1;
    let bestScore = -Infinity;
    for (let i = 0; i < n; i++) {
      if (taken[i]) continue;
      const d = squaredDistance(embeddings, i, embeddings, next, dim);
      if (d < nearest[i]) nearest[i] = d;
      const score = (uncertainty[i] + 1e-3) * Math.sqrt(nearest[i]);
      if (score > bestScore) {
        bestScore = score;
        best = i;
      }
    }
    if (best < 0) break;
    next = best;
  }
  return picked;
}
