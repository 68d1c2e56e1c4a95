import { sql, type SQL } from 'drizzle-orm';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { DbOrTx } from '../client.ts';

/** Runs raw SQL and returns its rows on either driver (PGlite answers `{rows}`, postgres.js an array). */
export async function queryRows<T>(db: DbOrTx, query: SQL): Promise<T[]> {
  const res = (await db.execute(query)) as unknown;
  if (Array.isArray(res)) return res as T[];
  return ((res as { rows?: T[] }).rows ?? []) as T[];
}

/**
 * Rows per multi-row INSERT. Postgres binds at most 65,535 parameters per statement; an item row has 11, so a
 * 10,000-item ingest in one statement would fail. Callers run the chunks in one transaction. 250 rather than
 * more because on the embedded database each statement blocks the thread: 1,000 image rows held the event loop
 * for 730 ms, 250 for 330 ms (`npm run bench:responsiveness`), at the same total time.
 */
export const ROWS_PER_INSERT = 250;

/**
 * Runs `write` on `rows` in slices of at most `size`, one after another, and gives other requests a turn of the
 * event loop between slices: the embedded database executes each statement in this thread, so a 10,000-row
 * write in one go would stall every other request (the review page, /healthz) for seconds.
 */
export async function writeInChunks<T>(rows: readonly T[], write: (chunk: T[]) => Promise<unknown>, size = ROWS_PER_INSERT): Promise<void> {
  for (let i = 0; i < rows.length; i += size) {
    if (i > 0) await nextTurn();
    await write(rows.slice(i, i + size));
  }
}

/**
 * Refreshes the planner's statistics of `items` when they are stale: at least 10,000 rows and a fifth of the
 * table written since the last ANALYZE (PostgreSQL only; `pg_stat_user_tables`). Autovacuum gets there too, but
 * only after its own delay: right after a million-row ingest and its pre-label pass the table had never been
 * analyzed, the planner took the project's rows for a handful, and each lease walked a million rows (queue
 * p50 23-38 s under 50 annotators; docs/team.md). Returns whether it analyzed.
 */
export async function analyzeItemsIfStale(db: DbOrTx): Promise<boolean> {
  const [row] = await queryRows<{ stale: boolean }>(
    db,
    sql`select n_mod_since_analyze >= greatest(10000, 0.2 * n_live_tup) as stale from pg_stat_user_tables where relname = 'items'`,
  );
  if (!row?.stale) return false;
  await queryRows(db, sql`analyze items`);
  return true;
}
