import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { and, eq, isNull, ne } from 'drizzle-orm';
import type { Role } from '../../core/types.ts';
import type { DbOrTx } from '../client.ts';
import { apiKeys } from '../schema.ts';

export type KeyRow = typeof apiKeys.$inferSelect;

export function hashKey(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** A new random key: `fw_` + 43 base64url characters (256 bits). */
export function generateKeySecret(): string {
  return `fw_${randomBytes(32).toString('base64url')}`;
}

export async function insertKey(
  db: DbOrTx,
  k: { projectId: string | null; role: Role; name: string; secret?: string },
): Promise<{ row: KeyRow; secret: string }> {
  const secret = k.secret ?? generateKeySecret();
  const [row] = await db
    .insert(apiKeys)
    .values({
      id: randomUUID(),
      projectId: k.projectId,
      role: k.role,
      name: k.name,
      keyHash: hashKey(secret),
      prefix: secret.slice(0, 8),
    })
    .returning();
  return { row, secret };
}

/**
 * Finds the live key for a presented secret. The lookup is by hash (an index), and the stored hash is
 * compared again in constant time so that no timing difference depends on the secret's bytes.
 */
export async function findKeyBySecret(db: DbOrTx, secret: string): Promise<KeyRow | undefined> {
  const h = hashKey(secret);
  const [row] = await db
    .select()
    .from(apiKeys)
    .where(and(eq(apiKeys.keyHash, h), isNull(apiKeys.revokedAt)));
  if (!row) return undefined;
  const a = Buffer.from(row.keyHash, 'hex');
  const b = Buffer.from(h, 'hex');
  return a.length === b.length && timingSafeEqual(a, b) ? row : undefined;
}

export async function countAdminKeys(db: DbOrTx): Promise<number> {
  const rows = await db.select({ id: apiKeys.id }).from(apiKeys).where(eq(apiKeys.role, 'admin')).limit(1);
  return rows.length;
}

/** Whether any key row, live or revoked, has this secret. */
export async function keySecretExists(db: DbOrTx, secret: string): Promise<boolean> {
  const rows = await db
    .select({ id: apiKeys.id })
    .from(apiKeys)
    .where(eq(apiKeys.keyHash, hashKey(secret)))
    .limit(1);
  return rows.length > 0;
}

/** Revokes every live admin key but `exceptId`; returns how many. */
export async function revokeAdminKeys(db: DbOrTx, exceptId: string): Promise<number> {
  const rows = await db
    .update(apiKeys)
    .set({ revokedAt: new Date() })
    .where(and(eq(apiKeys.role, 'admin'), isNull(apiKeys.revokedAt), ne(apiKeys.id, exceptId)))
    .returning({ id: apiKeys.id });
  return rows.length;
}

export async function listKeys(db: DbOrTx, projectId: string): Promise<KeyRow[]> {
  return db.select().from(apiKeys).where(eq(apiKeys.projectId, projectId)).orderBy(apiKeys.createdAt);
}

export async function revokeKey(db: DbOrTx, projectId: string, keyId: string): Promise<KeyRow | undefined> {
  const [row] = await db
    .update(apiKeys)
    .set({ revokedAt: new Date() })
    .where(and(eq(apiKeys.id, keyId), eq(apiKeys.projectId, projectId)))
    .returning();
  return row;
}
