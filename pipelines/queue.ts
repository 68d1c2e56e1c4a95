import { transactionWithRetry } from '../db/retry.ts';
import { NotFoundError } from '../core/errors.ts';
import {
  clearLease,
  findItem,
  holdoutCounts,
  latestLabellers,
  leaseDisputed,
  leaseItems,
  likelyOfClass,
  predictionsFor,
  queueRetryAfterMs,
  itemInputs,
  randomServableIds,
  topUncertainServable,
  trainableCountsByLabel,
  trainingIds,
  type ItemRow,
} from '../db/repositories/items.ts';
import { findVersion } from '../db/repositories/models.ts';
import { normaliseRows } from '../models/clustering.ts';
import { coldStartProven, RAW_FEATURES_VERSION, rawFeatures, rawFeaturesCached } from './cold-start.ts';
import { modelInputOf } from './inputs.ts';
import { versionRef } from './model-ref.ts';
import { dataView } from './media.ts';
import { diverseBatch } from './strategies.ts';
import { explorationCount, mixExploration, projectExplorationShare } from './exploration.ts';
import { transcriptionView } from './speech/transcription.ts';
import { leaseQualityItems, mixIntoBatch, topUpWithOverlap } from './quality/service.ts';
import type { ProjectRow } from '../db/repositories/projects.ts';
import type { PipelineContext } from './context.ts';
import { DEFAULT_COLD_START_LABELS, resolveSettings, type Strategy } from './settings.ts';

/** Cold start: the first batches are spread out over this many randomly chosen items (k-means clusters them all). */
export const COLD_START_CANDIDATES = { typical: 1000, spread: 2000 } as const;
/** A class with fewer human labels than this gets the class-balance guard's slots... */
export const BALANCE_MIN_LABELS = 5;
/** ...at most this share of a batch. */
export const BALANCE_MAX_SHARE = 0.3;

/** The diverse strategy chooses each batch among this many times as many of the most uncertain items. */
export const DIVERSE_CANDIDATES_PER_ITEM = 10;

export interface QueueEntry {
  id: string;
  externalId: string | null;
  /** The metadata sent at ingest, null if none. */
  meta: Record<string, unknown> | null;
  data: Record<string, unknown>;
  /** The model's guess, pre-filled for the annotator (a transcription's text and words); null before any model exists. */
  prediction: { label: string; confidence: number; probs: Record<string, number>; modelVersion: number } | ReturnType<typeof transcriptionView> | null;
  uncertainty: number | null;
  leaseExpiresAt: string;
  /** On the disputed queue: the human label under review, who gave it, and the label the model suggests. */
  dispute?: { label: string; by: string | null; source: string; suggested: string; score: number };
}

/**
 * Leases the items most worth a human look to one key. Before any model exists, and during the cold start
 * (image projects: until the model proves itself on held-out labels, or `coldStartLabels` human labels when
 * set), typical items of the regions the labels do not cover yet; afterwards the highest uncertainty first
 * (or random, if that is the strategy). A strategy asked for explicitly skips the cold start once a model exists.
 * Held-out items (settings.goldFraction) are mixed in so that they make up that share of human labels.
 */
export async function leaseQueue(
  ctx: PipelineContext,
  project: ProjectRow,
  keyId: string,
  opts: { limit: number; strategy?: Strategy; kind?: 'uncertain' | 'disputed' },
): Promise<QueueEntry[]> {
  const settings = resolveSettings(project.settings);
  const strategy = opts.strategy ?? settings.strategy;
  const now = new Date();
  const expiresAt = new Date(now.getTime() + (settings.leaseSeconds ?? ctx.config.leaseSeconds) * 1000);
  if (opts.kind === 'disputed') {
    const rows = await transactionWithRetry(ctx.db, (tx) => leaseDisputed(tx, { projectId: project.id, keyId, limit: opts.limit, now, expiresAt }));
    const who = await latestLabellers(
      ctx.db,
      rows.map((r) => r.id),
    );
    return toEntries(ctx, project, rows, (r) => ({
      label: r.label ?? '',
      by: who.get(r.id)?.name ?? null,
      source: r.labelSource ?? 'human',
      suggested: r.disputedLabel ?? '',
      score: r.disputeScore ?? 0,
    }));
  }
  // Workforce quality: gold checks and items overlap wants another label on take their share of the batch first.
  const quality = await leaseQualityItems(ctx, project, keyId, { limit: opts.limit, now, expiresAt });
  if (quality.length >= opts.limit) return toEntries(ctx, project, quality);
  opts = { ...opts, limit: opts.limit - quality.length };
  let candidates: string[] | undefined;
  // Transcription projects rank clips by the recogniser's confidence alone (uncertainty = 1 - confidence):
  // no cold start, embeddings, classes or exploration, which are a classifier's.
  const classifier = project.modality !== 'audio';
  // Labels count from the first one, model or not: the cold start must not re-pick regions that labels given
  // (or imported) before the first training already cover.
  const counts = classifier && strategy !== 'random' ? await trainableCountsByLabel(ctx.db, project.id) : new Map<string, number>();
  const humanLabels = [...counts.values()].reduce((a, b) => a + b, 0);
  const coldStartLabels = settings.coldStartLabels ?? DEFAULT_COLD_START_LABELS[project.modality];
  // A strategy asked for (in the request, or chosen in the settings) is used as soon as there is a model.
  const explicit = opts.strategy !== undefined || settings.strategyChosen;
  const coldStart =
    classifier &&
    strategy !== 'random' &&
    (project.activeVersion === null ||
      (!explicit &&
        (coldStartLabels === 'proof' ? !coldStartProven(await activeGold(ctx, project), project.labels.length, humanLabels) : humanLabels < coldStartLabels)));
  if (coldStart) {
    // Cold start: no model yet, or too few labels for its uncertainty to mean much. Spread the labels over
    // the data: with a cold-start phase, typical items of the clusters the labels do not cover yet; for the
    // first batch of a project without one (text, vectors), k-means++ sampling over model-free features,
    // which on fine-foods did better as the seed of margin sampling (docs/benchmarks.md).
    const method = coldStartLabels === 'proof' || coldStartLabels > 0 ? 'typical' : 'spread';
    // Ids first: the inputs (12 KB an image at 64x64 RGB) are read only for items whose features are not cached.
    const sample = await randomServableIds(ctx.db, { projectId: project.id, keyId, now, limit: COLD_START_CANDIDATES[method] });
    if (sample.length > opts.limit) {
      const known = humanLabels && method === 'typical' ? await trainingIds(ctx.db, project.id) : [];
      const f = await coverageFeatures(ctx, project, settings, [...sample, ...known]);
      const split = sample.length * f.dim;
      const picked = await ctx.runner.coverage({
        method,
        candidates: f.data.subarray(0, split),
        labelled: f.data.subarray(split),
        dim: f.dim,
        count: opts.limit,
        seed: settings.seed + sample.length + (method === 'typical' ? humanLabels : 0),
      });
      candidates = picked.map((i) => sample[i]);
    }
  }
  // Diversity-aware batches: among the most uncertain candidates, pick a spread-out set in embedding space.
  if (classifier && strategy === 'diverse' && project.activeVersion !== null && !coldStart) {
    const pool = await topUncertainServable(ctx.db, { projectId: project.id, keyId, now, limit: Math.max(DIVERSE_CANDIDATES_PER_ITEM * opts.limit, 100) });
    if (pool.length > opts.limit) {
      const emb = await ctx.runner.embed(
        versionRef(ctx, project.id, project.activeVersion),
        pool.map((r) => modelInputOf(r, project.modality)),
      );
      candidates = diverseBatch(
        emb.data,
        emb.dim,
        pool.map((r) => r.uncertainty ?? 1),
        opts.limit,
      ).map((i) => pool[i].id);
    }
  }
  // Class-balance guard: a class with almost no human labels gets a few slots for the items the model
  // thinks most likely belong to it, so rare classes are confirmed (or corrected) early.
  if (classifier && project.activeVersion !== null && strategy !== 'random') {
    const rare = project.labels.filter((l) => (counts.get(l) ?? 0) < BALANCE_MIN_LABELS);
    if (rare.length) {
      const slots = Math.max(1, Math.floor(opts.limit * BALANCE_MAX_SHARE));
      const per = Math.max(1, Math.floor(slots / rare.length));
      const guard: string[] = [];
      for (const label of rare) {
        if (guard.length >= slots) break;
        guard.push(...(await likelyOfClass(ctx.db, { projectId: project.id, keyId, now, label, limit: Math.min(per, slots - guard.length) })));
      }
      if (guard.length) {
        const rest = candidates ?? (await topUncertainServable(ctx.db, { projectId: project.id, keyId, now, limit: opts.limit })).map((r) => r.id);
        candidates = [...new Set([...guard, ...rest])];
      }
    }
  }
  // Exploration (pipelines/exploration.ts): a share of each uncertainty batch goes to random items, more
  // when the last retrains did not raise gold accuracy. A strategy asked for explicitly is served as asked.
  if (classifier && project.activeVersion !== null && !coldStart && strategy !== 'random' && !explicit) {
    const m = explorationCount(opts.limit, await projectExplorationShare(ctx, project), settings.seed + humanLabels);
    if (m > 0) {
      const main = candidates ?? (await topUncertainServable(ctx.db, { projectId: project.id, keyId, now, limit: opts.limit })).map((r) => r.id);
      const taken = new Set(main.slice(0, opts.limit - m));
      const random = (await randomServableIds(ctx.db, { projectId: project.id, keyId, now, limit: opts.limit + m })).filter((id) => !taken.has(id));
      candidates = mixExploration(main, random.slice(0, m), opts.limit);
    }
  }
  const rows = await transactionWithRetry(ctx.db, async (tx) => {
    let holdoutWanted = 0;
    if (settings.goldFraction > 0) {
      const c = await holdoutCounts(tx, project.id);
      if (c.anyServableHoldout)
        holdoutWanted = Math.max(0, Math.min(opts.limit, Math.ceil((c.labeledPool + opts.limit) * settings.goldFraction) - c.labeledHoldout));
    }
    return leaseItems(tx, {
      projectId: project.id,
      keyId,
      limit: opts.limit,
      now,
      expiresAt,
      order: coldStart || strategy === 'random' ? 'random' : 'uncertainty',
      holdoutWanted,
      candidates,
    });
  });
  quality.push(...(await topUpWithOverlap(ctx, project, keyId, { room: opts.limit - rows.length, now, expiresAt, already: quality.map((r) => r.id) })));
  return toEntries(ctx, project, mixIntoBatch(rows, quality));
}

/** The active version's held-out metrics, as stored when it was evaluated. */
async function activeGold(ctx: PipelineContext, project: ProjectRow): Promise<{ n?: number; accuracy?: number | null } | undefined> {
  if (project.activeVersion === null) return undefined;
  const v = await findVersion(ctx.db, project.id, project.activeVersion);
  return v?.metrics.gold as { n?: number; accuracy?: number | null } | undefined;
}

/**
 * Features for spreading labels over the data: the active model's embeddings once there is a model (trained
 * on few labels, but with the pool's pseudo-labels it already groups look-alikes better than pixels do), rows
 * L2-normalised; model-free features before.
 */
/**
 * Features to spread the cold start's picks with, one L2-normalised row per id: the active version's
 * embeddings, or before any model the model-free features (`rawFeatures`). Both are cached between requests
 * (images' raw features only: they are the ones whose inputs are dear to read), so a request reads the inputs
 * of the items not seen before.
 */
async function coverageFeatures(
  ctx: PipelineContext,
  project: ProjectRow,
  settings: ReturnType<typeof resolveSettings>,
  ids: string[],
): Promise<{ dim: number; data: Float32Array }> {
  const image = { width: settings.imageWidth, height: settings.imageHeight, channels: settings.channels };
  // An item deleted since its id was read gets a blank input: it cannot be leased anyway.
  const load = async (wanted: string[]) => {
    const byId = new Map((await itemInputs(ctx.db, project.id, wanted)).map((r) => [r.id, r]));
    return wanted.map((id) => byId.get(id) ?? { id, input: new Uint8Array(image.width * image.height * image.channels), data: {} });
  };
  if (project.activeVersion === null) {
    if (!rawFeaturesCached(project.modality)) return rawFeatures(await load(ids), project.modality, image);
    return ctx.embeddings.get(project.id, RAW_FEATURES_VERSION, ids, async (missing) =>
      rawFeatures(await load(missing.map((i) => ids[i])), project.modality, image),
    );
  }
  const version = project.activeVersion;
  const emb = await ctx.embeddings.get(project.id, version, ids, async (missing) => {
    const rows = await load(missing.map((i) => ids[i]));
    return ctx.runner.embed(
      versionRef(ctx, project.id, version),
      rows.map((r) => modelInputOf(r, project.modality)),
    );
  });
  normaliseRows(emb.data, emb.dim);
  return emb;
}

async function toEntries(
  ctx: PipelineContext,
  project: ProjectRow,
  rows: ItemRow[],
  dispute?: (r: ItemRow) => NonNullable<QueueEntry['dispute']>,
): Promise<QueueEntry[]> {
  const preds =
    project.activeVersion === null
      ? new Map()
      : await predictionsFor(
          ctx.db,
          rows.map((r) => r.id),
          project.activeVersion,
        );
  return rows.map((r) => {
    const p = preds.get(r.id);
    return {
      id: r.id,
      externalId: r.externalId,
      meta: r.meta ?? null,
      data: dataView(project.id, r.id, r.data),
      prediction: !p
        ? null
        : project.modality === 'audio'
          ? transcriptionView(p)
          : {
              label: p.label,
              confidence: p.confidence,
              probs: Object.fromEntries(project.labels.map((l, i) => [l, p.probs[i] ?? 0])),
              modelVersion: p.modelVersion,
            },
      uncertainty: r.uncertainty,
      leaseExpiresAt: (r.leaseExpiresAt as Date).toISOString(),
      ...(dispute ? { dispute: dispute(r) } : {}),
    };
  });
}

/**
 * A queue answer: the leased items, and, when there are none although unlabelled items remain that this key
 * may get later (rows busy in another transaction, or leased to other keys), `retryAfterMs`: when to ask
 * again. A bare empty list means nothing is left for this key.
 */
export async function leaseQueuePage(
  ctx: PipelineContext,
  project: ProjectRow,
  keyId: string,
  opts: Parameters<typeof leaseQueue>[3],
): Promise<{ items: QueueEntry[]; retryAfterMs?: number }> {
  const items = await leaseQueue(ctx, project, keyId, opts);
  if (items.length || opts.kind === 'disputed') return { items };
  const retryAfterMs = await queueRetryAfterMs(ctx.db, { projectId: project.id, keyId, now: new Date() });
  return retryAfterMs === null ? { items } : { items, retryAfterMs };
}

/** Ends this key's lease on an item early (a skip), so another annotator may take it. False if it held none. */
export async function releaseLease(ctx: PipelineContext, project: ProjectRow, keyId: string, itemId: string): Promise<boolean> {
  const item = await findItem(ctx.db, project.id, itemId);
  if (!item) throw new NotFoundError('Item');
  return clearLease(ctx.db, item.id, keyId);
}
