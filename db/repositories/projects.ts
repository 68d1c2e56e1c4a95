import { randomUUID } from 'node:crypto';
import { and, count, eq, inArray } from 'drizzle-orm';
import type { DbOrTx } from '../client.ts';
import { items, projects } from '../schema.ts';

export type ProjectRow = typeof projects.$inferSelect;

export async function insertProject(
  db: DbOrTx,
  p: { name: string; modality: ProjectRow['modality']; labels: string[]; settings: Record<string, unknown> },
): Promise<ProjectRow> {
  const [row] = await db
    .insert(projects)
    .values({ id: randomUUID(), ...p })
    .returning();
  return row;
}

export async function findProject(db: DbOrTx, id: string): Promise<ProjectRow | undefined> {
  const [row] = await db.select().from(projects).where(eq(projects.id, id));
  return row;
}

/**
 * Locks the project row FOR UPDATE for the rest of the transaction: waits for, and then blocks, every writer of
 * the project's items (they take the row FOR KEY SHARE first). For changes no label may cross: deleting the
 * project, changing classes.
 */
export async function lockProject(db: DbOrTx, id: string): Promise<ProjectRow | undefined> {
  const [row] = await db.select().from(projects).where(eq(projects.id, id)).for('update');
  return row;
}

/**
 * Locks the project row FOR NO KEY UPDATE for the rest of the transaction: serialises training requests, version
 * numbering and activation with each other, and does not conflict with the FOR KEY SHARE that label, gold-check,
 * ingest and auto-label writers take. Not FOR UPDATE: PostgreSQL lets a new FOR KEY SHARE locker past a waiting
 * FOR UPDATE when the row's current lockers are all key-sharers, so with annotators labelling without a pause a
 * training's commit waited until they stopped (test/reliability/team-concurrency.test.ts: version 1 went live only
 * after the last label).
 */
export async function lockProjectVersions(db: DbOrTx, id: string): Promise<ProjectRow | undefined> {
  const [row] = await db.select().from(projects).where(eq(projects.id, id)).for('no key update');
  return row;
}

/**
 * Takes the project row FOR KEY SHARE for the rest of the transaction: the first lock of every transaction
 * that writes a project's items (see docs/team.md, "Lock order"). It waits while a project deletion or a change
 * of classes holds the row FOR UPDATE, and never blocks another writer of the same project's items, a training
 * commit or an activation (FOR NO KEY UPDATE).
 */
export async function shareLockProject(db: DbOrTx, id: string): Promise<void> {
  await db.select({ id: projects.id }).from(projects).where(eq(projects.id, id)).for('key share');
}

export async function listProjects(db: DbOrTx, ids?: string[]): Promise<ProjectRow[]> {
  const q = db.select().from(projects);
  return ids ? q.where(inArray(projects.id, ids)).orderBy(projects.createdAt) : q.orderBy(projects.createdAt);
}

export async function setActiveVersion(db: DbOrTx, id: string, version: number | null): Promise<void> {
  await db.update(projects).set({ activeVersion: version }).where(eq(projects.id, id));
}

export async function updateSettings(db: DbOrTx, id: string, settings: Record<string, unknown>): Promise<ProjectRow> {
  const [row] = await db.update(projects).set({ settings }).where(eq(projects.id, id)).returning();
  return row;
}

export interface ProjectCounts {
  items: number;
  labeled: number;
  autoLabeled: number;
  pending: number;
  gold: number;
  human: number;
  imported: number;
}

export async function projectCounts(db: DbOrTx, projectId: string): Promise<ProjectCounts> {
  const rows = await db
    .select({ status: items.status, split: items.split, source: items.labelSource, n: count() })
    .from(items)
    .where(eq(items.projectId, projectId))
    .groupBy(items.status, items.split, items.labelSource);
  const c: ProjectCounts = { items: 0, labeled: 0, autoLabeled: 0, pending: 0, gold: 0, human: 0, imported: 0 };
  for (const r of rows) {
    const n = Number(r.n);
    c.items += n;
    if (r.split === 'gold') c.gold += n;
    if (r.status === 'labeled') c.labeled += n;
    if (r.status === 'auto') c.autoLabeled += n;
    if (r.status === 'pending') c.pending += n;
    if (r.source === 'human') c.human += n;
    if (r.source === 'imported') c.imported += n;
  }
  return c;
}

/** Whether the project holds any imported gold item (then no pool slice is reserved as held-out data). */
export async function hasImportedGold(db: DbOrTx, projectId: string): Promise<boolean> {
  const [r] = await db
    .select({ n: count() })
    .from(items)
    .where(and(eq(items.projectId, projectId), eq(items.split, 'gold')));
  return Number(r?.n ?? 0) > 0;
}
