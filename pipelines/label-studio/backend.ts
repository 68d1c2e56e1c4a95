/**
 * Furrow as a Label Studio ML backend (shared/label-studio.md): translation only. Tasks become Furrow items
 * (`externalId` `ls-task-<id>`, so the queue, pre-labelling and semi-supervised training see them),
 * predictions come from the active version, annotations become human labels through `labelItem`, and
 * "Start training" queues Furrow's training job. Every decision is made by the pipelines the native API uses.
 */
import { ConflictError, describeError, ValidationError } from '../../core/errors.ts';
import { findJob } from '../../db/repositories/jobs.ts';
import { itemsByExternalId, linkAnnotation, unlinkAnnotations, withdrawHumanLabels } from '../../db/repositories/label-studio.ts';
import { listVersions } from '../../db/repositories/models.ts';
import type { ProjectRow } from '../../db/repositories/projects.ts';
import type { PipelineContext } from '../context.ts';
import { ingestItems } from '../ingest.ts';
import { labelItem } from '../labeling.ts';
import { predictItems } from '../predict.ts';
import { resolveSettings } from '../settings.ts';
import { uncertaintyOf } from '../strategies.ts';
import { requestTraining } from '../train.ts';
import { checkLabelConfig, findChoicesControl, type ChoicesControl } from './label-config.ts';
import type { LabelStudioMedia } from './media.ts';

/** A Label Studio task as sent in `/predict`, webhooks and exports (only the fields Furrow reads). */
export interface LabelStudioTask {
  id?: number | string;
  data?: Record<string, unknown>;
}

export interface LabelStudioResult {
  id?: string;
  from_name?: string;
  to_name?: string;
  type?: string;
  value?: { choices?: unknown };
}

export interface LabelStudioAnnotation {
  id?: number | string;
  result?: LabelStudioResult[];
  was_cancelled?: boolean;
}

/** The Furrow key a Label Studio connection authenticates with (an engineer key of the project, or admin). */
export interface BackendKey {
  id: string;
  role: string;
}

export interface BackendDeps {
  ctx: PipelineContext;
  media: LabelStudioMedia;
}

/**
 * The `model_version` string Label Studio stores with predictions. It changes with the active version, so a
 * retrain (or a rollback) makes Label Studio ask for predictions again (§2.4), and it is never empty.
 */
export function modelVersionName(project: Pick<ProjectRow, 'activeVersion'>): string {
  return project.activeVersion === null ? 'furrow-untrained' : `furrow-v${project.activeVersion}`;
}

export function externalIdOf(taskId: number | string): string {
  return `ls-task-${taskId}`;
}

/** `/setup`: checks the config against the project (a mismatch is a 400 Label Studio shows) and names the version. */
export function setup(project: ProjectRow, body: { schema?: unknown }): { model_version: string } {
  if (typeof body.schema === 'string') checkLabelConfig(body.schema, project);
  return { model_version: modelVersionName(project) };
}

/** The task's input as a Furrow item: text inline, images fetched from Label Studio. */
async function itemOfTask(deps: BackendDeps, project: ProjectRow, control: ChoicesControl | null, task: LabelStudioTask): Promise<Record<string, unknown>> {
  const data = task.data ?? {};
  const key = control?.dataKey ?? (project.modality === 'image' ? 'image' : 'text');
  const value = data[key] ?? data.$undefined$;
  if (typeof value !== 'string' || value === '') throw new ValidationError(`Task ${task.id ?? '?'} has no "${key}" in its data.`, undefined, 'invalid_task');
  const item: Record<string, unknown> = task.id === undefined ? {} : { externalId: externalIdOf(task.id) };
  if (project.modality === 'text') return { ...item, text: value };
  if (project.modality === 'image') {
    const bytes = await deps.media.fetchImage(value, task.id);
    return { ...item, image: Buffer.from(bytes).toString('base64') };
  }
  throw new ValidationError(`Label Studio cannot send ${project.modality} items.`, undefined, 'label_config_mismatch');
}

function taskList(value: unknown): LabelStudioTask[] {
  if (!Array.isArray(value)) throw new ValidationError('"tasks" must be a list of Label Studio tasks.', undefined, 'invalid_body');
  return value.map((t) => (t !== null && typeof t === 'object' ? (t as LabelStudioTask) : {}));
}

export interface PredictionOut {
  model_version: string;
  score: number;
  result: { id: string; from_name: string; to_name: string; type: 'choices'; value: { choices: string[] }; score: number }[];
  /** Why this task has no result (Label Studio ignores the field; a person reading the logs does not). */
  error?: string;
}

/**
 * `/predict`: exactly one entry per task, in order (§2.3). A task Furrow cannot read (no data, an image that
 * cannot be fetched) gets an empty result and its reason, never a shorter list. The tasks are also stored as
 * pool items, so Furrow pre-labels them and learns from their unlabelled data. `score` is 1 minus Furrow's
 * uncertainty under the project's strategy: sorting by score ascending in Label Studio is Furrow's queue order.
 */
export async function predict(
  deps: BackendDeps,
  project: ProjectRow,
  body: { tasks?: unknown; label_config?: unknown },
): Promise<{ results: PredictionOut[] }> {
  const tasks = taskList(body.tasks);
  const control = typeof body.label_config === 'string' ? checkLabelConfig(body.label_config, project) : null;
  const version = modelVersionName(project);
  const results: PredictionOut[] = tasks.map(() => ({ model_version: version, score: 0, result: [] }));
  const items: (Record<string, unknown> | null)[] = await Promise.all(
    tasks.map(async (t, i) => {
      try {
        return await itemOfTask(deps, project, control, t);
      } catch (e) {
        results[i].error = e instanceof ValidationError ? e.message : 'The task could not be read.';
        if (!(e instanceof ValidationError)) deps.ctx.logger.warn('label-studio task unreadable', { projectId: project.id, error: describeError(e) });
        return null;
      }
    }),
  );
  const readable = items.flatMap((it, i) => (it ? [{ i, it }] : []));
  if (readable.length === 0) return { results };
  const stored = readable.filter((r) => r.it.externalId !== undefined).map((r) => r.it);
  if (stored.length) await ingestItems(deps.ctx, project, stored, { partial: true });
  if (project.activeVersion === null || !control) {
    const why = !control ? 'The label_config has no <Choices> on an <Image> or <Text>.' : 'Furrow has no trained model for this project yet.';
    for (const r of readable) results[r.i].error = why;
    return { results };
  }
  const inputs = readable.map((r) => {
    const { externalId: _drop, ...data } = r.it;
    return data;
  });
  const batch = await predictBestEffort(deps.ctx, project, inputs);
  const strategy = resolveSettings(project.settings).strategy;
  readable.forEach((r, j) => {
    const p = batch[j];
    if (typeof p === 'string') {
      results[r.i].error = p;
      return;
    }
    const probs = project.labels.map((l) => p.probs[l] ?? 0);
    const score = round4(1 - uncertaintyOf(probs, strategy));
    results[r.i] = {
      model_version: version,
      score,
      result: [
        {
          id: `furrow-${r.i}`,
          from_name: control.fromName,
          to_name: control.toName,
          type: 'choices',
          value: { choices: [p.label] },
          score: round4(p.confidence),
        },
      ],
    };
  });
  return { results };
}

function round4(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}

/** predictItems over items one of which may be unreadable: the others are still predicted. */
async function predictBestEffort(ctx: PipelineContext, project: ProjectRow, inputs: Record<string, unknown>[]) {
  type Out = Awaited<ReturnType<typeof predictItems>>['predictions'][number] | string;
  const out: Out[] = new Array(inputs.length);
  let remaining = inputs.map((_, i) => i);
  for (let attempt = 0; attempt < 2 && remaining.length; attempt++) {
    try {
      const res = await predictItems(
        ctx,
        project,
        remaining.map((i) => inputs[i]),
      );
      remaining.forEach((i, j) => (out[i] = res.predictions[j]));
      return out;
    } catch (e) {
      const rejected = (e as ValidationError).details as { rejected?: { index: number; error: string }[] } | undefined;
      if (!(e instanceof ValidationError) || !rejected?.rejected) throw e;
      const bad = new Set(rejected.rejected.map((r) => r.index));
      for (const r of rejected.rejected) out[remaining[r.index]] = r.error;
      remaining = remaining.filter((_, j) => !bad.has(j));
    }
  }
  return out;
}

/** The one choice of an annotation for the control (or the first `choices` result when the config is unknown). */
export function choiceOf(annotation: LabelStudioAnnotation, control: ChoicesControl | null): string | null {
  for (const r of annotation.result ?? []) {
    if (r.type !== 'choices' || (control && r.from_name !== control.fromName)) continue;
    const choices = r.value?.choices;
    if (Array.isArray(choices) && typeof choices[0] === 'string') return choices[0];
  }
  return null;
}

/**
 * Stores one annotation as a human label of its task's item (creating the item first if `/predict` never saw
 * the task). A cancelled (skipped) annotation or one without a choice stores nothing and says why.
 */
async function storeAnnotation(
  deps: BackendDeps,
  project: ProjectRow,
  key: BackendKey,
  control: ChoicesControl | null,
  task: LabelStudioTask,
  annotation: LabelStudioAnnotation,
): Promise<{ stored: boolean; itemId?: string; label?: string; reason?: string }> {
  if (annotation.was_cancelled) return { stored: false, reason: 'The annotation was cancelled (skipped).' };
  const label = choiceOf(annotation, control);
  if (label === null) return { stored: false, reason: 'The annotation has no choice for this project.' };
  if (!project.labels.includes(label))
    throw new ValidationError(`The choice "${label}" is not one of this Furrow project's labels (${project.labels.join(', ')}).`, undefined, 'unknown_label');
  if (task.id === undefined) throw new ValidationError('The annotation carries no task id.', undefined, 'invalid_task');
  const externalId = externalIdOf(task.id);
  let item = (await itemsByExternalId(deps.ctx.db, project.id, [externalId])).get(externalId);
  if (!item) {
    await ingestItems(deps.ctx, project, [await itemOfTask(deps, project, control, task)]);
    item = (await itemsByExternalId(deps.ctx.db, project.id, [externalId])).get(externalId);
    if (!item) throw new ConflictError('The task could not be stored as an item.', 'task_not_stored');
  }
  await labelItem(deps.ctx, project, key, item.id, label);
  if (annotation.id !== undefined) await linkAnnotation(deps.ctx.db, project.id, String(annotation.id), item.id, label);
  return { stored: true, itemId: item.id, label };
}

function projectConfig(body: Record<string, unknown>): string | undefined {
  const p = body.project;
  if (p && typeof p === 'object' && typeof (p as { label_config?: unknown }).label_config === 'string') return (p as { label_config: string }).label_config;
  return typeof body.label_config === 'string' ? body.label_config : undefined;
}

export interface WebhookAnswer {
  status: number;
  body: Record<string, unknown>;
}

/** Starts a training job; too few labels is said, not thrown, unless the caller asked to train (START_TRAINING). */
async function train(deps: BackendDeps, project: ProjectRow, strict: boolean): Promise<WebhookAnswer> {
  try {
    const job = await requestTraining(deps.ctx, project, 'manual');
    return { status: 201, body: { status: 'ok', job: job.id, result: { jobId: job.id, modelVersion: modelVersionName(project) } } };
  } catch (e) {
    if (e instanceof ConflictError && !strict) return { status: 200, body: { status: 'ok', detail: e.message } };
    throw e;
  }
}

/**
 * `/webhook` (§3): answered at once; training runs as a job. Unknown actions answer 200 "Unknown event" as
 * the reference backend does, so Label Studio's project webhook (sent for all actions) never errors.
 */
export async function webhook(deps: BackendDeps, project: ProjectRow, key: BackendKey, body: Record<string, unknown>): Promise<WebhookAnswer> {
  const action = body.action;
  if (typeof action !== 'string') throw new ValidationError('The webhook body has no "action".', undefined, 'invalid_body');
  const xml = projectConfig(body);
  const control = xml === undefined ? null : findChoicesControl(xml);
  switch (action) {
    case 'ANNOTATION_CREATED':
    case 'ANNOTATION_UPDATED':
    case 'ANNOTATIONS_CREATED': {
      const anns = ([] as unknown[]).concat(body.annotation ?? []) as LabelStudioAnnotation[];
      const tasks = ([] as unknown[]).concat(body.task ?? []) as LabelStudioTask[];
      if (anns.length === 0) throw new ValidationError(`${action} carries no annotation.`, undefined, 'invalid_body');
      if (xml !== undefined) checkLabelConfig(xml, project);
      const out = [];
      for (let i = 0; i < anns.length; i++) {
        const task = tasks[i] ?? tasks[0] ?? { id: (anns[i] as { task?: number }).task };
        out.push(await storeAnnotation(deps, project, key, control, task, anns[i]));
      }
      return { status: 201, body: { status: 'ok', result: out.length === 1 ? out[0] : out } };
    }
    case 'ANNOTATIONS_DELETED': {
      const ids = (Array.isArray(body.annotations) ? body.annotations : []).flatMap((a) =>
        a && typeof a === 'object' && (typeof (a as { id?: unknown }).id === 'number' || typeof (a as { id?: unknown }).id === 'string')
          ? [String((a as { id: number | string }).id)]
          : [],
      );
      const withdrawn = await deps.ctx.db.transaction(async (tx) => withdrawHumanLabels(tx, project.id, await unlinkAnnotations(tx, project.id, ids)));
      return { status: 200, body: { status: 'ok', result: { annotations: ids.length, itemsUnlabelled: withdrawn } } };
    }
    case 'START_TRAINING':
      return train(deps, project, true);
    case 'PROJECT_UPDATED':
      // Label Studio before 1.12.1 sent "Start training" as PROJECT_UPDATED (ls#5910); newer ones send it on
      // any project change. So: check the config, and train when there is enough to train on.
      if (xml !== undefined) checkLabelConfig(xml, project);
      return train(deps, project, false);
    default:
      return { status: 200, body: { status: 'Unknown event', detail: `Furrow does not act on ${action.slice(0, 64)}.` } };
  }
}

/** Legacy `POST /train` (§1.2): the exported labelled tasks, then a training job. */
export async function legacyTrain(deps: BackendDeps, project: ProjectRow, key: BackendKey, body: Record<string, unknown>): Promise<WebhookAnswer> {
  const xml = projectConfig(body);
  if (xml !== undefined) checkLabelConfig(xml, project);
  const control = xml === undefined ? null : findChoicesControl(xml);
  const tasks = Array.isArray(body.annotations) ? (body.annotations as (LabelStudioTask & { annotations?: LabelStudioAnnotation[] })[]) : [];
  let stored = 0;
  for (const t of tasks) {
    const latest = (t.annotations ?? []).filter((a) => !a.was_cancelled).at(-1);
    if (latest && (await storeAnnotation(deps, project, key, control, t, latest)).stored) stored++;
  }
  const out = await train(deps, project, false);
  return { status: 200, body: { ...out.body, labelsStored: stored } };
}

/** `/versions`: every ready version's name, newest first. */
export async function versions(deps: BackendDeps, project: ProjectRow): Promise<{ versions: string[] }> {
  const rows = await listVersions(deps.ctx.db, project.id);
  return { versions: rows.filter((v) => v.status === 'ready').map((v) => modelVersionName({ activeVersion: v.version })) };
}

/** `/job_status` (asked only after a train answer carried `job`). */
export async function jobStatus(
  deps: BackendDeps,
  project: ProjectRow,
  body: { job?: unknown },
): Promise<{ job_status: string; progress?: number; error?: string | null } | null> {
  if (typeof body.job !== 'string') throw new ValidationError('Send {"job": "<id>"}.', undefined, 'invalid_body');
  const job = await findJob(deps.ctx.db, body.job);
  if (!job || job.projectId !== project.id) return null;
  return { job_status: job.status, progress: job.progress, error: job.error };
}
