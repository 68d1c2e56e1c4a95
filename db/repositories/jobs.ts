import { randomUUID } from 'node:crypto';
import { and, asc, eq, inArray, lt, sql } from 'drizzle-orm';
import type { DbOrTx } from '../client.ts';
import { retryOnConflict } from '../retry.ts';
import { jobs } from '../schema.ts';

export type JobRow = typeof jobs.$inferSelect;
export type JobKind = JobRow['kind'];

export async function insertJob(db: DbOrTx, j: { projectId: string; kind: JobKind; payload?: Record<string, unknown> }): Promise<JobRow> {
  const [row] = await db
    .insert(jobs)
    .values({ id: randomUUID(), projectId: j.projectId, kind: j.kind, status: 'queued', payload: j.payload ?? {} })
    .returning();
  return row;
}

export async function findJob(db: DbOrTx, id: string): Promise<JobRow | undefined> {
  const [row] = await db.select().from(jobs).where(eq(jobs.id, id));
  return row;
}

/** Queued (not yet running) jobs of a kind for a project, oldest first. */
export async function queuedJobs(db: DbOrTx, projectId: string, kind: JobKind): Promise<JobRow[]> {
  return db
    .select()
    .from(jobs)
    .where(and(eq(jobs.projectId, projectId), eq(jobs.kind, kind), eq(jobs.status, 'queued')))
    .orderBy(asc(jobs.createdAt));
}

export async function activeJobs(db: DbOrTx, projectId: string, kind: JobKind): Promise<JobRow[]> {
  return db
    .select()
    .from(jobs)
    .where(and(eq(jobs.projectId, projectId), eq(jobs.kind, kind), inArray(jobs.status, ['queued', 'running'])))
    .orderBy(asc(jobs.createdAt));
}

export async function recentJobs(db: DbOrTx, projectId: string, limit: number): Promise<JobRow[]> {
  return db.select().from(jobs).where(eq(jobs.projectId, projectId)).orderBy(sql`${jobs.createdAt} desc`).limit(limit);
}

/**
 * Claims the oldest queued job of the given kinds with `FOR UPDATE SKIP LOCKED`, so several worker
 * processes can share the table without two of them taking the same job.
 */
export async function claimJob(db: DbOrTx, kinds: JobKind[], workerId: string): Promise<JobRow | undefined> {
  return retryOnConflict(() =>
    db.transaction(async (tx) => {
      const [row] = await tx
        .select()
        .from(jobs)
        .where(and(eq(jobs.status, 'queued'), inArray(jobs.kind, kinds)))
        .orderBy(asc(jobs.createdAt))
        .limit(1)
        .for('update', { skipLocked: true });
      if (!row) return undefined;
      const now = new Date();
      const [claimed] = await tx
        .update(jobs)
        .set({ status: 'running', lockedBy: workerId, heartbeatAt: now, startedAt: now, attempts: row.attempts + 1, progress: 0 })
        .where(eq(jobs.id, row.id))
        .returning();
      return claimed;
    }),
  );
}

export async function heartbeat(db: DbOrTx, id: string, progress?: number): Promise<void> {
  await db
    .update(jobs)
    .set(progress === undefined ? { heartbeatAt: new Date() } : { heartbeatAt: new Date(), progress })
    .where(and(eq(jobs.id, id), eq(jobs.status, 'running')));
}

/** Adds keys to a job's payload (e.g. what a training chose and why), keeping the others. */
export async function mergeJobPayload(db: DbOrTx, id: string, patch: Record<string, unknown>): Promise<void> {
  await db
    .update(jobs)
    .set({ payload: sql`${jobs.payload} || ${JSON.stringify(patch)}::jsonb` })
    .where(eq(jobs.id, id));
}

export async function finishJob(db: DbOrTx, id: string, r: { status: 'succeeded' | 'failed'; error?: string; modelVersion?: number | null }): Promise<void> {
  await db
    .update(jobs)
    .set({
      status: r.status,
      error: r.error ?? null,
      modelVersion: r.modelVersion ?? null,
      progress: r.status === 'succeeded' ? 1 : sql`${jobs.progress}`,
      finishedAt: new Date(),
    })
    .where(eq(jobs.id, id));
}

/**
 * Running jobs whose worker stopped sending heartbeats (a crash or a kill) go back to the queue, or fail
 * after `maxAttempts`. Returns how many were requeued and failed.
 */
export async function recoverStaleJobs(db: DbOrTx, staleBefore: Date, maxAttempts: number): Promise<{ requeued: number; failed: number }> {
  const stale = await db
    .select()
    .from(jobs)
    .where(and(eq(jobs.status, 'running'), lt(jobs.heartbeatAt, staleBefore)));
  let requeued = 0;
  let failed = 0;
  for (const j of stale) {
    if (j.attempts >= maxAttempts) {
      await db
        .update(jobs)
        .set({ status: 'failed', error: 'The worker running this job stopped (crash or kill) too many times.', finishedAt: new Date() })
        .where(eq(jobs.id, j.id));
      failed++;
    } else {
      await db.update(jobs).set({ status: 'queued', lockedBy: null, progress: 0 }).where(eq(jobs.id, j.id));
      requeued++;
    }
  }
  return { requeued, failed };
}

/** Marks queued jobs as superseded by a newer request (they end `failed` with a reason). */
export async function supersedeJobs(db: DbOrTx, ids: string[], byJobId: string): Promise<void> {
  if (!ids.length) return;
  await db
    .update(jobs)
    .set({ status: 'failed', error: `superseded by job ${byJobId}`, finishedAt: new Date() })
    .where(and(inArray(jobs.id, ids), eq(jobs.status, 'queued')));
}
