import { and, eq, sql } from 'drizzle-orm';
import type { DbOrTx } from '../client.ts';
import { consolidatedLabels, goldChecks, items, labels, predictions, projects } from '../schema.ts';
import { queryRows } from './rows.ts';

/**
 * Deletes a project. Items, labels, predictions, model versions, jobs and keys go with it (foreign keys with
 * ON DELETE CASCADE). Returns whether it existed.
 */
export async function deleteProjectRow(db: DbOrTx, projectId: string): Promise<boolean> {
  const rows = await db.delete(projects).where(eq(projects.id, projectId)).returning({ id: projects.id });
  return rows.length > 0;
}

/** Deletes one item with its labels and predictions (cascade); returns the deleted row's split/holdout/label, if any. */
export async function deleteItemRow(
  db: DbOrTx,
  projectId: string,
  itemId: string,
): Promise<{ id: string; externalId: string | null; split: string; holdout: boolean; label: string | null; data: Record<string, unknown> } | undefined> {
  const [row] = await db
    .delete(items)
    .where(and(eq(items.projectId, projectId), eq(items.id, itemId)))
    .returning({ id: items.id, externalId: items.externalId, split: items.split, holdout: items.holdout, label: items.label, data: items.data });
  return row;
}

export async function setProjectLabels(db: DbOrTx, projectId: string, names: string[]): Promise<void> {
  await db.update(projects).set({ labels: names }).where(eq(projects.id, projectId));
}

/**
 * Renames a class everywhere a name is stored: the items' current, predicted and suggested labels, the label
 * history (given and predicted), the stored predictions, the consolidated labels and the gold-check answers
 * (docs/quality.md; the next full consolidation refits with the new name). Returns how many items carry it as
 * their label.
 */
export async function renameLabel(db: DbOrTx, projectId: string, from: string, to: string): Promise<number> {
  const relabelled = await db
    .update(items)
    .set({ label: to })
    .where(and(eq(items.projectId, projectId), eq(items.label, from)))
    .returning({ id: items.id });
  await db
    .update(items)
    .set({ predLabel: to })
    .where(and(eq(items.projectId, projectId), eq(items.predLabel, from)));
  await db
    .update(items)
    .set({ disputedLabel: to })
    .where(and(eq(items.projectId, projectId), eq(items.disputedLabel, from)));
  await db
    .update(labels)
    .set({ label: to })
    .where(and(eq(labels.projectId, projectId), eq(labels.label, from)));
  await db
    .update(labels)
    .set({ predictedLabel: to })
    .where(and(eq(labels.projectId, projectId), eq(labels.predictedLabel, from)));
  await db
    .update(predictions)
    .set({ label: to })
    .where(and(eq(predictions.projectId, projectId), eq(predictions.label, from)));
  await db
    .update(consolidatedLabels)
    .set({ label: to })
    .where(and(eq(consolidatedLabels.projectId, projectId), eq(consolidatedLabels.label, from)));
  await db
    .update(goldChecks)
    .set({ answer: to })
    .where(and(eq(goldChecks.projectId, projectId), eq(goldChecks.answer, from)));
  return relabelled.length;
}

/** Counts of what a project deletion removes (for the audit entry). */
export async function projectFootprint(db: DbOrTx, projectId: string): Promise<{ items: number; labels: number }> {
  const [r] = await queryRows<{ items: string | number; labels: string | number }>(
    db,
    sql`select (select count(*) from items where project_id = ${projectId}) as items, (select count(*) from labels where project_id = ${projectId}) as labels`,
  );
  return { items: Number(r?.items ?? 0), labels: Number(r?.labels ?? 0) };
}
