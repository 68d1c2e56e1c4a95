import type { PipelineContext } from '../../pipelines/context.ts';
import { CSV_COLUMNS, csvLine, exportRows } from '../../pipelines/export.ts';
import { predictItems } from '../../pipelines/predict.ts';
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
      handler: async ({ project, body }) => ({ body: await predictItems(ctx, project!, body.items) }),
    }),
    route({
      method: 'get',
      path: '/api/projects/:id/export',
      summary: 'Every item with its final label and where it came from (human, auto, imported), as JSONL or CSV',
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
        if (csv) res.write(csvLine(CSV_COLUMNS));
        for await (const row of exportRows(ctx, project!)) {
          const chunk = csv ? csvLine(CSV_COLUMNS.map((c) => row[c])) : JSON.stringify(row) + '\n';
          if (!res.write(chunk)) await new Promise((r) => res.once('drain', r));
        }
        res.end();
        return undefined;
      },
    }),
  ];
}
