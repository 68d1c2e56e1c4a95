import { NotFoundError } from '../core/errors.ts';
import { clearLease, findItem, holdoutCounts, latestLabellers, leaseDisputed, leaseItems, predictionsFor, topUncertainServable, type ItemRow } from '../db/repositories/items.ts';
import { modelInputOf } from './inputs.ts';
import { versionRef } from './model-ref.ts';
import { diverseBatch } from './strategies.ts';
import type { ProjectRow } from '../db/repositories/projects.ts';
import type { PipelineContext } from './context.ts';
import { resolveSettings, type Strategy } from './settings.ts';

/** The diverse strategy chooses each batch among this many times as many of the most uncertain items. */
export const DIVERSE_CANDIDATES_PER_ITEM = 10;

export interface QueueEntry {
  id: string;
  data: Record<string, unknown>;
  /** The model's guess, pre-filled for the annotator; null before any model exists. */
  prediction: { label: string; confidence: number; probs: Record<string, number>; modelVersion: number } | null;
  uncertainty: number | null;
  leaseExpiresAt: string;
  /** On the disputed queue: the human label under review, who gave it, and the label the model suggests. */
  dispute?: { label: string; by: string | null; source: string; suggested: string; score: number };
}

/**
 * Leases the items most worth a human look to one key. Before any model exists the order is a random,
 * class-agnostic sample; afterwards the highest uncertainty first (or random, if that is the strategy).
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
    const rows = await ctx.db.transaction((tx) => leaseDisputed(tx, { projectId: project.id, keyId, limit: opts.limit, now, expiresAt }));
    const who = await latestLabellers(ctx.db, rows.map((r) => r.id));
    return toEntries(ctx, project, rows, (r) => ({
      label: r.label ?? '',
      by: who.get(r.id)?.name ?? null,
      source: r.labelSource ?? 'human',
      suggested: r.disputedLabel ?? '',
      score: r.disputeScore ?? 0,
    }));
  }
  // Diversity-aware batches: among the most uncertain candidates, pick a spread-out set in embedding space.
  let candidates: string[] | undefined;
  if (strategy === 'diverse' && project.activeVersion !== null) {
    const pool = await topUncertainServable(ctx.db, { projectId: project.id, keyId, now, limit: Math.max(DIVERSE_CANDIDATES_PER_ITEM * opts.limit, 100) });
    if (pool.length > opts.limit) {
      const emb = await ctx.runner.embed(versionRef(ctx, project.id, project.activeVersion), pool.map((r) => modelInputOf(r, project.modality)));
      candidates = diverseBatch(emb.data, emb.dim, pool.map((r) => r.uncertainty ?? 1), opts.limit).map((i) => pool[i].id);
    }
  }
  const rows = await ctx.db.transaction(async (tx) => {
    let holdoutWanted = 0;
    if (settings.goldFraction > 0) {
      const c = await holdoutCounts(tx, project.id);
      if (c.servableHoldout > 0)
        holdoutWanted = Math.max(0, Math.min(opts.limit, Math.ceil((c.labeledPool + opts.limit) * settings.goldFraction) - c.labeledHoldout));
    }
    return leaseItems(tx, {
      projectId: project.id,
      keyId,
      limit: opts.limit,
      now,
      expiresAt,
      order: project.activeVersion === null || strategy === 'random' ? 'random' : 'uncertainty',
      holdoutWanted,
      candidates,
    });
  });
  return toEntries(ctx, project, rows);
}

async function toEntries(
  ctx: PipelineContext,
  project: ProjectRow,
  rows: ItemRow[],
  dispute?: (r: ItemRow) => NonNullable<QueueEntry['dispute']>,
): Promise<QueueEntry[]> {
  const preds = project.activeVersion === null ? new Map() : await predictionsFor(ctx.db, rows.map((r) => r.id), project.activeVersion);
  return rows.map((r) => {
    const p = preds.get(r.id);
    return {
      id: r.id,
      data: r.data,
      prediction: p
        ? {
            label: p.label,
            confidence: p.confidence,
            probs: Object.fromEntries(project.labels.map((l, i) => [l, p.probs[i]])),
            modelVersion: p.modelVersion,
          }
        : null,
      uncertainty: r.uncertainty,
      leaseExpiresAt: (r.leaseExpiresAt as Date).toISOString(),
      ...(dispute ? { dispute: dispute(r) } : {}),
    };
  });
}

/** Ends this key's lease on an item early (a skip), so another annotator may take it. False if it held none. */
export async function releaseLease(ctx: PipelineContext, project: ProjectRow, keyId: string, itemId: string): Promise<boolean> {
  const item = await findItem(ctx.db, project.id, itemId);
  if (!item) throw new NotFoundError('Item');
  return clearLease(ctx.db, item.id, keyId);
}
