import { and, asc, eq, gt, sql } from 'drizzle-orm';
import type { DbOrTx } from '../client.ts';
import { items } from '../schema.ts';

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
  data: Record<string, unknown>;
  meta: Record<string, unknown> | null;
  labels: { label: string; source: 'human' | 'auto' | 'imported'; keyId: string | null; createdAt: string; modelVersion: number | null }[];
}

/** json from either driver: postgres.js under drizzle hands back the text, PGlite the parsed value. */
function parseJson<T>(v: unknown): T {
  return (typeof v === 'string' ? JSON.parse(v) : v) as T;
}

/**
 * A page of a project's items after insertion number `afterSeq`, each with its whole label history, in one
 * query (the history through labels_item_idx). The model input bytes are not read.
 */
export async function exportPage(db: DbOrTx, projectId: string, afterSeq: number, limit: number): Promise<ExportItemRow[]> {
  return db
    .select({
      id: items.id,
      seq: items.seq,
      externalId: items.externalId,
      split: items.split,
      holdout: items.holdout,
      label: items.label,
      labelSource: items.labelSource,
      predLabel: items.predLabel,
      confidence: items.confidence,
      predVersion: items.predVersion,
      data: items.data,
      meta: items.meta,
      labels: sql<ExportItemRow['labels']>`coalesce((
          select json_agg(json_build_object(
                   'label', l.label, 'source', l.source, 'keyId', l.key_id,
                   'createdAt', to_char(l.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                   'modelVersion', l.model_version) order by l.id)
          from labels l where l.item_id = "items"."id"), '[]'::json)`.mapWith((v) => parseJson<ExportItemRow['labels']>(v)),
    })
    .from(items)
    .where(and(eq(items.projectId, projectId), gt(items.seq, afterSeq)))
    .orderBy(asc(items.seq))
    .limit(limit);
}
