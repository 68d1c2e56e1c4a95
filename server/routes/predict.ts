import type { PipelineContext } from '../../pipelines/context.ts';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { exportChunks } from '../../pipelines/export.ts';
import { predictItems } from '../../pipelines/predict.ts';
import { predictTranscriptions } from '../../pipelines/speech/transcription.ts';
import { route, type RouteDef } from '../route.ts';
import { exportQuery, predictBody, predictBodyDoc, predictResponse } from '../schemas.ts';

export function predictRoutes(ctx: PipelineContext): RouteDef[] {
  return [
    route({
      method: 'post',
      path: '/api/projects/:id/predict',
      summary: 'Predict labels for new items with the active model (nothing is stored)',
      tag: 'predictions',
      access: ['client', 'engineer'],
      project: true,
      body: predictBody,
      docBody: predictBodyDoc,
      responses: [{ status: 200, description: 'Predictions', schema: predictResponse }],
      handler: async ({ project, body }) => ({
        body: project!.modality === 'audio' ? await predictTranscriptions(ctx, project!, body.items) : await predictItems(ctx, project!, body.items),
      }),
    }),
    route({
      method: 'get',
      path: '/api/projects/:id/export',
      summary:
        'Every item with its data, final label, label history, consolidated label {label, posterior, n, method}, held-out flag and metadata, streamed as JSONL or CSV',
      tag: 'items',
      access: ['engineer'],
      project: true,
      query: exportQuery,
      responses: [
        { status: 200, description: 'JSON lines', contentType: 'application/x-ndjson' },
        { status: 200, description: 'CSV', contentType: 'text/csv' },
      ],
      handler: async ({ project, query, res }) => {
        const csv = query.format === 'csv';
        res.status(200);
        res.setHeader('Content-Type', csv ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8');
        res.setHeader('Content-Disposition', `attachment; filename="furrow-${project!.id}.${csv ? 'csv' : 'jsonl'}"`);
        // pipeline() waits for 'drain' (backpressure: a slow client pauses the database reads) and stops reading
        // when the client goes away.
        await pipeline(Readable.from(exportChunks(ctx, project!, query.format, { includeMedia: query.include === 'media' })), res).catch((e) => {
          ctx.logger.warn('export stopped', { projectId: project!.id, error: e instanceof Error ? e.message : String(e) });
        });
        return undefined;
      },
    }),
  ];
}
