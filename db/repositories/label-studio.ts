import { and, asc, eq, inArray, ne, sql } from 'drizzle-orm';
import type { DbOrTx } from '../client.ts';
import { items, labels, labelStudioAnnotations } from '../schema.ts';
import type { ItemRow, LabelRow } from './items.ts';
import { queryRows } from './rows.ts';

/** The project's items with these externalIds (Label Studio tasks are stored as `ls-task-<id>`). */
export async function itemsByExternalId(db: DbOrTx, projectId: string, externalIds: string[]): Promise<Map<string, ItemRow>> {
  if (externalIds.length === 0) return new Map();
  const rows = await db
    .select()
    .from(items)
    .where(and(eq(items.projectId, projectId), inArray(items.externalId, externalIds)));
  return new Map(rows.map((r) => [r.externalId as string, r]));
}

/** Remembers which item an annotation labelled (an update of the same annotation moves nothing). */
export async function linkAnnotation(db: DbOrTx, projectId: string, annotationId: string, itemId: string, label: string): Promise<void> {
  await db
    .insert(labelStudioAnnotations)
    .values({ projectId, annotationId, itemId, label })
    .onConflictDoUpdate({ target: [labelStudioAnnotations.projectId, labelStudioAnnotations.annotationId], set: { itemId, label } });
}

/**
 * Forgets deleted annotations and returns the items left with no Label Studio annotation at all, which the
 * caller sets back to unlabelled. Unknown ids are ignored (the webhook may repeat, or predate Furrow).
 */
export async function unlinkAnnotations(db: DbOrTx, projectId: string, annotationIds: string[]): Promise<string[]> {
  if (annotationIds.length === 0) return [];
  const gone = await db
    .delete(labelStudioAnnotations)
    .where(and(eq(labelStudioAnnotations.projectId, projectId), inArray(labelStudioAnnotations.annotationId, annotationIds)))
    .returning({ itemId: labelStudioAnnotations.itemId });
  const touched = [...new Set(gone.map((g) => g.itemId))];
  if (touched.length === 0) return [];
  const still = await db
    .select({ itemId: labelStudioAnnotations.itemId })
    .from(labelStudioAnnotations)
    .where(and(eq(labelStudioAnnotations.projectId, projectId), inArray(labelStudioAnnotations.itemId, touched)));
  const kept = new Set(still.map((s) => s.itemId));
  return touched.filter((id) => !kept.has(id));
}

/**
 * Sets items whose only human label was withdrawn back to unlabelled (the label rows stay as history). Items
 * labelled since by a Furrow annotator or imported keep their label: only a human label is withdrawn.
 */
export async function withdrawHumanLabels(db: DbOrTx, projectId: string, itemIds: string[]): Promise<number> {
  if (itemIds.length === 0) return 0;
  const rows = await db
    .update(items)
    .set({ label: null, labelSource: null, status: 'pending' })
    .where(and(eq(items.projectId, projectId), inArray(items.id, itemIds), eq(items.labelSource, 'human'), ne(items.status, 'pending')))
    .returning({ id: items.id });
  return rows.length;
}

/** The label rows of several items, each item's in the order they were stored (one query for an export page). */
export async function labelsOfItems(db: DbOrTx, itemIds: string[]): Promise<Map<string, LabelRow[]>> {
  const out = new Map<string, LabelRow[]>();
  if (itemIds.length === 0) return out;
  const rows = await db.select().from(labels).where(inArray(labels.itemId, itemIds)).orderBy(asc(labels.id));
  for (const r of rows) {
    const list = out.get(r.itemId);
    if (list) list.push(r);
    else out.set(r.itemId, [r]);
  }
  return out;
}

/** Dates the imported label rows of just-imported items with their annotation's time (one statement). */
export async function dateImportedLabels(db: DbOrTx, projectId: string, rows: { itemId: string; at: Date }[]): Promise<void> {
  if (rows.length === 0) return;
  await queryRows(
    db,
    // Times go as text and are cast in SQL: postgres.js cannot bind a timestamptz[] parameter (only PGlite could).
    sql`update labels as l set created_at = u.at::timestamptz
        from unnest(${sql.param(rows.map((r) => r.itemId))}::text[], ${sql.param(rows.map((r) => r.at.toISOString()))}::text[]) as u(id, at)
        where l.item_id = u.id and l.project_id = ${projectId} and l.source = 'imported'`,
  );
}
