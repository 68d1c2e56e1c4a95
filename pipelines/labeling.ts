import { ConflictError, describeError, NotFoundError, ValidationError } from '../core/errors.ts';
import { applyHumanLabel, findPrediction, insertLabelRows, latestLabel, lockItem, markReviewed } from '../db/repositories/items.ts';
import { normalizeTranscript } from '../models/speech/text.ts';
import { alignWords, wordEdits } from '../models/speech/wer.ts';
import { resolveSettings } from './settings.ts';
import { MAX_TRANSCRIPT_CHARS } from './speech/limits.ts';
import { shareLockProject, type ProjectRow } from '../db/repositories/projects.ts';
import { transactionWithRetry } from '../db/retry.ts';
import type { PipelineContext } from './context.ts';
import { enqueuePrelabel } from './prelabel.ts';
import { answerGoldItem, consolidateItem, maybeConsolidate } from './quality/service.ts';
import { maybeAutoRetrain } from './train.ts';

export interface LabelResult {
  itemId: string;
  label: string;
  agreedWithModel: boolean | null;
}

/** A transcript stored: as normalised, and how many words the annotator changed from the model's draft (null without one). */
export interface TranscriptResult {
  itemId: string;
  transcript: string;
  wordEdits: number | null;
}

/** Checks a transcript an annotator sent and returns it as stored (normalised). */
export function checkTranscript(raw: string): string {
  const t = normalizeTranscript(raw);
  if (t.length > MAX_TRANSCRIPT_CHARS)
    throw new ValidationError(`The transcript is longer than ${MAX_TRANSCRIPT_CHARS} characters.`, undefined, 'invalid_transcript');
  return t;
}

/** Stores one human transcript of a clip: {@link labelItem} with the transcript as the label. */
export async function transcribeItem(
  ctx: PipelineContext,
  project: ProjectRow,
  key: { id: string; role: string },
  itemId: string,
  transcript: string,
): Promise<TranscriptResult> {
  const r = await labelItem(ctx, project, key, itemId, checkTranscript(transcript));
  return { itemId: r.itemId, transcript: r.label, wordEdits: r.wordEdits ?? null };
}

/**
 * Stores one human decision. Every decision is a new row (a correction never overwrites history); the same
 * decision repeated by the same key is answered the same and stored once. For annotators, an item leased to
 * another annotator whose lease is still running answers 409 `item_leased`, and an item another annotator
 * labelled while this key held no lease on it answers 409 `already_labeled`.
 */
export async function labelItem(
  ctx: PipelineContext,
  project: ProjectRow,
  key: { id: string; role: string },
  itemId: string,
  label: string,
): Promise<LabelResult & { wordEdits?: number | null }> {
  const transcription = project.modality === 'audio';
  if (!transcription && !project.labels.includes(label))
    throw new ValidationError(`Unknown label "${label}"; this project's labels are: ${project.labels.join(', ')}.`, undefined, 'unknown_label');
  // Lock order (docs/team.md): the project row before the item. The labels insert below takes the project
  // row FOR KEY SHARE anyway (its foreign key); taking the item first and the project second deadlocked
  // against a transaction holding the project FOR UPDATE while it waited for the item.
  const out = await transactionWithRetry(ctx.db, async (tx) => {
    await shareLockProject(tx, project.id);
    const item = await lockItem(tx, project.id, itemId);
    if (!item) throw new NotFoundError('Item');
    const now = new Date();
    // A gold item reaches annotators only as a hidden gold check: the answer scores the key, the item is unchanged.
    // So does a labelled held-out item served to another key as a gold check (projects without imported gold).
    if (item.split === 'gold' || (item.holdout && item.label !== null)) {
      // A transcript passes a gold check when its word error rate against the reference is small enough.
      const correct = transcription ? alignWords(item.label ?? '', label).wer <= resolveSettings(project.settings).transcription.goldCheckMaxWer : undefined;
      const checked = await answerGoldItem(tx, key, item, label, now, correct);
      if (checked) return { result: checked, stored: false, gold: true };
    }
    if (key.role === 'annotator' && item.leasedBy && item.leasedBy !== key.id && item.leaseExpiresAt && item.leaseExpiresAt > now)
      throw new ConflictError(`This item is leased to another annotator until ${item.leaseExpiresAt.toISOString()}.`, 'item_leased');
    // A transcript is compared with the model's draft of the version that made it (the item keeps no class).
    const draft = transcription && item.predVersion !== null ? await findPrediction(tx, item.id, item.predVersion) : undefined;
    const edits = draft ? wordEdits(draft.label, label) : null;
    const last = await latestLabel(tx, item.id);
    if (last && last.source === 'human' && last.keyId === key.id && last.label === label)
      return { result: { itemId: item.id, label, agreedWithModel: last.agreedWithModel, wordEdits: edits }, stored: false };
    // An annotator whose lease ran out may not add a decision on top of the one another annotator made
    // meanwhile: the item went to them, and storing both would count (and pay for) one item twice.
    const holdsLease = item.leasedBy === key.id && item.leaseExpiresAt !== null && item.leaseExpiresAt > now;
    if (key.role === 'annotator' && !holdsLease && last?.source === 'human' && last.keyId !== key.id)
      throw new ConflictError('Another annotator labelled this item after your lease on it ran out; your decision was not stored.', 'already_labeled');
    const predicted = transcription ? (draft?.label ?? null) : item.predLabel;
    const agreed = transcription ? (edits === null ? null : edits === 0) : item.predLabel === null ? null : item.predLabel === label;
    await insertLabelRows(tx, [
      {
        projectId: project.id,
        itemId: item.id,
        label,
        source: 'human',
        keyId: key.id,
        predictedLabel: predicted,
        agreedWithModel: agreed,
        modelVersion: item.predVersion,
      },
    ]);
    await applyHumanLabel(tx, item.id, label, 'human');
    // A decision on a disputed label is the second review: it stands, and the item is not disputed again.
    if (item.disputedAt && !item.reviewed) await markReviewed(tx, item.id);
    // Overlap: this vote joins the item's others (same key again = a correction of its own vote). Transcripts
    // are not votes over classes: the latest one stands.
    if (!transcription) await consolidateItem(ctx, tx, project, item);
    return { result: { itemId: item.id, label, agreedWithModel: agreed, wordEdits: edits }, stored: true, goldChanged: item.split === 'gold' || item.holdout };
  });
  // A label on an evaluation item changes the gold set: the pre-label job re-scores every version on it.
  if (out.stored && out.goldChanged && project.activeVersion !== null) await enqueuePrelabel(ctx, project.id);
  if ((out.stored || out.gold) && !transcription) {
    try {
      await maybeConsolidate(ctx, project);
    } catch (e) {
      ctx.logger.warn('consolidation check failed', { projectId: project.id, error: describeError(e) });
    }
  }
  if (out.stored) {
    try {
      await maybeAutoRetrain(ctx, project);
    } catch (e) {
      // The label is stored; a failed retrain trigger must not turn the answer into an error.
      ctx.logger.warn('auto-retrain check failed', { projectId: project.id, error: describeError(e) });
    }
  }
  return out.result;
}
