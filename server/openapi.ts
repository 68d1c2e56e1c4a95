import { z } from 'zod';
import type { RouteDef } from './route.ts';
import { errorResponse } from './schemas.ts';

function jsonSchema(s: z.ZodType): unknown {
  return z.toJSONSchema(s, { target: 'openapi-3.0', unrepresentable: 'any', io: 'input' });
}

function singular(word: string): string {
  if (word.endsWith('ies')) return `${word.slice(0, -3)}y`;
  if (word.endsWith('s') && !word.endsWith('ss')) return word.slice(0, -1);
  return word;
}

function pascal(word: string): string {
  return word
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((w) => w[0].toUpperCase() + w.slice(1))
    .join('');
}

/**
 * A route's operationId: its own, or the method followed by the path's fixed segments (a segment followed by a
 * parameter names one thing, so it is made singular; `/api` is dropped): `GET /api/projects/:id/items/:itemId`
 * is `getProjectItem`, `POST /api/projects/:id/items` is `postProjectItems`, `GET /healthz` is `getHealthz`.
 */
export function operationIdOf(r: Pick<RouteDef, 'method' | 'path' | 'operationId'>): string {
  if (r.operationId) return r.operationId;
  const segs = r.path.split('/').filter(Boolean);
  const parts: string[] = [];
  segs.forEach((seg, i) => {
    if (seg.startsWith(':') || (i === 0 && seg === 'api')) return;
    parts.push(pascal(segs[i + 1]?.startsWith(':') ? singular(seg) : seg));
  });
  return r.method + parts.join('');
}

/** A raw (non-JSON) body type's schema: files as binary, form parts by name, text formats as a string. */
function rawSchema(contentType: string): Record<string, unknown> {
  if (contentType.startsWith('multipart/')) return { type: 'object', additionalProperties: { type: 'string', format: 'binary' } };
  if (/^(image|audio|video)\/|octet-stream/.test(contentType)) return { type: 'string', format: 'binary' };
  return { type: 'string' };
}

/** The error answers every route may give, by what it declares. */
function errorAnswers(r: RouteDef): [number, string][] {
  const errs: [number, string][] = [[400, 'Invalid input; nothing was changed.']];
  if (r.basicAuth) errs.push([401, 'Missing or invalid credentials.']);
  if (r.access !== 'public')
    errs.push(
      [401, 'Missing or invalid API key.'],
      [403, 'The key lacks the role or project.'],
      [429, 'Too many failed key attempts from this address; see Retry-After.'],
    );
  if (r.project || r.path.includes(':')) errs.push([404, 'Not found.']);
  if (r.body) errs.push([413, 'Body over the size limit.'], [415, 'Wrong content type.']);
  errs.push([503, 'The database is unavailable; see Retry-After.']);
  return errs;
}

/**
 * Builds the OpenAPI 3 document from the route table: the same zod schemas that validate requests, so a route
 * added to the table is documented without further work. Throws on two routes with one operationId.
 */
export function buildOpenApi(routes: RouteDef[], info: { version: string }): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  const ids = new Map<string, string>();
  for (const r of routes) {
    const operationId = operationIdOf(r);
    const where = `${r.method.toUpperCase()} ${r.path}`;
    if (!/^[a-z][A-Za-z0-9]*$/.test(operationId)) throw new Error(`operationId "${operationId}" of ${where} is not camelCase.`);
    const clash = ids.get(operationId);
    if (clash) throw new Error(`${where} and ${clash} share the operationId "${operationId}"; set operationId on one of them.`);
    ids.set(operationId, where);

    const oaPath = r.path.replace(/:(\w+)/g, '{$1}');
    const params = [...r.path.matchAll(/:(\w+)/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
    if (r.query) {
      const qs = jsonSchema(r.query) as { properties?: Record<string, { description?: string }>; required?: string[] };
      for (const [name, schema] of Object.entries(qs.properties ?? {}))
        params.push({
          name,
          in: 'query',
          required: (qs.required ?? []).includes(name),
          schema: schema as { type: string },
          ...(schema.description ? { description: schema.description } : {}),
        });
    }
    // One status may answer in several content types (the export: JSON lines or CSV).
    const responses: Record<string, { description: string; content?: Record<string, unknown> }> = {};
    for (const res of r.responses) {
      const prev = responses[String(res.status)];
      const content =
        res.schema || res.contentType
          ? { [res.contentType ?? 'application/json']: { schema: res.schema ? jsonSchema(res.schema) : rawSchema(res.contentType ?? 'text/plain') } }
          : undefined;
      responses[String(res.status)] = {
        description: prev ? `${prev.description}, or ${res.description}` : res.description,
        ...(prev?.content || content ? { content: { ...prev?.content, ...content } } : {}),
      };
    }
    for (const [code, description] of errorAnswers(r))
      responses[code] ??= { description, content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
    const roles = r.access === 'public' ? 'none' : r.access === 'project-member' ? 'any role of the project' : ['admin', ...r.access].join(', ');
    const body = r.docBody ?? r.body;
    paths[oaPath] ??= {};
    paths[oaPath][r.method] = {
      operationId,
      summary: r.summary,
      description: `Roles: ${roles}.`,
      tags: [r.tag],
      parameters: params,
      ...(r.access === 'public' ? { security: r.basicAuth ? [{ basic: [] }] : [] } : {}),
      ...(body
        ? {
            requestBody: {
              required: true,
              content: Object.fromEntries([
                ['application/json', { schema: jsonSchema(body) }],
                ...(r.rawTypes ?? []).map((t) => [t, { schema: rawSchema(t) }]),
                ...(r.streamTypes ?? []).map((t) => [
                  t,
                  t === 'multipart/form-data'
                    ? {
                        schema: {
                          type: 'object',
                          properties: {
                            file: {
                              type: 'array',
                              items: { type: 'string', format: 'binary' },
                              description: 'Image files (JPEG, PNG, WebP, GIF, TIFF), or .jsonl/.csv files of items',
                            },
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
    info: { title: 'Furrow', version: info.version, description: 'Active-learning labelling service.' },
    // Relative to where this document is served, so it is right behind any host name or proxy prefix.
    servers: [{ url: '/', description: 'The server that serves this document' }],
    tags: [...new Set(routes.map((r) => r.tag))].map((name) => ({ name })),
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'An API key: `Authorization: Bearer <key>`.' },
        ...(routes.some((r) => r.basicAuth) ? { basic: { type: 'http', scheme: 'basic', description: 'HTTP Basic; the password is an API key.' } } : {}),
      },
      schemas: { Error: jsonSchema(errorResponse) },
    },
    security: [{ bearer: [] }],
    paths,
  };
}
