/**
 * Storage for workforce quality (docs/quality.md): gold checks served to keys, consolidated labels per item,
 * and full consolidation fits. Kept apart from items.ts so the item queries stay as they are.
 */
import { and, asc, desc, eq, gt, gte, inArray, isNotNull, isNull, lt, max, notInArray, or, sql } from 'drizzle-orm';
import type { DbOrTx } from '../client.ts';
import { apiKeys, auditLog, consolidatedLabels, goldChecks, items, labels, qualityFits } from '../schema.ts';
import { markLeased, type ItemRow } from './items.ts';
import { queryRows, writeInChunks } from './rows.ts';

export type GoldCheckRow = typeof goldChecks.$inferSelect;
export type ConsolidatedRow = typeof consolidatedLabels.$inferSelect;
export type QualityFitRow = typeof qualityFits.$inferSelect;

/** This key's served, unanswered, unexpired gold checks (a queue reload shows them again). */
export async function openGoldChecks(db: DbOrTx, projectId: string, keyId: string, now: Date): Promise<ItemRow[]> {
  const rows = await db
    .select({ item: items, expiresAt: goldChecks.expiresAt })
    .from(goldChecks)
    .innerJoin(items, eq(items.id, goldChecks.itemId))
    .where(and(eq(goldChecks.projectId, projectId), eq(goldChecks.keyId, keyId), isNull(goldChecks.answeredAt), gt(goldChecks.expiresAt, now)))
    .orderBy(asc(goldChecks.id));
  return rows.map((r) => ({ ...r.item, leasedBy: keyId, leaseExpiresAt: r.expiresAt }));
}

/**
 * Serves up to `limit` gold items this key has never been served, at random, and records them (one row per item
 * and key, enforced by a unique index, so a gold item never reaches the same key twice, even from two requests
 * at once). Gold items are not leased in `items`: many keys may hold the same gold item at the same time.
 *
 * Where the checks come from: the project's imported gold items when it has any (imported gold wins); otherwise
 * its held-out pool items (`settings.goldFraction`) once a human labelled them and overlap wants no more labels
 * on them, never to a key that labelled the item itself.
 */
export async function serveNewGoldChecks(db: DbOrTx, q: { projectId: string; keyId: string; limit: number; expiresAt: Date }): Promise<ItemRow[]> {
  if (q.limit <= 0) return [];
  const notServed = sql`not exists (select 1 from ${goldChecks} g where g.item_id = ${items.id} and g.key_id = ${q.keyId})`;
  const source = (await hasImportedGoldItem(db, q.projectId))
    ? and(eq(items.split, 'gold'), isNotNull(items.label))
    : and(
        eq(items.split, 'pool'),
        eq(items.holdout, true),
        eq(items.labelSource, 'human'),
        isNotNull(items.label),
        sql`not exists (select 1 from ${labels} l where l.item_id = ${items.id} and l.key_id = ${q.keyId})`,
        sql`not exists (select 1 from ${consolidatedLabels} c where c.item_id = ${items.id} and c.needs_more)`,
      );
  const fresh = await db
    .select()
    .from(items)
    .where(and(eq(items.projectId, q.projectId), source, notServed))
    .orderBy(asc(items.rand), asc(items.seq))
    .limit(q.limit);
  if (!fresh.length) return [];
  const inserted = await db
    .insert(goldChecks)
    .values(fresh.map((r) => ({ projectId: q.projectId, itemId: r.id, keyId: q.keyId, expiresAt: q.expiresAt })))
    .onConflictDoNothing()
    .returning({ itemId: goldChecks.itemId });
  const ok = new Set(inserted.map((r) => r.itemId));
  return fresh.filter((r) => ok.has(r.id)).map((r) => ({ ...r, leasedBy: q.keyId, leaseExpiresAt: q.expiresAt }));
}

/** Whether the project holds a labelled imported gold item (one index probe). */
async function hasImportedGoldItem(db: DbOrTx, projectId: string): Promise<boolean> {
  const [row] = await db
    .select({ id: items.id })
    .from(items)
    .where(and(eq(items.projectId, projectId), eq(items.split, 'gold'), isNotNull(items.label)))
    .limit(1);
  return row !== undefined;
}

/** The gold check of this key on this item, if it was ever served one. */
export async function findGoldCheck(db: DbOrTx, itemId: string, keyId: string): Promise<GoldCheckRow | undefined> {
  const [row] = await db
    .select()
    .from(goldChecks)
    .where(and(eq(goldChecks.itemId, itemId), eq(goldChecks.keyId, keyId)));
  return row;
}

/** Records (or corrects) a key's answer to a gold check. */
export async function recordGoldAnswer(db: DbOrTx, id: number, answer: string, correct: boolean, now: Date): Promise<void> {
  await db.update(goldChecks).set({ answer, correct, answeredAt: now }).where(eq(goldChecks.id, id));
}

/** Gold checks served to a key so far (answered or not) and the key's human labels on pool items. */
export async function servedCounts(db: DbOrTx, projectId: string, keyId: string): Promise<{ gold: number; labels: number }> {
  const [g] = await queryRows<{ n: number | string }>(db, sql`select count(*) as n from ${goldChecks} where project_id = ${projectId} and key_id = ${keyId}`);
  const [l] = await queryRows<{ n: number | string }>(
    db,
    sql`select count(distinct item_id) as n from ${labels} where project_id = ${projectId} and key_id = ${keyId} and source = 'human'`,
  );
  return { gold: Number(g?.n ?? 0), labels: Number(l?.n ?? 0) };
}

/** Answered gold checks, oldest answer first (per key, the sequence the pause rule reads). */
export async function answeredGoldChecks(
  db: DbOrTx,
  projectId: string,
  keyId?: string,
): Promise<{ itemId: string; keyId: string; answer: string; correct: boolean; answeredAt: Date }[]> {
  const rows = await db
    .select({ itemId: goldChecks.itemId, keyId: goldChecks.keyId, answer: goldChecks.answer, correct: goldChecks.correct, answeredAt: goldChecks.answeredAt })
    .from(goldChecks)
    .where(and(eq(goldChecks.projectId, projectId), isNotNull(goldChecks.answeredAt), keyId === undefined ? undefined : eq(goldChecks.keyId, keyId)))
    .orderBy(asc(goldChecks.answeredAt), asc(goldChecks.id));
  return rows.map((r) => ({ itemId: r.itemId, keyId: r.keyId, answer: r.answer ?? '', correct: r.correct === true, answeredAt: r.answeredAt as Date }));
}

export interface VoteRow {
  itemId: string;
  keyId: string;
  label: string;
  createdAt: Date;
}

/** Human labels given with a key on pool items, in the order they were given (all items, or some). */
export async function humanVotes(db: DbOrTx, projectId: string, itemIds?: string[]): Promise<VoteRow[]> {
  if (itemIds && !itemIds.length) return [];
  const rows = await db
    .select({ itemId: labels.itemId, keyId: labels.keyId, label: labels.label, createdAt: labels.createdAt })
    .from(labels)
    .innerJoin(items, eq(items.id, labels.itemId))
    .where(
      and(
        eq(labels.projectId, projectId),
        eq(labels.source, 'human'),
        isNotNull(labels.keyId),
        eq(items.split, 'pool'),
        itemIds ? inArray(labels.itemId, itemIds) : undefined,
      ),
    )
    .orderBy(asc(labels.id));
  return rows.map((r) => ({ ...r, keyId: r.keyId as string }));
}

/** Gold answers of the project's gold items (item id -> label). */
export async function goldAnswers(db: DbOrTx, projectId: string): Promise<Map<string, string>> {
  const rows = await db
    .select({ id: items.id, label: items.label })
    .from(items)
    .where(and(eq(items.projectId, projectId), eq(items.split, 'gold'), isNotNull(items.label)));
  return new Map(rows.map((r) => [r.id, r.label as string]));
}

/**
 * Writes consolidated rows. With `onlyIfUpdatedBefore`, a row updated since then (a vote arrived while a full
 * consolidation was computing) is left as the incremental update wrote it. Returns the item ids written.
 */
export async function upsertConsolidated(
  db: DbOrTx,
  rows: (typeof consolidatedLabels.$inferInsert)[],
  opts: { onlyIfUpdatedBefore?: Date } = {},
): Promise<Set<string>> {
  const written = new Set<string>();
  await writeInChunks(rows, async (chunk) => {
    const done = await db
      .insert(consolidatedLabels)
      .values(chunk)
      .onConflictDoUpdate({
        target: consolidatedLabels.itemId,
        ...(opts.onlyIfUpdatedBefore ? { setWhere: lt(consolidatedLabels.updatedAt, opts.onlyIfUpdatedBefore) } : {}),
        set: {
          label: sql`excluded.label`,
          posterior: sql`excluded.posterior`,
          n: sql`excluded.n`,
          method: sql`excluded.method`,
          needsMore: sql`excluded.needs_more`,
          gain: sql`excluded.gain`,
          fitId: sql`excluded.fit_id`,
          updatedAt: sql`excluded.updated_at`,
        },
      })
      .returning({ itemId: consolidatedLabels.itemId });
    for (const r of done) written.add(r.itemId);
  });
  return written;
}

/** Consolidated labels of some items (for the export and the item view). */
export async function consolidatedFor(db: DbOrTx, itemIds: string[]): Promise<Map<string, ConsolidatedRow>> {
  if (!itemIds.length) return new Map();
  const rows = await db.select().from(consolidatedLabels).where(inArray(consolidatedLabels.itemId, itemIds));
  return new Map(rows.map((r) => [r.itemId, r]));
}

/**
 * Puts the consolidated label on a human-labelled item (the item's `label` is what training, auto-labelling,
 * audits and the export read). Only items whose current label came from humans change.
 */
export async function setItemLabelFromConsolidation(db: DbOrTx, itemId: string, label: string): Promise<void> {
  await db
    .update(items)
    .set({ label })
    .where(and(eq(items.id, itemId), eq(items.labelSource, 'human'), sql`${items.label} is distinct from ${label}`));
}

/** Which items overlap wants another label on: required ones (gain >= REQUIRED_GAIN), the rest, or both. */
export interface OverlapFilter {
  projectId: string;
  keyId: string;
  now: Date;
  /** Only items whose gain is at least this. */
  minGain?: number;
  /** Only items whose gain is below this. */
  belowGain?: number;
  exclude?: string[];
}

function overlapWhere(q: OverlapFilter) {
  return and(
    eq(consolidatedLabels.projectId, q.projectId),
    eq(consolidatedLabels.needsMore, true),
    q.minGain === undefined ? undefined : gte(consolidatedLabels.gain, q.minGain),
    q.belowGain === undefined ? undefined : lt(consolidatedLabels.gain, q.belowGain),
    eq(items.split, 'pool'),
    or(isNull(items.leaseExpiresAt), lt(items.leaseExpiresAt, q.now), eq(items.leasedBy, q.keyId)),
    sql`not exists (select 1 from ${labels} l where l.item_id = ${items.id} and l.key_id = ${q.keyId})`,
    // A held-out item this key answered as a gold check is not also a vote of it.
    sql`not exists (select 1 from ${goldChecks} g where g.item_id = ${items.id} and g.key_id = ${q.keyId})`,
    q.exclude?.length ? notInArray(items.id, q.exclude) : undefined,
  );
}

/** Items this key holds come back first (a reload), then the most worth another label, the least settled, the oldest. */
function overlapOrder(q: OverlapFilter) {
  return [
    sql`(${items.leasedBy} = ${q.keyId} and ${items.leaseExpiresAt} > ${q.now.toISOString()}::timestamptz) desc nulls last`,
    desc(consolidatedLabels.gain),
    asc(consolidatedLabels.posterior),
    asc(items.seq),
  ];
}

/**
 * Leases to `keyId` up to `limit` pool items that overlap wants another label on and that this key has never
 * labelled (nor answered as a gold check), most worth another label first; items already leased to this key come
 * first. Same lease columns and `FOR UPDATE SKIP LOCKED` as the ordinary queue, so two annotators never hold the
 * same item. Walks `consolidated_gain_idx` (only the items that want a label, in gain order).
 */
export async function leaseOverlapItems(db: DbOrTx, q: OverlapFilter & { limit: number; expiresAt: Date }): Promise<ItemRow[]> {
  if (q.limit <= 0) return [];
  const rows = await db
    .select({ item: items })
    .from(consolidatedLabels)
    .innerJoin(items, eq(items.id, consolidatedLabels.itemId))
    .where(overlapWhere(q))
    .orderBy(...overlapOrder(q))
    .limit(q.limit)
    .for('update', { of: items, skipLocked: true });
  return markLeased(
    db,
    rows.map((r) => r.item),
    q.keyId,
    q.expiresAt,
  );
}

/**
 * The same items without leasing them (what the queue weighs against new items): id, gain, and whether this key
 * already holds it.
 */
export async function overlapCandidates(db: DbOrTx, q: OverlapFilter & { limit: number }): Promise<{ id: string; gain: number; held: boolean }[]> {
  if (q.limit <= 0) return [];
  const rows = await db
    .select({ id: items.id, gain: consolidatedLabels.gain, leasedBy: items.leasedBy, leaseExpiresAt: items.leaseExpiresAt })
    .from(consolidatedLabels)
    .innerJoin(items, eq(items.id, consolidatedLabels.itemId))
    .where(overlapWhere(q))
    .orderBy(...overlapOrder(q))
    .limit(q.limit);
  return rows.map((r) => ({ id: r.id, gain: r.gain, held: r.leasedBy === q.keyId && r.leaseExpiresAt !== null && r.leaseExpiresAt > q.now }));
}

export async function insertFit(db: DbOrTx, projectId: string, labelCount: number, params: Record<string, unknown>): Promise<QualityFitRow> {
  const [row] = await db.insert(qualityFits).values({ projectId, labels: labelCount, params }).returning();
  return row;
}

export async function latestFit(db: DbOrTx, projectId: string): Promise<QualityFitRow | undefined> {
  const [row] = await db.select().from(qualityFits).where(eq(qualityFits.projectId, projectId)).orderBy(desc(qualityFits.id)).limit(1);
  return row;
}

/** Human labels (rows) with a key on pool items plus answered gold checks: what a fit is measured against. */
export async function qualityEvidenceCount(db: DbOrTx, projectId: string): Promise<number> {
  const [l] = await queryRows<{ n: number | string }>(
    db,
    sql`select count(*) as n from ${labels} where project_id = ${projectId} and source = 'human' and key_id is not null`,
  );
  const [g] = await queryRows<{ n: number | string }>(
    db,
    sql`select count(*) as n from ${goldChecks} where project_id = ${projectId} and answered_at is not null`,
  );
  return Number(l?.n ?? 0) + Number(g?.n ?? 0);
}

/** Per key: label timestamps (for median seconds per item). */
export async function labelTimesByKey(db: DbOrTx, projectId: string): Promise<Map<string, Date[]>> {
  const rows = await db
    .select({ keyId: labels.keyId, createdAt: labels.createdAt })
    .from(labels)
    .where(and(eq(labels.projectId, projectId), eq(labels.source, 'human'), isNotNull(labels.keyId)))
    .orderBy(asc(labels.id));
  const out = new Map<string, Date[]>();
  for (const r of rows) {
    const k = r.keyId as string;
    let list = out.get(k);
    if (!list) {
      list = [];
      out.set(k, list);
    }
    list.push(r.createdAt);
  }
  return out;
}

/**
 * The uniform random number (it decides which items fall in the overlap share) of each of `itemIds`: the items
 * a consolidation covers, not the whole project (a million-item project read a million rows for a few hundred
 * labelled items).
 */
export async function itemRands(db: DbOrTx, projectId: string, itemIds: readonly string[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  await writeInChunks(itemIds, async (chunk) => {
    const rows = await db
      .select({ id: items.id, rand: items.rand })
      .from(items)
      .where(and(eq(items.projectId, projectId), inArray(items.id, chunk)));
    for (const r of rows) out.set(r.id, r.rand);
  });
  return out;
}

/** The role of a key (gold checks go to annotator keys only). */
export async function keyRole(db: DbOrTx, keyId: string): Promise<string | undefined> {
  const [row] = await db.select({ role: apiKeys.role }).from(apiKeys).where(eq(apiKeys.id, keyId));
  return row?.role;
}

/** The audit-log action that records an engineer clearing a key's pause (details.annotatorKeyId: the key). */
export const CLEAR_PAUSE_ACTION = 'annotator.clear';

/**
 * Per key: when an engineer last cleared its pause. The audit log is the record (no column of its own): a key's
 * status is judged on the gold answers after this time.
 */
export async function pauseClearances(db: DbOrTx, projectId: string, keyId?: string): Promise<Map<string, Date>> {
  const annotator = sql<string>`${auditLog.details}->>'annotatorKeyId'`;
  const rows = await db
    .select({ keyId: annotator, at: max(auditLog.createdAt) })
    .from(auditLog)
    .where(and(eq(auditLog.projectId, projectId), eq(auditLog.action, CLEAR_PAUSE_ACTION), keyId === undefined ? undefined : sql`${annotator} = ${keyId}`))
    .groupBy(annotator);
  return new Map(rows.filter((r) => r.at !== null).map((r) => [r.keyId, new Date(r.at as Date)] as const));
}

/** The current label of some items (item id -> label; unlabelled items left out). */
export async function currentLabels(db: DbOrTx, itemIds: string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  // In slices: a statement takes at most 65,535 parameters.
  for (let i = 0; i < itemIds.length; i += 10_000) {
    const rows = await db
      .select({ id: items.id, label: items.label })
      .from(items)
      .where(and(inArray(items.id, itemIds.slice(i, i + 10_000)), isNotNull(items.label)));
    for (const r of rows) out.set(r.id, r.label as string);
  }
  return out;
}

/** Items this key holds an unexpired lease on (a reload serves them again), through items_leased_idx. */
export async function heldLeaseCount(db: DbOrTx, projectId: string, keyId: string, now: Date): Promise<number> {
  const [r] = await queryRows<{ n: number | string }>(
    db,
    sql`select count(*) as n from ${items} where project_id = ${projectId} and leased_by = ${keyId} and lease_expires_at > ${now.toISOString()}::timestamptz`,
  );
  return Number(r?.n ?? 0);
}
