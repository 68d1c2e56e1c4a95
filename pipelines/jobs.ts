import { describeError } from '../core/errors.ts';
import { claimJob, finishJob, heartbeat, recoverStaleJobs, type JobKind, type JobRow } from '../db/repositories/jobs.ts';
import type { PipelineContext } from './context.ts';
import { runAudit } from './audit.ts';
import { runPrelabel } from './prelabel.ts';
import { runConsolidation } from './quality/service.ts';
import { runTrain } from './train.ts';
import { runAdapt, runTranscribe } from './speech/transcription.ts';
import { findProject } from '../db/repositories/projects.ts';
import { emitWebhookEvent } from './webhooks.ts';

export interface JobRunnerOptions {
  /** Identifies this process in `jobs.locked_by`. */
  workerId: string;
  pollMs: number;
  /** A running job whose heartbeat is older than this is taken to be dead (crash or SIGKILL). */
  staleAfterMs?: number;
  heartbeatMs?: number;
  maxAttempts?: number;
}

export interface JobRunner {
  start(): void;
  /** Wakes the idle loops now (a job was just queued). */
  wake(): void;
  /** Stops claiming; waits for the loops to return (jobs in flight are left to be recovered or finished). */
  stop(): Promise<void>;
}

type Handler = (ctx: PipelineContext, job: JobRow, progress: (p: number) => Promise<void>) => Promise<{ modelVersion: number | null }>;

/** Transcription projects train and pre-label with the speech recogniser (pipelines/speech), the others with tfjs. */
const byModality =
  (classifier: Handler, audio: Handler): Handler =>
  async (ctx, job, progress) =>
    ((await findProject(ctx.db, job.projectId))?.modality === 'audio' ? audio : classifier)(ctx, job, progress);

const HANDLERS: Record<JobKind, Handler> = {
  train: byModality(runTrain, runAdapt),
  prelabel: byModality(runPrelabel, runTranscribe),
  audit: runAudit,
  consolidate: runConsolidation,
};

/**
 * Runs persisted jobs in this process: one loop per kind (so a long training never delays pre-labelling),
 * each claiming with FOR UPDATE SKIP LOCKED so more processes can share the table. The tfjs work itself runs
 * in the model runner's worker threads; these loops only move data and write results.
 */
export function createJobRunner(ctx: PipelineContext, opts: JobRunnerOptions): JobRunner {
  const staleAfterMs = opts.staleAfterMs ?? 30_000;
  const heartbeatMs = opts.heartbeatMs ?? 5_000;
  const maxAttempts = opts.maxAttempts ?? 3;
  let stopped = true;
  let wakers: (() => void)[] = [];
  const loops: Promise<void>[] = [];
  let lastRecovery = 0;

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        wakers = wakers.filter((w) => w !== done);
        resolve();
      }
      wakers.push(done);
    });

  async function execute(job: JobRow): Promise<void> {
    const log = { jobId: job.id, kind: job.kind, projectId: job.projectId };
    ctx.logger.info('job started', log);
    let lastProgress = 0;
    const beat = setInterval(() => void heartbeat(ctx.db, job.id).catch(() => {}), heartbeatMs);
    const progress = async (p: number) => {
      // Throttle writes: progress is for people watching, not an audit trail.
      if (p - lastProgress < 0.02 && p < 1) return;
      lastProgress = p;
      await heartbeat(ctx.db, job.id, Math.min(1, Math.max(0, p))).catch(() => {});
    };
    try {
      const r = await HANDLERS[job.kind](ctx, job, progress);
      await ctx.db.transaction(async (tx) => {
        await finishJob(tx, job.id, { status: 'succeeded', modelVersion: r.modelVersion });
        await emitWebhookEvent(tx, job.projectId, 'job.finished', { jobId: job.id, kind: job.kind, status: 'succeeded', modelVersion: r.modelVersion ?? null });
      });
      ctx.onWebhookQueued?.();
      ctx.logger.info('job succeeded', { ...log, modelVersion: r.modelVersion });
    } catch (e) {
      const message = describeError(e);
      ctx.logger.error('job failed', { ...log, error: message });
      await ctx.db
        .transaction(async (tx) => {
          await finishJob(tx, job.id, { status: 'failed', error: message });
          await emitWebhookEvent(tx, job.projectId, 'job.finished', { jobId: job.id, kind: job.kind, status: 'failed', error: message });
        })
        .catch((err) => ctx.logger.error('could not record job failure', { ...log, error: describeError(err) }));
      ctx.onWebhookQueued?.();
    } finally {
      clearInterval(beat);
    }
  }

  async function loop(kinds: JobKind[]): Promise<void> {
    while (!stopped) {
      try {
        if (Date.now() - lastRecovery > Math.min(staleAfterMs / 3, 10_000)) {
          lastRecovery = Date.now();
          const r = await recoverStaleJobs(ctx.db, new Date(Date.now() - staleAfterMs), maxAttempts);
          if (r.requeued || r.failed) ctx.logger.warn('recovered stale jobs', r);
        }
        const job = await claimJob(ctx.db, kinds, opts.workerId);
        if (job) {
          await execute(job);
          continue;
        }
      } catch (e) {
        ctx.logger.warn('job loop error (will retry)', { kinds, error: describeError(e) });
      }
      if (!stopped) await sleep(opts.pollMs);
    }
  }

  return {
    start() {
      if (!stopped) return;
      stopped = false;
      // Training and audits share the training worker; pre-labelling uses the inference worker; consolidation
      // (pure JS, ~1 s of CPU per 100,000 votes) gets its own loop so it never waits behind a training.
      loops.push(loop(['train', 'audit']), loop(['prelabel']), loop(['consolidate']));
    },
    wake() {
      for (const w of [...wakers]) w();
    },
    async stop() {
      stopped = true;
      for (const w of [...wakers]) w();
      await Promise.all(loops.splice(0));
    },
  };
}
