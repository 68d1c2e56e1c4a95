import { and, asc, count, desc, eq, gt, inArray, isNotNull, isNull, lt, ne, or, sql } from 'drizzle-orm';
import type { DbOrTx } from '../client.ts';
import { items, labels, predictions } from '../schema.ts';
import { queryRows, writeInChunks } from './rows.ts';

export type ItemRow = typeof items.$inferSelect;
export type NewItem = typeof items.$inferInsert;
export type LabelRow = typeof labels.$inferSelect;
export type PredictionRow = typeof predictions.$inferSelect;

/**
 * Inserts items; an item whose externalId the project already holds is skipped (ingest is idempotent).
 * Returns the ids actually inserted. Several statements for a big batch: call it inside a transaction.
 */
export async function insertItems(db: DbOrTx, rows: NewItem[]): Promise<Set<string>> {
  const ids = new Set<string>();
  await writeInChunks(rows, async (chunk) => {
    const inserted = await db
      .insert(items)
      .values(chunk)
      .onConflictDoNothing({ target: [items.projectId, items.externalId] })
      .returning({ id: items.id });
    for (const r of inserted) ids.add(r.id);
  });
  return ids;
}

export async function insertLabelRows(db: DbOrTx, rows: (typeof labels.$inferInsert)[]): Promise<void> {
  await writeInChunks(rows, (chunk) => db.insert(labels).values(chunk));
}

export async function findItem(db: DbOrTx, projectId: string, itemId: string): Promise<ItemRow | undefined> {
  const [row] = await db
    .select()
    .from(items)
    .where(and(eq(items.projectId, projectId), eq(items.id, itemId)));
  return row;
}

export async function lockItem(db: DbOrTx, projectId: string, itemId: string): Promise<ItemRow | undefined> {
  const [row] = await db
    .select()
    .from(items)
    .where(and(eq(items.projectId, projectId), eq(items.id, itemId)))
    .for('update');
  return row;
}

export async function itemLabels(db: DbOrTx, itemId: string): Promise<LabelRow[]> {
  return db.select().from(labels).where(eq(labels.itemId, itemId)).orderBy(asc(labels.id));
}

export async function latestLabel(db: DbOrTx, itemId: string): Promise<LabelRow | undefined> {
  const [row] = await db.select().from(labels).where(eq(labels.itemId, itemId)).orderBy(desc(labels.id)).limit(1);
  return row;
}

export async function findPrediction(db: DbOrTx, itemId: string, version: number): Promise<PredictionRow | undefined> {
  const [row] = await db
    .select()
    .from(predictions)
    .where(and(eq(predictions.itemId, itemId), eq(predictions.modelVersion, version)));
  return row;
}

export async function predictionsFor(db: DbOrTx, itemIds: string[], version: number): Promise<Map<string, PredictionRow>> {
  if (!itemIds.length) return new Map();
  const rows = await db
    .select()
    .from(predictions)
    .where(and(inArray(predictions.itemId, itemIds), eq(predictions.modelVersion, version)));
  return new Map(rows.map((r) => [r.itemId, r]));
}

/** Items an annotator may be served: pending pool items not leased to someone else right now. */
function servable(projectId: string, keyId: string, now: Date) {
  return and(
    eq(items.projectId, projectId),
    eq(items.split, 'pool'),
    eq(items.status, 'pending'),
    or(isNull(items.leaseExpiresAt), lt(items.leaseExpiresAt, now), eq(items.leasedBy, keyId)),
  );
}

/**
 * Picks up to `limit` servable items and leases them to `keyId` until `expiresAt`, in one transaction with
 * `FOR UPDATE SKIP LOCKED`, so that two annotators asking at once never get the same item. Items already
 * leased to this key come first (a reload shows the same items), then held-out items up to `holdoutWanted`
 * (random order), then the rest by `order`.
 */
export async function leaseItems(
  db: DbOrTx,
  q: {
    projectId: string;
    keyId: string;
    limit: number;
    now: Date;
    expiresAt: Date;
    order: 'uncertainty' | 'random';
    holdoutWanted: number;
    /** Candidate ids to restrict to (a strategy's choice), in priority order; undefined means no restriction. */
    candidates?: string[];
  },
): Promise<ItemRow[]> {
  const picked: ItemRow[] = [];
  const take = async (extra: ReturnType<typeof and> | undefined, order: 'uncertainty' | 'random' | 'mine', n: number) => {
    if (n <= 0) return;
    const exclude = picked.length
      ? sql`${items.id} not in (${sql.join(
          picked.map((p) => sql`${p.id}`),
          sql`, `,
        )})`
      : undefined;
    const orderBy = order === 'random' ? [asc(items.rand), asc(items.seq)] : [sql`${items.uncertainty} desc nulls last`, asc(items.rand)];
    if (order === 'mine') {
      // This key's own items are waited for, not skipped: another key's label request holds the row lock
      // while it finds the item leased to us, and skipping would drop the item from a reload. Waiting locks
      // follow the lock order (docs/team.md): ascending id; the page is then put in its display order.
      const rows = await db
        .select()
        .from(items)
        .where(and(servable(q.projectId, q.keyId, q.now), extra, exclude))
        .orderBy(asc(items.id))
        .limit(n)
        .for('update');
      // Stable across calls (not lease expiry, which each call renews), so a reload shows the same items.
      rows.sort((a, b) => (b.uncertainty ?? -Infinity) - (a.uncertainty ?? -Infinity) || a.rand - b.rand || a.seq - b.seq);
      picked.push(...rows);
      return;
    }
    const rows = await db
      .select()
      .from(items)
      .where(and(servable(q.projectId, q.keyId, q.now), extra, exclude))
      .orderBy(...orderBy)
      .limit(n)
      .for('update', { skipLocked: true });
    picked.push(...rows);
  };
  await take(and(eq(items.leasedBy, q.keyId), gt(items.leaseExpiresAt, q.now)), 'mine', q.limit);
  await take(eq(items.holdout, true), 'random', Math.min(q.holdoutWanted, q.limit - picked.length));
  if (q.candidates) {
    const wanted = q.candidates.slice(0, Math.max(0, q.limit - picked.length) * 4);
    if (wanted.length) {
      const rows = await db
        .select()
        .from(items)
        .where(and(servable(q.projectId, q.keyId, q.now), inArray(items.id, wanted)))
        .for('update', { skipLocked: true });
      const byId = new Map(rows.map((r) => [r.id, r]));
      const have = new Set(picked.map((p) => p.id));
      for (const id of wanted) {
        if (picked.length >= q.limit) break;
        const r = byId.get(id);
        if (r && !have.has(id)) picked.push(r);
      }
    }
  }
  await take(eq(items.holdout, false), q.order, q.limit - picked.length);
  // The held-out share is a target, not a reason to leave items unserved: when the pool has nothing else,
  // held-out items fill the batch.
  await take(eq(items.holdout, true), 'random', q.limit - picked.length);
  if (picked.length) {
    await db
      .update(items)
      .set({ leasedBy: q.keyId, leaseExpiresAt: q.expiresAt })
      .where(
        inArray(
          items.id,
          picked.map((p) => p.id),
        ),
      );
  }
  return picked.map((p) => ({ ...p, leasedBy: q.keyId, leaseExpiresAt: q.expiresAt }));
}

/** How long to wait before asking again when a queue request found servable items all locked (a pre-label batch commits in about this time). */
export const QUEUE_BUSY_RETRY_MS = 1000;

/**
 * For a queue request that leased nothing: when to ask again, or null if nothing is left for this key. Servable
 * items that were skipped because another transaction held their rows (a pre-label job writing its batch)
 * are worth asking for again in QUEUE_BUSY_RETRY_MS; unlabelled items leased to other keys come back when
 * their leases end (if not labelled first), so ask again then.
 */
export async function queueRetryAfterMs(db: DbOrTx, q: { projectId: string; keyId: string; now: Date }): Promise<number | null> {
  // Plain reads: under MVCC they do not wait for the locks that made the lease skip these rows.
  const [free] = await db
    .select({ n: count() })
    .from(items)
    .where(servable(q.projectId, q.keyId, q.now));
  if (Number(free.n) > 0) return QUEUE_BUSY_RETRY_MS;
  const [next] = await db
    .select({ at: sql<Date | string | null>`min(${items.leaseExpiresAt})` })
    .from(items)
    .where(
      and(eq(items.projectId, q.projectId), eq(items.split, 'pool'), eq(items.status, 'pending'), gt(items.leaseExpiresAt, q.now), ne(items.leasedBy, q.keyId)),
    );
  if (next?.at == null) return null;
  return Math.max(QUEUE_BUSY_RETRY_MS, new Date(next.at).getTime() - q.now.getTime());
}

/**
 * Counts the labelled held-out items and all labelled pool items (to keep the held-out share), and whether any
 * held-out item is still waiting for a label. Reads only labelled rows (items_labelled_idx) and at most one
 * pending held-out row, so the cost follows the number of labels, not the size of the project.
 */
export async function holdoutCounts(db: DbOrTx, projectId: string): Promise<{ labeledHoldout: number; labeledPool: number; anyServableHoldout: boolean }> {
  const rows = await db
    .select({ holdout: items.holdout, n: count() })
    .from(items)
    .where(and(eq(items.projectId, projectId), eq(items.split, 'pool'), eq(items.status, 'labeled'), isNotNull(items.label)))
    .groupBy(items.holdout);
  let labeledHoldout = 0;
  let labeledPool = 0;
  for (const r of rows) {
    labeledPool += Number(r.n);
    if (r.holdout) labeledHoldout += Number(r.n);
  }
  const waiting = await db
    .select({ id: items.id })
    .from(items)
    .where(and(eq(items.projectId, projectId), eq(items.status, 'pending'), eq(items.split, 'pool'), eq(items.holdout, true)))
    .limit(1);
  return { labeledHoldout, labeledPool, anyServableHoldout: waiting.length > 0 };
}

/**
 * Trainable labels: human or imported labels on pool items that are not held out. The source list is SQL
 * text, not parameters, so the planner can match items_labelled_idx (a partial index) under a generic plan.
 */
const trainable = (projectId: string) =>
  and(
    eq(items.projectId, projectId),
    eq(items.split, 'pool'),
    eq(items.holdout, false),
    isNotNull(items.label),
    sql`${items.labelSource} in ('human', 'imported')`,
  );

export async function applyHumanLabel(db: DbOrTx, itemId: string, label: string, source: 'human' | 'imported' | 'auto'): Promise<void> {
  await db
    .update(items)
    .set({ label, labelSource: source, status: source === 'auto' ? 'auto' : 'labeled', leasedBy: null, leaseExpiresAt: null })
    .where(eq(items.id, itemId));
}

export interface LabeledExample {
  id: string;
  input: Uint8Array | null;
  data: Record<string, unknown>;
  label: string;
}

/** Human or imported labels on pool items that may be trained on (held-out items excluded). */
export async function trainingExamples(db: DbOrTx, projectId: string): Promise<LabeledExample[]> {
  return db
    .select({ id: items.id, input: items.input, data: items.data, label: sql<string>`${items.label}` })
    .from(items)
    .where(trainable(projectId))
    .orderBy(asc(items.seq));
}

/** The evaluation set: imported gold items and human-labelled held-out pool items. */
export async function goldExamples(db: DbOrTx, projectId: string): Promise<LabeledExample[]> {
  return db
    .select({ id: items.id, input: items.input, data: items.data, label: sql<string>`${items.label}` })
    .from(items)
    .where(and(eq(items.projectId, projectId), isNotNull(items.label), ne(items.labelSource, 'auto'), or(eq(items.split, 'gold'), eq(items.holdout, true))))
    .orderBy(asc(items.seq));
}

export async function countTrainable(db: DbOrTx, projectId: string): Promise<{ n: number; classes: number }> {
  const rows = await db.select({ label: items.label, n: count() }).from(items).where(trainable(projectId)).groupBy(items.label);
  return { n: rows.reduce((s, r) => s + Number(r.n), 0), classes: rows.length };
}

/** A page of items (pool and gold) still without a prediction from `version`, oldest first. */
export async function unscoredItems(
  db: DbOrTx,
  projectId: string,
  version: number,
  limit: number,
  afterSeq = 0,
): Promise<Pick<ItemRow, 'id' | 'input' | 'data' | 'seq'>[]> {
  // `afterSeq`: where the previous page ended. Without it a pass over a large project would scan every row
  // already scored again for each page (a million items: about a billion rows read over a pass).
  return db
    .select({ id: items.id, input: items.input, data: items.data, seq: items.seq })
    .from(items)
    .where(and(eq(items.projectId, projectId), gt(items.seq, afterSeq), or(isNull(items.predVersion), ne(items.predVersion, version))))
    .orderBy(asc(items.seq))
    .limit(limit);
}

export interface ScoredItem {
  itemId: string;
  probs: number[];
  label: string;
  confidence: number;
  uncertainty: number;
}

/**
 * Stores one model version's predictions and copies the score onto the items for the queue (one statement
 * each per ROWS_PER_INSERT items: call it inside a transaction).
 */
export async function writePredictions(db: DbOrTx, projectId: string, version: number, scored: ScoredItem[]): Promise<void> {
  // Lock order (docs/team.md): items in ascending id, whatever order the caller scored them in.
  const ordered = [...scored].sort((a, b) => (a.itemId < b.itemId ? -1 : a.itemId > b.itemId ? 1 : 0));
  await writeInChunks(ordered, (chunk) => writePredictionChunk(db, projectId, version, chunk));
}

async function writePredictionChunk(db: DbOrTx, projectId: string, version: number, scored: ScoredItem[]): Promise<void> {
  await db
    .insert(predictions)
    .values(
      scored.map((s) => ({
        projectId,
        itemId: s.itemId,
        modelVersion: version,
        probs: s.probs,
        label: s.label,
        confidence: s.confidence,
        uncertainty: s.uncertainty,
      })),
    )
    .onConflictDoUpdate({
      target: [predictions.itemId, predictions.modelVersion],
      set: {
        probs: sql`excluded.probs`,
        label: sql`excluded.label`,
        confidence: sql`excluded.confidence`,
        uncertainty: sql`excluded.uncertainty`,
      },
    });
  await queryRows(
    db,
    sql`update items as i set pred_version = ${version}, pred_label = u.label, confidence = u.conf, uncertainty = u.unc
        from unnest(${sql.param(scored.map((s) => s.itemId))}::text[], ${sql.param(scored.map((s) => s.label))}::text[],
                    ${sql.param(scored.map((s) => s.confidence))}::real[], ${sql.param(scored.map((s) => s.uncertainty))}::real[])
             as u(id, label, conf, unc)
        where i.id = u.id and i.project_id = ${projectId}`,
  );
}

/** A page of a project's items in insertion order, for export. */
export async function itemsPage(db: DbOrTx, projectId: string, afterSeq: number, limit: number): Promise<ItemRow[]> {
  return db
    .select()
    .from(items)
    .where(and(eq(items.projectId, projectId), gt(items.seq, afterSeq)))
    .orderBy(asc(items.seq))
    .limit(limit);
}

/** Human decisions made by one key since `since`, and in all. */
export async function labelsByKey(db: DbOrTx, projectId: string, keyId: string, since: Date): Promise<{ today: number; total: number }> {
  const [r] = await queryRows<{ today: string | number; total: string | number }>(
    db,
    sql`select count(*) filter (where created_at >= ${since.toISOString()}::timestamptz) as today, count(*) as total
        from labels where project_id = ${projectId} and key_id = ${keyId}`,
  );
  return { today: Number(r?.today ?? 0), total: Number(r?.total ?? 0) };
}

/** Returns unlabelled held-out items to the ordinary pool (labelled ones stay in the evaluation set). */
export async function releaseHoldout(db: DbOrTx, projectId: string): Promise<void> {
  await db
    .update(items)
    .set({ holdout: false })
    .where(and(eq(items.projectId, projectId), eq(items.holdout, true), eq(items.status, 'pending')));
}

/** Clears a lease held by `keyId`; returns whether there was one. */
export async function clearLease(db: DbOrTx, itemId: string, keyId: string): Promise<boolean> {
  const rows = await db
    .update(items)
    .set({ leasedBy: null, leaseExpiresAt: null })
    .where(and(eq(items.id, itemId), eq(items.leasedBy, keyId)))
    .returning({ id: items.id });
  return rows.length > 0;
}

/**
 * The most confident unlabelled pool items of one model version, at most `perClass` per predicted class and
 * at or above `minConfidence`: candidates for pseudo-labels in semi-supervised training.
 */
export async function confidentPoolItems(
  db: DbOrTx,
  projectId: string,
  version: number,
  minConfidence: number,
  perClass: number,
): Promise<{ id: string; input: Uint8Array | null; data: Record<string, unknown>; label: string; confidence: number }[]> {
  const rows = await queryRows<{ id: string; input: Uint8Array | null; data: Record<string, unknown> | string; label: string; confidence: number }>(
    db,
    sql`select id, input, data, pred_label as label, confidence from (
          select id, input, data, pred_label, confidence,
                 row_number() over (partition by pred_label order by confidence desc, seq) as rk
          from items
          where project_id = ${projectId} and split = 'pool' and holdout = false and status = 'pending'
            and pred_version = ${version} and confidence >= ${minConfidence}
        ) ranked where rk <= ${perClass}`,
  );
  return rows.map((r) => ({
    ...r,
    input: r.input === null ? null : new Uint8Array(r.input),
    data: typeof r.data === 'string' ? JSON.parse(r.data) : r.data,
    confidence: Number(r.confidence),
  }));
}

/** The most uncertain items an annotator could be served now (not leased to others), with their inputs. */
export async function topUncertainServable(
  db: DbOrTx,
  q: { projectId: string; keyId: string; now: Date; limit: number },
): Promise<Pick<ItemRow, 'id' | 'input' | 'data' | 'uncertainty'>[]> {
  return db
    .select({ id: items.id, input: items.input, data: items.data, uncertainty: items.uncertainty })
    .from(items)
    .where(and(servable(q.projectId, q.keyId, q.now), eq(items.holdout, false)))
    .orderBy(sql`${items.uncertainty} desc nulls last`, asc(items.rand))
    .limit(q.limit);
}

/**
 * The model's confidence on the `limit` servable items the uncertainty queue would serve first (ids and
 * confidences only, through items_queue_idx): what the queue weighs another label on an old item against.
 */
export async function topUncertainConfidences(
  db: DbOrTx,
  q: { projectId: string; keyId: string; now: Date; limit: number },
): Promise<{ id: string; confidence: number | null }[]> {
  if (q.limit <= 0) return [];
  return db
    .select({ id: items.id, confidence: items.confidence })
    .from(items)
    .where(and(servable(q.projectId, q.keyId, q.now), eq(items.holdout, false)))
    .orderBy(sql`${items.uncertainty} desc nulls last`, asc(items.rand))
    .limit(q.limit);
}

/** The evaluation set's stored predictions from one version: probabilities and the human label. */
export async function goldPredictions(db: DbOrTx, projectId: string, version: number): Promise<{ probs: number[]; label: string }[]> {
  return db
    .select({ probs: predictions.probs, label: sql<string>`${items.label}` })
    .from(items)
    .innerJoin(predictions, and(eq(predictions.itemId, items.id), eq(predictions.modelVersion, version)))
    .where(and(eq(items.projectId, projectId), isNotNull(items.label), ne(items.labelSource, 'auto'), or(eq(items.split, 'gold'), eq(items.holdout, true))));
}

export async function countAutoLabeled(db: DbOrTx, projectId: string): Promise<number> {
  const [r] = await db
    .select({ n: count() })
    .from(items)
    .where(and(eq(items.projectId, projectId), eq(items.status, 'auto')));
  return Number(r?.n ?? 0);
}

/** Marks every item as not yet scored by any version, so the next pre-label job re-scores them all. */
export async function clearPredictionMarks(db: DbOrTx, projectId: string): Promise<void> {
  await db.update(items).set({ predVersion: null }).where(eq(items.projectId, projectId));
}

/** Every human or imported label that can be audited: pool (trainable) and evaluation items, not yet reviewed. */
export async function auditableExamples(db: DbOrTx, projectId: string): Promise<(LabeledExample & { evaluation: boolean })[]> {
  return db
    .select({
      id: items.id,
      input: items.input,
      data: items.data,
      label: sql<string>`${items.label}`,
      evaluation: sql<boolean>`(${items.split} = 'gold' or ${items.holdout})`,
    })
    .from(items)
    .where(and(eq(items.projectId, projectId), isNotNull(items.label), inArray(items.labelSource, ['human', 'imported']), eq(items.reviewed, false)))
    .orderBy(asc(items.seq));
}

/**
 * Replaces the project's open disputes with `flagged`. An item is only flagged if its label is still the one
 * the audit saw (a label given meanwhile wins); reviewed items are never disputed again.
 */
export async function replaceDisputes(
  db: DbOrTx,
  projectId: string,
  flagged: { itemId: string; givenLabel: string; suggested: string; score: number }[],
): Promise<number> {
  await db
    .update(items)
    .set({ disputedLabel: null, disputeScore: null, disputedAt: null })
    .where(and(eq(items.projectId, projectId), isNotNull(items.disputedAt)));
  if (!flagged.length) return 0;
  const rows = await queryRows<{ id: string }>(
    db,
    sql`update items as i set disputed_label = f.suggested, dispute_score = f.score, disputed_at = now()
        from unnest(${sql.param(flagged.map((f) => f.itemId))}::text[], ${sql.param(flagged.map((f) => f.givenLabel))}::text[],
                    ${sql.param(flagged.map((f) => f.suggested))}::text[], ${sql.param(flagged.map((f) => f.score))}::real[])
             as f(id, given, suggested, score)
        where i.id = f.id and i.project_id = ${projectId} and i.label = f.given and i.reviewed = false
          and i.label_source in ('human', 'imported')
        returning i.id`,
  );
  return rows.length;
}

/**
 * Leases disputed items for a second review by `keyId`, never to a key that labelled the item before,
 * most strongly disputed first, with FOR UPDATE SKIP LOCKED like the main queue.
 */
export async function leaseDisputed(db: DbOrTx, q: { projectId: string; keyId: string; limit: number; now: Date; expiresAt: Date }): Promise<ItemRow[]> {
  const rows = await db
    .select()
    .from(items)
    .where(
      and(
        eq(items.projectId, q.projectId),
        isNotNull(items.disputedAt),
        eq(items.reviewed, false),
        or(isNull(items.leaseExpiresAt), lt(items.leaseExpiresAt, q.now), eq(items.leasedBy, q.keyId)),
        sql`not exists (select 1 from labels l where l.item_id = ${items.id} and l.key_id = ${q.keyId})`,
      ),
    )
    .orderBy(desc(items.disputeScore), asc(items.seq))
    .limit(q.limit)
    .for('update', { skipLocked: true });
  return markLeased(db, rows, q.keyId, q.expiresAt);
}

/** Leases rows the caller selected and locked to `keyId` until `expiresAt`, and returns them as leased. */
export async function markLeased<T extends { id: string }>(
  db: DbOrTx,
  rows: T[],
  keyId: string,
  expiresAt: Date,
): Promise<(T & { leasedBy: string; leaseExpiresAt: Date })[]> {
  if (rows.length)
    await db
      .update(items)
      .set({ leasedBy: keyId, leaseExpiresAt: expiresAt })
      .where(
        inArray(
          items.id,
          rows.map((r) => r.id),
        ),
      );
  return rows.map((r) => ({ ...r, leasedBy: keyId, leaseExpiresAt: expiresAt }));
}

/** Who gave each item's current label (the latest label row), for showing disputes. */
export async function latestLabellers(db: DbOrTx, itemIds: string[]): Promise<Map<string, { keyId: string | null; name: string | null; source: string }>> {
  if (!itemIds.length) return new Map();
  const rows = await queryRows<{ item_id: string; key_id: string | null; name: string | null; source: string }>(
    db,
    sql`select distinct on (l.item_id) l.item_id, l.key_id, k.name, l.source
        from labels l left join api_keys k on k.id = l.key_id
        where l.item_id in (${sql.join(
          itemIds.map((id) => sql`${id}`),
          sql`, `,
        )})
        order by l.item_id, l.id desc`,
  );
  return new Map(rows.map((r) => [r.item_id, { keyId: r.key_id, name: r.name, source: r.source }]));
}

export async function countDisputed(db: DbOrTx, projectId: string): Promise<number> {
  const [r] = await db
    .select({ n: count() })
    .from(items)
    .where(and(eq(items.projectId, projectId), isNotNull(items.disputedAt), eq(items.reviewed, false)));
  return Number(r?.n ?? 0);
}

export async function markReviewed(db: DbOrTx, itemId: string): Promise<void> {
  await db.update(items).set({ reviewed: true, disputedLabel: null, disputeScore: null, disputedAt: null }).where(eq(items.id, itemId));
}

/** Ids of servable pool items in the project's random order (the cold start's sample, exploration picks). */
export async function randomServableIds(db: DbOrTx, q: { projectId: string; keyId: string; now: Date; limit: number }): Promise<string[]> {
  const rows = await db
    .select({ id: items.id })
    .from(items)
    .where(and(servable(q.projectId, q.keyId, q.now), eq(items.holdout, false)))
    .orderBy(asc(items.rand), asc(items.seq))
    .limit(q.limit);
  return rows.map((r) => r.id);
}

/** Ids of the pool items training learns from (human and imported labels), as `trainingExamples` orders them. */
export async function trainingIds(db: DbOrTx, projectId: string): Promise<string[]> {
  const rows = await db.select({ id: items.id }).from(items).where(trainable(projectId)).orderBy(asc(items.seq));
  return rows.map((r) => r.id);
}

/** Inputs and data of a project's items by id; ids that no longer exist are left out. */
export async function itemInputs(db: DbOrTx, projectId: string, ids: string[]): Promise<Pick<ItemRow, 'id' | 'input' | 'data'>[]> {
  if (!ids.length) return [];
  return db
    .select({ id: items.id, input: items.input, data: items.data })
    .from(items)
    .where(and(eq(items.projectId, projectId), inArray(items.id, ids)));
}

/** Human and imported labels on trainable pool items, per class. */
export async function trainableCountsByLabel(db: DbOrTx, projectId: string): Promise<Map<string, number>> {
  const rows = await db.select({ label: items.label, n: count() }).from(items).where(trainable(projectId)).groupBy(items.label);
  return new Map(rows.map((r) => [r.label as string, Number(r.n)]));
}

/** Servable items the model predicts as `label`, most confident first (to find examples of a rare class). */
export async function likelyOfClass(db: DbOrTx, q: { projectId: string; keyId: string; now: Date; label: string; limit: number }): Promise<string[]> {
  const rows = await db
    .select({ id: items.id })
    .from(items)
    .where(and(servable(q.projectId, q.keyId, q.now), eq(items.holdout, false), eq(items.predLabel, q.label)))
    .orderBy(desc(items.confidence), asc(items.rand))
    .limit(q.limit);
  return rows.map((r) => r.id);
}

/** A seeded random sample of unlabelled pool items (inputs only), for semi-supervised training. */
export async function unlabelledSample(db: DbOrTx, projectId: string, limit: number): Promise<Pick<ItemRow, 'id' | 'input' | 'data'>[]> {
  return db
    .select({ id: items.id, input: items.input, data: items.data })
    .from(items)
    .where(and(eq(items.projectId, projectId), eq(items.split, 'pool'), eq(items.holdout, false), eq(items.status, 'pending')))
    .orderBy(asc(items.rand), asc(items.seq))
    .limit(limit);
}

/** How many items of a project refer to one stored picture (media is content addressed: two items may share one). */
export async function countItemsWithMedia(db: DbOrTx, projectId: string, mediaId: string): Promise<number> {
  const rows = await db
    .select({ n: sql<number>`count(*)::int` })
    .from(items)
    .where(and(eq(items.projectId, projectId), sql`${items.data}->'media'->>'id' = ${mediaId}`));
  return rows[0]?.n ?? 0;
}
