import { countAutoLabeled, goldPredictions } from '../db/repositories/items.ts';
import { shareLockProject, type ProjectRow } from '../db/repositories/projects.ts';
import { transactionWithRetry } from '../db/retry.ts';
import { applyAutoLabels, planAutoLabel, type AutoLabelPlan } from './autolabel.ts';
import type { PipelineContext } from './context.ts';
import { resolveSettings } from './settings.ts';

export interface AutoLabelOutcome {
  plan: AutoLabelPlan;
  autoLabeled: number;
  returnedToQueue: number;
  added: number;
}

/** The active version's auto-labelling plan, from its stored predictions on the gold set and the settings now. */
export async function currentAutoLabelPlan(ctx: PipelineContext, project: ProjectRow): Promise<AutoLabelPlan | null> {
  if (project.activeVersion === null) return null;
  const settings = resolveSettings(project.settings);
  const gold = await goldPredictions(ctx.db, project.id, project.activeVersion);
  const k = project.labels.length;
  const index = new Map(project.labels.map((l, i) => [l, i]));
  const probs = new Float32Array(gold.length * k);
  gold.forEach((g, i) => probs.set(g.probs.slice(0, k), i * k));
  return planAutoLabel(
    probs,
    gold.map((g) => index.get(g.label) ?? -1),
    project.labels,
    { enabled: settings.autoLabel.enabled, targetAccuracy: settings.autoLabel.targetAccuracy, level: settings.autoLabel.confidenceLevel },
  );
}

/**
 * Re-decides every auto label for the active version: applies its plan (or, when auto-labelling is off or
 * no threshold is safe, sends every auto label back to the queue). Human labels are never touched.
 */
export async function reconcileAutoLabels(ctx: PipelineContext, project: ProjectRow): Promise<AutoLabelOutcome | undefined> {
  const plan = await currentAutoLabelPlan(ctx, project);
  if (!plan) return undefined;
  const thresholds = plan.enabled ? plan.thresholds : {};
  if (!Object.keys(thresholds).length && (await countAutoLabeled(ctx.db, project.id)) === 0) return { plan, autoLabeled: 0, returnedToQueue: 0, added: 0 };
  // Lock order (docs/team.md): project row first; applyAutoLabels then locks items and inserts label rows.
  const r = await transactionWithRetry(ctx.db, async (tx) => {
    await shareLockProject(tx, project.id);
    return applyAutoLabels(tx, project.id, project.activeVersion!, thresholds);
  });
  return { plan, ...r };
}
