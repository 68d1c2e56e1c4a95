import { NotFoundError, UnsupportedMediaTypeError } from '../../core/errors.ts';
import { findItem, findPrediction, itemLabels } from '../../db/repositories/items.ts';
import type { PipelineContext } from '../../pipelines/context.ts';
import { ingestItems, parseNdjson } from '../../pipelines/ingest.ts';
import { labelItem } from '../../pipelines/labeling.ts';
import { leaseQueue, releaseLease } from '../../pipelines/queue.ts';
import { blindItemView } from '../../pipelines/quality/service.ts';
import { z } from 'zod';
import { route, type RouteDef } from '../route.ts';
import { emptyQuery, ingestBody, ingestQuery, ingestResponse, itemResponse, labelBody, labelResponse, queueQuery, queueResponse } from '../schemas.ts';

export function itemRoutes(ctx: PipelineContext): RouteDef[] {
  return [
    route({
      method: 'post',
      path: '/api/projects/:id/items',
      summary: 'Ingest items (JSON {items: [...]}, or NDJSON one item a line). All or nothing unless ?partial=true.',
      tag: 'items',
      access: ['engineer'],
      project: true,
      body: ingestBody,
      rawTypes: ['application/x-ndjson'],
      query: ingestQuery,
      responses: [{ status: 202, description: 'Stored; pre-labelling is queued', schema: ingestResponse }],
      handler: async ({ project, body, query }) => {
        const partial = query.partial === 'true' || query.partial === '1';
        if (typeof body === 'string') {
          const { values, rejected } = parseNdjson(body);
          return { status: 202, body: await ingestItems(ctx, project!, values, { partial, preRejected: rejected }) };
        }
        if (body === null || typeof body !== 'object') throw new UnsupportedMediaTypeError('Send JSON or NDJSON.');
        return { status: 202, body: await ingestItems(ctx, project!, (body as { items: unknown[] }).items, { partial }) };
      },
    }),
    route({
      method: 'get',
      path: '/api/projects/:id/items/:itemId',
      summary: 'One item with its prediction and its whole label history',
      tag: 'items',
      access: ['engineer', 'annotator'],
      project: true,
      query: emptyQuery,
      responses: [{ status: 200, description: 'The item', schema: itemResponse }],
      handler: async ({ project, params, principal }) => {
        const item = await findItem(ctx.db, project!.id, params.itemId);
        if (!item) throw new NotFoundError('Item');
        const [history, pred] = await Promise.all([
          itemLabels(ctx.db, item.id),
          project!.activeVersion === null ? undefined : findPrediction(ctx.db, item.id, project!.activeVersion),
        ]);
        const view = {
          id: item.id,
          externalId: item.externalId,
          split: item.split,
          status: item.status,
          holdout: item.holdout,
          label: item.label,
          labelSource: item.labelSource,
          ...(item.disputedAt ? { dispute: { suggested: item.disputedLabel, score: item.disputeScore, since: item.disputedAt.toISOString() } } : {}),
          reviewed: item.reviewed,
          data: item.data,
          ...(pred
            ? {
                prediction: {
                  label: pred.label,
                  confidence: pred.confidence,
                  uncertainty: pred.uncertainty,
                  modelVersion: pred.modelVersion,
                  probs: Object.fromEntries(project!.labels.map((l, i) => [l, pred.probs[i]])),
                },
              }
            : {}),
          labels: history.map((l) => ({
            label: l.label,
            source: l.source,
            keyId: l.keyId,
            agreedWithModel: l.agreedWithModel,
            predictedLabel: l.predictedLabel,
            modelVersion: l.modelVersion,
            createdAt: l.createdAt.toISOString(),
          })),
        };
        // Overlap is blind and gold checks are hidden: an annotator sees only its own labels (docs/quality.md).
        return { body: principal!.role === 'annotator' ? await blindItemView(ctx.db, item.id, view, principal!.keyId) : view };
      },
    }),
    route({
      method: 'get',
      path: '/api/projects/:id/queue',
      summary: 'Lease the items most worth a human look (highest uncertainty; a random sample before any model)',
      tag: 'labelling',
      access: ['annotator'],
      project: true,
      query: queueQuery,
      responses: [{ status: 200, description: 'Leased items', schema: queueResponse }],
      handler: async ({ project, principal, query }) => ({
        body: { items: await leaseQueue(ctx, project!, principal!.keyId, { limit: query.limit, strategy: query.strategy, kind: query.kind }) },
      }),
    }),
    route({
      method: 'post',
      path: '/api/projects/:id/items/:itemId/label',
      summary: 'Store a human label (a correction is a new row; the same request repeated is stored once)',
      tag: 'labelling',
      access: ['annotator', 'engineer'],
      project: true,
      body: labelBody,
      responses: [{ status: 200, description: 'Stored', schema: labelResponse }],
      handler: async ({ project, principal, params, body }) => ({
        body: await labelItem(ctx, project!, { id: principal!.keyId, role: principal!.role }, params.itemId, body.label),
      }),
    }),
    route({
      method: 'post',
      path: '/api/projects/:id/items/:itemId/release',
      summary: 'Give a leased item back to the queue (skip) before its lease ends',
      tag: 'labelling',
      access: ['annotator'],
      project: true,
      body: z.object({}).strict(),
      responses: [{ status: 200, description: 'Released', schema: z.object({ itemId: z.string(), released: z.boolean() }) }],
      handler: async ({ project, principal, params }) => ({
        body: { itemId: params.itemId, released: await releaseLease(ctx, project!, principal!.keyId, params.itemId) },
      }),
    }),
  ];
}
