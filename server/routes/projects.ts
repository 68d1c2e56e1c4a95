import { NotFoundError } from '../../core/errors.ts';
import { listKeys, revokeKey } from '../../db/repositories/keys.ts';
import { clearPredictionMarks, labelsByKey } from '../../db/repositories/items.ts';
import { findVersion } from '../../db/repositories/models.ts';
import { insertProject, listProjects, projectCounts, updateSettings, type ProjectRow } from '../../db/repositories/projects.ts';
import { createProjectKey } from '../../pipelines/access.ts';
import type { PipelineContext } from '../../pipelines/context.ts';
import { enqueuePrelabel } from '../../pipelines/prelabel.ts';
import { createTranscriptionProject } from '../../pipelines/speech/transcription.ts';
import { applySettingsPatch, projectSettingsSchema, resolveSettings } from '../../pipelines/settings.ts';
import { ValidationError } from '../../core/errors.ts';
import { route, type RouteDef } from '../route.ts';
import { createKeyBody, createProjectBody, emptyQuery, keyResponse, projectResponse, updateSettingsBody } from '../schemas.ts';
import { z } from 'zod';

export function projectView(p: ProjectRow) {
  return {
    id: p.id,
    name: p.name,
    modality: p.modality,
    task: p.modality === 'audio' ? ('transcription' as const) : ('classification' as const),
    labels: p.labels,
    settings: p.settings,
    activeVersion: p.activeVersion,
  };
}

export function projectRoutes(ctx: PipelineContext): RouteDef[] {
  return [
    route({
      method: 'post',
      path: '/api/projects',
      summary: 'Create a project',
      tag: 'projects',
      access: [],
      body: createProjectBody,
      responses: [{ status: 201, description: 'The project', schema: projectResponse }],
      handler: async ({ body }) => {
        const settings = projectSettingsSchema.parse(body.settings ?? {});
        if (body.modality === 'vector' && settings.vectorDim === undefined)
          throw new ValidationError('A vector project needs settings.vectorDim (the length of every vector).', undefined, 'missing_vector_dim');
        const p =
          body.modality === 'audio'
            ? await createTranscriptionProject(ctx, { name: body.name, settings })
            : await insertProject(ctx.db, { name: body.name, modality: body.modality, labels: body.labels ?? [], settings });
        return { status: 201, body: projectView(p) };
      },
    }),
    route({
      method: 'get',
      path: '/api/projects',
      summary: 'List projects (admin: all; other keys: their own)',
      tag: 'projects',
      access: ['engineer', 'annotator', 'client'],
      query: emptyQuery,
      responses: [{ status: 200, description: 'Projects', schema: z.object({ projects: z.array(projectResponse) }) }],
      handler: async ({ principal }) => {
        const rows = await listProjects(ctx.db, principal!.role === 'admin' ? undefined : [principal!.projectId ?? '']);
        return { body: { projects: rows.map(projectView) } };
      },
    }),
    route({
      method: 'get',
      path: '/api/projects/:id',
      summary: 'Get a project with its item counts',
      tag: 'projects',
      access: 'project-member',
      project: true,
      query: emptyQuery,
      responses: [{ status: 200, description: 'The project', schema: projectResponse }],
      handler: async ({ project }) => {
        const c = await projectCounts(ctx.db, project!.id);
        return {
          body: { ...projectView(project!), counts: { items: c.items, labeled: c.labeled, autoLabeled: c.autoLabeled, pending: c.pending, gold: c.gold } },
        };
      },
    }),
    route({
      method: 'get',
      path: '/api/projects/:id/me',
      summary: "The calling key's view of the project: its role, labels it gave today and in all, queue size, the active model and its gold accuracy",
      tag: 'projects',
      access: 'project-member',
      project: true,
      query: emptyQuery,
      responses: [{ status: 200, description: 'Session summary' }],
      handler: async ({ project, principal }) => {
        const startOfDay = new Date();
        startOfDay.setUTCHours(0, 0, 0, 0);
        const [c, mine, active] = await Promise.all([
          projectCounts(ctx.db, project!.id),
          labelsByKey(ctx.db, project!.id, principal!.keyId, startOfDay),
          project!.activeVersion === null ? undefined : findVersion(ctx.db, project!.id, project!.activeVersion),
        ]);
        return {
          body: {
            key: { id: principal!.keyId, role: principal!.role, name: principal!.name },
            project: projectView(project!),
            labeledToday: mine.today,
            labeledTotal: mine.total,
            queue: { pending: c.pending },
            model: active
              ? {
                  version: active.version,
                  // On the current gold set once re-scored (docs/data.md), else the training-time score.
                  accuracy: ((active.metrics.current ?? active.metrics.gold) as { accuracy?: number | null } | undefined)?.accuracy ?? null,
                  createdAt: active.createdAt.toISOString(),
                }
              : null,
          },
        };
      },
    }),
    route({
      method: 'patch',
      path: '/api/projects/:id/settings',
      summary: 'Change project settings (strategy, retrainEvery, goldFraction, ...)',
      tag: 'projects',
      access: ['engineer'],
      project: true,
      body: updateSettingsBody,
      responses: [{ status: 200, description: 'The project', schema: projectResponse }],
      handler: async ({ project, body, req }) => {
        const merged = applySettingsPatch(project!.settings, body.settings, (req.body as { settings: Record<string, unknown> }).settings, (k) => {
          throw new ValidationError(`settings.${k} cannot change after creation: stored items were prepared with it.`, undefined, 'immutable_setting');
        });
        const updated = await updateSettings(ctx.db, project!.id, merged);
        // Stored uncertainties were computed with the old strategy: re-score everything with the new one.
        if (resolveSettings(merged).strategy !== resolveSettings(project!.settings).strategy) await clearPredictionMarks(ctx.db, updated.id);
        // Auto-labelling and ranking depend on settings: re-score and re-decide with the active version.
        if (updated.activeVersion !== null) await enqueuePrelabel(ctx, updated.id);
        return { body: projectView(updated) };
      },
    }),
    route({
      method: 'post',
      path: '/api/projects/:id/keys',
      summary: 'Create an API key for the project (the secret is shown only in this answer)',
      tag: 'keys',
      access: [],
      project: true,
      body: createKeyBody,
      responses: [{ status: 201, description: 'The key', schema: keyResponse }],
      secretInAnswer: true,
      handler: async ({ project, body }) => ({ status: 201, body: await createProjectKey(ctx.db, project!.id, body.role, body.name) }),
    }),
    route({
      method: 'get',
      path: '/api/projects/:id/keys',
      summary: "List the project's keys (no secrets)",
      tag: 'keys',
      access: [],
      project: true,
      query: emptyQuery,
      responses: [{ status: 200, description: 'Keys' }],
      handler: async ({ project }) => ({
        body: {
          keys: (await listKeys(ctx.db, project!.id)).map((k) => ({
            id: k.id,
            role: k.role,
            name: k.name,
            prefix: k.prefix,
            createdAt: k.createdAt.toISOString(),
            revokedAt: k.revokedAt?.toISOString() ?? null,
          })),
        },
      }),
    }),
    route({
      method: 'delete',
      path: '/api/projects/:id/keys/:keyId',
      summary: 'Revoke a key',
      tag: 'keys',
      access: [],
      project: true,
      query: emptyQuery,
      responses: [{ status: 200, description: 'Revoked' }],
      handler: async ({ project, params }) => {
        const row = await revokeKey(ctx.db, project!.id, params.keyId);
        if (!row) throw new NotFoundError('Key');
        return { body: { id: row.id, revokedAt: row.revokedAt?.toISOString() } };
      },
    }),
  ];
}
