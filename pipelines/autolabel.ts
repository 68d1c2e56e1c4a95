import { sql } from 'drizzle-orm';
import { queryRows } from '../db/repositories/rows.ts';
import type { DbOrTx } from '../db/client.ts';

/**
 * Lower bound of the one-sided Clopper-Pearson (exact binomial) interval for a proportion k/n at
 * confidence `level`: the smallest p such that P(X >= k | n, p) >= 1 - level. Found by bisection on the
 * binomial tail (computed in log space, exact for the n of a gold set).
 */
export function clopperPearsonLower(k: number, n: number, level = 0.95): number {
  if (n <= 0 || k <= 0) return 0;
  const alpha = 1 - level;
  const logC = lgammaTable(n);
  // P(X >= k) for X ~ Bin(n, p), increasing in p.
  const tail = (p: number) => {
    let s = 0;
    const lp = Math.log(p);
    const lq = Math.log1p(-p);
    for (let i = k; i <= n; i++) s += Math.exp(logC[n] - logC[i] - logC[n - i] + i * lp + (n - i) * lq);
    return s;
  };
  let lo = 0;
  let hi = k / n;
  for (let it = 0; it < 60; it++) {
    const mid = (lo + hi) / 2;
    if (tail(mid) < alpha) lo = mid;
    else hi = mid;
  }
  return lo;
}

/** Upper bound, by symmetry: 1 - lower bound of the failures. */
export function clopperPearsonUpper(k: number, n: number, level = 0.95): number {
  if (n <= 0) return 1;
  if (k >= n) return 1;
  return 1 - clopperPearsonLower(n - k, n, level);
}

const lgammaCache: number[] = [0];
/** log(i!) for i = 0..n. */
function lgammaTable(n: number): number[] {
  for (let i = lgammaCache.length; i <= n; i++) lgammaCache.push(lgammaCache[i - 1] + Math.log(i));
  return lgammaCache;
}

export interface AutoLabelPlan {
  enabled: boolean;
  targetAccuracy: number;
  /** Confidence level of the interval whose lower bound must reach the target. */
  level: number;
  /** Threshold on the model's confidence per predicted class; a class absent here is never auto-labelled. */
  thresholds: Record<string, number>;
  /** How each class's threshold was chosen: its own gold items, or the global threshold (too few of its own). */
  basis: Record<string, 'class' | 'global'>;
  /** Gold items that would have been auto-labelled, how many of them correctly, and the estimate. */
  gold: { n: number; correct: number; accuracy: number | null; lower: number | null; upper: number | null };
  /** Why nothing can be auto-labelled, when that is so. */
  reason?: string;
}

/** Fewest gold items above a threshold for a class to get a threshold of its own. */
export const MIN_GOLD_PER_CLASS_THRESHOLD = 40;
/** Fewest gold items above the global threshold for any auto-labelling at all. */
export const MIN_GOLD_FOR_AUTOLABEL = 30;

export interface GoldPred {
  predicted: number;
  confidence: number;
  correct: boolean;
}

/**
 * The lowest confidence threshold at which the held-out accuracy of the items above it has a lower
 * confidence bound ≥ target, scanning thresholds from the most confident item down. Null if none.
 */
export function lowestSafeThreshold(preds: GoldPred[], target: number, level: number, minN: number): { threshold: number; n: number; correct: number } | null {
  const sorted = [...preds].sort((a, b) => b.confidence - a.confidence);
  let correct = 0;
  let best: { threshold: number; n: number; correct: number } | null = null;
  for (let i = 0; i < sorted.length; i++) {
    if (sorted[i].correct) correct++;
    const n = i + 1;
    // Only cut between distinct confidences: items tied with the threshold are all in.
    if (i + 1 < sorted.length && sorted[i + 1].confidence === sorted[i].confidence) continue;
    if (n >= minN && clopperPearsonLower(correct, n, level) >= target) best = { threshold: sorted[i].confidence, n, correct };
  }
  return best;
}

/** Each gold item's predicted class (the most probable), its probability, and whether it is the true class. */
export function goldPreds(probs: Float32Array, truth: ArrayLike<number>, k: number): GoldPred[] {
  const preds: GoldPred[] = [];
  for (let i = 0; i < truth.length; i++) {
    let best = 0;
    for (let c = 1; c < k; c++) if (probs[i * k + c] > probs[i * k + best]) best = c;
    preds.push({ predicted: best, confidence: probs[i * k + best], correct: best === truth[i] });
  }
  return preds;
}

/** Whether a plan's thresholds auto-label an item: its predicted class has a threshold and it is at least that confident. */
export function passesThreshold(thresholds: Record<string, number>, labels: readonly string[], p: GoldPred): boolean {
  const t = thresholds[labels[p.predicted]];
  return t !== undefined && p.confidence >= t;
}

/**
 * Chooses auto-labelling thresholds from the gold set's predictions (n*k probabilities, true classes): a
 * global threshold, then per class where its own gold items say so. A class whose gold items above the global
 * threshold are shown to fall short of the target (even the upper bound of their accuracy is below it) gets a
 * stricter threshold of its own, or none; a class whose own items reach the target from a lower confidence
 * gets that looser threshold, as long as the machine labels of all classes together still reach the target;
 * every other class keeps the global one. A class is never dropped for having too few gold items to prove
 * itself alone: Fashion-MNIST with 600 gold items would have lost half its classes that way (a class needs 59
 * right out of 59 for a 95% lower bound of 0.95), auto-labelling 26% of the pool instead of 68%.
 */
export function planAutoLabel(
  probs: Float32Array,
  truth: ArrayLike<number>,
  labels: string[],
  opts: { enabled: boolean; targetAccuracy: number; level?: number },
): AutoLabelPlan {
  const level = opts.level ?? 0.95;
  const target = opts.targetAccuracy;
  const k = labels.length;
  const preds = goldPreds(probs, truth, k);
  const empty: AutoLabelPlan = {
    enabled: opts.enabled,
    targetAccuracy: target,
    level,
    thresholds: {},
    basis: {},
    gold: { n: 0, correct: 0, accuracy: null, lower: null, upper: null },
  };
  if (!opts.enabled) return { ...empty, reason: 'auto-labelling is off for this project' };
  const global = lowestSafeThreshold(preds, target, level, MIN_GOLD_FOR_AUTOLABEL);
  if (!global)
    return { ...empty, reason: `no confidence threshold reaches ${target} accuracy on the ${preds.length} gold items with ${level * 100}% confidence` };
  const thresholds: Record<string, number> = {};
  const basis: Record<string, 'class' | 'global'> = {};
  const loosened: string[] = [];
  for (let c = 0; c < k; c++) {
    const own = preds.filter((p) => p.predicted === c);
    const above = own.filter((p) => p.confidence >= global.threshold);
    const right = above.filter((p) => p.correct).length;
    if (above.length && clopperPearsonUpper(right, above.length, level) < target) {
      // Shown to fall short: only a stricter threshold its own items vouch for, else no auto labels.
      const t = lowestSafeThreshold(own, target, level, Math.min(MIN_GOLD_PER_CLASS_THRESHOLD, above.length));
      if (t) {
        thresholds[labels[c]] = t.threshold;
        basis[labels[c]] = 'class';
      }
      continue;
    }
    const t = lowestSafeThreshold(own, target, level, MIN_GOLD_PER_CLASS_THRESHOLD);
    if (t && t.threshold < global.threshold) {
      thresholds[labels[c]] = t.threshold;
      basis[labels[c]] = 'class';
      loosened.push(labels[c]);
    } else {
      thresholds[labels[c]] = global.threshold;
      basis[labels[c]] = 'global';
    }
  }
  const select = () => preds.filter((p) => passesThreshold(thresholds, labels, p));
  let chosen = select();
  let correct = chosen.filter((p) => p.correct).length;
  if (loosened.length && clopperPearsonLower(correct, chosen.length, level) < target) {
    // Together the looser classes would pull the whole below the target: they keep the global threshold.
    for (const l of loosened) {
      thresholds[l] = global.threshold;
      basis[l] = 'global';
    }
    chosen = select();
    correct = chosen.filter((p) => p.correct).length;
  }
  const n = chosen.length;
  return {
    enabled: true,
    targetAccuracy: target,
    level,
    thresholds,
    basis,
    gold: {
      n,
      correct,
      accuracy: n ? correct / n : null,
      lower: n ? clopperPearsonLower(correct, n, level) : null,
      upper: n ? clopperPearsonUpper(correct, n, level) : null,
    },
  };
}

/**
 * Applies a version's plan to the pool in two statements: auto labels the version no longer trusts (below
 * its threshold, or now predicted otherwise, or from another version) go back to the queue; then every
 * unlabelled pool item above its class threshold is auto-labelled, with a label row recording the version.
 * Human and imported labels are never touched; held-out items are never auto-labelled.
 */
export async function applyAutoLabels(
  db: DbOrTx,
  projectId: string,
  version: number,
  thresholds: Record<string, number>,
): Promise<{ autoLabeled: number; returnedToQueue: number; added: number }> {
  const names = Object.keys(thresholds);
  const values = names.map((n) => thresholds[n]);
  const trusted = sql`(i.pred_version = ${version} and i.pred_label = i.label and exists (
      select 1 from unnest(${sql.param(names)}::text[], ${sql.param(values)}::real[]) as t(label, threshold)
      where t.label = i.pred_label and i.confidence >= t.threshold))`;
  const returned = await queryRows<{ id: string }>(
    db,
    sql`update items as i set status = 'pending', label = null, label_source = null
        where i.project_id = ${projectId} and i.status = 'auto' and not ${trusted}
        returning i.id`,
  );
  const added = await queryRows<{ id: string }>(
    db,
    sql`with chosen as (
          select i.id, i.pred_label from items as i
          join unnest(${sql.param(names)}::text[], ${sql.param(values)}::real[]) as t(label, threshold) on t.label = i.pred_label
          where i.project_id = ${projectId} and i.split = 'pool' and i.holdout = false and i.status = 'pending'
            and i.pred_version = ${version} and i.confidence >= t.threshold
          for update of i skip locked
        ), updated as (
          update items as i set status = 'auto', label = c.pred_label, label_source = 'auto'
          from chosen c where i.id = c.id
          returning i.id, i.label
        )
        insert into labels (project_id, item_id, label, source, predicted_label, agreed_with_model, model_version)
        select ${projectId}, u.id, u.label, 'auto', u.label, true, ${version} from updated u
        returning item_id as id`,
  );
  const [count] = await queryRows<{ n: string | number }>(db, sql`select count(*) as n from items where project_id = ${projectId} and status = 'auto'`);
  return { autoLabeled: Number(count?.n ?? 0), returnedToQueue: returned.length, added: added.length };
}
