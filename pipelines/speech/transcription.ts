/**
 * Transcription projects (modality "audio"): the loop of the classifier projects with a speech recogniser in
 * place of the classifier. Version 1 is the stock US-English model, active from the project's creation, so
 * every clip is pre-transcribed as it arrives. A retrain builds a domain language model from the corrected
 * transcripts (interpolated with general English) and pronunciations for their new words, evaluates it on the
 * gold clips, and activates it only if its word error rate is lower; the pool is then re-transcribed.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ConflictError, describeError, SpeechEngineUnavailableError, ValidationError } from '../../core/errors.ts';
import { goldExamples, trainingExamples, unscoredItems } from '../../db/repositories/items.ts';
import { mergeJobPayload, type JobRow } from '../../db/repositories/jobs.ts';
import { insertVersion, listVersions, loadWeights, mergeVersionMetrics, nextVersionNumber } from '../../db/repositories/models.ts';
import { findProject, insertProject, lockProjectVersions, setActiveVersion, shareLockProject, type ProjectRow } from '../../db/repositories/projects.ts';
import {
  applyAutoTranscripts,
  countTranscriptLabels,
  goldTranscriptions,
  writeTranscriptions,
  type TranscribedItem,
} from '../../db/repositories/transcripts.ts';
import { transactionWithRetry } from '../../db/retry.ts';
import { buildSpeechModel } from '../../models/speech/adapt.ts';
import { mllrAvailable } from '../../models/speech/mllr.ts';
import { SPEECH_PACKAGES } from '../../models/speech/native.ts';
import type { SpeechModel } from '../../models/speech/recognizer.ts';
import type { PipelineContext } from '../context.ts';
import { mapLimited, type MediaRef } from '../media.ts';
import { enqueuePrelabel } from '../prelabel.ts';
import { resolveSettings } from '../settings.ts';
import { emitWebhookEvent } from '../webhooks.ts';
import { pcmOf, prepareAudio } from './audio.ts';
import type { SpeechEngine, SpeechModelRef } from './engine.ts';
import { planAutoAccept, scoreTranscriptions, type AutoAcceptPlan, type ScoredClip, type TranscriptionScore } from './evaluate.ts';

/** What version 1 of every transcription project is. */
export const STOCK_SPEC = { engine: 'pocketsphinx', acousticModel: 'en-us', languageModel: 'en-us general', domainSentences: 0, newWords: [] as string[] };

/** The recogniser, or a 503 that says what to install. */
export function speechEngineOf(ctx: PipelineContext): SpeechEngine {
  if (!ctx.speech)
    throw new SpeechEngineUnavailableError(
      `This server has no speech recogniser: install the Debian packages ${SPEECH_PACKAGES} and restart it (README, "Transcription").`,
    );
  return ctx.speech;
}

/**
 * Creates a transcription project with the stock model as its active version 1, in one transaction (a project
 * is never left without a model to pre-transcribe with).
 */
export async function createTranscriptionProject(ctx: PipelineContext, p: { name: string; settings: Record<string, unknown> }): Promise<ProjectRow> {
  speechEngineOf(ctx);
  return transactionWithRetry(ctx.db, async (tx) => {
    const project = await insertProject(tx, { name: p.name, modality: 'audio', labels: [], settings: p.settings });
    await insertVersion(tx, {
      projectId: project.id,
      version: 1,
      status: 'ready',
      spec: STOCK_SPEC,
      weights: Buffer.from(JSON.stringify({ version: 1 } satisfies SpeechModel)),
      metrics: { gold: scoreTranscriptions([]), train: { humanLabels: 0 } },
      trainedOnLabels: 0,
    });
    await setActiveVersion(tx, project.id, 1);
    return { ...project, activeVersion: 1 };
  });
}

/** A stored version's model, loaded on the recogniser's first use of it. */
export function speechModelRef(ctx: PipelineContext, projectId: string, version: number): SpeechModelRef {
  return {
    key: `${projectId}-v${version}`,
    async load() {
      const weights = await loadWeights(ctx.db, projectId, version);
      if (!weights) throw new Error(`model version ${version} has no stored model`);
      return JSON.parse(Buffer.from(weights).toString('utf8')) as SpeechModel;
    },
  };
}

function audioRefOf(data: Record<string, unknown>): MediaRef {
  const ref = data.media as MediaRef | undefined;
  if (!ref || typeof ref.id !== 'string' || !ref.type?.startsWith('audio/')) throw new Error('the item has no stored clip');
  return ref;
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(typeof c === 'string' ? Buffer.from(c) : c);
  return Buffer.concat(parts);
}

/**
 * Transcribes one stored clip under a model. A clip the recogniser cannot transcribe (its worker died twice, or
 * it hung) is answered as an empty transcription with the reason, so it ranks first for a human.
 */
export async function transcribeStored(
  ctx: PipelineContext,
  projectId: string,
  itemId: string,
  data: Record<string, unknown>,
  ref: SpeechModelRef,
): Promise<TranscribedItem> {
  const engine = speechEngineOf(ctx);
  try {
    const clip = audioRefOf(data);
    const obj = await ctx.media.open(projectId, clip.id, 'original');
    if (!obj) throw new Error('the clip is missing from the media store');
    const t = await transcribeWav(engine, await readAll(obj.body), clip.durationMs ?? 0, ref);
    return { itemId, text: t.text, confidence: t.confidence, words: t.words };
  } catch (e) {
    // No recogniser at all is the server's problem, not the clip's: the job fails with what to install.
    if (e instanceof SpeechEngineUnavailableError) throw e;
    ctx.logger.warn('clip not transcribed', { projectId, itemId, error: describeError(e) });
    return { itemId, text: '', confidence: 0, words: [], error: describeError(e) };
  }
}

/** One 16 kHz WAV through the recogniser: its PCM goes to a temp file the worker reads. */
async function transcribeWav(engine: SpeechEngine, wav: Buffer, durationMs: number, ref: SpeechModelRef) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'furrow-clip-'));
  try {
    const pcm = path.join(dir, 'clip.raw');
    await writeFile(pcm, pcmOf(wav));
    return await engine.transcribe(ref, pcm, durationMs);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The corrected clips as raw PCM files under `dir`, with their transcripts, for MLLR. */
async function clipsForMllr(
  ctx: PipelineContext,
  projectId: string,
  examples: { id: string; data: Record<string, unknown>; label: string }[],
  dir: string,
): Promise<{ rawPath: string; text: string }[]> {
  const out: { rawPath: string; text: string }[] = [];
  for (const e of examples) {
    if (!e.label.trim()) continue;
    const obj = await ctx.media.open(projectId, audioRefOf(e.data).id, 'original').catch(() => null);
    if (!obj) continue;
    const rawPath = path.join(dir, `${e.id}.raw`);
    await writeFile(rawPath, pcmOf(await readAll(obj.body)));
    out.push({ rawPath, text: e.label });
  }
  return out;
}

/** Clips sent to the recogniser per database round trip. */
const TRANSCRIBE_BATCH = 16;

/**
 * The pre-label job of a transcription project: every clip without a transcription from the active version
 * is transcribed, in batches; stops if another version became active meanwhile (that activation queued its
 * own job). Then the version's gold metrics are refreshed and auto-accept is re-decided.
 */
export async function runTranscribe(
  ctx: PipelineContext,
  job: JobRow,
  progress: (p: number) => Promise<void>,
): Promise<{ modelVersion: number | null; scored: number; autoAccept?: AutoAcceptOutcome }> {
  const project = await findProject(ctx.db, job.projectId);
  if (!project || project.activeVersion === null) return { modelVersion: null, scored: 0 };
  const version = project.activeVersion;
  const engine = speechEngineOf(ctx);
  const ref = speechModelRef(ctx, project.id, version);
  let scored = 0;
  for (;;) {
    const batch = await unscoredItems(ctx.db, project.id, version, Math.max(TRANSCRIBE_BATCH, 4 * engine.concurrency));
    if (!batch.length) break;
    const rows = await mapLimited(batch, engine.concurrency, (r) => transcribeStored(ctx, project.id, r.id, r.data, ref));
    const now = await findProject(ctx.db, job.projectId);
    if (!now || now.activeVersion !== version) return { modelVersion: version, scored };
    await transactionWithRetry(ctx.db, (tx) => writeTranscriptions(tx, project.id, version, rows));
    scored += rows.length;
    await progress(Math.min(0.95, scored / (scored + batch.length)));
  }
  const now = await findProject(ctx.db, job.projectId);
  if (!now || now.activeVersion !== version) return { modelVersion: version, scored };
  const rows = await goldTranscriptions(ctx.db, project.id, version);
  await mergeVersionMetrics(ctx.db, project.id, version, { current: scoreTranscriptions(rows, resolveSettings(now.settings).seed) });
  return { modelVersion: version, scored, autoAccept: await reconcileAutoTranscripts(ctx, now, rows) };
}

export interface AutoAcceptOutcome {
  plan: AutoAcceptPlan & { enabled: boolean };
  autoAccepted: number;
  returnedToQueue: number;
  added: number;
}

/** A version's auto-accept plan, from its gold transcriptions and the project's settings now. */
function autoAcceptPlanOf(project: ProjectRow, gold: readonly ScoredClip[]): AutoAcceptPlan & { enabled: boolean } {
  const s = resolveSettings(project.settings);
  const a = s.transcription.autoAccept;
  return { enabled: a.enabled, ...planAutoAccept(gold, a.targetWer, a.confidenceLevel, s.seed) };
}

/**
 * Re-decides auto-accepted transcripts for the active version, given its gold transcriptions: transcriptions at or
 * above the plan's threshold are accepted (marked auto), earlier auto transcripts no longer trusted go back to
 * the queue. Human transcripts are never touched.
 */
export async function reconcileAutoTranscripts(ctx: PipelineContext, project: ProjectRow, gold: readonly ScoredClip[]): Promise<AutoAcceptOutcome | undefined> {
  if (project.activeVersion === null) return undefined;
  const plan = autoAcceptPlanOf(project, gold);
  const threshold = plan.enabled ? plan.threshold : null;
  const r = await transactionWithRetry(ctx.db, async (tx) => {
    await shareLockProject(tx, project.id);
    return applyAutoTranscripts(tx, project.id, project.activeVersion!, threshold);
  });
  return { plan, ...r };
}

/**
 * A retrain of a transcription project: a new model from every human (or imported) pool transcript, evaluated
 * on the gold clips against the active version, stored, and activated only if its word error rate is lower
 * (or there are no gold clips to tell). Nothing is written before the evaluation ends, so a crash leaves the
 * active version serving.
 */
export async function runAdapt(
  ctx: PipelineContext,
  job: JobRow,
  progress: (p: number) => Promise<void>,
): Promise<{ modelVersion: number; activated: boolean }> {
  const project = await findProject(ctx.db, job.projectId);
  if (!project) throw new Error('the project no longer exists');
  const settings = resolveSettings(project.settings);
  const examples = await trainingExamples(ctx.db, project.id);
  const sentences = examples.map((e) => e.label).filter((t) => t.trim() !== '');
  if (!sentences.length) throw new Error('no corrected transcripts to learn from');
  const started = Date.now();
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'furrow-adapt-'));
  let built: SpeechModel;
  try {
    // MLLR (opt-in) learns from the corrected clips' audio as well as their text.
    const clips = settings.transcription.mllr && mllrAvailable() ? await clipsForMllr(ctx, project.id, examples, scratch) : undefined;
    built = await buildSpeechModel({ version: 0, sentences, lmWeight: settings.transcription.lmWeight, clips, workDir: scratch });
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  const buildMs = Date.now() - started;
  await progress(0.1);
  const engine = speechEngineOf(ctx);
  const candidate: SpeechModelRef = { key: `${project.id}-job-${job.id}`, load: async () => built };
  try {
    const gold = await goldExamples(ctx.db, project.id);
    let done = 0;
    const decoded = await mapLimited(gold, engine.concurrency, async (g) => {
      const t = await transcribeStored(ctx, project.id, g.id, g.data, candidate);
      done++;
      void progress(0.1 + 0.8 * (done / gold.length)).catch(() => {});
      return t;
    });
    const reference = new Map(gold.map((g) => [g.id, g.label]));
    const score = scoreTranscriptions(
      decoded.map((d) => ({ reference: reference.get(d.itemId) ?? '', text: d.text, confidence: d.confidence })),
      settings.seed,
    );
    // The active version on the same clips (those it has transcribed).
    const decodedIds = new Set(decoded.map((d) => d.itemId));
    const activeRows =
      project.activeVersion === null ? [] : (await goldTranscriptions(ctx.db, project.id, project.activeVersion)).filter((r) => decodedIds.has(r.itemId));
    const activeOnSame = activeRows.length === decoded.length ? scoreTranscriptions(activeRows, settings.seed) : null;
    const better = score.wer === null || activeOnSame?.wer == null || score.wer < activeOnSame.wer;
    const reason = better
      ? score.wer === null
        ? 'no gold clips to compare on: activated'
        : activeOnSame?.wer == null
          ? 'activated'
          : `gold WER ${score.wer} < ${activeOnSame.wer} of version ${project.activeVersion}: activated`
      : `gold WER ${score.wer} is not lower than ${activeOnSame!.wer} of version ${project.activeVersion}: stored, not activated`;
    const version = await transactionWithRetry(ctx.db, async (tx) => {
      await lockProjectVersions(tx, project.id);
      const v = await nextVersionNumber(tx, project.id);
      const model: SpeechModel = { ...built, version: v };
      await insertVersion(tx, {
        projectId: project.id,
        version: v,
        status: 'ready',
        spec: {
          ...STOCK_SPEC,
          languageModel: `en-us general + domain trigram (weight ${model.lmWeight ?? settings.transcription.lmWeight})`,
          domainSentences: sentences.length,
          newWords: (model.extraDict ?? []).map(([w]) => w),
          acousticAdaptation: model.mllr ? 'global MLLR from the corrected clips' : null,
        },
        weights: Buffer.from(JSON.stringify(model)),
        metrics: {
          gold: score,
          current: score,
          compared: { version: project.activeVersion, gold: activeOnSame },
          activated: better,
          reason,
          train: { humanLabels: sentences.length, buildMs },
        },
        trainedOnLabels: examples.length,
        jobId: job.id,
      });
      await writeTranscriptions(tx, project.id, v, decoded);
      if (better) {
        await setActiveVersion(tx, project.id, v);
        await emitWebhookEvent(tx, project.id, 'version.activated', {
          version: v,
          reason: 'trained',
          jobId: job.id,
          goldWer: score.wer,
          humanLabels: sentences.length,
        });
      }
      return v;
    });
    await mergeJobPayload(ctx.db, job.id, { activated: better, reason });
    if (better) await enqueuePrelabel(ctx, project.id);
    return { modelVersion: version, activated: better };
  } finally {
    await engine.release(candidate.key);
  }
}

export interface TranscriptionMetrics {
  modelVersion: number | null;
  gold: TranscriptionScore;
  labels: { human: number; auto: number; pending: number; imported: number };
  autoAccept: (AutoAcceptPlan & { enabled: boolean }) | null;
  history: { version: number; humanLabels: number; wer: number | null; cer: number | null; activated: boolean; createdAt: string }[];
}

/** `GET /metrics` of a transcription project: gold WER/CER of the active version, label counts, the versions. */
export async function transcriptionMetrics(ctx: PipelineContext, project: ProjectRow): Promise<TranscriptionMetrics> {
  // The active version's gold transcriptions, read once for its score and its auto-accept plan.
  const [gold, labels, versions] = await Promise.all([
    project.activeVersion === null ? null : goldTranscriptions(ctx.db, project.id, project.activeVersion),
    countTranscriptLabels(ctx.db, project.id),
    listVersions(ctx.db, project.id),
  ]);
  return {
    modelVersion: project.activeVersion,
    gold: scoreTranscriptions(gold ?? [], resolveSettings(project.settings).seed),
    labels,
    autoAccept: gold ? autoAcceptPlanOf(project, gold) : null,
    history: versions
      .slice()
      .reverse()
      .map((v) => {
        const m = v.metrics as { gold?: TranscriptionScore; current?: TranscriptionScore; activated?: boolean };
        const g = m.current ?? m.gold;
        return {
          version: v.version,
          humanLabels: v.trainedOnLabels,
          wer: g?.wer ?? null,
          cer: g?.cer ?? null,
          activated: m.activated ?? v.version === 1,
          createdAt: v.createdAt.toISOString(),
        };
      }),
  };
}

/** The prediction a queue entry or an item shows: the text, its confidence and the per-word timings. */
export function transcriptionView(p: { label: string; confidence: number; words: unknown; modelVersion: number; error?: string | null }) {
  return {
    text: p.label,
    confidence: p.confidence,
    words: (p.words as TranscribedItem['words'] | null) ?? [],
    modelVersion: p.modelVersion,
    ...(p.error ? { error: p.error } : {}),
  };
}

/** Most clips one `POST /predict` may carry (each is decoded while the caller waits). */
export const MAX_PREDICT_CLIPS = 20;

/** `POST /predict` of a transcription project: clips transcribed by the active version, nothing stored. */
export async function predictTranscriptions(ctx: PipelineContext, project: ProjectRow, raw: unknown[]) {
  if (project.activeVersion === null) throw new ConflictError('This project has no active model yet.', 'no_model');
  if (raw.length === 0 || raw.length > MAX_PREDICT_CLIPS)
    throw new ValidationError(`Send between 1 and ${MAX_PREDICT_CLIPS} clips.`, undefined, raw.length ? 'batch_too_large' : 'empty_batch');
  const settings = resolveSettings(project.settings);
  const engine = speechEngineOf(ctx);
  const ref = speechModelRef(ctx, project.id, project.activeVersion);
  const version = project.activeVersion;
  const predictions = await mapLimited(raw, engine.concurrency, async (r, i) => {
    if (!r || typeof r !== 'object' || Array.isArray(r)) throw new ValidationError(`items[${i}] must be an object {audio}.`);
    let media: Awaited<ReturnType<typeof prepareAudio>> | undefined;
    try {
      media = await prepareAudio(ctx, { kind: 'fields', raw: r as Record<string, unknown> }, { maxClipSeconds: settings.transcription.maxClipSeconds });
      const wav = await readFile((media.original as { path: string }).path);
      const t = await transcribeWav(engine, wav, media.ref.durationMs ?? 0, ref);
      return { text: t.text, confidence: t.confidence, words: t.words };
    } catch (e) {
      if (e instanceof ValidationError) throw new ValidationError(`items[${i}]: ${e.message}`, e.details, e.code);
      throw e;
    } finally {
      await media?.cleanup();
    }
  });
  return { modelVersion: version, predictions };
}
