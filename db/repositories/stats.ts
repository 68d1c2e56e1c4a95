import { and, count, eq, isNotNull, sql } from 'drizzle-orm';
import type { DbOrTx } from '../client.ts';
import { items, jobs, labels, modelVersions, projects } from '../schema.ts';

/** Upper bounds (seconds) of the training-time histogram's buckets. */
export const TRAINING_SECONDS_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600] as const;

/** What /metrics reports of the service's state, read from the database (the same from every process). */
export interface ServiceStats {
  /** Pool items waiting for a human label, per project. */
  queueDepth: { projectId: string; n: number }[];
  /** Label rows stored, per project and source. */
  labels: { projectId: string; source: string; n: number }[];
  /** Jobs in the table, by kind and status. */
  jobs: { kind: string; status: string; n: number }[];
  /** Succeeded training jobs: how many took at most each bucket's seconds, their count and total seconds. */
  training: { buckets: number[]; count: number; sum: number };
  /** Each project's active version and its gold metrics. */
  active: { projectId: string; version: number; accuracy: number | null; goldN: number | null }[];
}

/** Reads ServiceStats with one grouped query per family (each served by an index). */
export async function serviceStats(db: DbOrTx): Promise<ServiceStats> {
  const seconds = sql`extract(epoch from ${jobs.finishedAt} - ${jobs.startedAt})`;
  const bucketCols = Object.fromEntries(
    TRAINING_SECONDS_BUCKETS.map((b, i) => [`b${i}`, sql<number>`count(*) filter (where ${seconds} <= ${b})`.mapWith(Number)]),
  );
  const [queueDepth, labelRows, jobRows, [training], active] = await Promise.all([
    db
      .select({ projectId: items.projectId, n: count() })
      .from(items)
      .where(and(eq(items.status, 'pending'), eq(items.split, 'pool')))
      .groupBy(items.projectId),
    db.select({ projectId: labels.projectId, source: labels.source, n: count() }).from(labels).groupBy(labels.projectId, labels.source),
    db.select({ kind: jobs.kind, status: jobs.status, n: count() }).from(jobs).groupBy(jobs.kind, jobs.status),
    db
      .select({ count: count(), sum: sql<number>`coalesce(sum(${seconds}), 0)`.mapWith(Number), ...bucketCols })
      .from(jobs)
      .where(and(eq(jobs.kind, 'train'), eq(jobs.status, 'succeeded'), isNotNull(jobs.startedAt), isNotNull(jobs.finishedAt))),
    db
      .select({
        projectId: projects.id,
        version: modelVersions.version,
        accuracy: sql<number | null>`(${modelVersions.metrics}->'gold'->>'accuracy')::float8`.mapWith(Number),
        goldN: sql<number | null>`(${modelVersions.metrics}->'gold'->>'n')::float8`.mapWith(Number),
      })
      .from(projects)
      .innerJoin(modelVersions, and(eq(modelVersions.projectId, projects.id), eq(modelVersions.version, projects.activeVersion))),
  ]);
  const t = training as Record<string, number>;
  return {
    queueDepth,
    labels: labelRows,
    jobs: jobRows,
    training: { buckets: TRAINING_SECONDS_BUCKETS.map((_, i) => t[`b${i}`] ?? 0), count: t.count ?? 0, sum: t.sum ?? 0 },
    active,
  };
}
