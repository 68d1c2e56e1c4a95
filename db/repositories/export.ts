import { and, asc, eq, gt, sql } from 'drizzle-orm';
import type { DbOrTx } from '../client.ts';
import { items } from '../schema.ts';
import { predictedLabelOrText } from './transcripts.ts';

/**
 * One item for the export, its nested values as JSON text straight from the database (cast to text in SQL,
 * so both drivers hand over strings): the export writes them out without parsing and re-serialising them,
 * which was most of its cost.
 */
export interface ExportItemRow {
  id: string;
  seq: number;
  externalId: string | null;
  split: 'pool' | 'gold';
  holdout: boolean;
  label: string | null;
  labelSource: 'human' | 'auto' | 'imported' | null;
  predLabel: string | null;
  confidence: number | null;
  predVersion: number | null;
  /** data.text of a text item. */
  text: string | null;
  /** data.vector of a vector item, as JSON text. */
  vectorJson: string | null;
  /** data.image of an image item as ingested (base64 or data: URL); read only when asked for. */
  image: string | null;
  /** meta as JSON text, or null. */
  metaJson: string | null;
  /** Every label row of the item, oldest first: a JSON array of {label, source, keyId, createdAt, modelVersion}. */
  labelsJson: string;
  /** The item's consolidated label as JSON text `{label, posterior, n, method}`, or null without a consolidation row. */
  consolidatedJson: string | null;
}

/**
 * A page of a project's items after insertion number `afterSeq`, each with its whole label history and its
 * consolidated label, in one query (the history through labels_item_idx, the consolidation by its primary key). The model input bytes are not read.
 */
export async function exportPage(db: DbOrTx, projectId: string, afterSeq: number, limit: number, opts: { image?: boolean } = {}): Promise<ExportItemRow[]> {
  return db
    .select({
      id: items.id,
      seq: items.seq,
      externalId: items.externalId,
      split: items.split,
      holdout: items.holdout,
      label: items.label,
      labelSource: items.labelSource,
      predLabel: predictedLabelOrText,
      confidence: items.confidence,
      predVersion: items.predVersion,
      text: sql<string | null>`${items.data}->>'text'`,
      vectorJson: sql<string | null>`(${items.data}->'vector')::text`,
      image: opts.image ? sql<string | null>`${items.data}->>'image'` : sql<null>`null`,
      metaJson: sql<string | null>`${items.meta}::text`,
      labelsJson: sql<string>`coalesce((
          select json_agg(json_build_object(
                   'label', l.label, 'source', l.source, 'keyId', l.key_id,
                   'createdAt', to_char(l.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                   'modelVersion', l.model_version) order by l.id)
          from labels l where l.item_id = "items"."id"), '[]'::json)::text`,
      // One primary-key probe per row inside the page query, like the label history: no query per row.
      consolidatedJson: sql<string | null>`(
          select json_build_object('label', c.label, 'posterior', c.posterior, 'n', c.n, 'method', c.method)::text
          from consolidated_labels c where c.item_id = "items"."id")`,
    })
    .from(items)
    .where(and(eq(items.projectId, projectId), gt(items.seq, afterSeq)))
    .orderBy(asc(items.seq))
    .limit(limit);
}
