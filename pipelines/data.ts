/**
 * The data an engineer manages: browsing items, deleting items and projects, adding and renaming classes,
 * and the audit log of those changes.
 */
import { describeError, NotFoundError, ValidationError } from '../core/errors.ts';
import { auditPage, recordAudit } from '../db/repositories/audit-log.ts';
import { deleteItemRow, deleteProjectRow, projectFootprint, renameLabel, setProjectLabels } from '../db/repositories/changes.ts';
import { listItemsPage, type ItemFilters, type ItemListRow } from '../db/repositories/item-list.ts';
import { findVersion } from '../db/repositories/models.ts';
import { lockProject, type ProjectRow } from '../db/repositories/projects.ts';
import type { PipelineContext } from './context.ts';
import { enqueuePrelabel } from './prelabel.ts';
import { releaseItemMedia } from './media.ts';

/** The media route of an item, for the listing, the queue and the export. */
export function mediaUrl(projectId: string, itemId: string, size: 'thumb' | 'preview' | 'original'): string {
  return `/api/projects/${encodeURIComponent(projectId)}/items/${encodeURIComponent(itemId)}/media?size=${size}`;
}

/** One item in a listing (GET /items). */
export interface ItemSummary {
  id: string;
  externalId: string | null;
  split: 'pool' | 'gold';
  status: 'pending' | 'labeled' | 'auto';
  holdout: boolean;
  label: string | null;
  source: 'human' | 'auto' | 'imported' | null;
  prediction: { label: string; confidence: number | null; modelVersion: number | null } | null;
  disputed: boolean;
  meta: Record<string, unknown> | null;
  /** Text items: the first 200 characters. */
  text?: string;
  /** Image items: a small rendition for the list. */
  thumbUrl?: string;
  createdAt: string;
}

/** Cursors are opaque to clients: base64url of the last item's insertion number. */
export function encodeCursor(seq: number): string {
  return Buffer.from(`s:${seq}`).toString('base64url');
}

export function decodeCursor(cursor: string): number {
  const m = /^s:(\d{1,15})$/.exec(Buffer.from(cursor, 'base64url').toString());
  if (!m) throw new ValidationError('The cursor is not valid: pass the nextCursor of a previous answer.', undefined, 'invalid_cursor');
  return Number(m[1]);
}

function summary(project: ProjectRow, r: ItemListRow): ItemSummary {
  return {
    id: r.id,
    externalId: r.externalId,
    split: r.split,
    status: r.status,
    holdout: r.holdout,
    label: r.label,
    source: r.labelSource,
    prediction: r.predLabel === null ? null : { label: r.predLabel, confidence: r.confidence, modelVersion: r.predVersion },
    disputed: Boolean(r.disputed),
    meta: r.meta ?? null,
    ...(project.modality === 'text' ? { text: r.textPreview ?? '' } : {}),
    ...(project.modality === 'image' ? { thumbUrl: mediaUrl(project.id, r.id, 'thumb') } : {}),
    createdAt: r.createdAt.toISOString(),
  };
}

/** A page of items matching the filters, in insertion order, and the cursor of the next page (null at the end). */
export async function listItems(
  ctx: PipelineContext,
  project: ProjectRow,
  q: ItemFilters & { limit: number; cursor?: string },
): Promise<{ items: ItemSummary[]; nextCursor: string | null }> {
  const { limit, cursor, ...filters } = q;
  const after = cursor === undefined ? 0 : decodeCursor(cursor);
  // One more than asked tells whether another page exists without a count.
  const rows = await listItemsPage(ctx.db, project.id, filters, after, limit + 1);
  const page = rows.slice(0, limit);
  return { items: page.map((r) => summary(project, r)), nextCursor: rows.length > limit ? encodeCursor(page[page.length - 1].seq) : null };
}

/** Removes deleted items' files from the media store. A failure is logged, not raised: the rows are already gone. */
async function removeMedia(ctx: PipelineContext, remove: () => Promise<void>, what: { projectId: string; itemId?: string }): Promise<void> {
  try {
    await remove();
  } catch (e) {
    ctx.logger.warn('could not remove the deleted media', { ...what, error: describeError(e) });
  }
}

/** Deletes a project and everything in it; then the media hook removes its files. */
export async function deleteProject(ctx: PipelineContext, project: ProjectRow, keyId: string): Promise<void> {
  await ctx.db.transaction(async (tx) => {
    if (!(await lockProject(tx, project.id))) throw new NotFoundError('Project');
    const footprint = await projectFootprint(tx, project.id);
    await recordAudit(tx, { projectId: project.id, keyId, action: 'project.delete', details: { name: project.name, ...footprint } });
    await deleteProjectRow(tx, project.id);
  });
  ctx.embeddings.drop(project.id);
  await removeMedia(ctx, () => ctx.media.deleteProjectMedia(project.id), { projectId: project.id });
}

/** Deletes one item with its labels and predictions. A deleted evaluation item changes the gold set: re-score. */
export async function deleteItem(ctx: PipelineContext, project: ProjectRow, keyId: string, itemId: string): Promise<void> {
  const row = await ctx.db.transaction(async (tx) => {
    const r = await deleteItemRow(tx, project.id, itemId);
    if (!r) throw new NotFoundError('Item');
    await recordAudit(tx, {
      projectId: project.id,
      keyId,
      action: 'item.delete',
      details: { itemId: r.id, externalId: r.externalId, split: r.split, label: r.label },
    });
    return r;
  });
  if ((row.split === 'gold' || row.holdout) && row.label !== null && project.activeVersion !== null) await enqueuePrelabel(ctx, project.id);
  // Another item of the project may show the same picture: releaseItemMedia keeps it until the last one goes.
  await removeMedia(ctx, () => releaseItemMedia(ctx, project.id, row.data), { projectId: project.id, itemId: row.id });
}

export interface LabelChange {
  add?: string[];
  rename?: Record<string, string>;
}

/**
 * Adds classes (appended, so the class indices of stored models and predictions stay valid) and renames
 * classes (in place, everywhere the name is stored). A model trained before an addition keeps serving its
 * own classes; the project reports `retrainNeeded` until a version knows them all.
 */
export async function changeLabels(ctx: PipelineContext, project: ProjectRow, keyId: string, change: LabelChange): Promise<ProjectRow> {
  const add = change.add ?? [];
  const rename = Object.entries(change.rename ?? {});
  if (!add.length && !rename.length) throw new ValidationError('Send add (new class names) or rename ({old: new}).', undefined, 'nothing_to_change');
  const updated = await ctx.db.transaction(async (tx) => {
    const current = await lockProject(tx, project.id);
    if (!current) throw new NotFoundError('Project');
    const names = [...current.labels];
    const problems: string[] = [];
    for (const [from, to] of rename) {
      if (!names.includes(from)) problems.push(`"${from}" is not a class of this project.`);
      if (from === to) problems.push(`"${from}" would be renamed to itself.`);
    }
    const renamed = new Map(rename);
    const after = names.map((n) => renamed.get(n) ?? n);
    for (const a of add) after.push(a);
    const seen = new Set<string>();
    for (const n of after) {
      if (seen.has(n)) problems.push(`"${n}" would be a class twice.`);
      seen.add(n);
    }
    if (problems.length)
      throw new ValidationError(
        `The class change is not valid: ${[...new Set(problems)].join(' ')}`,
        { problems: [...new Set(problems)] },
        'invalid_label_change',
      );
    const relabelled: Record<string, number> = {};
    // Two steps through temporary names would allow swaps; a plain rename to a free name needs only one.
    for (const [from, to] of rename) relabelled[from] = await renameLabel(tx, project.id, from, to);
    await setProjectLabels(tx, project.id, after);
    if (add.length) await recordAudit(tx, { projectId: project.id, keyId, action: 'labels.add', details: { added: add } });
    if (rename.length)
      await recordAudit(tx, { projectId: project.id, keyId, action: 'labels.rename', details: { rename: Object.fromEntries(rename), items: relabelled } });
    return { ...current, labels: after };
  });
  // Renamed gold labels change the gold set's fingerprint: the versions are re-scored under the new names.
  if (rename.length && updated.activeVersion !== null) await enqueuePrelabel(ctx, project.id);
  return updated;
}

/** Whether the active version predates a class added since (its predictions cover only the classes it knew). */
export async function retrainNeeded(ctx: PipelineContext, project: ProjectRow): Promise<boolean> {
  if (project.activeVersion === null) return false;
  const v = await findVersion(ctx.db, project.id, project.activeVersion);
  const known = (v?.spec as { labels?: unknown[] } | undefined)?.labels?.length;
  return known !== undefined && known < project.labels.length;
}

/** A page of the audit log, newest first. */
export async function readAuditLog(ctx: PipelineContext, project: ProjectRow, q: { limit: number; cursor?: string }) {
  let before: number | undefined;
  if (q.cursor !== undefined) {
    if (!/^\d{1,15}$/.test(q.cursor))
      throw new ValidationError('The cursor is not valid: pass the nextCursor of a previous answer.', undefined, 'invalid_cursor');
    before = Number(q.cursor);
  }
  const rows = await auditPage(ctx.db, project.id, before, q.limit + 1);
  const page = rows.slice(0, q.limit);
  return {
    entries: page.map((r) => ({ id: String(r.id), keyId: r.keyId, action: r.action, details: r.details, createdAt: r.createdAt.toISOString() })),
    nextCursor: rows.length > q.limit ? String(page[page.length - 1].id) : null,
  };
}
