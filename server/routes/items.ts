import { NotFoundError, UnsupportedMediaTypeError, ValidationError } from '../../core/errors.ts';
import { findItem, findPrediction, itemLabels } from '../../db/repositories/items.ts';
import type { PipelineContext } from '../../pipelines/context.ts';
import { ingestItems } from '../../pipelines/ingest.ts';
import { dataView, openItemMedia } from '../../pipelines/media.ts';
import { readMultipart, readNdjson, removeFiles } from '../uploads.ts';
import { labelItem, transcribeItem } from '../../pipelines/labeling.ts';
import { transcriptionView } from '../../pipelines/speech/transcription.ts';
import { leaseQueuePage, releaseLease } from '../../pipelines/queue.ts';
import { pipeline } from 'node:stream/promises';
import { blindItemView } from '../../pipelines/quality/service.ts';
import { z } from 'zod';
import { route, type RouteDef } from '../route.ts';
import {
  emptyQuery,
  ingestBody,
  ingestBodyDoc,
  ingestQuery,
  ingestResponse,
  itemResponse,
  labelBody,
  labelResponse,
  mediaQuery,
  queueQuery,
  queueResponse,
} from '../schemas.ts';

export function itemRoutes(ctx: PipelineContext): RouteDef[] {
  return [
    route({
      method: 'post',
      path: '/api/projects/:id/items',
      summary:
        'Ingest items: JSON {items: [...]}, NDJSON one item a line (streamed; each line at most the body limit), or multipart/form-data (image files, .jsonl/.csv files of items, and an optional "items" part of per-file fields matched by file name; a file\'s externalId defaults to its name). All or nothing unless ?partial=true.',
      tag: 'items',
      access: ['engineer'],
      project: true,
      body: ingestBody,
      docBody: ingestBodyDoc,
      streamTypes: ['application/x-ndjson', 'multipart/form-data'],
      query: ingestQuery,
      responses: [
        { status: 202, description: 'Stored; pre-labelling is queued', schema: ingestResponse },
        { status: 413, description: 'A file, an NDJSON line or the whole upload is over its limit (refused before reading when the length is declared)' },
      ],
      handler: async ({ project, body, query, req, res }) => {
        const partial = query.partial === 'true' || query.partial === '1';
        if (req.is('multipart/form-data') || req.is('application/x-ndjson')) {
          const batch = req.is('multipart/form-data')
            ? await readMultipart(ctx, project!, req, res)
            : await readNdjson(req, res, ctx.config.bodyLimitBytes, ctx.config.uploadRequestLimitBytes);
          try {
            return { status: 202, body: await ingestItems(ctx, project!, batch.items, { partial, preRejected: batch.preRejected, pending: batch.pending }) };
          } finally {
            await removeFiles(batch.tempFiles);
          }
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
          data: dataView(project!.id, item.id, item.data),
          meta: item.meta ?? null,
          ...(pred && project!.modality === 'audio'
            ? { prediction: { ...transcriptionView(pred), uncertainty: pred.uncertainty } }
            : pred
              ? {
                  prediction: {
                    label: pred.label,
                    confidence: pred.confidence,
                    uncertainty: pred.uncertainty,
                    modelVersion: pred.modelVersion,
                    probs: Object.fromEntries(project!.labels.map((l, i) => [l, pred.probs[i] ?? 0])),
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
      path: '/api/projects/:id/items/:itemId/media',
      summary: "An image item's picture: the thumbnail (256 px), the preview (1024 px; both JPEG) or the original as uploaded",
      tag: 'items',
      access: ['engineer', 'annotator'],
      project: true,
      query: mediaQuery,
      responses: [
        { status: 200, description: 'The image bytes (Cache-Control private, immutable; ETag)', contentType: 'image/*' },
        { status: 304, description: 'Not modified (If-None-Match)' },
        { status: 404, description: 'No such item, or not an image item' },
      ],
      handler: async ({ project, params, query, req, res }) => {
        const m = await openItemMedia(ctx, project!.id, params.itemId, query.size);
        // An item's picture never changes (a new picture is a new item), so browsers may keep it: private,
        // since it takes a key to read.
        res.setHeader('Cache-Control', 'private, max-age=31536000, immutable');
        res.setHeader('ETag', m.etag);
        if (req.headers['if-none-match'] === m.etag) {
          m.body.destroy();
          res.status(304).end();
          return undefined;
        }
        res.setHeader('Content-Type', m.contentType);
        res.setHeader('Content-Length', String(m.bytes));
        res.setHeader('X-Content-Type-Options', 'nosniff');
        try {
          await pipeline(m.body, res);
        } catch (e) {
          // The reader went away mid-picture (a review page closed or moved on): nothing failed here.
          if (!(e instanceof Error && 'code' in e && e.code === 'ERR_STREAM_PREMATURE_CLOSE' && (req.destroyed || res.destroyed))) throw e;
          ctx.logger.debug('media reader went away', { path: req.path });
        }
        return undefined;
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
        body: await leaseQueuePage(ctx, project!, principal!.keyId, { limit: query.limit, strategy: query.strategy, kind: query.kind }),
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
      handler: async ({ project, principal, params, body }) => {
        const key = { id: principal!.keyId, role: principal!.role };
        if (project!.modality === 'audio') {
          if (!('transcript' in body)) throw new ValidationError('A transcription project takes {"transcript": "..."}.', undefined, 'invalid_request');
          return { body: await transcribeItem(ctx, project!, key, params.itemId, body.transcript) };
        }
        if (!('label' in body)) throw new ValidationError('A classification project takes {"label": "..."}.', undefined, 'invalid_request');
        const r = await labelItem(ctx, project!, key, params.itemId, body.label);
        return { body: { itemId: r.itemId, label: r.label, agreedWithModel: r.agreedWithModel } };
      },
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
