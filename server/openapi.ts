import { z } from 'zod';
import type { RouteDef } from './route.ts';
import { errorResponse } from './schemas.ts';

function jsonSchema(s: z.ZodType): unknown {
  return z.toJSONSchema(s, { target: 'openapi-3.0', unrepresentable: 'any', io: 'input' });
}

/** Builds the OpenAPI 3 document from the route table: the same zod schemas that validate requests. */
export function buildOpenApi(routes: RouteDef[], info: { version: string }): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const oaPath = r.path.replace(/:(\w+)/g, '{$1}');
    const params = [...r.path.matchAll(/:(\w+)/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
    if (r.query) {
      const qs = jsonSchema(r.query) as { properties?: Record<string, unknown>; required?: string[] };
      for (const [name, schema] of Object.entries(qs.properties ?? {}))
        params.push({ name, in: 'query', required: (qs.required ?? []).includes(name), schema: schema as { type: string } });
    }
    const responses: Record<string, unknown> = {};
    for (const res of r.responses)
      responses[String(res.status)] = {
        description: res.description,
        ...(res.schema ? { content: { [res.contentType ?? 'application/json']: { schema: jsonSchema(res.schema) } } } : {}),
      };
    const errs: [number, string][] = [[400, 'Invalid input; nothing was changed.']];
    if (r.access !== 'public') errs.push([401, 'Missing or invalid API key.'], [403, 'The key lacks the role or project.']);
    if (r.project || r.path.includes(':')) errs.push([404, 'Not found.']);
    if (r.body) errs.push([413, 'Body over the size limit.'], [415, 'Wrong content type.']);
    for (const [code, description] of errs)
      if (!responses[code]) responses[code] = { description, content: { 'application/json': { schema: jsonSchema(errorResponse) } } };
    const roles = r.access === 'public' ? 'none' : r.access === 'project-member' ? 'any role of the project' : ['admin', ...r.access].join(', ');
    paths[oaPath] ??= {};
    paths[oaPath][r.method] = {
      summary: r.summary,
      description: `Roles: ${roles}.`,
      tags: [r.tag],
      parameters: params,
      ...(r.access === 'public' ? { security: [] } : {}),
      ...(r.body
        ? {
            requestBody: {
              required: true,
              content: Object.fromEntries([
                ['application/json', { schema: jsonSchema(r.body) }],
                ...(r.rawTypes ?? []).map((t) => [t, { schema: { type: 'string' } }]),
                ...(r.streamTypes ?? []).map((t) => [
                  t,
                  t === 'multipart/form-data'
                    ? {
                        schema: {
                          type: 'object',
                          properties: {
                            file: { type: 'array', items: { type: 'string', format: 'binary' }, description: 'Image files (JPEG, PNG, WebP, GIF, TIFF), or .jsonl/.csv files of items' },
                            items: { type: 'string', description: 'JSON: [{"file": "<name>", ...fields}] or {"<name>": {...fields}}, fields as in an Item' },
                          },
                        },
                      }
                    : { schema: { type: 'string' } },
                ]),
              ]),
            },
          }
        : {}),
      responses,
    };
  }
  return {
    openapi: '3.0.3',
    info: { title: 'Furrow', version: info.version, description: 'Active-learning labelling service. See shared/API.md.' },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    security: [{ bearer: [] }],
    paths,
  };
}
