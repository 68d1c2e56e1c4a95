import { transactionWithRetry } from '../db/retry.ts';
import { NotFoundError, ValidationError } from '../core/errors.ts';
import { countDisputed } from '../db/repositories/items.ts';
import { findVersion, listVersions, type ModelVersionSummary } from '../db/repositories/models.ts';
import { goldSetFingerprint } from '../db/repositories/version-scores.ts';
import { accuracyInterval, type CurrentGoldScore } from './rescore.ts';
import { findProject, lockProjectVersions, projectCounts, setActiveVersion, type ProjectRow } from '../db/repositories/projects.ts';
import type { PipelineContext } from './context.ts';
import type { GoldMetrics } from './evaluate.ts';
import type { SelectionRecord } from '../models/selection.ts';
import { currentAutoLabelPlan } from './autolabel-run.ts';
import { enqueuePrelabel } from './prelabel.ts';
import { resolveSettings } from './settings.ts';
import { emitWebhookEvent } from './webhooks.ts';

export interface MetricsReport {
  modelVersion: number | null;
  gold: ReportedGold;
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
  /**
   * Every ready version, oldest first, scored on the current gold set (`currentGoldSet` false while a re-score
   * is pending: then the score is from an older gold set and must not be compared with the others).
   */
  history: {
    version: number;
    humanLabels: number;
    accuracy: number | null;
    n: number;
    interval: [number, number] | null;
    currentGoldSet: boolean;
    /** The score measured when the version was trained, on the gold set of that day. */
    atTraining: { n: number; accuracy: number | null };
    createdAt: string;
  }[];
}

/** Gold metrics with the accuracy's 95% interval and whether they were measured on today's gold set. */
export type ReportedGold = GoldMetrics & { interval: [number, number] | null; currentGoldSet: boolean };

/**
 * A version's best-known score: on the current gold set when re-scored since it last changed, else the latest
 * score it has (a re-score on the current set, then the training-time one), flagged as not current.
 */
export function scoreOf(
  v: ModelVersionSummary,
  currentHash: string,
): { gold: GoldMetrics; n: number; accuracy: number | null; interval: [number, number] | null; currentGoldSet: boolean } {
  const cur = v.metrics.current as CurrentGoldScore | undefined;
  const gold = cur?.gold ?? (v.metrics.gold as GoldMetrics | undefined) ?? { n: 0, accuracy: null, perClass: {}, confusion: [], ece: null, calibration: [] };
  const interval = cur
    ? cur.interval
    : accuracyInterval(
        gold.confusion.reduce((s, row, i) => s + (row[i] ?? 0), 0),
        gold.n,
      );
  return { gold, n: gold.n, accuracy: gold.accuracy, interval, currentGoldSet: cur?.goldSet === currentHash };
}

/** The client-facing accuracy report: the active version's gold metrics, label counts and per-version history. */
export async function metricsReport(ctx: PipelineContext, project: ProjectRow): Promise<MetricsReport> {
  const [versions, counts] = await Promise.all([listVersions(ctx.db, project.id), projectCounts(ctx.db, project.id)]);
  const active = versions.find((v) => v.version === project.activeVersion);
  const goldSet = await goldSetFingerprint(ctx.db, project.id);
  const emptyGold: GoldMetrics = { n: counts.gold, accuracy: null, perClass: {}, confusion: [], ece: null, calibration: [] };
  // The active version's score on today's gold set once re-scored; until then its last score, marked stale.
  const score = active ? scoreOf(active, goldSet.hash) : null;
  const gold: ReportedGold = score
    ? { ...score.gold, interval: score.interval, currentGoldSet: score.currentGoldSet }
    : { ...emptyGold, interval: null, currentGoldSet: true };
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
      .map((v) => {
        const sc = scoreOf(v, goldSet.hash);
        const atTraining = v.metrics.gold as GoldMetrics | undefined;
        return {
          version: v.version,
          humanLabels: v.trainedOnLabels,
          accuracy: sc.accuracy,
          n: sc.n,
          interval: sc.interval,
          currentGoldSet: sc.currentGoldSet,
          atTraining: { n: atTraining?.n ?? 0, accuracy: atTraining?.accuracy ?? null },
          createdAt: v.createdAt.toISOString(),
        };
      }),
  };
}

export async function modelsReport(ctx: PipelineContext, project: ProjectRow) {
  // One snapshot: a training that commits its version (and activates it) between two separate reads would
  // otherwise answer the old active version beside a list that already holds the new one.
  const { active, versions } = await transactionWithRetry(
    ctx.db,
    async (tx) => ({ active: (await findProject(tx, project.id))?.activeVersion ?? null, versions: await listVersions(tx, project.id) }),
    { isolationLevel: 'repeatable read', accessMode: 'read only' },
  );
  const goldSet = await goldSetFingerprint(ctx.db, project.id);
  return {
    active,
    goldSet: { n: goldSet.n },
    versions: versions.map((v) => {
      const sc = scoreOf(v, goldSet.hash);
      return {
        version: v.version,
        status: v.status,
        active: v.version === active,
        createdAt: v.createdAt.toISOString(),
        trainedOnLabels: v.trainedOnLabels,
        metrics: v.metrics,
        /** Accuracy on the current gold set (see metrics.history). */
        currentGold: { n: sc.n, accuracy: sc.accuracy, interval: sc.interval, currentGoldSet: sc.currentGoldSet },
        jobId: v.jobId,
        model: modelChoice(v.metrics.selection as SelectionRecord | undefined, String((v.spec as { arch?: string }).arch ?? '')),
      };
    }),
  };
}

/** The /models view of metrics.selection: the winner, its CV score, every candidate's. */
function modelChoice(s: SelectionRecord | undefined, arch: string) {
  if (!s) return null;
  const win = s.scores.find((c) => c.candidate === s.chosen);
  return {
    candidate: s.chosen,
    arch: arch || s.arch,
    method: s.method,
    reason: s.reason,
    cv: win ? { mean: win.mean, sd: win.sd, k: win.k } : null,
    candidates: s.scores.map((c) => ({ candidate: c.candidate, mean: c.mean, sd: c.sd, k: c.k })),
  };
}

/** Rolls the served model forward or back to a stored, evaluated version, then re-scores the pool with it. */
export async function activateVersion(ctx: PipelineContext, project: ProjectRow, version: number) {
  await transactionWithRetry(ctx.db, async (tx) => {
    await lockProjectVersions(tx, project.id);
    const v = await findVersion(tx, project.id, version);
    if (!v) throw new NotFoundError(`Model version ${version}`);
    if (v.status !== 'ready')
      throw new ValidationError(`Model version ${version} was rejected (${v.status}) and cannot be activated.`, undefined, 'version_not_ready');
    await setActiveVersion(tx, project.id, version);
    await emitWebhookEvent(tx, project.id, 'version.activated', { version, reason: 'activated', previous: project.activeVersion });
  });
  ctx.onWebhookQueued?.();
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
