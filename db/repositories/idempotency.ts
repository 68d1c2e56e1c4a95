import { and, eq, isNull, lt } from 'drizzle-orm';
import type { DbOrTx } from '../client.ts';
import { idempotencyKeys } from '../schema.ts';

/** What a request carrying an Idempotency-Key finds when it claims the key. */
export type IdempotencyClaim = { state: 'new' } | { state: 'replay'; status: number; body: string } | { state: 'in_progress' } | { state: 'mismatch' };

/**
 * Claims `(keyId, idempotencyKey)` for a request with `fingerprint`. The first request inserts a pending row
 * and gets `new`; a later one gets the stored answer (`replay`), `in_progress` while the first still runs,
 * or `mismatch` when the same key came with a different request. A pending row older than `staleBefore`
 * (its process died before answering) is taken over.
 */
export async function claimIdempotencyKey(
  db: DbOrTx,
  k: { keyId: string; idempotencyKey: string; fingerprint: string; staleBefore: Date },
): Promise<IdempotencyClaim> {
  const inserted = await db
    .insert(idempotencyKeys)
    .values({ keyId: k.keyId, idempotencyKey: k.idempotencyKey, fingerprint: k.fingerprint })
    .onConflictDoNothing()
    .returning({ keyId: idempotencyKeys.keyId });
  if (inserted.length) return { state: 'new' };
  const match = and(eq(idempotencyKeys.keyId, k.keyId), eq(idempotencyKeys.idempotencyKey, k.idempotencyKey));
  const [row] = await db.select().from(idempotencyKeys).where(match);
  // Purged between the insert and the select: a later retry will find the key free.
  if (!row) return { state: 'in_progress' };
  if (row.fingerprint !== k.fingerprint) return { state: 'mismatch' };
  if (row.status !== null && row.body !== null) return { state: 'replay', status: row.status, body: row.body };
  const taken = await db
    .update(idempotencyKeys)
    .set({ createdAt: new Date() })
    .where(and(match, isNull(idempotencyKeys.status), lt(idempotencyKeys.createdAt, k.staleBefore)))
    .returning({ keyId: idempotencyKeys.keyId });
  return taken.length ? { state: 'new' } : { state: 'in_progress' };
}

/** Stores the answer of a claimed key, to be replayed to retries. */
export async function completeIdempotencyKey(db: DbOrTx, keyId: string, idempotencyKey: string, status: number, body: string): Promise<void> {
  await db
    .update(idempotencyKeys)
    .set({ status, body })
    .where(and(eq(idempotencyKeys.keyId, keyId), eq(idempotencyKeys.idempotencyKey, idempotencyKey)));
}

/** Frees a claimed key whose request failed (a failed request changed nothing, so a retry may run it again). */
export async function releaseIdempotencyKey(db: DbOrTx, keyId: string, idempotencyKey: string): Promise<void> {
  await db
    .delete(idempotencyKeys)
    .where(and(eq(idempotencyKeys.keyId, keyId), eq(idempotencyKeys.idempotencyKey, idempotencyKey), isNull(idempotencyKeys.status)));
}

/** Deletes stored answers created before `before`; returns how many. */
export async function purgeIdempotencyKeys(db: DbOrTx, before: Date): Promise<number> {
  const rows = await db.delete(idempotencyKeys).where(lt(idempotencyKeys.createdAt, before)).returning({ keyId: idempotencyKeys.keyId });
  return rows.length;
}
