import { and, desc, eq, max, sql } from 'drizzle-orm';
import type { DbOrTx } from '../client.ts';
import { modelVersions } from '../schema.ts';

export type ModelVersionRow = typeof modelVersions.$inferSelect;
export type ModelVersionSummary = Omit<ModelVersionRow, 'weights'>;

const summaryColumns = {
  id: modelVersions.id,
  projectId: modelVersions.projectId,
  version: modelVersions.version,
  status: modelVersions.status,
  spec: modelVersions.spec,
  metrics: modelVersions.metrics,
  trainedOnLabels: modelVersions.trainedOnLabels,
  jobId: modelVersions.jobId,
  createdAt: modelVersions.createdAt,
};

/** Next version number; call inside a transaction that holds the project row lock. */
export async function nextVersionNumber(db: DbOrTx, projectId: string): Promise<number> {
  const [r] = await db
    .select({ v: max(modelVersions.version) })
    .from(modelVersions)
    .where(eq(modelVersions.projectId, projectId));
  return (r?.v ?? 0) + 1;
}

export async function insertVersion(db: DbOrTx, v: typeof modelVersions.$inferInsert): Promise<ModelVersionSummary> {
  const [row] = await db.insert(modelVersions).values(v).returning(summaryColumns);
  return row;
}

export async function listVersions(db: DbOrTx, projectId: string): Promise<ModelVersionSummary[]> {
  return db.select(summaryColumns).from(modelVersions).where(eq(modelVersions.projectId, projectId)).orderBy(desc(modelVersions.version));
}

export async function findVersion(db: DbOrTx, projectId: string, version: number): Promise<ModelVersionSummary | undefined> {
  const [row] = await db
    .select(summaryColumns)
    .from(modelVersions)
    .where(and(eq(modelVersions.projectId, projectId), eq(modelVersions.version, version)));
  return row;
}

export async function loadWeights(db: DbOrTx, projectId: string, version: number): Promise<Uint8Array | undefined> {
  const [row] = await db
    .select({ weights: modelVersions.weights })
    .from(modelVersions)
    .where(and(eq(modelVersions.projectId, projectId), eq(modelVersions.version, version)));
  return row?.weights;
}

/** Merges keys into one version's metrics (a re-score on today's gold set); the rest of the version is immutable. */
export async function mergeVersionMetrics(db: DbOrTx, projectId: string, version: number, patch: Record<string, unknown>): Promise<void> {
  await db
    .update(modelVersions)
    .set({ metrics: sql`${modelVersions.metrics} || ${JSON.stringify(patch)}::jsonb` })
    .where(and(eq(modelVersions.projectId, projectId), eq(modelVersions.version, version)));
}
