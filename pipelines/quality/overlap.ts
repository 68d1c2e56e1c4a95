/**
 * Adaptive overlap: does an item need another (distinct, blind) annotator?
 *
 * The rule of ../shared/workforce-quality.md §4.4: ask `minLabels` (2) annotators, then add one while no class
 * leads by `lead` (2) votes, up to `cap` (5) labels. With a consolidation fit, an item whose consolidated
 * posterior is below `confident` (0.9) also gets another label. A gold item never does (its answer is known),
 * and a label of a paused annotator does not count toward the minimum (its items get full overlap).
 */
export interface OverlapRule {
  minLabels: number;
  lead: number;
  cap: number;
  /** Posterior needed to stop early when a fit exists; ignored when no posterior is given. */
  confident: number;
}

export const DEFAULT_OVERLAP_RULE: OverlapRule = { minLabels: 2, lead: 2, cap: 5, confident: 0.9 };

/** Vote counts per class -> whether to ask one more annotator. `posterior` is the consolidated one, if any. */
export function needsAnotherLabel(counts: readonly number[], rule: OverlapRule = DEFAULT_OVERLAP_RULE, posterior?: readonly number[] | null): boolean {
  const n = counts.reduce((s, x) => s + x, 0);
  if (n >= rule.cap) return false;
  if (n < rule.minLabels) return true;
  const sorted = [...counts].sort((a, b) => b - a);
  const lead = sorted[0] - (sorted[1] ?? 0);
  if (lead < rule.lead) return true;
  if (posterior && posterior.length > 0 && Math.max(...posterior) < rule.confident) return true;
  return false;
}
