import type { SQL } from 'drizzle-orm';
import type { DbOrTx } from '../client.ts';

/** Runs raw SQL and returns its rows on either driver (PGlite answers `{rows}`, postgres.js an array). */
export async function queryRows<T>(db: DbOrTx, query: SQL): Promise<T[]> {
  const res = (await db.execute(query)) as unknown;
  if (Array.isArray(res)) return res as T[];
  return ((res as { rows?: T[] }).rows ?? []) as T[];
}
