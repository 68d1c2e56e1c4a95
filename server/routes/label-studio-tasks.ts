import { z } from 'zod';
import type { PipelineContext } from '../../pipelines/context.ts';
import type { LabelStudioMedia } from '../../pipelines/label-studio/media.ts';
import { exportTasks, importTasks, labelConfigFor, minColumns, minRecords, nonNumericCsvLine } from '../../pipelines/label-studio/tasks.ts';
import { route, type RouteDef } from '../route.ts';

const importBody = z.union([
  z.array(z.unknown()).describe('A Label Studio JSON export: a list of tasks'),
  z.object({ tasks: z.array(z.unknown()), labelConfig: z.string().max(1_000_000).optional() }).strict(),
]);
const importQuery = z.object({ partial: z.enum(['true', 'false', '1', '0']).optional() }).strict();
const exportQuery = z.object({ format: z.enum(['json', 'json-min', 'csv']).default('json') }).strict();
const importResponse = z.object({
  tasks: z.number().int(),
  accepted: z.number().int(),
  duplicates: z.number().int(),
  labels: z.number().int(),
  rejected: z.array(z.object({ index: z.number().int(), error: z.string() })),
});

/** Label Studio's task JSON in and out of the native API (Bearer keys, Furrow's error shape). */
export function labelStudioTaskRoutes(ctx: PipelineContext, media: LabelStudioMedia): RouteDef[] {
  return [
    route({
      method: 'get',
      path: '/api/projects/:id/label-studio/config',
      summary: 'The Label Studio label_config that matches this project (paste it into a new Label Studio project)',
      tag: 'label-studio',
      access: ['engineer'],
      project: true,
      responses: [{ status: 200, description: 'The config', schema: z.object({ labelConfig: z.string() }) }],
      handler: async ({ project }) => ({ body: { labelConfig: labelConfigFor(project!) } }),
    }),
    route({
      method: 'post',
      path: '/api/projects/:id/label-studio/import',
      summary: 'Import a Label Studio JSON export: tasks become items, annotations labels (with their history), ground truth gold',
      tag: 'label-studio',
      access: ['engineer'],
      project: true,
      body: importBody,
      query: importQuery,
      responses: [{ status: 202, description: 'What was stored', schema: importResponse }],
      handler: async ({ project, body, query }) => {
        const tasks = Array.isArray(body) ? body : body.tasks;
        const labelConfig = Array.isArray(body) ? undefined : body.labelConfig;
        const partial = query.partial === 'true' || query.partial === '1';
        return { status: 202, body: await importTasks(ctx, media, project!, tasks, { partial, labelConfig }) };
      },
    }),
    route({
      method: 'get',
      path: '/api/projects/:id/label-studio/export',
      summary: 'Every item as a Label Studio task (JSON), one record per annotation (JSON-MIN), or its CSV',
      tag: 'label-studio',
      access: ['engineer'],
      project: true,
      query: exportQuery,
      responses: [
        { status: 200, description: 'Label Studio JSON or JSON-MIN', contentType: 'application/json' },
        { status: 200, description: 'CSV', contentType: 'text/csv' },
      ],
      handler: async ({ project, query, res }) => {
        const p = project!;
        const csv = query.format === 'csv';
        res.status(200);
        res.setHeader('Content-Type', csv ? 'text/csv; charset=utf-8' : 'application/json; charset=utf-8');
        res.setHeader(
          'Content-Disposition',
          `attachment; filename="furrow-${p.id}-label-studio${query.format === 'json' ? '' : `-${query.format}`}.${csv ? 'csv' : 'json'}"`,
        );
        const write = async (chunk: string) => {
          if (!res.write(chunk)) await new Promise((r) => res.once('drain', r));
        };
        const columns = minColumns(p);
        let first = true;
        if (csv) await write(nonNumericCsvLine(columns));
        else await write('[');
        for await (const task of exportTasks(ctx, p)) {
          if (query.format === 'json') {
            await write((first ? '\n' : ',\n') + JSON.stringify(task));
            first = false;
            continue;
          }
          for (const rec of minRecords(p, task)) {
            if (csv) await write(nonNumericCsvLine(columns.map((c) => rec[c])));
            else {
              await write((first ? '\n' : ',\n') + JSON.stringify(rec));
              first = false;
            }
          }
        }
        if (!csv) await write('\n]\n');
        res.end();
        return undefined;
      },
    }),
  ];
}
