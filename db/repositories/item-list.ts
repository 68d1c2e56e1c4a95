import { and, asc, eq, gt, gte, ilike, isNotNull, isNull, lte, or, sql, type SQL } from 'drizzle-orm';
import type { Db, DbOrTx } from '../client.ts';
import { items } from '../schema.ts';
import { predictedLabelOrText } from './transcripts.ts';
import { queryRows } from './rows.ts';

/** Filters of GET /items; every one optional, all combined with AND. */
export interface ItemFilters {
  status?: 'pending' | 'labeled' | 'auto';
  label?: string;
  source?: 'human' | 'auto' | 'imported';
  split?: 'pool' | 'gold';
  holdout?: boolean;
  /** true: an open dispute (flagged by an audit, not reviewed yet); false: none. */
  disputed?: boolean;
  /** The label the latest scoring version predicts. */
  predicted?: string;
  minConfidence?: number;
  maxConfidence?: number;
  /** Case-insensitive substring of the text (text items) or of the externalId. */
  q?: string;
}

/** One row of the listing: no model input, and text cut to a preview. */
export interface ItemListRow {
  id: string;
  seq: number;
  externalId: string | null;
  split: 'pool' | 'gold';
  status: 'pending' | 'labeled' | 'auto';
  holdout: boolean;
  label: string | null;
  labelSource: 'human' | 'auto' | 'imported' | null;
  predLabel: string | null;
  confidence: number | null;
  predVersion: number | null;
  disputedLabel: string | null;
  disputed: boolean;
  meta: Record<string, unknown> | null;
  /** The first characters of a text item's text; null for other modalities. */
  textPreview: string | null;
  createdAt: Date;
}

/** Characters of a text item shown in the listing. */
export const TEXT_PREVIEW_CHARS = 200;

/** Escapes LIKE's wildcards so `q` matches literally (PostgreSQL's default escape character is the backslash). */
export function likeLiteral(q: string): string {
  return `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

function conditions(projectId: string, f: ItemFilters): SQL | undefined {
  const c: (SQL | undefined)[] = [eq(items.projectId, projectId)];
  if (f.status) c.push(eq(items.status, f.status));
  if (f.label !== undefined) c.push(eq(items.label, f.label));
  if (f.source) c.push(eq(items.labelSource, f.source));
  if (f.split) c.push(eq(items.split, f.split));
  if (f.holdout !== undefined) c.push(eq(items.holdout, f.holdout));
  if (f.disputed === true) c.push(and(isNotNull(items.disputedAt), eq(items.reviewed, false)));
  if (f.disputed === false) c.push(or(isNull(items.disputedAt), eq(items.reviewed, true)));
  if (f.predicted !== undefined) c.push(eq(items.predLabel, f.predicted));
  if (f.minConfidence !== undefined) c.push(gte(items.confidence, f.minConfidence));
  if (f.maxConfidence !== undefined) c.push(lte(items.confidence, f.maxConfidence));
  if (f.q !== undefined) {
    const pattern = likeLiteral(f.q);
    c.push(or(sql`${items.data}->>'text' ilike ${pattern}`, ilike(items.externalId, pattern)));
  }
  return and(...c);
}

/**
 * A page of a project's items matching `filters`, in insertion order after `afterSeq` (keyset pagination: a
 * page costs the same however deep it is, and items added meanwhile never shift a page). Walks the
 * (project_id, seq) index, or (project_id, label, seq) when filtering by label.
 */
export async function listItemsPage(db: DbOrTx, projectId: string, filters: ItemFilters, afterSeq: number, limit: number): Promise<ItemListRow[]> {
  return db
    .select({
      id: items.id,
      seq: items.seq,
      externalId: items.externalId,
      split: items.split,
      status: items.status,
      holdout: items.holdout,
      label: items.label,
      labelSource: items.labelSource,
      predLabel: predictedLabelOrText,
      confidence: items.confidence,
      predVersion: items.predVersion,
      disputedLabel: items.disputedLabel,
      disputed: sql<boolean>`(${items.disputedAt} is not null and not ${items.reviewed})`,
      meta: items.meta,
      textPreview: sql<string | null>`left(${items.data}->>'text', ${TEXT_PREVIEW_CHARS})`,
      createdAt: items.createdAt,
    })
    .from(items)
    .where(and(conditions(projectId, filters), gt(items.seq, afterSeq)))
    .orderBy(asc(items.seq))
    .limit(limit);
}

/**
 * The query plan of a listing with sequential scans disabled, for the test that checks the query can walk an
 * index (on a small test table the planner would rightly prefer a scan). Test support; values are inlined.
 */
export async function explainListItems(db: Db, projectId: string, filters: ItemFilters): Promise<string> {
  const q = db
    .select({ id: items.id })
    .from(items)
    .where(and(conditions(projectId, filters), gt(items.seq, 0)))
    .orderBy(asc(items.seq))
    .limit(50);
  const { sql: text, params } = q.toSQL();
  let inlined = text;
  // EXPLAIN cannot take bind parameters on every driver: inline them as literals.
  params.forEach((p, i) => {
    const lit = typeof p === 'number' || typeof p === 'boolean' ? String(p) : `'${String(p).replace(/'/g, "''")}'`;
    inlined = inlined.replace(new RegExp(`\\$${i + 1}(?!\\d)`), lit);
  });
  return db.transaction(async (tx) => {
    await tx.execute(sql`set local enable_seqscan = off`);
    const rows = await queryRows<Record<string, string>>(tx, sql.raw(`explain ${inlined}`));
    return rows.map((r) => Object.values(r)[0]).join('\n');
  });
}
