import { transactionWithRetry } from '../db/retry.ts';
import { createHash, randomUUID } from 'node:crypto';
import { z } from 'zod';
import { ValidationError } from '../core/errors.ts';
import { forEachSliced } from '../core/sliced.ts';
import { hasImportedGold, shareLockProject } from '../db/repositories/projects.ts';
import { insertItems, insertLabelRows, releaseHoldout, type NewItem } from '../db/repositories/items.ts';
import type { ProjectRow } from '../db/repositories/projects.ts';
import type { PipelineContext } from './context.ts';
import { checkImageItemFields, prepareItemData, type PreparedItem } from './inputs.ts';
import { IMAGE_CONCURRENCY, mapLimited, prepareImage, storeMedia, type PendingMedia } from './media.ts';
import { fetchImage } from './url-import.ts';
import { enqueuePrelabel } from './prelabel.ts';
import { normalizeTranscript } from '../models/speech/text.ts';
import { prepareAudio } from './speech/audio.ts';
import { MAX_TRANSCRIPT_CHARS } from './speech/limits.ts';
import { resolveSettings } from './settings.ts';
import { RAW_FEATURES_VERSION, rawFeatures, rawFeaturesCached } from './cold-start.ts';

/**
 * A uniform number in [0, 1) from a string. Items with an externalId get the same random rank and held-out
 * draw in every project with the same seed, so experiments (and re-imports) are reproducible.
 */
export function unitHash(s: string): number {
  return createHash('sha256').update(s).digest().readUInt32BE(0) / 2 ** 32;
}

/** Most items one ingest request may carry. */
export const MAX_ITEMS_PER_REQUEST = 10_000;

/** Largest `meta` object, serialised as JSON. */
export const MAX_META_BYTES = 16 * 1024;

/** An item's metadata: any JSON object of at most MAX_META_BYTES (UTF-8) serialised. */
export const metaSchema = z
  .record(z.string(), z.unknown())
  .refine((m) => Buffer.byteLength(JSON.stringify(m)) <= MAX_META_BYTES, `meta must be at most ${MAX_META_BYTES / 1024} KB as JSON`);

/** The envelope of one ingested item; the ItemData fields are checked against the modality afterwards. */
export const itemSchema = z
  .object({
    externalId: z.string().min(1).max(512).optional(),
    split: z.enum(['pool', 'gold']).optional(),
    label: z.string().min(1).max(512).optional(),
    text: z.unknown().optional(),
    image: z.unknown().optional(),
    pixels: z.unknown().optional(),
    width: z.unknown().optional(),
    height: z.unknown().optional(),
    channels: z.unknown().optional(),
    vector: z.unknown().optional(),
    /** Image projects: an http(s) URL to fetch (opt-in: settings.urlImport.allowHosts). */
    url: z.unknown().optional(),
    /** Transcription projects: the clip, base64 (a data: URL allowed), unless sent as a multipart file. */
    audio: z.unknown().optional(),
    /** Transcription projects: the clip's transcript (required on gold clips), stored normalised. */
    transcript: z
      .string()
      .max(MAX_TRANSCRIPT_CHARS * 2)
      .optional(),
    meta: metaSchema.optional(),
  })
  .strict();

export interface IngestResult {
  accepted: number;
  duplicates: number;
  rejected: { index: number; error: string }[];
}

/**
 * Validates and stores a batch of items. All or nothing by default: one invalid item rejects the request
 * (400, every problem listed) and nothing is stored. With `partial`, valid items are stored and the invalid
 * ones reported in `rejected`. Items whose externalId the project already has are counted as duplicates.
 */
export async function ingestItems(
  ctx: PipelineContext,
  project: ProjectRow,
  raw: unknown[],
  opts: {
    partial?: boolean;
    preRejected?: { index: number; error: string }[];
    /** Images the caller is already reading (multipart file parts), by item index. */
    pending?: Map<number, Promise<PendingMedia>>;
  } = {},
): Promise<IngestResult> {
  const images: (PendingMedia | undefined)[] = [];
  try {
    return await ingest(ctx, project, raw, opts, images);
  } finally {
    // Stored images had their temp files moved; the rest (a refused batch, duplicates) are removed here.
    await Promise.all([...images, ...(await settled(opts.pending))].map((m) => m?.cleanup()));
  }
}

/** Every pending image that was read successfully (so that its temp files can be removed). */
async function settled(pending: Map<number, Promise<PendingMedia>> | undefined): Promise<(PendingMedia | undefined)[]> {
  if (!pending) return [];
  return Promise.all([...pending.values()].map((p) => p.catch(() => undefined)));
}

function errorMessage(e: unknown): string {
  return e instanceof ValidationError ? e.message : 'The item could not be read.';
}

async function ingest(
  ctx: PipelineContext,
  project: ProjectRow,
  raw: unknown[],
  opts: { partial?: boolean; preRejected?: { index: number; error: string }[]; pending?: Map<number, Promise<PendingMedia>> },
  images: (PendingMedia | undefined)[],
): Promise<IngestResult> {
  const rejected = [...(opts.preRejected ?? [])];
  const preRejected = new Set(rejected.map((r) => r.index));
  if (raw.length === 0) throw new ValidationError('The batch is empty: send at least one item.', undefined, 'empty_batch');
  if (raw.length > MAX_ITEMS_PER_REQUEST)
    throw new ValidationError(`A batch holds at most ${MAX_ITEMS_PER_REQUEST} items; split it.`, undefined, 'batch_too_large');
  const settings = resolveSettings(project.settings);
  const labelSet = new Set(project.labels);
  type Candidate = { index: number; it: z.infer<typeof itemSchema>; data?: PreparedItem };
  const candidates: Candidate[] = [];
  // Checking envelopes (and text and vectors) is main-thread work: sliced, so annotators' requests are served in between.
  await ctx.work.add(() =>
    forEachSliced(raw, (value, index) => {
      if (preRejected.has(index)) return;
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        rejected.push({ index, error: 'An item must be a JSON object.' });
        return;
      }
      const env = itemSchema.safeParse(value);
      if (!env.success) {
        rejected.push({ index, error: env.error.issues.map((i) => `${i.path.join('.') || 'item'}: ${i.message}`).join('; ') });
        return;
      }
      const it = env.data;
      if (project.modality === 'audio') {
        try {
          candidates.push({ index, it: { ...it, label: checkAudioItem(value as Record<string, unknown>, it, opts.pending?.has(index) ?? false) } });
        } catch (e) {
          rejected.push({ index, error: errorMessage(e) });
        }
        return;
      }
      if (it.transcript !== undefined || it.audio !== undefined) {
        rejected.push({ index, error: '"audio" and "transcript" are for transcription (audio) projects.' });
        return;
      }
      if (it.label !== undefined && !labelSet.has(it.label)) {
        rejected.push({ index, error: `Unknown label "${it.label}"; this project's labels are: ${project.labels.join(', ')}.` });
        return;
      }
      if (it.split === 'gold' && it.label === undefined) {
        rejected.push({ index, error: 'A gold item must carry its label.' });
        return;
      }
      if (project.modality === 'image') {
        try {
          checkImageItemFields(value as Record<string, unknown>);
          if (it.url !== undefined && !opts.pending?.has(index) && (it.image !== undefined || it.pixels !== undefined))
            throw new ValidationError('Send one of "image", "pixels" or "url", not several.');
        } catch (e) {
          rejected.push({ index, error: errorMessage(e) });
          return;
        }
        candidates.push({ index, it });
        return;
      }
      try {
        if (it.url !== undefined) throw new ValidationError('"url" is for image projects.');
        candidates.push({ index, it, data: prepareItemData(value as Record<string, unknown>, project.modality, settings) });
      } catch (e) {
        rejected.push({ index, error: errorMessage(e) });
      }
    }),
  );
  if (project.modality === 'image') {
    // Images are decoded by sharp in libuv's threadpool, a few at a time: the event loop stays free.
    await mapLimited(candidates, IMAGE_CONCURRENCY, async (c) => {
      try {
        const value = raw[c.index] as Record<string, unknown>;
        const pending = opts.pending?.get(c.index);
        const m = pending
          ? await pending
          : c.it.url !== undefined
            ? await fetchImage(ctx, settings, c.it.url, (file) => prepareImage(ctx, file, settings))
            : await prepareImage(ctx, { kind: 'fields', raw: value }, settings);
        images[c.index] = m;
        c.data = { data: { media: m.ref }, input: m.input };
      } catch (e) {
        rejected.push({ index: c.index, error: errorMessage(e) });
      }
    });
  }
  if (project.modality === 'audio') {
    // sox converts a few clips at a time, in child processes: the event loop stays free.
    await mapLimited(candidates, IMAGE_CONCURRENCY, async (c) => {
      try {
        const pending = opts.pending?.get(c.index);
        const m = pending
          ? await pending
          : await prepareAudio(
              ctx,
              { kind: 'fields', raw: raw[c.index] as Record<string, unknown> },
              { maxClipSeconds: settings.transcription.maxClipSeconds },
            );
        images[c.index] = m;
        c.data = { data: { media: m.ref }, input: null };
      } catch (e) {
        rejected.push({ index: c.index, error: errorMessage(e) });
      }
    });
  }
  if (rejected.length && !opts.partial) {
    rejected.sort((a, b) => a.index - b.index);
    throw new ValidationError(
      `${rejected.length} of ${raw.length} items are invalid; nothing was stored (item ${rejected[0].index}: ${rejected[0].error}). Fix them, or send ?partial=true to store the valid ones.`,
      { rejected },
      'invalid_items',
    );
  }
  const prepared: { index: number; row: NewItem; label?: string }[] = [];
  const seenExternal = new Set<string>();
  let inBatchDuplicates = 0;
  for (const { index, it, data } of candidates) {
    if (!data) continue;
    if (it.externalId !== undefined) {
      if (seenExternal.has(it.externalId)) {
        inBatchDuplicates++;
        continue;
      }
      seenExternal.add(it.externalId);
    }
    prepared.push({
      index,
      label: it.label,
      row: {
        id: randomUUID(),
        projectId: project.id,
        externalId: it.externalId ?? null,
        split: it.split ?? 'pool',
        holdout: false,
        status: it.label !== undefined ? 'labeled' : 'pending',
        data: data.data,
        meta: it.meta ?? null,
        input: data.input,
        label: it.label ?? null,
        labelSource: it.label !== undefined ? 'imported' : null,
        rand: unitHash(`${settings.seed}:rand:${it.externalId ?? index + ':' + Math.random()}`),
      },
    });
  }
  // Media first, rows second: a row never points at a picture that is not there. Content addressed, so a
  // duplicate's picture is the one already stored.
  await mapLimited(prepared, IMAGE_CONCURRENCY, async (p) => {
    const m = images[p.index];
    if (m) await storeMedia(ctx, project.id, m);
  });

  const ids = await transactionWithRetry(ctx.db, async (tx) => {
    // Lock order (docs/team.md): the project row before items (releaseHoldout below updates items).
    await shareLockProject(tx, project.id);
    // Without an imported gold set, a random slice of unlabelled pool items is held out for honest accuracy.
    // Once a gold set is imported, the unlabelled reserve is released to the queue: it would only cost labels.
    const batchHasGold = prepared.some((p) => p.row.split === 'gold');
    if (batchHasGold) await releaseHoldout(tx, project.id);
    const reserve = settings.goldFraction > 0 && !batchHasGold && !(await hasImportedGold(tx, project.id));
    if (reserve)
      for (const p of prepared)
        if (p.row.split === 'pool' && p.label === undefined && unitHash(`${settings.seed}:holdout:${p.row.externalId ?? p.row.id}`) < settings.goldFraction)
          p.row.holdout = true;
    const ids = await insertItems(
      tx,
      prepared.map((p) => p.row),
    );
    await insertLabelRows(
      tx,
      prepared
        .filter((p) => p.label !== undefined && ids.has(p.row.id as string))
        .map((p) => ({ projectId: project.id, itemId: p.row.id as string, label: p.label as string, source: 'imported' as const })),
    );
    return ids;
  });
  const inserted = ids.size;
  if (inserted > 0 && project.activeVersion !== null) await enqueuePrelabel(ctx, project.id);
  if (inserted > 0 && project.activeVersion === null && rawFeaturesCached(project.modality)) {
    // The cold start's first queue request spreads its picks over these features: computed now, from the
    // inputs in hand, it need not read a thousand images back from the database.
    const rows = prepared.filter((p) => p.row.split === 'pool' && !p.row.holdout && p.row.input && ids.has(p.row.id as string));
    const image = { width: settings.imageWidth, height: settings.imageHeight, channels: settings.channels };
    const feats = rawFeatures(
      rows.map((p) => ({ input: p.row.input as Uint8Array, data: {} })),
      project.modality,
      image,
    );
    ctx.embeddings.put(
      project.id,
      RAW_FEATURES_VERSION,
      rows.map((p) => p.row.id as string),
      feats,
    );
  }
  return {
    accepted: inserted,
    duplicates: prepared.length - inserted + inBatchDuplicates,
    rejected: rejected.sort((a, b) => a.index - b.index),
  };
}

/**
 * Checks a transcription item's fields (the clip itself is read afterwards) and returns its transcript,
 * normalised, as the item's label; undefined when it has none.
 */
function checkAudioItem(raw: Record<string, unknown>, it: z.infer<typeof itemSchema>, hasFile: boolean): string | undefined {
  if (it.label !== undefined) throw new ValidationError('A transcription item carries "transcript", not "label".');
  for (const k of ['text', 'image', 'pixels', 'vector', 'url'] as const)
    if (raw[k] !== undefined) throw new ValidationError(`This is a transcription project: send {audio} (or a file) and an optional "transcript", not "${k}".`);
  if (raw.audio === undefined && !hasFile) throw new ValidationError('A transcription item needs "audio" (base64 WAV, FLAC, Ogg, MP3 or AIFF) or a file.');
  if (raw.audio !== undefined && hasFile) throw new ValidationError('Send the clip as "audio" or as a file, not both.');
  const transcript = it.transcript === undefined ? undefined : normalizeTranscript(it.transcript);
  if (transcript !== undefined && transcript.length > MAX_TRANSCRIPT_CHARS)
    throw new ValidationError(`The transcript is longer than ${MAX_TRANSCRIPT_CHARS} characters; split the clip.`);
  if (it.split === 'gold' && transcript === undefined) throw new ValidationError('A gold clip must carry its reference "transcript".');
  return transcript;
}

/**
 * Splits an NDJSON body into values, one per non-blank line; an unparsable line keeps its place (as
 * `undefined`) and is reported in `rejected` with its index.
 */
export function parseNdjson(body: string): { values: unknown[]; rejected: { index: number; error: string }[] } {
  const values: unknown[] = [];
  const rejected: { index: number; error: string }[] = [];
  const lines = body.split('\n');
  let index = 0;
  for (const line of lines) {
    if (line.trim() === '') continue;
    try {
      values.push(JSON.parse(line));
    } catch {
      rejected.push({ index, error: 'This line is not valid JSON.' });
      values.push(undefined);
    }
    index++;
  }
  return { values, rejected };
}
