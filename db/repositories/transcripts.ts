/**
 * Transcription projects' reads and writes (pipelines/speech): a transcription is a prediction row whose
 * `label` is the text, with per-word times and posteriors in `words`; a transcript is an item's `label`.
 */
import { and, asc, eq, isNotNull, ne, or, sql } from 'drizzle-orm';
import type { DbOrTx } from '../client.ts';
import { items, predictions } from '../schema.ts';
import { countAutoLabeled } from './items.ts';
import { queryRows, writeInChunks } from './rows.ts';

/**
 * An item's predicted class, or for a transcription (whose item keeps no class) the text of the prediction row
 * of the version that scored it: for the list and the export, which read items a page at a time.
 */
export const predictedLabelOrText = sql<
  string | null
>`coalesce(${items.predLabel}, (select p.label from predictions p where p.item_id = "items"."id" and p.model_version = "items"."pred_version"))`;

export interface WordTiming {
  word: string;
  start: number;
  end: number;
  confidence: number;
}

export interface TranscribedItem {
  itemId: string;
  text: string;
  /** Mean word posterior, 0 for an empty or failed transcription. */
  confidence: number;
  words: WordTiming[];
  /** Why the clip could not be transcribed (it was retried once); the item then ranks first for a human. */
  error?: string;
}

/**
 * Stores one version's transcriptions and marks the items scored by it: uncertainty = 1 - confidence, so the
 * queue's index serves the least confident clip first. `pred_label` stays null: a transcript is no class (and
 * the class-balance index must not hold long texts).
 */
export async function writeTranscriptions(db: DbOrTx, projectId: string, version: number, rows: TranscribedItem[]): Promise<void> {
  // Lock order (docs/team.md): items in ascending id.
  const ordered = [...rows].sort((a, b) => (a.itemId < b.itemId ? -1 : a.itemId > b.itemId ? 1 : 0));
  await writeInChunks(ordered, async (chunk) => {
    await db
      .insert(predictions)
      .values(
        chunk.map((r) => ({
          projectId,
          itemId: r.itemId,
          modelVersion: version,
          probs: [],
          label: r.text,
          confidence: r.confidence,
          uncertainty: 1 - r.confidence,
          words: r.words,
          error: r.error ?? null,
        })),
      )
      .onConflictDoUpdate({
        target: [predictions.itemId, predictions.modelVersion],
        set: {
          label: sql`excluded.label`,
          confidence: sql`excluded.confidence`,
          uncertainty: sql`excluded.uncertainty`,
          words: sql`excluded.words`,
          error: sql`excluded.error`,
        },
      });
    await queryRows(
      db,
      sql`update items as i set pred_version = ${version}, pred_label = null, confidence = u.conf, uncertainty = 1 - u.conf
          from unnest(${sql.param(chunk.map((r) => r.itemId))}::text[], ${sql.param(chunk.map((r) => r.confidence))}::real[]) as u(id, conf)
          where i.id = u.id and i.project_id = ${projectId}`,
    );
  });
}

export interface GoldTranscription {
  itemId: string;
  /** The reference transcript. */
  reference: string;
  text: string;
  confidence: number;
  words: WordTiming[] | null;
}

/** The evaluation set (gold items, human-transcribed held-out items) with one version's transcriptions. */
export async function goldTranscriptions(db: DbOrTx, projectId: string, version: number): Promise<GoldTranscription[]> {
  return db
    .select({
      itemId: items.id,
      reference: sql<string>`${items.label}`,
      text: predictions.label,
      confidence: predictions.confidence,
      words: predictions.words,
    })
    .from(items)
    .innerJoin(predictions, and(eq(predictions.itemId, items.id), eq(predictions.modelVersion, version)))
    .where(and(eq(items.projectId, projectId), isNotNull(items.label), ne(items.labelSource, 'auto'), or(eq(items.split, 'gold'), eq(items.holdout, true))))
    .orderBy(asc(items.seq));
}

/**
 * Applies an auto-accept threshold for `version` (null: accept nothing): auto transcripts that are not this
 * version's transcription at or above the threshold go back to the queue; then every pending pool clip this
 * version transcribed (without error, not empty) at or above it is accepted, with a label row recording the
 * version. Human and imported transcripts are never touched; held-out clips are never accepted.
 */
export async function applyAutoTranscripts(
  db: DbOrTx,
  projectId: string,
  version: number,
  threshold: number | null,
): Promise<{ autoAccepted: number; returnedToQueue: number; added: number }> {
  const t = threshold ?? 2;
  const returned = await queryRows<{ id: string }>(
    db,
    sql`update items as i set status = 'pending', label = null, label_source = null
        where i.project_id = ${projectId} and i.status = 'auto' and not exists (
          select 1 from predictions p where p.item_id = i.id and p.model_version = ${version}
            and i.pred_version = ${version} and p.confidence >= ${t} and p.label = i.label)
        returning i.id`,
  );
  const added = await queryRows<{ id: string }>(
    db,
    sql`with chosen as (
          select i.id, p.label from items as i
          join predictions p on p.item_id = i.id and p.model_version = ${version}
          where i.project_id = ${projectId} and i.split = 'pool' and i.holdout = false and i.status = 'pending'
            and i.pred_version = ${version} and p.confidence >= ${t} and p.error is null and p.label <> ''
          for update of i skip locked
        ), updated as (
          update items as i set status = 'auto', label = c.label, label_source = 'auto'
          from chosen c where i.id = c.id
          returning i.id, i.label
        )
        insert into labels (project_id, item_id, label, source, predicted_label, agreed_with_model, model_version)
        select ${projectId}, u.id, u.label, 'auto', u.label, true, ${version} from updated u
        returning item_id as id`,
  );
  return { autoAccepted: await countAutoLabeled(db, projectId), returnedToQueue: returned.length, added: added.length };
}

/** Transcripts by where they came from, and the clips still waiting for one. */
export async function countTranscriptLabels(db: DbOrTx, projectId: string): Promise<{ human: number; auto: number; pending: number; imported: number }> {
  const rows = await queryRows<{ human: string | number; auto: string | number; pending: string | number; imported: string | number }>(
    db,
    sql`select count(*) filter (where label_source = 'human') as human, count(*) filter (where status = 'auto') as auto,
               count(*) filter (where status = 'pending' and split = 'pool') as pending, count(*) filter (where label_source = 'imported') as imported
        from items where project_id = ${projectId}`,
  );
  const r = rows[0];
  return { human: Number(r?.human ?? 0), auto: Number(r?.auto ?? 0), pending: Number(r?.pending ?? 0), imported: Number(r?.imported ?? 0) };
}
