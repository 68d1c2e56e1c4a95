import { transactionWithRetry } from '../db/retry.ts';
import { ConflictError } from '../core/errors.ts';
import { activeJobs, insertJob, queuedJobs, type JobRow } from '../db/repositories/jobs.ts';
import { confidentPoolItems, countTrainable, goldExamples, trainingExamples, unlabelledSample } from '../db/repositories/items.ts';
import { insertVersion, listVersions, nextVersionNumber } from '../db/repositories/models.ts';
import { findProject, lockProjectVersions, setActiveVersion, type ProjectRow } from '../db/repositories/projects.ts';
import type { PipelineContext } from './context.ts';
import { goldMetrics, type GoldMetrics } from './evaluate.ts';
import { chooseModel } from './model-selection.ts';
import { mergeJobPayload } from '../db/repositories/jobs.ts';
import type { SelectionRecord } from '../models/selection.ts';
import { currentScore, fingerprintOf } from './rescore.ts';
import { classifierModality, modelInputOf, modelSpecFor } from './inputs.ts';
import { maybeAutoAudit } from './audit.ts';
import { enqueuePrelabel } from './prelabel.ts';
import { resolveSettings } from './settings.ts';
import { emitWebhookEvent } from './webhooks.ts';

/**
 * Queues a training job. A train job already waiting in the queue is returned instead of a second one (the
 * newer request is served by it: it reads the labels when it starts). Too few labels: 409 not_enough_labels.
 */
export async function requestTraining(ctx: PipelineContext, project: ProjectRow, reason: 'manual' | 'auto'): Promise<JobRow> {
  const settings = resolveSettings(project.settings);
  const job = await transactionWithRetry(ctx.db, async (tx) => {
    await lockProjectVersions(tx, project.id);
    const { n, classes } = await countTrainable(tx, project.id);
    // A transcription project learns from its transcripts, which are no classes.
    const transcription = project.modality === 'audio';
    if (n < settings.minLabelsToTrain || (!transcription && classes < 2))
      throw new ConflictError(
        transcription
          ? `Training needs at least ${settings.minLabelsToTrain} corrected transcripts; this project has ${n}.`
          : `Training needs at least ${settings.minLabelsToTrain} human labels over at least 2 classes; this project has ${n} over ${classes}.`,
        'not_enough_labels',
        { labels: n, classes, needed: settings.minLabelsToTrain },
      );
    const waiting = await queuedJobs(tx, project.id, 'train');
    if (waiting.length) return waiting[0];
    return insertJob(tx, { projectId: project.id, kind: 'train', payload: { reason, labels: n } });
  });
  ctx.onJobQueued?.();
  return job;
}

/**
 * After a human label: queue a retrain once `retrainEvery` new labels arrived since the last training
 * (queued, running or finished), unless one is already queued or running.
 */
export async function maybeAutoRetrain(ctx: PipelineContext, project: ProjectRow): Promise<JobRow | undefined> {
  const settings = resolveSettings(project.settings);
  if (settings.retrainEvery <= 0) return undefined;
  if ((await activeJobs(ctx.db, project.id, 'train')).length) return undefined;
  const { n } = await countTrainable(ctx.db, project.id);
  const [latest] = await listVersions(ctx.db, project.id);
  const last = latest?.trainedOnLabels ?? 0;
  if (n - last < settings.retrainEvery) return undefined;
  try {
    return await requestTraining(ctx, project, 'auto');
  } catch (e) {
    if (e instanceof ConflictError) return undefined;
    throw e;
  }
}

/** Pseudo-labels are taken only from predictions at least this confident. */
export const PSEUDO_LABEL_MIN_CONFIDENCE = 0.9;
/** At most this many pseudo-labels per human label (spread evenly over the classes). */
export const PSEUDO_LABELS_PER_HUMAN_LABEL = 2;

/** Unlabelled pool items handed to the model for semi-supervised training. */
export const UNLABELED_SAMPLE = 4000;

export interface TrainOutcome {
  modelVersion: number;
  status: 'ready' | 'rejected';
  gold: GoldMetrics;
  selection: SelectionRecord;
}

/**
 * Trains a new version in the model runner's worker on every human label, evaluates it on the gold set,
 * then writes it and activates it in one transaction. Nothing is written before the model is complete and
 * evaluated, so a crash at any point leaves the previously active version serving. A model whose loss or
 * outputs are not finite is stored as `rejected` and never activated.
 */
export async function runTrain(ctx: PipelineContext, job: JobRow, progress: (p: number) => Promise<void>): Promise<TrainOutcome> {
  const project = await findProject(ctx.db, job.projectId);
  if (!project) throw new Error('the project no longer exists');
  const settings = resolveSettings(project.settings);
  const base = modelSpecFor(project, settings);
  const index = new Map(project.labels.map((l, i) => [l, i]));
  const examples = await trainingExamples(ctx.db, project.id);
  if (examples.length < 2) throw new Error(`only ${examples.length} labelled items to train on`);
  // Semi-supervised: the active version's most confident predictions on the unlabelled pool join the human
  // labels as pseudo-labels, class-balanced so that no class floods the training set.
  const pseudo =
    settings.semiSupervised && project.activeVersion !== null
      ? await confidentPoolItems(
          ctx.db,
          project.id,
          project.activeVersion,
          PSEUDO_LABEL_MIN_CONFIDENCE,
          Math.ceil((PSEUDO_LABELS_PER_HUMAN_LABEL * examples.length) / project.labels.length),
        )
      : [];
  const all = [...examples, ...pseudo];
  const inputs = all.map((e) => modelInputOf(e, project.modality));
  const labels = Int32Array.from(all, (e) => index.get(e.label) ?? 0);
  await progress(0.02);
  // The model may also learn from unlabelled pool items directly (consistency, statistics).
  const unlabeled = settings.semiSupervised ? (await unlabelledSample(ctx.db, project.id, UNLABELED_SAMPLE)).map((r) => modelInputOf(r, project.modality)) : [];
  // Which candidate: forced by settings.model, or cross-validated on the human labels only (pseudo-labels
  // come from the previous model and would flatter it). Labels that cannot support k folds fall back with
  // the reason recorded, never an error.
  const [latest] = await listVersions(ctx.db, project.id);
  const { spec, selection } = await chooseModel(ctx, {
    modality: classifierModality(project.modality),
    base,
    setting: settings.model,
    seed: settings.seed,
    inputs: inputs.slice(0, examples.length),
    labels: labels.slice(0, examples.length),
    unlabeled,
    previous: latest?.metrics.selection as SelectionRecord | undefined,
    jobKey: `job:${job.id}`,
    onProgress: (p) => void progress(0.02 + 0.4 * p).catch(() => {}),
  });
  await mergeJobPayload(ctx.db, job.id, { selection: { method: selection.method, chosen: selection.chosen, reason: selection.reason } });
  const fitFrom = selection.method === 'cv' ? 0.42 : 0.02;
  const { blob, result } = await ctx.runner.train(
    {
      spec,
      inputs,
      labels,
      options: { epochs: settings.epochs, seed: settings.seed, learningRate: settings.learningRate, ...(unlabeled.length ? { unlabeled } : {}) },
    },
    (p) => void progress(fitFrom + (0.85 - fitFrom) * p).catch(() => {}),
  );
  await progress(0.86);

  const gold = await goldExamples(ctx.db, project.id);
  let metrics = goldMetrics(new Float32Array(0), [], project.labels);
  let finite = result.finite;
  if (gold.length) {
    const probs = await ctx.runner.predict(
      { key: `job:${job.id}`, load: async () => blob },
      gold.map((g) => modelInputOf(g, project.modality)),
    );
    finite = finite && probs.every(Number.isFinite);
    if (finite)
      metrics = goldMetrics(
        probs,
        Int32Array.from(gold, (g) => index.get(g.label) ?? 0),
        project.labels,
      );
  }
  await progress(0.95);
  const status = finite ? 'ready' : 'rejected';
  const version = await transactionWithRetry(ctx.db, async (tx) => {
    await lockProjectVersions(tx, project.id);
    const v = await nextVersionNumber(tx, project.id);
    await insertVersion(tx, {
      projectId: project.id,
      version: v,
      status,
      spec: spec as unknown as Record<string, unknown>,
      weights: blob,
      metrics: {
        gold: metrics,
        current: currentScore(fingerprintOf(gold), metrics),
        train: { epochs: result.epochs, loss: result.loss, valAccuracy: result.valAccuracy ?? null, humanLabels: examples.length, pseudoLabels: pseudo.length },
        backend: await ctx.runner.backend(),
        selection,
      },
      trainedOnLabels: examples.length,
      jobId: job.id,
    });
    if (status === 'ready') {
      await setActiveVersion(tx, project.id, v);
      await emitWebhookEvent(tx, project.id, 'version.activated', {
        version: v,
        reason: 'trained',
        jobId: job.id,
        goldAccuracy: metrics?.accuracy ?? null,
        humanLabels: examples.length,
      });
    }
    return v;
  });
  if (status === 'ready') {
    await enqueuePrelabel(ctx, project.id);
    await maybeAutoAudit(ctx, project, examples.length);
  } else throw new Error(`training produced a non-finite loss or output; version ${version} was stored as rejected and not activated`);
  return { modelVersion: version, status, gold: metrics, selection };
}
