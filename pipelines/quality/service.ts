/**
 * Workforce quality inside the service (docs/quality.md): gold checks mixed into the queue and scored, overlap
 * (another distinct, blind annotator while an item's consolidated label is uncertain), incremental consolidation
 * per label, the full consolidation job, and the annotator and agreement reports.
 *
 * Votes: labels from distinct keys on one item are separate votes; a second label from the same key is a
 * correction of that key's own vote (only its latest counts). The item's `label` column carries the
 * consolidated label once the item has 2+ votes, so training, auto-labelling, audits and the export use it
 * without knowing about overlap ({@link applyConsolidatedLabel} is the one place that writes it).
 */
import { ConflictError, NotFoundError } from '../../core/errors.ts';
import { recordAudit } from '../../db/repositories/audit-log.ts';
import type { DbOrTx } from '../../db/client.ts';
import type { ItemRow } from '../../db/repositories/items.ts';
import { activeJobs, insertJob, type JobRow } from '../../db/repositories/jobs.ts';
import { listKeys } from '../../db/repositories/keys.ts';
import { findProject, shareLockProject, type ProjectRow } from '../../db/repositories/projects.ts';
import {
  answeredGoldChecks,
  CLEAR_PAUSE_ACTION,
  currentLabels,
  findGoldCheck,
  goldAnswers,
  heldLeaseCount,
  humanVotes,
  insertFit,
  itemRands,
  keyRole,
  labelTimesByKey,
  latestFit,
  leaseOverlapItems,
  openGoldChecks,
  overlapCandidates,
  pauseClearances,
  qualityEvidenceCount,
  recordGoldAnswer,
  servedCounts,
  serveNewGoldChecks,
  setItemLabelFromConsolidation,
  upsertConsolidated,
} from '../../db/repositories/quality.ts';
import { topUncertainConfidences } from '../../db/repositories/items.ts';
import { transactionWithRetry } from '../../db/retry.ts';
import type { PipelineContext } from '../context.ts';
import { resolveSettings, type QualitySettings } from '../settings.ts';
import { agreement } from './agreement.ts';
import { annotatorRecall, dawidSkene, itemPosterior, majorityVote } from './consolidate.ts';
import { annotatorStatus, DEFAULT_PAUSE_RULE, goldAccuracy, type AnnotatorStatus } from './gold.ts';
import { DEFAULT_ANNOTATOR_ACCURACY, MIN_RELABEL_GAIN, newItemGain, oneCoinPosterior, REQUIRED_GAIN, relabelGain, relabelsToServe } from './gain.ts';
import { indexVotes, type LabelRow } from './votes.ts';

/** A new annotator's first this-many served items include `ONBOARDING_GOLD_SHARE` gold checks (5 of 20). */
export const ONBOARDING_ITEMS = 20;
export const ONBOARDING_GOLD_SHARE = 0.25;
/** A full consolidation is queued once this many new votes (or this share of the last fit's) arrived. */
export const REFIT_EVERY_VOTES = 50;
export const REFIT_EVERY_SHARE = 0.1;
/** Annotators with at least this EM accuracy and this many votes count as "strong" when judging a gold answer. */
export const STRONG_ACCURACY = 0.8;
export const STRONG_MIN_VOTES = 10;
/** Below this many votes and gold answers, consolidation is majority vote (EM needs data to learn confusions). */
export const MIN_VOTES_FOR_EM = 50;
/** The agreement matrix lists at most this many annotators (the most prolific). */
export const MATRIX_MAX_ANNOTATORS = 50;

/** Gold checks a key should have been served once it has been served `served` items in all. */
export function goldChecksDue(served: number, share: number): number {
  if (share <= 0) return 0;
  const onboarding = Math.round(Math.min(served, ONBOARDING_ITEMS) * Math.max(share, ONBOARDING_GOLD_SHARE));
  return onboarding + Math.round(Math.max(0, served - ONBOARDING_ITEMS) * share);
}

/**
 * The queue's quality part, run before the ordinary queue fills the rest of the batch: this key's open gold
 * checks and overlap items first (a reload shows the same items), then new gold checks as due, then items whose
 * next label the settings require (at most half the batch, so new items keep flowing), then, with adaptive
 * overlap, the uncertain items whose next label is worth more than the new items it would displace.
 */
export async function leaseQualityItems(
  ctx: PipelineContext,
  project: ProjectRow,
  keyId: string,
  q: { limit: number; now: Date; expiresAt: Date },
): Promise<ItemRow[]> {
  const settings = resolveSettings(project.settings).quality;
  return transactionWithRetry(ctx.db, async (tx) => {
    // Lock order (docs/team.md): the project row before any item row. A gold check's insert checks its foreign
    // keys (the item, then the project) and the overlap lease writes items.
    await shareLockProject(tx, project.id);
    const picked: ItemRow[] = [];
    // Gold checks score annotators; engineers and admins working the queue are not scored.
    if (settings.goldCheckShare > 0 && (await keyRole(tx, keyId)) === 'annotator') {
      picked.push(...(await openGoldChecks(tx, project.id, keyId, q.now)).slice(0, q.limit));
      const served = await servedCounts(tx, project.id, keyId);
      // A reload must show the same items: the items this key still holds come back, so only the rest of the
      // batch is new, and only new items make new gold checks due.
      const fresh = Math.max(0, q.limit - picked.length - (await heldLeaseCount(tx, project.id, keyId, q.now)));
      const due = goldChecksDue(served.labels + served.gold + fresh, settings.goldCheckShare) - served.gold;
      picked.push(...(await serveNewGoldChecks(tx, { projectId: project.id, keyId, limit: Math.min(due, fresh), expiresAt: q.expiresAt })));
    }
    const overlap = { projectId: project.id, keyId, now: q.now, expiresAt: q.expiresAt };
    // Labels the settings require (labelsPerItem, overlapShare, a paused key's vote), up to half the batch. Always
    // looked at (not only when overlap is configured): a paused annotator's labels want a second label too.
    {
      const room = Math.min(q.limit - picked.length, Math.max(1, Math.floor(q.limit / 2)));
      picked.push(...(await leaseOverlapItems(tx, { ...overlap, minGain: REQUIRED_GAIN, limit: room })));
    }
    // Labels adaptive overlap would like: each slot goes to whichever is worth more, another label on an uncertain
    // item or the next new item of the uncertainty queue, by expected wrong labels avoided (gain.ts).
    const room = q.limit - picked.length;
    if (settings.adaptiveOverlap && room > 0) {
      const filter = { ...overlap, belowGain: REQUIRED_GAIN, exclude: picked.map((r) => r.id) };
      const wanted = await overlapCandidates(tx, { ...filter, limit: room });
      if (wanted.length) {
        const [fresh, fit] = await Promise.all([
          topUncertainConfidences(tx, { projectId: project.id, keyId, now: q.now, limit: room }),
          latestFit(tx, project.id),
        ]);
        const accuracy = fit && fit.labels >= MIN_VOTES_FOR_EM ? (fit.params as unknown as FitParams).meanAccuracy : DEFAULT_ANNOTATOR_ACCURACY;
        const K = project.labels.length;
        const m = relabelsToServe(
          wanted.map((w) => w.gain),
          fresh.map((f) => newItemGain(f.confidence, K, accuracy)).sort((a, b) => b - a),
          room,
          wanted.filter((w) => w.held).length,
        );
        picked.push(...(await leaseOverlapItems(tx, { ...filter, limit: m })));
      }
    }
    return picked;
  });
}

/**
 * After the ordinary queue: when it left the batch short (no new item to serve), fill the rest with items
 * overlap wants another label on, so an annotator is not idle while labels remain uncertain.
 */
export async function topUpWithOverlap(
  ctx: PipelineContext,
  project: ProjectRow,
  keyId: string,
  q: { room: number; now: Date; expiresAt: Date; already: string[] },
): Promise<ItemRow[]> {
  if (q.room <= 0) return [];
  return transactionWithRetry(ctx.db, (tx) =>
    leaseOverlapItems(tx, { projectId: project.id, keyId, limit: q.room, now: q.now, expiresAt: q.expiresAt, exclude: q.already }),
  );
}

/**
 * Places the quality items among the ordinary ones so that a gold check is not told apart by its place: when the
 * ordinary batch is ranked by uncertainty (the queue's contract), every item takes its place in that ranking;
 * otherwise (a random or cold-start batch) at positions drawn from the item ids.
 */
export function mixIntoBatch<T extends { id: string; uncertainty: number | null }>(ordinary: T[], quality: T[]): T[] {
  if (!quality.length) return ordinary;
  const ranked =
    ordinary.length > 1 && ordinary.every((r, i) => r.uncertainty !== null && (i === 0 || (ordinary[i - 1].uncertainty as number) >= r.uncertainty));
  if (ranked) return [...ordinary, ...quality].sort((a, b) => (b.uncertainty ?? -Infinity) - (a.uncertainty ?? -Infinity));
  const out = [...ordinary];
  for (const q of quality) {
    let h = 0;
    for (let i = 0; i < q.id.length; i++) h = (h * 31 + q.id.charCodeAt(i)) >>> 0;
    out.splice(h % (out.length + 1), 0, q);
  }
  return out;
}

/**
 * A label on a gold-check item: an imported gold item, or a labelled held-out item served as a gold check. A key
 * that was served the item as a gold check has its answer recorded (a repeat corrects it) and scored; nothing
 * about the item changes and the answer looks like any other. An annotator who was never served an imported gold
 * item gets the answer another annotator's item gets (409 already_labeled): gold answers are never revealed and
 * never overwritten by annotators. Returns null when the ordinary label path applies (engineers on gold items,
 * anyone on a held-out item it holds no gold check on).
 */
export async function answerGoldItem(
  tx: DbOrTx,
  key: { id: string; role: string },
  item: ItemRow,
  label: string,
  now: Date,
  /** Whether the answer is right, when that is not "equals the gold label" (a transcript within a WER tolerance). */
  correct?: boolean,
): Promise<{ itemId: string; label: string; agreedWithModel: boolean | null } | null> {
  const check = await findGoldCheck(tx, item.id, key.id);
  if (!check) {
    if (item.split !== 'gold' || key.role !== 'annotator') return null;
    throw new ConflictError('Another annotator labelled this item after your lease on it ran out; your decision was not stored.', 'already_labeled');
  }
  if (check.answer !== label) await recordGoldAnswer(tx, check.id, label, correct ?? label === item.label, now);
  return { itemId: item.id, label, agreedWithModel: item.predLabel === null ? null : item.predLabel === label };
}

/**
 * Incremental consolidation of one item after a vote (same transaction as the label): its posterior from the
 * last full fit (majority vote before the first fit), the overlap decision, and the item's label once it has
 * 2+ votes. O(votes on the item).
 */
export async function consolidateItem(_ctx: PipelineContext, tx: DbOrTx, project: ProjectRow, item: ItemRow): Promise<void> {
  if (item.split !== 'pool') return;
  const settings = resolveSettings(project.settings).quality;
  const votes = latestVotePerKey(await humanVotes(tx, project.id, [item.id]));
  if (!votes.length) return;
  const fit = await latestFit(tx, project.id);
  const params = fit ? (fit.params as unknown as FitParams) : null;
  const K = project.labels.length;
  const classOf = new Map(project.labels.map((l, i) => [l, i] as const));
  const counts = new Array<number>(K).fill(0);
  for (const v of votes) counts[classOf.get(v.label) ?? 0]++;
  let posterior: number[];
  let method: 'single' | 'majority' | 'dawid-skene';
  let fromFit = false;
  // EM parameters fitted on a handful of votes are noise: below MIN_VOTES_FOR_EM, or with a voter the fit has not
  // seen, majority vote decides.
  if (params && fit!.labels >= MIN_VOTES_FOR_EM && sameClasses(params.classes, project.labels) && votes.every((v) => params.annotators[v.keyId])) {
    const keys = Object.keys(params.annotators);
    const index = new Map(keys.map((k, i) => [k, i] as const));
    const confusion = new Float64Array(keys.length * K * K);
    keys.forEach((k, a) => confusion.set(params.annotators[k].confusion, a * K * K));
    posterior = Array.from(
      itemPosterior(
        { priors: Float64Array.from(params.priors), confusion },
        K,
        votes.map((v) => ({ annotator: index.get(v.keyId) ?? -1, label: classOf.get(v.label) ?? 0 })),
        params.meanAccuracy,
      ),
    );
    method = votes.length > 1 ? 'dawid-skene' : 'single';
    fromFit = true;
  } else {
    posterior = counts.map((c) => c / votes.length);
    method = votes.length > 1 ? 'majority' : 'single';
  }
  // With one vote the label is that vote (the posterior says how far to trust it); with 2+ the consolidation decides.
  let best = 0;
  if (votes.length === 1) best = classOf.get(votes[0].label) ?? 0;
  else for (let k = 1; k < K; k++) if (posterior[k] > posterior[best] || (posterior[k] === posterior[best] && counts[k] > counts[best])) best = k;
  const paused = new Set<string>();
  for (const v of votes) if ((await keyStatus(tx, project.id, v.keyId)).status === 'paused') paused.add(v.keyId);
  const demand = overlapDemand(
    settings,
    {
      rand: item.rand,
      counts,
      votes: votes.length,
      trustedVotes: votes.filter((v) => !paused.has(v.keyId)).length,
      posterior: fromFit ? posterior : null,
    },
    // A fit's mean accuracy over a handful of votes is noise, as its confusions are.
    params && fit!.labels >= MIN_VOTES_FOR_EM ? params.meanAccuracy : DEFAULT_ANNOTATOR_ACCURACY,
  );
  await upsertConsolidated(tx, [
    {
      itemId: item.id,
      projectId: project.id,
      label: project.labels[best],
      posterior: posterior[best],
      n: votes.length,
      method,
      ...demand,
      fitId: fit?.id ?? null,
      updatedAt: new Date(),
    },
  ]);
  if (votes.length > 1) await applyConsolidatedLabel(tx, item.id, project.labels[best]);
}

/**
 * The hook for training, auto-labelling, audits and the export: writes an item's consolidated label into its
 * `label`. Those paths read `items.label`; if one of them must read `consolidated_labels` instead, this is the
 * single function to change.
 */
export async function applyConsolidatedLabel(tx: DbOrTx, itemId: string, label: string): Promise<void> {
  await setItemLabelFromConsolidation(tx, itemId, label);
}

/**
 * Whether overlap wants one more distinct annotator on an item, and what that label is worth (gain.ts). A label the
 * settings require (fewer trusted votes than `labelsPerItem`, or 2 for an item in the `overlapShare`; paused keys'
 * votes do not count) has REQUIRED_GAIN. Beyond that, with `adaptiveOverlap`, the item wants another label while
 * its expected gain is at least MIN_RELABEL_GAIN; the queue then weighs it against new items. Never at the cap.
 */
export function overlapDemand(
  s: QualitySettings,
  item: { rand: number; counts: number[]; votes: number; trustedVotes: number; posterior: number[] | null },
  accuracy: number,
): { needsMore: boolean; gain: number } {
  const cap = Math.max(s.maxLabelsPerItem, s.labelsPerItem);
  if (item.votes >= cap) return { needsMore: false, gain: 0 };
  const target = Math.max(s.labelsPerItem, item.rand < s.overlapShare ? 2 : 1);
  if (item.trustedVotes < target) return { needsMore: true, gain: REQUIRED_GAIN };
  if (!s.adaptiveOverlap) return { needsMore: false, gain: 0 };
  // Majority vote's "posterior" is a vote share (1.0 for a 1-0 item): the one-coin posterior stands in for it.
  const top = item.posterior ? Math.max(...item.posterior) : oneCoinPosterior(item.counts, accuracy);
  const gain = relabelGain(top, item.votes, { accuracy, classes: item.counts.length, cap });
  return gain >= MIN_RELABEL_GAIN ? { needsMore: true, gain } : { needsMore: false, gain: 0 };
}

function latestVotePerKey(rows: { itemId: string; keyId: string; label: string }[]): { itemId: string; keyId: string; label: string }[] {
  const byKey = new Map<string, { itemId: string; keyId: string; label: string }>();
  for (const r of rows) byKey.set(`${r.itemId}\u0000${r.keyId}`, r);
  return [...byKey.values()];
}

function sameClasses(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

async function keyStatus(
  db: DbOrTx,
  projectId: string,
  keyId: string,
): Promise<ReturnType<typeof statusSinceClearing> & { goldChecks: number; right: number }> {
  const [fit, rows, cleared] = await Promise.all([latestFit(db, projectId), answeredGoldChecks(db, projectId, keyId), pauseClearances(db, projectId, keyId)]);
  const flagged = new Set(((fit?.params as unknown as FitParams | undefined)?.flaggedGold ?? []).map((f) => f.itemId));
  const counted = rows.filter((r) => !flagged.has(r.itemId));
  return { ...statusSinceClearing(counted, cleared.get(keyId)), goldChecks: counted.length, right: counted.filter((r) => r.correct).length };
}

/**
 * A key's status from its answered gold checks (oldest first), judged only on the answers after its last
 * clearing when an engineer cleared a pause. `pausedAtCheck` counts every answer (before the clearing too).
 */
export function statusSinceClearing(
  rows: readonly { correct: boolean; answeredAt: Date }[],
  clearedAt: Date | undefined,
): { status: AnnotatorStatus; pausedAtCheck: number | null; clearedAt: Date | null } {
  const since = clearedAt ? rows.filter((r) => r.answeredAt > clearedAt) : rows;
  const s = annotatorStatus(
    since.map((r) => r.correct),
    DEFAULT_PAUSE_RULE,
    { cleared: clearedAt !== undefined },
  );
  return { status: s.status, pausedAtCheck: s.pausedAtCheck === null ? null : s.pausedAtCheck + rows.length - since.length, clearedAt: clearedAt ?? null };
}

/**
 * An engineer clears a paused key (`POST /annotators/:keyId/clear`): from now on its status is judged only on
 * gold answers given after the clearing (`ok` or `watch`, no new onboarding; paused again if the rule fires on
 * the new answers). Recorded in the audit log, which is also where the clearing time is read from. A key that is
 * not paused answers 409 `not_paused` (nothing to clear, and its history stays whole).
 */
export async function clearAnnotatorPause(
  ctx: PipelineContext,
  project: ProjectRow,
  by: { keyId: string },
  keyId: string,
): Promise<{
  keyId: string;
  status: AnnotatorStatus;
  clearedAt: string;
  previous: { pausedAtCheck: number | null; goldChecks: number; goldAccuracy: number | null };
}> {
  if (!(await listKeys(ctx.db, project.id)).some((k) => k.id === keyId)) throw new NotFoundError('Key');
  return transactionWithRetry(ctx.db, async (tx) => {
    const before = await keyStatus(tx, project.id, keyId);
    if (before.status !== 'paused')
      throw new ConflictError(`This key is not paused (its status is ${before.status}); there is nothing to clear.`, 'not_paused');
    const at = new Date();
    const previous = {
      pausedAtCheck: before.pausedAtCheck,
      goldChecks: before.goldChecks,
      goldAccuracy: goldAccuracy(before.right, before.goldChecks).accuracy,
    };
    await recordAudit(tx, {
      projectId: project.id,
      keyId: by.keyId,
      action: CLEAR_PAUSE_ACTION,
      details: { annotatorKeyId: keyId, ...previous },
      createdAt: at,
    });
    return { keyId, status: statusSinceClearing([], at).status, clearedAt: at.toISOString(), previous };
  });
}

/** What a full consolidation stores (quality_fits.params). */
export interface FitParams {
  classes: string[];
  priors: number[];
  meanAccuracy: number;
  annotators: Record<string, { confusion: number[]; accuracy: number; labels: number; overlap: number }>;
  agreement: { alpha: number | null; pairwise: number | null; overlappingItems: number; matrix: AgreementMatrix };
  flaggedGold: { itemId: string; goldLabel: string; suggestedLabel: string; strongAnswers: number; contradicting: number }[];
  iterations: number;
  converged: boolean;
  corrections: number;
  unknownLabels: number;
}

export interface AgreementMatrix {
  annotators: string[];
  agreement: (number | null)[][];
  shared: number[][];
}

/** Queues a full consolidation when enough new votes arrived since the last one (and none is queued or running). */
export async function maybeConsolidate(ctx: PipelineContext, project: ProjectRow): Promise<JobRow | undefined> {
  if ((await activeJobs(ctx.db, project.id, 'consolidate')).length) return undefined;
  const [evidence, fit] = await Promise.all([qualityEvidenceCount(ctx.db, project.id), latestFit(ctx.db, project.id)]);
  const last = fit?.labels ?? 0;
  if (evidence === 0 || evidence === last) return undefined;
  if (fit && evidence - last < Math.max(REFIT_EVERY_VOTES, Math.ceil(REFIT_EVERY_SHARE * last))) return undefined;
  const job = await insertJob(ctx.db, { projectId: project.id, kind: 'consolidate', payload: { votes: evidence } });
  ctx.onJobQueued?.();
  return job;
}

/**
 * The full consolidation (job `consolidate`): Dawid-Skene over every vote and every gold-check answer (gold
 * clamped), written to consolidated_labels and the items' labels, plus agreement, per-key parameters and gold
 * answers most strong annotators contradict. Pure computation between two reads and one write.
 */
export async function runConsolidation(ctx: PipelineContext, job: JobRow): Promise<{ modelVersion: number | null }> {
  const startedAt = new Date();
  const project = await findProject(ctx.db, job.projectId);
  if (!project) return { modelVersion: null };
  const evidence = await qualityEvidenceCount(ctx.db, project.id);
  const [votes, goldRows, gold] = await Promise.all([humanVotes(ctx.db, project.id), answeredGoldChecks(ctx.db, project.id), goldAnswers(ctx.db, project.id)]);
  const rows: LabelRow[] = [
    ...votes.map((v) => ({ itemId: v.itemId, annotatorId: v.keyId, label: v.label })),
    // Answers to held-out items served as gold checks score their keys (status, gold accuracy) but are not
    // votes here: such an item's truth is its labeller's own vote, so clamping it would score that key against
    // itself, and unclamped the answer would become a vote that changes the item.
    ...goldRows.filter((g) => gold.has(g.itemId)).map((g) => ({ itemId: g.itemId, annotatorId: g.keyId, label: g.answer })),
  ];
  const indexed = indexVotes(rows, project.labels, gold);
  const v = indexed.votes;
  const K = v.classes;
  const fit = dawidSkene(v);
  const useEm = v.item.length >= MIN_VOTES_FOR_EM;
  const mv = useEm ? null : majorityVote(v);
  // Per key: votes on items someone else (or a gold answer) also speaks to; without any, EM accuracy is circular.
  const overlap = new Int32Array(v.annotators);
  for (let j = 0; j < v.item.length; j++) if (fit.votesPerItem[v.item[j]] > 1 || v.gold[v.item[j]] >= 0) overlap[v.annotator[j]]++;
  const annotators: FitParams['annotators'] = {};
  let accSum = 0;
  let accN = 0;
  indexed.annotatorIds.forEach((keyId, a) => {
    annotators[keyId] = {
      confusion: Array.from(fit.confusion.subarray(a * K * K, (a + 1) * K * K)),
      accuracy: fit.accuracy[a],
      labels: fit.labels[a],
      overlap: overlap[a],
    };
    if (overlap[a] > 0) {
      accSum += fit.accuracy[a] * fit.labels[a];
      accN += fit.labels[a];
    }
  });
  const heldOutAnswers = goldRows.filter((g) => !gold.has(g.itemId));
  const flaggedGold = [
    ...suspiciousGold(indexed, fit.accuracy, fit.labels),
    ...suspiciousHeldOut(heldOutAnswers, annotators, await currentLabels(ctx.db, [...new Set(heldOutAnswers.map((g) => g.itemId))])),
  ];
  const agr = agreement(v);
  const params: FitParams = {
    classes: [...project.labels],
    priors: Array.from(fit.priors),
    meanAccuracy: accN > 0 ? accSum / accN : 0.7,
    annotators,
    agreement: {
      alpha: agr.alpha,
      pairwise: agr.pairwise,
      overlappingItems: agr.overlappingItems,
      matrix: agreementMatrix(indexed.annotatorIds, fit.labels, agr.pairs),
    },
    flaggedGold,
    iterations: fit.iterations,
    converged: fit.converged,
    corrections: indexed.corrections,
    unknownLabels: indexed.unknownLabels,
  };
  const settings = resolveSettings(project.settings).quality;
  const flagged = new Set(flaggedGold.map((f) => f.itemId));
  const status = new Map<string, AnnotatorStatus>();
  const perKey = new Map<string, { correct: boolean; answeredAt: Date }[]>();
  for (const g of goldRows) {
    if (flagged.has(g.itemId)) continue;
    let list = perKey.get(g.keyId);
    if (!list) {
      list = [];
      perKey.set(g.keyId, list);
    }
    list.push(g);
  }
  const cleared = await pauseClearances(ctx.db, project.id);
  for (const [k, results] of perKey) status.set(k, statusSinceClearing(results, cleared.get(k)).status);
  // Item rand for the overlap share, read once.
  const rand = await itemRands(ctx.db, project.id, indexed.itemIds);
  await transactionWithRetry(ctx.db, async (tx) => {
    // Lock order (docs/team.md): the project row first, then items by ascending id (the upsert's foreign-key
    // checks and the label writes below both go through the items in id order).
    await shareLockProject(tx, project.id);
    const stored = await insertFit(tx, project.id, evidence, params as unknown as Record<string, unknown>);
    const consolidated: Parameters<typeof upsertConsolidated>[1] = [];
    const byItem: { a: number; l: number }[][] = Array.from({ length: v.items }, () => []);
    for (let j = 0; j < v.item.length; j++) byItem[v.item[j]].push({ a: v.annotator[j], l: v.label[j] });
    for (let i = 0; i < v.items; i++) {
      const list = byItem[i];
      if (!list.length || v.gold[i] >= 0) continue;
      const itemId = indexed.itemIds[i];
      const counts = new Array<number>(K).fill(0);
      for (const x of list) counts[x.l]++;
      const post = Array.from((mv ?? fit).posterior.subarray(i * K, (i + 1) * K));
      const best = list.length === 1 ? list[0].l : (mv ?? fit).label[i];
      const trusted = list.filter((x) => status.get(indexed.annotatorIds[x.a]) !== 'paused').length;
      consolidated.push({
        itemId,
        projectId: project.id,
        label: project.labels[best],
        posterior: post[best],
        n: list.length,
        method: list.length === 1 ? 'single' : mv ? 'majority' : 'dawid-skene',
        ...overlapDemand(
          settings,
          { rand: rand.get(itemId) ?? 1, counts, votes: list.length, trustedVotes: trusted, posterior: mv ? null : post },
          mv ? DEFAULT_ANNOTATOR_ACCURACY : params.meanAccuracy,
        ),
        fitId: stored.id,
        updatedAt: startedAt,
      });
    }
    consolidated.sort((x, y) => (x.itemId < y.itemId ? -1 : x.itemId > y.itemId ? 1 : 0));
    const written = await upsertConsolidated(tx, consolidated, { onlyIfUpdatedBefore: startedAt });
    for (const c of consolidated) if (c.n > 1 && written.has(c.itemId)) await applyConsolidatedLabel(tx, c.itemId, c.label);
  });
  ctx.logger.info('consolidation stored', { projectId: project.id, votes: v.item.length, iterations: fit.iterations });
  return { modelVersion: null };
}

/**
 * Gold items whose stored answer most strong annotators contradict: at least 3 strong annotators (EM accuracy
 * >= 0.8 over >= 10 votes) answered, and more than half of them agree on one other class.
 */
function suspiciousGold(indexed: ReturnType<typeof indexVotes>, accuracy: Float64Array, labels: Int32Array): FitParams['flaggedGold'] {
  const v = indexed.votes;
  const strongByItem = new Map<number, number[]>();
  for (let j = 0; j < v.item.length; j++) {
    const i = v.item[j];
    const a = v.annotator[j];
    if (v.gold[i] < 0 || labels[a] < STRONG_MIN_VOTES || !(accuracy[a] >= STRONG_ACCURACY)) continue;
    let list = strongByItem.get(i);
    if (!list) {
      list = [];
      strongByItem.set(i, list);
    }
    list.push(v.label[j]);
  }
  const out: FitParams['flaggedGold'] = [];
  for (const [i, answers] of strongByItem) {
    if (answers.length < 3) continue;
    const counts = new Map<number, number>();
    for (const l of answers) if (l !== v.gold[i]) counts.set(l, (counts.get(l) ?? 0) + 1);
    let top = -1;
    let topN = 0;
    for (const [l, n] of counts) if (n > topN) [top, topN] = [l, n];
    if (topN * 2 > answers.length)
      out.push({
        itemId: indexed.itemIds[i],
        goldLabel: indexed.classNames[v.gold[i]],
        suggestedLabel: indexed.classNames[top],
        strongAnswers: answers.length,
        contradicting: topN,
      });
  }
  return out;
}

/**
 * The same test for held-out items answered as gold checks (their answers are not in the EM): at least 3 strong
 * keys (by the fit's accuracy and vote count) answered, and more than half of them agree on one class other than
 * the item's label, which is then most likely its labeller's mistake.
 */
function suspiciousHeldOut(
  answers: { itemId: string; keyId: string; answer: string }[],
  annotators: FitParams['annotators'],
  labelOf: Map<string, string>,
): FitParams['flaggedGold'] {
  const byItem = new Map<string, string[]>();
  for (const g of answers) {
    const p = annotators[g.keyId];
    if (!p || p.labels < STRONG_MIN_VOTES || !(p.accuracy >= STRONG_ACCURACY)) continue;
    let list = byItem.get(g.itemId);
    if (!list) {
      list = [];
      byItem.set(g.itemId, list);
    }
    list.push(g.answer);
  }
  const out: FitParams['flaggedGold'] = [];
  for (const [itemId, list] of byItem) {
    const truth = labelOf.get(itemId);
    if (truth === undefined || list.length < 3) continue;
    const counts = new Map<string, number>();
    for (const a of list) if (a !== truth) counts.set(a, (counts.get(a) ?? 0) + 1);
    let top = '';
    let topN = 0;
    for (const [l, n] of counts) if (n > topN) [top, topN] = [l, n];
    if (topN * 2 > list.length) out.push({ itemId, goldLabel: truth, suggestedLabel: top, strongAnswers: list.length, contradicting: topN });
  }
  return out;
}

function agreementMatrix(keys: string[], labels: Int32Array, pairs: { a: number; b: number; shared: number; agreement: number }[]): AgreementMatrix {
  const chosen = keys
    .map((k, a) => ({ k, a, n: labels[a] }))
    .sort((x, y) => y.n - x.n)
    .slice(0, MATRIX_MAX_ANNOTATORS);
  const pos = new Map(chosen.map((c, i) => [c.a, i] as const));
  const m = chosen.length;
  const agreementRows: (number | null)[][] = Array.from({ length: m }, (_, i) => Array.from({ length: m }, (_, j) => (i === j ? 1 : null)));
  const shared: number[][] = Array.from({ length: m }, () => new Array<number>(m).fill(0));
  for (const p of pairs) {
    const i = pos.get(p.a);
    const j = pos.get(p.b);
    if (i === undefined || j === undefined) continue;
    agreementRows[i][j] = agreementRows[j][i] = p.agreement;
    shared[i][j] = shared[j][i] = p.shared;
  }
  return { annotators: chosen.map((c) => c.k), agreement: agreementRows, shared };
}

export interface AnnotatorReport {
  keyId: string;
  name?: string;
  labels: number;
  goldChecks: number;
  goldAccuracy: number | null;
  interval: [number, number];
  estimatedAccuracy: number | null;
  /** Why estimatedAccuracy is null, when it is. */
  estimateNote?: 'no_overlap' | 'not_consolidated_yet';
  recall: Record<string, number> | null;
  medianSeconds: number | null;
  status: AnnotatorStatus;
  pausedAtCheck: number | null;
  /** When an engineer last cleared this key's pause (the status counts only gold answers since), or null. */
  clearedAt: string | null;
}

/** GET /annotators: per key, from stored labels and gold checks (live) and the last full fit. */
export async function annotatorsReport(ctx: PipelineContext, project: ProjectRow, opts: { withNames: boolean }) {
  void maybeConsolidate(ctx, project).catch((e) => ctx.logger.warn('consolidation trigger failed', { projectId: project.id, error: String(e) }));
  const [keys, fit, gold, votes, times, cleared] = await Promise.all([
    listKeys(ctx.db, project.id),
    latestFit(ctx.db, project.id),
    answeredGoldChecks(ctx.db, project.id),
    humanVotes(ctx.db, project.id),
    labelTimesByKey(ctx.db, project.id),
    pauseClearances(ctx.db, project.id),
  ]);
  const params = fit ? (fit.params as unknown as FitParams) : null;
  const flagged = new Set((params?.flaggedGold ?? []).map((f) => f.itemId));
  const names = new Map(keys.map((k) => [k.id, k.name] as const));
  const items = new Map<string, Set<string>>();
  for (const v of votes) {
    let s = items.get(v.keyId);
    if (!s) {
      s = new Set();
      items.set(v.keyId, s);
    }
    s.add(v.itemId);
  }
  const results = new Map<string, { correct: boolean; answeredAt: Date }[]>();
  for (const g of gold) {
    if (flagged.has(g.itemId)) continue;
    let list = results.get(g.keyId);
    if (!list) {
      list = [];
      results.set(g.keyId, list);
    }
    list.push(g);
    let t = times.get(g.keyId);
    if (!t) {
      t = [];
      times.set(g.keyId, t);
    }
    t.push(g.answeredAt);
  }
  const ids = new Set([...items.keys(), ...results.keys(), ...keys.filter((k) => k.role === 'annotator').map((k) => k.id)]);
  let teamRight = 0;
  let teamChecks = 0;
  const annotators: AnnotatorReport[] = [...ids].map((keyId) => {
    const r = results.get(keyId) ?? [];
    const right = r.filter((x) => x.correct).length;
    teamRight += right;
    teamChecks += r.length;
    // Gold accuracy covers every answer; the status only those after the last clearing of a pause.
    const ga = goldAccuracy(right, r.length);
    const { status, pausedAtCheck, clearedAt } = statusSinceClearing(r, cleared.get(keyId));
    const p = params?.annotators[keyId];
    const K = project.labels.length;
    const recall =
      p && p.overlap > 0 && sameClasses(params!.classes, project.labels) ? annotatorRecall({ confusion: Float64Array.from(p.confusion) }, K, 0) : null;
    const estimate = !p
      ? { estimatedAccuracy: null, estimateNote: 'not_consolidated_yet' as const }
      : p.overlap === 0
        ? { estimatedAccuracy: null, estimateNote: 'no_overlap' as const }
        : { estimatedAccuracy: p.accuracy };
    return {
      keyId,
      ...(opts.withNames ? { name: names.get(keyId) ?? keyId } : {}),
      labels: items.get(keyId)?.size ?? 0,
      goldChecks: r.length,
      goldAccuracy: ga.accuracy,
      interval: ga.interval,
      ...estimate,
      recall: recall ? Object.fromEntries(project.labels.map((l, k) => [l, recall[k]])) : null,
      medianSeconds: medianGapSeconds(times.get(keyId) ?? []),
      status,
      pausedAtCheck,
      clearedAt: clearedAt?.toISOString() ?? null,
    };
  });
  annotators.sort((a, b) => b.labels - a.labels || a.keyId.localeCompare(b.keyId));
  const team = goldAccuracy(teamRight, teamChecks);
  return {
    annotators,
    team: { goldChecks: team.checks, goldAccuracy: team.accuracy, interval: team.interval },
    consolidation: fit ? { at: fit.createdAt.toISOString(), votes: fit.labels, flaggedGold: params!.flaggedGold } : null,
  };
}

/** Median seconds between a key's consecutive answers, ignoring gaps over 10 minutes (breaks); null below 2 answers. */
export function medianGapSeconds(times: Date[]): number | null {
  const sorted = times.map((t) => t.getTime()).sort((a, b) => a - b);
  const gaps: number[] = [];
  for (let i = 1; i < sorted.length; i++) {
    const g = (sorted[i] - sorted[i - 1]) / 1000;
    if (g <= 600) gaps.push(g);
  }
  if (!gaps.length) return null;
  gaps.sort((a, b) => a - b);
  const m = gaps.length >> 1;
  return gaps.length % 2 ? gaps[m] : (gaps[m - 1] + gaps[m]) / 2;
}

/** GET /agreement: from the last full fit (queued if missing or stale). */
export async function agreementReport(ctx: PipelineContext, project: ProjectRow) {
  await maybeConsolidate(ctx, project);
  const fit = await latestFit(ctx.db, project.id);
  if (!fit)
    return {
      alpha: null,
      pairwise: null,
      matrix: { annotators: [], agreement: [], shared: [] },
      overlappingItems: 0,
      computedAt: null,
      note: 'not_consolidated_yet',
    };
  const a = (fit.params as unknown as FitParams).agreement;
  return {
    alpha: a.alpha,
    pairwise: a.pairwise,
    matrix: a.matrix,
    overlappingItems: a.overlappingItems,
    computedAt: fit.createdAt.toISOString(),
    ...(a.overlappingItems === 0 ? { note: 'no_overlap' } : {}),
  };
}

/** The fields of an item view that could reveal other annotators' votes or a gold answer. */
interface ItemViewForBlinding {
  split: string;
  status: string;
  holdout: boolean;
  label: string | null;
  labelSource: string | null;
  labels: { label: string; source: string; keyId: string | null }[];
}

/**
 * What an annotator may see of an item (GET item): overlap is blind and gold checks are hidden, so only the
 * annotator's own labels (or its own gold-check answer) are shown, and a gold item looks like a pool item.
 * Engineers see everything.
 */
export async function blindItemView<T extends ItemViewForBlinding>(db: DbOrTx, itemId: string, view: T, keyId: string): Promise<T> {
  let own = view.labels.filter((l) => l.source === 'human' && l.keyId === keyId);
  if (view.split === 'gold' || view.holdout) {
    // A held-out item is a gold check only for the keys it was served to as one (not for its labeller).
    const check = await findGoldCheck(db, itemId, keyId);
    if (view.split === 'gold' || check)
      own = check?.answer ? ([{ ...(view.labels[0] ?? {}), label: check.answer, source: 'human', keyId }] as T['labels']) : [];
  }
  const last = own.at(-1);
  return {
    ...view,
    split: 'pool',
    holdout: false,
    status: last ? 'labeled' : 'pending',
    label: last?.label ?? null,
    labelSource: last ? 'human' : null,
    labels: own,
  };
}
