/**
 * Label-error detection by confident learning (Northcutt et al. 2021, the idea behind cleanlab's
 * find_label_issues): with out-of-sample probabilities, each class j gets a threshold t_j, the mean
 * probability of j over items labelled j (its typical self-confidence). An item counts toward the confident
 * joint at (given label, the most probable class among those whose probability reaches their threshold); an
 * item off the diagonal is a likely label error, and the class it lands on is the suggested label.
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

/** Likely label errors, strongest first. `probs` must be out-of-sample (n*k), `given` the labels. */
export function findLabelIssues(probs: Float32Array, given: ArrayLike<number>, k: number): LabelIssue[] {
  const t = classThresholds(probs, given, k);
  const out: LabelIssue[] = [];
  for (let i = 0; i < given.length; i++) {
    let best = -1;
    for (let j = 0; j < k; j++) if (probs[i * k + j] >= t[j] && (best < 0 || probs[i * k + j] > probs[i * k + best])) best = j;
    const y = given[i];
    if (best < 0 || best === y) continue;
    out.push({ index: i, suggested: best, score: probs[i * k + best] - probs[i * k + y] });
  }
  return out.sort((a, b) => b.score - a.score);
}
