import { compileErrors, validate } from '@readme/openapi-parser';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { loadConfig } from '../core/config.ts';
import { silentLogger } from '../core/logger.ts';
import type { Database } from '../db/client.ts';
import { MAX_ITEMS_PER_REQUEST } from '../pipelines/ingest.ts';
import { MAX_PREDICT_ITEMS } from '../pipelines/predict.ts';
import type { PipelineContext } from '../pipelines/context.ts';
import { createApp } from './app.ts';
import { createMetrics } from './metrics.ts';
import { buildOpenApi, operationIdOf } from './openapi.ts';
import { route } from './route.ts';

/**
 * The app is built without a database: serving the document touches none, and the routes express registered are
 * read from the app itself, so a route added anywhere (the table or a hand-written app.get) is checked.
 */
function appWithoutDatabase() {
  const config = loadConfig({ FURROW_DATA_DIR: 'memory://', FURROW_DEMO: '0' });
  const unused = new Proxy({}, { get: () => () => Promise.reject(new Error('no database in this test')) });
  const ctx = { db: unused, config, logger: silentLogger, runner: unused } as unknown as PipelineContext;
  const database = { db: unused, driver: 'pglite', ping: async () => {}, close: async () => {} } as unknown as Database;
  const metrics = createMetrics({ db: unused as Database['db'], logger: silentLogger, processMetrics: false });
  return createApp({ ctx, database, metrics, logger: silentLogger, bodyLimitBytes: 1 << 20, version: '0.0.0-test' });
}

/** Every method + path express will route (the UI's static pages aside), in OpenAPI's path syntax. */
function registeredOperations(app: ReturnType<typeof createApp>): string[] {
  const stack = (app as unknown as { router: { stack: { route?: { path: unknown; methods: Record<string, boolean> } }[] } }).router.stack;
  return stack.flatMap((layer) =>
    layer.route && typeof layer.route.path === 'string'
      ? Object.keys(layer.route.methods).map((m) => `${m.toUpperCase()} ${(layer.route!.path as string).replace(/:(\w+)/g, '{$1}')}`)
      : [],
  );
}

type Doc = { paths: Record<string, Record<string, any>>; servers?: unknown[]; components: any; [k: string]: unknown };

describe('the served OpenAPI document', () => {
  const app = appWithoutDatabase();
  const served = request(app)
    .get('/api/openapi.json')
    .then((r) => {
      expect(r.status).toBe(200);
      return r.body as Doc;
    });

  it('is a valid OpenAPI document (@readme/openapi-parser)', async () => {
    const result = await validate(structuredClone(await served) as never);
    expect(result.valid ? '' : compileErrors(result)).toBe('');
    expect(result.valid).toBe(true);
  });

  it('documents every route express serves, each with a unique camelCase operationId', async () => {
    const doc = await served;
    const ops = registeredOperations(app).filter((o) => o.includes(' /api/') || o.endsWith(' /healthz') || o.endsWith(' /metrics'));
    expect(ops.length).toBeGreaterThan(15);
    const ids = new Set<string>();
    for (const op of ops) {
      const [method, path] = op.split(' ');
      const entry = doc.paths[path]?.[method.toLowerCase()];
      expect(entry, `${op} is not in the document`).toBeDefined();
      expect(entry.operationId, `${op} has no operationId`).toMatch(/^[a-z][A-Za-z0-9]*$/);
      expect(ids.has(entry.operationId), `${op}: duplicate operationId ${entry.operationId}`).toBe(false);
      ids.add(entry.operationId);
    }
  });

  it('declares servers and the bearer scheme, and answers errors in the error shape', async () => {
    const doc = await served;
    expect(doc.servers).toEqual([expect.objectContaining({ url: '/' })]);
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.security).toEqual([{ bearer: [] }]);
    const get = doc.paths['/api/projects/{id}'].get;
    expect(get.responses['401'].content['application/json'].schema).toEqual({ $ref: '#/components/schemas/Error' });
    expect(doc.paths['/healthz'].get.security).toEqual([]);
    expect(doc.paths['/metrics'].get.security).toEqual([]);
  });

  it('types the ingested item and documents the limits the server enforces', async () => {
    const doc = await served;
    const ingest = doc.paths['/api/projects/{id}/items'].post.requestBody.content['application/json'].schema;
    expect(ingest.properties.items.maxItems).toBe(MAX_ITEMS_PER_REQUEST);
    const item = ingest.properties.items.items;
    expect(item.type).toBe('object');
    expect(item.additionalProperties).toBe(false);
    expect(item.properties.text.type).toBe('string');
    expect(item.properties.image.type).toBe('string');
    expect(item.properties.vector).toMatchObject({ type: 'array', items: { type: 'number' } });
    expect(item.properties.pixels).toMatchObject({ type: 'array', items: { type: 'integer' } });
    expect(item.properties.split.enum).toEqual(['pool', 'gold']);
    const predict = doc.paths['/api/projects/{id}/predict'].post.requestBody.content['application/json'].schema;
    expect(predict.properties.items.maxItems).toBe(MAX_PREDICT_ITEMS);
    expect(predict.properties.items.items.properties.text.type).toBe('string');
  });

  it('gives the main answers a response schema', async () => {
    const doc = await served;
    const schemaOf = (path: string, method: string, status: string) => doc.paths[path][method].responses[status]?.content?.['application/json']?.schema;
    for (const [path, method, status] of [
      ['/api/projects', 'post', '201'],
      ['/api/projects/{id}', 'get', '200'],
      ['/api/projects/{id}/items', 'post', '202'],
      ['/api/projects/{id}/queue', 'get', '200'],
      ['/api/projects/{id}/items/{itemId}/label', 'post', '200'],
      ['/api/projects/{id}/metrics', 'get', '200'],
      ['/api/projects/{id}/predict', 'post', '200'],
      ['/api/jobs/{jobId}', 'get', '200'],
    ]) {
      // Routes that answer classification and transcription projects differently document both shapes.
      const schema = schemaOf(path, method, status);
      const shapes = schema?.anyOf ?? [schema];
      for (const shape of shapes) expect(shape?.type, `${method} ${path} ${status}`).toBe('object');
    }
    const exp = doc.paths['/api/projects/{id}/export'].get.responses['200'].content;
    expect(Object.keys(exp)).toEqual(expect.arrayContaining(['application/x-ndjson', 'text/csv']));
  });
});

describe('operationIds', () => {
  it('are derived from the method and the path, singular before a parameter', () => {
    expect(operationIdOf({ method: 'get', path: '/api/projects/:id/items/:itemId' })).toBe('getProjectItem');
    expect(operationIdOf({ method: 'post', path: '/api/projects/:id/items' })).toBe('postProjectItems');
    expect(operationIdOf({ method: 'delete', path: '/api/projects/:id' })).toBe('deleteProject');
    expect(operationIdOf({ method: 'get', path: '/label-studio/:id/health' })).toBe('getLabelStudioHealth');
    expect(operationIdOf({ method: 'get', path: '/healthz', operationId: 'getHealth' })).toBe('getHealth');
  });

  it('refuse to build a document where two routes share one', () => {
    const r = (path: string, operationId?: string) =>
      route({
        method: 'get',
        path,
        operationId,
        summary: 's',
        tag: 't',
        access: 'public',
        responses: [{ status: 200, description: 'ok' }],
        handler: async () => undefined,
      });
    expect(() => buildOpenApi([r('/a'), r('/b', 'getA')], { version: '1' })).toThrow(/share the operationId "getA"/);
  });
});

describe('routes outside the bearer scheme and JSON bodies', () => {
  it('document HTTP Basic routes and raw file bodies', async () => {
    const def = route({
      method: 'post',
      path: '/label-studio/:id/webhook',
      summary: 's',
      tag: 'label-studio',
      access: 'public',
      basicAuth: true,
      body: z.object({}),
      rawTypes: ['multipart/form-data', 'image/jpeg', 'application/x-ndjson'],
      responses: [
        { status: 200, description: 'ok' },
        { status: 201, description: 'the image', contentType: 'image/webp' },
      ],
      handler: async () => undefined,
    });
    const doc = buildOpenApi([def], { version: '1' }) as Doc;
    expect((await validate(structuredClone(doc) as never)).valid).toBe(true);
    const op = doc.paths['/label-studio/{id}/webhook'].post;
    expect(op.security).toEqual([{ basic: [] }]);
    expect(doc.components.securitySchemes.basic).toMatchObject({ type: 'http', scheme: 'basic' });
    expect(op.responses['401']).toBeDefined();
    expect(op.requestBody.content['multipart/form-data'].schema.additionalProperties).toEqual({ type: 'string', format: 'binary' });
    expect(op.requestBody.content['image/jpeg'].schema).toEqual({ type: 'string', format: 'binary' });
    expect(op.requestBody.content['application/x-ndjson'].schema).toEqual({ type: 'string' });
    expect(op.responses['201'].content['image/webp'].schema).toEqual({ type: 'string', format: 'binary' });
  });
});
