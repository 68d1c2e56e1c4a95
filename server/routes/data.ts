import { z } from 'zod';
import type { PipelineContext } from '../../pipelines/context.ts';
import { changeLabels, deleteItem, deleteProject, listItems, readAuditLog, retrainNeeded } from '../../pipelines/data.ts';
import { route, type RouteDef } from '../route.ts';
import { auditLogQuery, auditLogResponse, emptyQuery, labelChangeBody, listItemsQuery, listItemsResponse, projectResponse } from '../schemas.ts';
import { projectView } from './projects.ts';

export function dataRoutes(ctx: PipelineContext): RouteDef[] {
  return [
    route({
      method: 'get',
      path: '/api/projects/:id/items',
      summary: 'Browse items with filters, a page at a time (keyset cursor, insertion order)',
      tag: 'items',
      access: ['engineer'],
      project: true,
      query: listItemsQuery,
      responses: [{ status: 200, description: 'A page of items; nextCursor is null on the last page', schema: listItemsResponse }],
      handler: async ({ project, query }) => ({ body: await listItems(ctx, project!, query) }),
    }),
    route({
      method: 'delete',
      path: '/api/projects/:id',
      summary: 'Delete a project with its items, labels, predictions, models, jobs, keys and media',
      tag: 'projects',
      access: [],
      project: true,
      query: emptyQuery,
      responses: [{ status: 204, description: 'Deleted' }],
      handler: async ({ project, principal }) => {
        await deleteProject(ctx, project!, principal!.keyId);
        return { status: 204, body: undefined };
      },
    }),
    route({
      method: 'delete',
      path: '/api/projects/:id/items/:itemId',
      summary: 'Delete an item with its labels, predictions and media',
      tag: 'items',
      access: ['engineer'],
      project: true,
      query: emptyQuery,
      responses: [{ status: 204, description: 'Deleted' }],
      handler: async ({ project, principal, params }) => {
        await deleteItem(ctx, project!, principal!.keyId, params.itemId);
        return { status: 204, body: undefined };
      },
    }),
    route({
      method: 'post',
      path: '/api/projects/:id/labels',
      summary: 'Add classes and rename classes (renames apply to every stored label and prediction)',
      tag: 'projects',
      access: ['engineer'],
      project: true,
      body: labelChangeBody,
      responses: [
        {
          status: 200,
          description: 'The project; retrainNeeded is true while the active model predates an added class',
          schema: projectResponse.extend({ retrainNeeded: z.boolean() }),
        },
      ],
      handler: async ({ project, principal, body }) => {
        const updated = await changeLabels(ctx, project!, principal!.keyId, body);
        return { body: { ...projectView(updated), retrainNeeded: await retrainNeeded(ctx, updated) } };
      },
    }),
    route({
      method: 'get',
      path: '/api/projects/:id/audit-log',
      summary: 'Deletes and class changes: who (key id), what, when, newest first',
      tag: 'projects',
      access: ['engineer'],
      project: true,
      query: auditLogQuery,
      responses: [{ status: 200, description: 'Audit entries', schema: auditLogResponse }],
      handler: async ({ project, query }) => ({ body: await readAuditLog(ctx, project!, query) }),
    }),
  ];
}
