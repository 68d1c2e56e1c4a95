import type { SQL } from 'drizzle-orm';
import type { DbOrTx } from '../client.ts';

/** Runs raw SQL and returns its rows on either driver (PGlite answers `{rows}`, postgres.js an array). */
export async function queryRows<T>(db: DbOrTx, query: SQL): Promise<T[]> {
  const res = (await db.execute(query)) as unknown;
  if (Array.isArray(res)) return res as T[];
  return ((res as { rows?: T[] }).rows ?? []) as T[];
}

/**
 * Rows per multi-row INSERT. Postgres binds at most 65,535 parameters per statement; an item row has 11, so a
 * 10,000-item ingest in one statement would fail. Callers run the chunks in one transaction.
 */
export const ROWS_PER_INSERT = 1_000;

/** `rows` in slices of at most `size`. */
export function chunked<T>(rows: readonly T[], size = ROWS_PER_INSERT): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < rows.length; i += size) out.push(rows.slice(i, i + size));
  return out;
}
