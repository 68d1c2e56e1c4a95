/**
 * Gold checks: an annotator's accuracy on hidden gold answers, its 95 % interval, and the pause rule.
 *
 * The pause rule: pause an annotator once it has answered at least `minChecks` gold checks and the upper end of
 * the 99 % Wilson interval of its gold accuracy is below `floor` (0.7). The rule is looked at after every gold
 * answer, so its error rates are those of a sequential test, measured by simulation (bench:quality, 100 seeded
 * runs of 200 gold checks each):
 * - a random clicker on 4 classes (accuracy 0.25) is paused within 30 gold checks;
 * - an annotator of true accuracy 0.75 is wrongly paused in under 1 % of runs (a 95 % interval with the same floor
 *   paused 2.5-3.7 % of them: repeated looks add up, hence the 99 % interval);
 * - a random clicker on 2 classes (accuracy 0.5) cannot be told from a 0.75 annotator that fast at a 1 % false
 *   pause rate: at n = 30, even the best fixed test (pause at >= 14 errors) catches only ~70 % of them. It is
 *   caught within 60 checks in most runs (the bench prints the figure), and overlap-based EM accuracy flags it
 *   sooner when it has overlap.
 * Thresholds: `floor` 0.7 is the reference design's floor; `minChecks` 15 keeps a new annotator's first few
 * mistakes from pausing it (with 15 checks the rule needs <= 5 right to pause).
 */

/** Wilson score interval for k successes in n trials at normal quantile z (1.96 = 95 %). [0, 1] when n = 0. */
export function wilsonInterval(k: number, n: number, z = 1.96): [number, number] {
  if (n <= 0) return [0, 1];
  const p = k / n;
  const z2 = z * z;
  const d = 1 + z2 / n;
  const centre = (p + z2 / (2 * n)) / d;
  const half = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / d;
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}

export type AnnotatorStatus = 'onboarding' | 'ok' | 'watch' | 'paused';

export interface PauseRule {
  /** Pause below this accuracy (with 99 % confidence). */
  floor: number;
  /** Gold checks needed before the rule may pause. */
  minChecks: number;
  /** Normal quantile of the pausing interval (2.576 = 99 % two-sided). */
  z: number;
  /** `watch` when the 95 % interval lies wholly below this (a manager should look; nothing automatic). */
  watchBelow: number;
  /** Gold checks before an annotator leaves `onboarding`. */
  onboardingChecks: number;
}

export const DEFAULT_PAUSE_RULE: PauseRule = { floor: 0.7, minChecks: 15, z: 2.576, watchBelow: 0.8, onboardingChecks: 20 };

/** True when the rule pauses an annotator with `right` of `checks` gold answers right. */
export function shouldPause(right: number, checks: number, rule: PauseRule = DEFAULT_PAUSE_RULE): boolean {
  return checks >= rule.minChecks && wilsonInterval(right, checks, rule.z)[1] < rule.floor;
}

/**
 * Status from a sequence of gold results (true = right), oldest first. `paused` is sticky: once the rule fired at
 * some point of the sequence, the annotator stays paused until an engineer clears it (the caller then passes only
 * the results after the clearing, with `cleared`: a cleared annotator is past onboarding, so with few or no
 * answers since the clearing it is `ok` or `watch`, judged on those answers alone).
 */
export function annotatorStatus(
  results: readonly boolean[],
  rule: PauseRule = DEFAULT_PAUSE_RULE,
  opts: { cleared?: boolean } = {},
): { status: AnnotatorStatus; pausedAtCheck: number | null } {
  let right = 0;
  for (let n = 1; n <= results.length; n++) {
    if (results[n - 1]) right++;
    if (shouldPause(right, n, rule)) return { status: 'paused', pausedAtCheck: n };
  }
  if (!opts.cleared && results.length < rule.onboardingChecks) return { status: 'onboarding', pausedAtCheck: null };
  const [, hi] = wilsonInterval(right, results.length);
  return { status: hi < rule.watchBelow ? 'watch' : 'ok', pausedAtCheck: null };
}

/** Gold accuracy with its 95 % Wilson interval; accuracy null when no gold check was answered. */
export function goldAccuracy(right: number, checks: number): { checks: number; right: number; accuracy: number | null; interval: [number, number] } {
  return { checks, right, accuracy: checks > 0 ? right / checks : null, interval: wilsonInterval(right, checks) };
}
