import { NotFoundError, ValidationError } from '../core/errors.ts';
import { findVersion, listVersions } from '../db/repositories/models.ts';
import { lockProject, projectCounts, setActiveVersion, type ProjectRow } from '../db/repositories/projects.ts';
import type { PipelineContext } from './context.ts';
import type { GoldMetrics } from './evaluate.ts';
import { enqueuePrelabel } from './prelabel.ts';

export interface MetricsReport {
  modelVersion: number | null;
  gold: GoldMetrics;
  labels: { human: number; auto: number; pending: number; imported: number };
  history: { version: number; humanLabels: number; accuracy: number | null; createdAt: string }[];
}

/** The client-facing accuracy report: the active version's gold metrics, label counts and per-version history. */
export async function metricsReport(ctx: PipelineContext, project: ProjectRow): Promise<MetricsReport> {
  const [versions, counts] = await Promise.all([listVersions(ctx.db, project.id), projectCounts(ctx.db, project.id)]);
  const active = versions.find((v) => v.version === project.activeVersion);
  const emptyGold: GoldMetrics = { n: counts.gold, accuracy: null, perClass: {}, confusion: [], ece: null, calibration: [] };
  return {
    modelVersion: project.activeVersion,
    gold: (active?.metrics.gold as GoldMetrics | undefined) ?? emptyGold,
    labels: { human: counts.human + counts.imported, auto: counts.autoLabeled, pending: counts.pending, imported: counts.imported },
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
  const versions = await listVersions(ctx.db, project.id);
  return {
    active: project.activeVersion,
    versions: versions.map((v) => ({
      version: v.version,
      status: v.status,
      active: v.version === project.activeVersion,
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
    if (v.status !== 'ready') throw new ValidationError(`Model version ${version} was rejected (${v.status}) and cannot be activated.`, undefined, 'version_not_ready');
    await setActiveVersion(tx, project.id, version);
  });
  await enqueuePrelabel(ctx, project.id);
  return { active: version };
}
