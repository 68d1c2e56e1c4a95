import { z } from 'zod';
import { ValidationError } from '../../core/errors.ts';
import { recentJobs, type JobRow } from '../../db/repositories/jobs.ts';
import type { PipelineContext } from '../../pipelines/context.ts';
import { activateVersion, metricsReport, modelsReport } from '../../pipelines/report.ts';
import { transcriptionMetrics } from '../../pipelines/speech/transcription.ts';
import { requestTraining } from '../../pipelines/train.ts';
import { requestAudit, type AuditModel } from '../../pipelines/audit.ts';
import { route, type RouteDef } from '../route.ts';
import { activateResponse, emptyQuery, jobAccepted, jobResponse, metricsResponse, modelsResponse, trainBody } from '../schemas.ts';

export function jobView(j: JobRow) {
  return {
    id: j.id,
    projectId: j.projectId,
    kind: j.kind,
    status: j.status,
    progress: j.progress,
    ...(j.error ? { error: j.error } : {}),
    ...(j.modelVersion !== null ? { modelVersion: j.modelVersion } : {}),
    ...(j.kind === 'train' && j.payload?.selection ? { selection: j.payload.selection as { method: string; chosen: string; reason: string } } : {}),
    ...(j.kind === 'audit' && j.payload?.model ? { model: j.payload.model as AuditModel } : {}),
    createdAt: j.createdAt.toISOString(),
    startedAt: j.startedAt?.toISOString() ?? null,
    finishedAt: j.finishedAt?.toISOString() ?? null,
  };
}

export function modelRoutes(ctx: PipelineContext): RouteDef[] {
  return [
    route({
      method: 'post',
      path: '/api/projects/:id/train',
      summary: 'Queue a training job (409 not_enough_labels with too few labels; an already queued job is returned)',
      tag: 'training',
      access: ['engineer'],
      project: true,
      body: trainBody,
      responses: [{ status: 202, description: 'Queued', schema: jobAccepted }],
      handler: async ({ project }) => {
        const job = await requestTraining(ctx, project!, 'manual');
        return { status: 202, body: { jobId: job.id } };
      },
    }),
    route({
      method: 'post',
      path: '/api/projects/:id/audit',
      summary: 'Queue a label audit: cross-validated confident learning flags likely label errors for a second review (queue?kind=disputed)',
      tag: 'training',
      access: ['engineer'],
      project: true,
      body: trainBody,
      responses: [{ status: 202, description: 'Queued', schema: jobAccepted }],
      handler: async ({ project }) => {
        const job = await requestAudit(ctx, project!, 'manual');
        return { status: 202, body: { jobId: job.id } };
      },
    }),
    route({
      method: 'get',
      path: '/api/projects/:id/jobs',
      summary: "The project's recent jobs, newest first",
      tag: 'training',
      access: ['engineer'],
      project: true,
      query: z.object({ limit: z.coerce.number().int().min(1).max(200).default(20) }).strict(),
      responses: [{ status: 200, description: 'Jobs', schema: z.object({ jobs: z.array(jobResponse) }) }],
      handler: async ({ project, query }) => ({ body: { jobs: (await recentJobs(ctx.db, project!.id, query.limit)).map(jobView) } }),
    }),
    route({
      method: 'get',
      path: '/api/projects/:id/models',
      summary: 'Model versions with their metrics, and which one is active',
      tag: 'models',
      access: ['engineer', 'client'],
      project: true,
      query: emptyQuery,
      responses: [{ status: 200, description: 'Versions', schema: modelsResponse }],
      handler: async ({ project }) => ({ body: await modelsReport(ctx, project!) }),
    }),
    route({
      method: 'post',
      path: '/api/projects/:id/models/:version/activate',
      summary: 'Serve this version (roll forward or back); the pool is re-scored with it',
      tag: 'models',
      access: ['engineer'],
      project: true,
      body: z.object({}).strict(),
      responses: [{ status: 200, description: 'Activated', schema: activateResponse }],
      handler: async ({ project, params }) => {
        const v = Number(params.version);
        if (!Number.isInteger(v) || v < 1) throw new ValidationError('The version must be a positive whole number.', undefined, 'invalid_version');
        return { body: await activateVersion(ctx, project!, v) };
      },
    }),
    route({
      method: 'get',
      path: '/api/projects/:id/metrics',
      summary: 'Accuracy of the active version on the gold set, label counts, history across versions',
      tag: 'metrics',
      access: ['engineer', 'client'],
      project: true,
      query: emptyQuery,
      responses: [{ status: 200, description: 'Metrics', schema: metricsResponse }],
      handler: async ({ project }) => ({
        body: project!.modality === 'audio' ? await transcriptionMetrics(ctx, project!) : await metricsReport(ctx, project!),
      }),
    }),
  ];
}

/** `GET /api/jobs/:jobId` is authorised against the job's project, so it is wired in app.ts. */
export const jobRouteDoc = {
  method: 'get' as const,
  path: '/api/jobs/:jobId',
  summary: 'A job: status, progress, error, the model version it produced',
  tag: 'training',
  responses: [{ status: 200, description: 'The job', schema: jobResponse }],
};
