/**
 * Every model version scored on the same, current gold set (issue 14, defect 8). A version's training-time
 * score was measured on the gold set of that day; once gold items are added, relabelled or deleted, scores of
 * different versions are no longer comparable, and a rollback would show a stale number. So each ready version
 * is re-scored whenever the gold set's fingerprint changes, and the score is kept with its gold set, its size
 * and a 95% Clopper-Pearson interval under `metrics.current`.
 */
import { createHash } from 'node:crypto';
import { goldExamples, type LabeledExample } from '../db/repositories/items.ts';
import { listVersions } from '../db/repositories/models.ts';
import type { ProjectRow } from '../db/repositories/projects.ts';
import { goldSetFingerprint, setCurrentGoldScore } from '../db/repositories/version-scores.ts';
import { clopperPearsonLower, clopperPearsonUpper } from './autolabel.ts';
import type { PipelineContext } from './context.ts';
import { goldMetrics, type GoldMetrics } from './evaluate.ts';
import { modelInputOf } from './inputs.ts';
import { versionRef } from './model-ref.ts';

/** A version's score on one gold set. */
export interface CurrentGoldScore {
  /** Fingerprint of the gold set (goldSetFingerprint). */
  goldSet: string;
  n: number;
  accuracy: number | null;
  /** Two-sided 95% Clopper-Pearson interval of the accuracy; null without gold items. */
  interval: [number, number] | null;
  gold: GoldMetrics;
  scoredAt: string;
}

/** The same fingerprint as goldSetFingerprint, from examples already read (ids are ASCII: JS order = C order). */
export function fingerprintOf(gold: Pick<LabeledExample, 'id' | 'label'>[]): string {
  const lines = gold.map((g) => `${g.id}:${g.label}`).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return createHash('md5').update(lines.join(',')).digest('hex');
}

/** Two-sided 95% exact interval of k correct out of n, rounded to 4 decimals; null when n = 0. */
export function accuracyInterval(correct: number, n: number): [number, number] | null {
  if (n <= 0) return null;
  const r = (x: number) => Math.round(x * 1e4) / 1e4;
  return [r(clopperPearsonLower(correct, n, 0.975)), r(clopperPearsonUpper(correct, n, 0.975))];
}

/** A score record from gold metrics. */
export function currentScore(goldSet: string, gold: GoldMetrics): CurrentGoldScore {
  const correct = gold.confusion.reduce((s, row, i) => s + (row[i] ?? 0), 0);
  return { goldSet, n: gold.n, accuracy: gold.accuracy, interval: accuracyInterval(correct, gold.n), gold, scoredAt: new Date().toISOString() };
}

/**
 * Re-scores every ready version whose stored score is not on the current gold set. Cheap when nothing changed
 * (one fingerprint query). A version trained before a class was added predicts only its own classes; the
 * missing classes count as probability 0.
 */
export async function rescoreVersions(ctx: PipelineContext, project: ProjectRow): Promise<number[]> {
  const { hash } = await goldSetFingerprint(ctx.db, project.id);
  const stale = (await listVersions(ctx.db, project.id)).filter(
    (v) => v.status === 'ready' && (v.metrics.current as CurrentGoldScore | undefined)?.goldSet !== hash,
  );
  if (!stale.length) return [];
  const gold = await goldExamples(ctx.db, project.id);
  const goldSet = fingerprintOf(gold);
  const k = project.labels.length;
  const index = new Map(project.labels.map((l, i) => [l, i]));
  const truth = Int32Array.from(gold, (g) => index.get(g.label) ?? 0);
  const inputs = gold.map((g) => modelInputOf(g, project.modality));
  const done: number[] = [];
  for (const v of stale) {
    let probs = new Float32Array(0);
    if (gold.length) {
      const out = await ctx.runner.predict(versionRef(ctx, project.id, v.version), inputs);
      const kv = out.length / gold.length;
      probs = new Float32Array(gold.length * k);
      for (let i = 0; i < gold.length; i++) probs.set(out.subarray(i * kv, i * kv + Math.min(kv, k)), i * k);
    }
    await setCurrentGoldScore(
      ctx.db,
      project.id,
      v.version,
      currentScore(goldSet, goldMetrics(probs, truth, project.labels)) as unknown as Record<string, unknown>,
    );
    done.push(v.version);
  }
  return done;
}
