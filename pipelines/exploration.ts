import { listVersions } from '../db/repositories/models.ts';
import type { ProjectRow } from '../db/repositories/projects.ts';
import { createPrng } from '../models/prng.ts';
import type { PipelineContext } from './context.ts';

/**
 * The share of an uncertainty-ranked queue batch given to random pool items instead, so a queue whose
 * uncertainty is not paying off falls back toward random sampling (which at worst matches it):
 * - EXPLORE_BASE always: random picks keep some labels unbiased and reach regions the model is wrongly sure of;
 * - EXPLORE_STALLED when the latest retrain did not raise gold accuracy over the version before it (the
 *   labels the queue chose since bought nothing measurable);
 * - EXPLORE_MAX when that happened on the last two retrains in a row.
 * Without gold accuracies (no gold set) the base share applies. See docs/models.md.
 */
export const EXPLORE_BASE = 0.1;
export const EXPLORE_STALLED = 0.3;
export const EXPLORE_MAX = 0.5;

/** The rule on gold accuracies of the ready versions, newest first (null = not measured). */
export function explorationShare(accuracies: (number | null)[]): number {
  const a = accuracies.filter((x): x is number => x !== null && Number.isFinite(x));
  if (a.length < 2 || a[0] > a[1]) return EXPLORE_BASE;
  if (a.length >= 3 && a[1] <= a[2]) return EXPLORE_MAX;
  return EXPLORE_STALLED;
}

/** How many of a batch of `limit` go to random picks: the share, rounded up or down at random (seeded) so it holds on average even for batches of one. */
export function explorationCount(limit: number, share: number, seed: number): number {
  const u = createPrng(seed).next();
  return Math.min(limit, Math.floor(limit * share + u));
}

/** The project's exploration share from its version history. */
export async function projectExplorationShare(ctx: PipelineContext, project: ProjectRow): Promise<number> {
  const versions = await listVersions(ctx.db, project.id);
  return explorationShare(
    versions.filter((v) => v.status === 'ready').map((v) => (v.metrics.gold as { accuracy?: number | null } | undefined)?.accuracy ?? null),
  );
}

/**
 * Puts `explore` (random ids) into a priority list of `main` ids so that a batch of `limit` holds
 * limit - explore.length of the best main ids and then the random ones; the rest of main follows as spares.
 */
export function mixExploration(main: string[], explore: string[], limit: number): string[] {
  const ex = new Set(explore);
  const rest = main.filter((id) => !ex.has(id));
  const keep = Math.max(0, limit - explore.length);
  return [...rest.slice(0, keep), ...explore, ...rest.slice(keep)];
}
