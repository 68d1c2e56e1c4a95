import { insertJob, queuedJobs, type JobRow } from '../db/repositories/jobs.ts';
import { unscoredItems, writePredictions, type ScoredItem } from '../db/repositories/items.ts';
import { analyzeItemsIfStale } from '../db/repositories/rows.ts';
import { findProject } from '../db/repositories/projects.ts';
import { transactionWithRetry } from '../db/retry.ts';
import type { PipelineContext } from './context.ts';
import { modelInputOf } from './inputs.ts';
import { versionClassCount, versionRef } from './model-ref.ts';
import { reconcileAutoLabels, type AutoLabelOutcome } from './autolabel-run.ts';
import { rescoreVersions } from './rescore.ts';
import { resolveSettings } from './settings.ts';
import { findVersion } from '../db/repositories/models.ts';
import { ENSEMBLE_MEMBERS, IMAGE_ENSEMBLE_ARCH } from '../models/image-ensemble.ts';
import { argmax, BALD_SAMPLES, baldScores, uncertaintyOf } from './strategies.ts';

/** Items scored per model call. */
export const PRELABEL_BATCH = 512;

/** Queues a pre-label job for the project unless one is already waiting (it will cover every unscored item). */
export async function enqueuePrelabel(ctx: PipelineContext, projectId: string): Promise<JobRow> {
  const waiting = await queuedJobs(ctx.db, projectId, 'prelabel');
  if (waiting.length) return waiting[0];
  const job = await insertJob(ctx.db, { projectId, kind: 'prelabel' });
  ctx.onJobQueued?.();
  return job;
}

/**
 * Scores every item (pool and gold) that has no prediction from the active version yet, in batches: stores
 * the class probabilities and the uncertainty the queue ranks by. Stops early if another version became
 * active meanwhile (the activation queued a fresh pre-label job), so results of a stale model are never
 * written. Once everything is scored, auto-labelling is re-decided for the version.
 */
export async function runPrelabel(
  ctx: PipelineContext,
  job: JobRow,
  progress: (p: number) => Promise<void>,
): Promise<{ modelVersion: number | null; scored: number; rescored?: number[]; autoLabel?: AutoLabelOutcome }> {
  let project = await findProject(ctx.db, job.projectId);
  if (!project || project.activeVersion === null) return { modelVersion: null, scored: 0 };
  const version = project.activeVersion;
  const settings = resolveSettings(project.settings);
  const ref = versionRef(ctx, project.id, version);
  const committee = (await findVersion(ctx.db, project.id, version))?.spec?.arch === IMAGE_ENSEMBLE_ARCH;
  // The version's own class count: a class added since it was trained has no output in it (the new class
  // names are appended, so index i is still the class it was trained as).
  const k = await versionClassCount(ctx, project.id, version, project.labels.length);
  const score = async (batch: Awaited<ReturnType<typeof unscoredItems>>): Promise<ScoredItem[]> => {
    const inputs = batch.map((r) => modelInputOf(r, project!.modality));
    let probs: Float32Array;
    let scores: Float32Array | undefined;
    if (settings.strategy === 'bald') {
      // BALD needs the spread of several dropout passes; the stored prediction is their mean.
      ({ mean: probs, scores } = baldScores(await ctx.runner.predictSamples(ref, inputs, BALD_SAMPLES), BALD_SAMPLES, batch.length, k));
    } else if (committee && settings.strategy !== 'random') {
      // An ensemble that cross-validation chose: the strategy's score of the committee's mean plus the
      // members' disagreement (their mutual information), so items the members dispute rank higher.
      const { mean, scores: disagreement } = baldScores(await ctx.runner.predictSamples(ref, inputs, ENSEMBLE_MEMBERS), ENSEMBLE_MEMBERS, batch.length, k);
      probs = mean;
      scores = Float32Array.from(disagreement, (d, i) => Math.min(1, uncertaintyOf(Array.from(mean.subarray(i * k, (i + 1) * k)), settings.strategy) + d));
    } else probs = await ctx.runner.predict(ref, inputs);
    return batch.map((r, i) => {
      const p = Array.from(probs.subarray(i * k, (i + 1) * k));
      const best = argmax(p);
      return {
        itemId: r.id,
        probs: p,
        label: project!.labels[best],
        confidence: p[best],
        uncertainty: scores ? scores[i] : uncertaintyOf(p, settings.strategy),
      };
    });
  };
  // A pipeline of three stages, so that the model (a worker thread) is never idle waiting for the database:
  // while it scores one page, the previous page is written and the next one read. Pages follow `seq`; a pass
  // that reaches the end starts over from the beginning (after its writes), to catch items that a concurrent
  // ingest committed behind it, and the job ends when a pass from the beginning finds nothing.
  let scored = 0;
  let after = 0;
  let stale = false;
  // Started early and awaited later: each is marked handled at once, so an error surfaces where it is
  // awaited (failing the job), never as an unhandled rejection when the loop leaves early.
  const early = <T>(p: Promise<T>): Promise<T> => {
    p.catch(() => undefined);
    return p;
  };
  const projectId = project.id;
  const read = () => early(unscoredItems(ctx.db, projectId, version, PRELABEL_BATCH, after));
  const write = (rows: ScoredItem[]) =>
    early(
      (async () => {
        project = await findProject(ctx.db, job.projectId);
        if (!project || project.activeVersion !== version) {
          stale = true;
          return;
        }
        await transactionWithRetry(ctx.db, (tx) => writePredictions(tx, projectId, version, rows));
        scored += rows.length;
        await progress(Math.min(0.95, scored / (scored + PRELABEL_BATCH)));
      })(),
    );
  let writing: Promise<void> = Promise.resolve();
  let reading = read();
  for (;;) {
    const batch = await reading;
    if (!batch.length) {
      await writing;
      if (after === 0 || stale) break;
      after = 0;
      reading = read();
      continue;
    }
    after = batch[batch.length - 1].seq;
    reading = read();
    const rows = await score(batch);
    await writing;
    if (stale) break;
    writing = write(rows);
  }
  // A pass over many new items leaves PostgreSQL's statistics of `items` stale until autovacuum comes by, and the
  // queue's plans with them (docs/team.md, "A million items").
  if (ctx.config.databaseUrl && scored > 0) await analyzeItemsIfStale(ctx.db);
  const now = await findProject(ctx.db, job.projectId);
  if (!now || now.activeVersion !== version) return { modelVersion: version, scored };
  // Every version on today's gold set, so that versions (and a rollback) are compared on the same items.
  const rescored = await rescoreVersions(ctx, now);
  return { modelVersion: version, scored, rescored, autoLabel: await reconcileAutoLabels(ctx, now) };
}
