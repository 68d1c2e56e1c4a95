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
