import { z } from 'zod';
import type { PipelineContext } from '../../pipelines/context.ts';
import { agreementReport, annotatorsReport, clearAnnotatorPause } from '../../pipelines/quality/service.ts';
import { resolveSettings } from '../../pipelines/settings.ts';
import { route, type RouteDef } from '../route.ts';
import { emptyQuery } from '../schemas.ts';

const interval = z.tuple([z.number(), z.number()]);
const annotatorsResponse = z.object({
  annotators: z.array(
    z.object({
      keyId: z.string(),
      name: z.string().optional(),
      labels: z.number().int(),
      goldChecks: z.number().int(),
      goldAccuracy: z.number().nullable(),
      interval,
      estimatedAccuracy: z.number().nullable(),
      estimateNote: z.enum(['no_overlap', 'not_consolidated_yet']).optional(),
      recall: z.record(z.string(), z.number()).nullable(),
      medianSeconds: z.number().nullable(),
      status: z.enum(['onboarding', 'ok', 'watch', 'paused']),
      pausedAtCheck: z.number().int().nullable(),
      clearedAt: z.string().nullable(),
    }),
  ),
  team: z.object({ goldChecks: z.number().int(), goldAccuracy: z.number().nullable(), interval }),
  consolidation: z
    .object({
      at: z.string(),
      votes: z.number().int(),
      flaggedGold: z
        .array(
          z.object({ itemId: z.string(), goldLabel: z.string(), suggestedLabel: z.string(), strongAnswers: z.number().int(), contradicting: z.number().int() }),
        )
        .optional(),
    })
    .nullable(),
});
const agreementResponse = z.object({
  alpha: z.number().nullable(),
  pairwise: z.number().nullable(),
  matrix: z.object({ annotators: z.array(z.string()), agreement: z.array(z.array(z.number().nullable())), shared: z.array(z.array(z.number().int())) }),
  overlappingItems: z.number().int(),
  computedAt: z.string().nullable(),
  note: z.enum(['not_consolidated_yet', 'no_overlap']).optional(),
});

const clearBody = z.object({}).strict();
const clearResponse = z.object({
  keyId: z.string(),
  status: z.enum(['ok', 'watch']),
  clearedAt: z.string(),
  previous: z.object({ pausedAtCheck: z.number().int().nullable(), goldChecks: z.number().int(), goldAccuracy: z.number().nullable() }),
});

/** Workforce quality (docs/quality.md): annotator scores and inter-annotator agreement. */
export function qualityRoutes(ctx: PipelineContext): RouteDef[] {
  return [
    route({
      method: 'get',
      path: '/api/projects/:id/annotators',
      summary: 'Per annotator key: labels, gold checks with accuracy and 95% interval, EM-estimated accuracy and recall, median seconds per item, status',
      tag: 'quality',
      access: ['engineer', 'client'],
      project: true,
      query: emptyQuery,
      responses: [{ status: 200, description: 'Annotator scores', schema: annotatorsResponse }],
      handler: async ({ project, principal }) => {
        const isClient = principal!.role === 'client';
        const withNames = !isClient || resolveSettings(project!.settings).quality.showAnnotatorNames;
        const report = await annotatorsReport(ctx, project!, { withNames });
        // Clients see scores, not which gold items look wrong (that is the engineers' review work).
        if (isClient && report.consolidation) report.consolidation = { at: report.consolidation.at, votes: report.consolidation.votes, flaggedGold: [] };
        return { body: report };
      },
    }),
    route({
      method: 'post',
      path: '/api/projects/:id/annotators/:keyId/clear',
      summary:
        'Clear a paused annotator: its status is judged again only on gold answers given after the clearing (recorded in the audit log); 409 not_paused otherwise',
      tag: 'quality',
      access: ['engineer'],
      project: true,
      body: clearBody,
      query: emptyQuery,
      responses: [{ status: 200, description: 'Cleared', schema: clearResponse }],
      handler: async ({ project, principal, params }) => ({ body: await clearAnnotatorPause(ctx, project!, { keyId: principal!.keyId }, params.keyId) }),
    }),
    route({
      method: 'get',
      path: '/api/projects/:id/agreement',
      summary:
        "Inter-annotator agreement from the last consolidation: Krippendorff's alpha (nominal), raw pairwise agreement, the annotator-by-annotator matrix",
      tag: 'quality',
      access: ['engineer', 'client'],
      project: true,
      query: emptyQuery,
      responses: [{ status: 200, description: 'Agreement', schema: agreementResponse }],
      handler: async ({ project }) => ({ body: await agreementReport(ctx, project!) }),
    }),
  ];
}
