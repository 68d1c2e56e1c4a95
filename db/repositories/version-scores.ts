import { and, eq, sql } from 'drizzle-orm';
import type { DbOrTx } from '../client.ts';
import { modelVersions } from '../schema.ts';
import { queryRows } from './rows.ts';

/**
 * Which gold set a score was measured on: its size and an md5 over its items' ids and labels (sorted by id),
 * so any addition, removal or relabelling gives another fingerprint. Computed in the database: no inputs read.
 */
export async function goldSetFingerprint(db: DbOrTx, projectId: string): Promise<{ n: number; hash: string }> {
  const [r] = await queryRows<{ n: string | number; hash: string | null }>(
    db,
    sql`select count(*) as n, md5(coalesce(string_agg(id || ':' || label, ',' order by id collate "C"), '')) as hash
        from items
        where project_id = ${projectId} and label is not null and label_source <> 'auto' and (split = 'gold' or holdout)`,
  );
  return { n: Number(r?.n ?? 0), hash: r?.hash ?? '' };
}

/** Stores a version's score on the current gold set under metrics.current, leaving its training-time metrics. */
export async function setCurrentGoldScore(db: DbOrTx, projectId: string, version: number, current: Record<string, unknown>): Promise<void> {
  await db
    .update(modelVersions)
    .set({ metrics: sql`jsonb_set(${modelVersions.metrics}, '{current}', ${JSON.stringify(current)}::jsonb)` })
    .where(and(eq(modelVersions.projectId, projectId), eq(modelVersions.version, version)));
}
