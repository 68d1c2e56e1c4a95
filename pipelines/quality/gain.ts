/**
 * Expected gain of one human label, on one scale for "a new item" and "another label on an old one": the expected
 * number of wrong final labels it avoids (docs/quality.md, "New item or another label").
 *
 * - Another (blind, distinct) label on an item whose consolidated label is uncertain: the expected drop in the
 *   probability that its consolidated label is wrong, from the item's posterior and the project's average
 *   annotator accuracy (one-coin: right with probability `a`, otherwise any other class alike). The posterior is
 *   reduced to two hypotheses, the leading class against the rest (exact for two classes; a leader below 0.5
 *   counts as a tie). One vote that cannot
 *   overturn the leading class avoids nothing, although two might (a 1-0 item: a second vote only ties it), so the
 *   gain per label is the best of one and two more votes, the two-vote gain counted per label. It is scaled by
 *   the share of the item's allowance still unused, `(cap - n) / (cap - 1)`: an item that stays split does not
 *   keep its value (it may simply be ambiguous, and the labels spent on it stop paying), and it is 0 at the cap.
 * - A new item: the probability that the label it would otherwise carry, the model's, is wrong (`1 - confidence`,
 *   or `1 - 1/K` before a model has scored it), less the probability that the annotator's label is wrong.
 */

/** Gain a label required by the project's settings gets (labelsPerItem, overlapShare, a paused key's vote): above any expected gain (< 1). */
export const REQUIRED_GAIN = 1;
/** Below this expected gain another label is not asked for (fewer than 1 wrong label avoided per 100 labels). */
export const MIN_RELABEL_GAIN = 0.01;
/** Annotator accuracy assumed before a consolidation fit has measured the project's. */
export const DEFAULT_ANNOTATOR_ACCURACY = 0.8;
/** How many more votes the relabel gain looks ahead (2 sees past the tie a single vote can make). */
export const LOOKAHEAD_VOTES = 2;

export interface GainModel {
  /** The project's mean annotator accuracy (the fit's `meanAccuracy`), in (1/K, 1). */
  accuracy: number;
  /** Number of classes (>= 2). */
  classes: number;
  /** `maxLabelsPerItem`: no item gets more labels. */
  cap: number;
}

/**
 * P(the leading class is wrong) after `l` more one-coin votes, when it now has posterior `p` and the rest of the
 * mass sits on one other class. Votes for a third class (K > 2) move neither hypothesis.
 */
export function errorAfterVotes(p: number, l: number, accuracy: number, K: number): number {
  const a = accuracy;
  const b = (1 - a) / (K - 1);
  const third = (K - 2) * b;
  let err = 0;
  for (let j = 0; j <= l; j++)
    for (let m = 0; j + m <= l; m++) {
      const o = l - j - m;
      if (o > 0 && third === 0) continue;
      const ways = factorial(l) / (factorial(j) * factorial(m) * factorial(o));
      err += ways * third ** o * Math.min(p * a ** j * b ** m, (1 - p) * b ** j * a ** m);
    }
  return err;
}

/**
 * Expected wrong labels avoided by one more label on an item with `n` distinct votes whose leading class has
 * posterior `p`. 0 when `n >= cap` or the item has no vote yet (that is a new item).
 */
export function relabelGain(p: number, n: number, m: GainModel): number {
  if (n < 1 || n >= m.cap || m.classes < 2) return 0;
  const a = clampAccuracy(m.accuracy, m.classes);
  // Two hypotheses need the leader to hold at least half the mass: a three-way split counts as a tie (which
  // understates its gain a little, and keeps the tie's gain a ceiling for every item with n votes).
  p = Math.min(1, Math.max(0.5, p));
  const before = 1 - p;
  let best = 0;
  for (let l = 1; l <= Math.min(LOOKAHEAD_VOTES, m.cap - n); l++) best = Math.max(best, (before - errorAfterVotes(p, l, a, m.classes)) / l);
  const unused = (m.cap - n) / Math.max(1, m.cap - 1);
  return Math.max(0, best) * unused;
}

/**
 * Expected wrong labels avoided by a first human label on a new item: the label it would otherwise carry, the
 * model's, is wrong with probability `1 - confidence` (`1 - 1/K` before a model has scored it); the annotator's
 * is wrong with probability `1 - accuracy`. Negative when the model is surer than the average annotator: then
 * the label only teaches the model, a value this scale does not count (docs/quality.md says why).
 */
export function newItemGain(confidence: number | null, classes: number, accuracy = DEFAULT_ANNOTATOR_ACCURACY): number {
  const modelError = confidence === null || !Number.isFinite(confidence) ? (classes >= 2 ? 1 - 1 / classes : 0.5) : Math.min(1, Math.max(0, 1 - confidence));
  return modelError - (1 - clampAccuracy(accuracy, Math.max(2, classes)));
}

/**
 * How many of `room` queue slots go to another label on an old item: the best `room` of both lists by gain
 * (each sorted best first), ties to the new item (it also teaches the model). Items the key already holds
 * (`held`, counted in `relabelGains`' head) keep their slot, so a reload shows them again.
 */
export function relabelsToServe(relabelGains: readonly number[], newGains: readonly number[], room: number, held = 0): number {
  let taken = Math.min(held, room);
  let j = 0;
  for (let i = taken; i < relabelGains.length && taken + j < room; ) {
    if (j < newGains.length && newGains[j] >= relabelGains[i]) j++;
    else {
      taken++;
      i++;
    }
  }
  return taken;
}

/**
 * The leading class's posterior under the one-coin model with uniform priors, from vote counts per class: what
 * majority vote stands for before an EM fit exists (its own "posterior", a vote share, says 1.0 for a 1-0 item).
 */
export function oneCoinPosterior(counts: readonly number[], accuracy: number): number {
  const K = counts.length;
  if (K < 2) return 1;
  const a = clampAccuracy(accuracy, K);
  const logRatio = Math.log(a) - Math.log((1 - a) / (K - 1));
  const top = Math.max(...counts);
  let z = 0;
  for (const c of counts) z += Math.exp((c - top) * logRatio);
  return 1 / z;
}

function clampAccuracy(a: number, K: number): number {
  return Math.min(0.99, Math.max(1 / K + 0.01, Number.isFinite(a) ? a : DEFAULT_ANNOTATOR_ACCURACY));
}

function factorial(n: number): number {
  let f = 1;
  for (let i = 2; i <= n; i++) f *= i;
  return f;
}
