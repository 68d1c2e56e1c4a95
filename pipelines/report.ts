import { NotFoundError, ValidationError } from '../core/errors.ts';
import { countDisputed } from '../db/repositories/items.ts';
import { findVersion, listVersions } from '../db/repositories/models.ts';
import { findProject, lockProject, projectCounts, setActiveVersion, type ProjectRow } from '../db/repositories/projects.ts';
import type { PipelineContext } from './context.ts';
import type { GoldMetrics } from './evaluate.ts';
import { currentAutoLabelPlan } from './autolabel-run.ts';
import { enqueuePrelabel } from './prelabel.ts';
import { resolveSettings } from './settings.ts';

export interface MetricsReport {
  modelVersion: number | null;
  gold: GoldMetrics;
  /** The class pairs the active version confuses most on the gold set, worst first. */
  confusedPairs: ConfusedPair[];
  autoLabel: {
    enabled: boolean;
    targetAccuracy: number;
    confidenceLevel: number;
    /** Items labelled by the machine right now. */
    items: number;
    thresholds: Record<string, number>;
    /** Held-out accuracy of machine labels at these thresholds, with its interval at confidenceLevel. */
    estimatedAccuracy: number | null;
    interval: [number, number] | null;
    goldItemsAboveThreshold: number;
    reason?: string;
  };
  labels: { human: number; auto: number; pending: number; imported: number; disputed: number };
  history: { version: number; humanLabels: number; accuracy: number | null; createdAt: string }[];
}

/** The client-facing accuracy report: the active version's gold metrics, label counts and per-version history. */
export async function metricsReport(ctx: PipelineContext, project: ProjectRow): Promise<MetricsReport> {
  const [versions, counts] = await Promise.all([listVersions(ctx.db, project.id), projectCounts(ctx.db, project.id)]);
  const active = versions.find((v) => v.version === project.activeVersion);
  const emptyGold: GoldMetrics = { n: counts.gold, accuracy: null, perClass: {}, confusion: [], ece: null, calibration: [] };
  const gold = (active?.metrics.gold as GoldMetrics | undefined) ?? emptyGold;
  const settings = resolveSettings(project.settings);
  const plan = await currentAutoLabelPlan(ctx, project);
  return {
    modelVersion: project.activeVersion,
    gold,
    confusedPairs: confusedPairs(gold.confusion, project.labels),
    autoLabel: {
      enabled: settings.autoLabel.enabled,
      targetAccuracy: settings.autoLabel.targetAccuracy,
      confidenceLevel: settings.autoLabel.confidenceLevel,
      items: counts.autoLabeled,
      thresholds: plan?.enabled ? plan.thresholds : {},
      estimatedAccuracy: plan?.gold.accuracy ?? null,
      interval: plan && plan.gold.lower !== null && plan.gold.upper !== null ? [plan.gold.lower, plan.gold.upper] : null,
      goldItemsAboveThreshold: plan?.gold.n ?? 0,
      ...(plan?.reason ? { reason: plan.reason } : plan ? {} : { reason: 'no model yet' }),
    },
    labels: {
      human: counts.human + counts.imported,
      auto: counts.autoLabeled,
      pending: counts.pending,
      imported: counts.imported,
      disputed: await countDisputed(ctx.db, project.id),
    },
    history: versions
      .filter((v) => v.status === 'ready')
      .reverse()
      .map((v) => ({
        version: v.version,
        humanLabels: v.trainedOnLabels,
        accuracy: (v.metrics.gold as GoldMetrics | undefined)?.accuracy ?? null,
        createdAt: v.createdAt.toISOString(),
      })),
  };
}

export async function modelsReport(ctx: PipelineContext, project: ProjectRow) {
  // One snapshot: a training that commits its version (and activates it) between two separate reads would
  // otherwise answer the old active version beside a list that already holds the new one.
  const { active, versions } = await ctx.db.transaction(
    async (tx) => ({ active: (await findProject(tx, project.id))?.activeVersion ?? null, versions: await listVersions(tx, project.id) }),
    { isolationLevel: 'repeatable read', accessMode: 'read only' },
  );
  return {
    active,
    versions: versions.map((v) => ({
      version: v.version,
      status: v.status,
      active: v.version === active,
      createdAt: v.createdAt.toISOString(),
      trainedOnLabels: v.trainedOnLabels,
      metrics: v.metrics,
      jobId: v.jobId,
    })),
  };
}

/** Rolls the served model forward or back to a stored, evaluated version, then re-scores the pool with it. */
export async function activateVersion(ctx: PipelineContext, project: ProjectRow, version: number) {
  await ctx.db.transaction(async (tx) => {
    await lockProject(tx, project.id);
    const v = await findVersion(tx, project.id, version);
    if (!v) throw new NotFoundError(`Model version ${version}`);
    if (v.status !== 'ready')
      throw new ValidationError(`Model version ${version} was rejected (${v.status}) and cannot be activated.`, undefined, 'version_not_ready');
    await setActiveVersion(tx, project.id, version);
  });
  await enqueuePrelabel(ctx, project.id);
  return { active: version };
}

export interface ConfusedPair {
  /** The true class. */
  label: string;
  /** What the model said instead. */
  predicted: string;
  /** Gold items of `label` predicted as `predicted`. */
  count: number;
  /** That count as a share of `label`'s gold items. */
  rate: number;
  /** A sentence for people: "Shirt → T-shirt/top: 14% of Shirt gold items". */
  text: string;
}

/** Off-diagonal cells of the gold confusion matrix, largest share first (at most `limit`). */
export function confusedPairs(confusion: number[][], labels: string[], limit = 5): ConfusedPair[] {
  const out: ConfusedPair[] = [];
  confusion.forEach((row, t) => {
    const support = row.reduce((a, b) => a + b, 0);
    row.forEach((count, p) => {
      if (p === t || count === 0 || support === 0) return;
      const rate = count / support;
      out.push({
        label: labels[t],
        predicted: labels[p],
        count,
        rate: Math.round(rate * 1e4) / 1e4,
        text: `${labels[t]} → ${labels[p]}: ${Math.round(rate * 100)}% of ${labels[t]} gold items`,
      });
    });
  });
  return out.sort((a, b) => b.rate - a.rate || b.count - a.count).slice(0, limit);
}
