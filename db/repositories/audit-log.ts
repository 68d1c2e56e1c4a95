import { and, desc, eq, lt } from 'drizzle-orm';
import type { DbOrTx } from '../client.ts';
import { auditLog } from '../schema.ts';

export type AuditRow = typeof auditLog.$inferSelect;

/** Records one change; call it in the transaction that makes the change, so both happen or neither. */
export async function recordAudit(
  db: DbOrTx,
  e: { projectId: string; keyId: string | null; action: string; details?: Record<string, unknown>; createdAt?: Date },
): Promise<void> {
  await db
    .insert(auditLog)
    .values({ projectId: e.projectId, keyId: e.keyId, action: e.action, details: e.details ?? {}, ...(e.createdAt ? { createdAt: e.createdAt } : {}) });
}

/** A project's audit entries, newest first, before entry id `beforeId` (keyset pagination). */
export async function auditPage(db: DbOrTx, projectId: string, beforeId: number | undefined, limit: number): Promise<AuditRow[]> {
  return db
    .select()
    .from(auditLog)
    .where(and(eq(auditLog.projectId, projectId), beforeId === undefined ? undefined : lt(auditLog.id, beforeId)))
    .orderBy(desc(auditLog.id))
    .limit(limit);
}
