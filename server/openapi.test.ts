import { describe, expect, it } from 'vitest';
import { startTestServer } from '../test/helpers.ts';

describe('GET /api/openapi.json', () => {
  it('documents every route of API.md, generated from the request schemas', async () => {
    const s = await startTestServer();
    try {
      const r = await s.call('GET', '/api/openapi.json', { key: null });
      expect(r.status).toBe(200);
      expect(r.body.openapi).toMatch(/^3\./);
      const ops = Object.entries(r.body.paths as Record<string, Record<string, unknown>>).flatMap(([p, m]) =>
        Object.keys(m).map((k) => `${k.toUpperCase()} ${p}`),
      );
      for (const op of [
        'POST /api/projects',
        'GET /api/projects/{id}',
        'POST /api/projects/{id}/keys',
        'POST /api/projects/{id}/items',
        'GET /api/projects/{id}/items/{itemId}',
        'GET /api/projects/{id}/queue',
        'POST /api/projects/{id}/items/{itemId}/label',
        'POST /api/projects/{id}/train',
        'GET /api/jobs/{jobId}',
        'GET /api/projects/{id}/models',
        'POST /api/projects/{id}/models/{version}/activate',
        'GET /api/projects/{id}/metrics',
        'POST /api/projects/{id}/predict',
        'GET /api/projects/{id}/export',
        'GET /api/openapi.json',
        'GET /healthz',
        'GET /metrics',
      ])
        expect(ops).toContain(op);
      const create = r.body.paths['/api/projects'].post;
      const schema = create.requestBody.content['application/json'].schema;
      expect(schema.properties.modality.enum).toEqual(['image', 'text', 'vector', 'audio']);
      // labels: required for classification, absent for transcription (checked by the route, documented on the field).
      expect(schema.required).toEqual(expect.arrayContaining(['name', 'modality']));
      expect(schema.properties.labels.description).toMatch(/required for classification/);
      expect(Object.keys(create.responses)).toEqual(expect.arrayContaining(['201', '400', '401', '403']));
      const queue = r.body.paths['/api/projects/{id}/queue'].get;
      expect(queue.parameters.map((p: any) => p.name)).toEqual(expect.arrayContaining(['id', 'limit']));
    } finally {
      await s.stop();
    }
  });

  it('healthz reports the database and the tfjs backend', async () => {
    const s = await startTestServer();
    try {
      const r = await s.call('GET', '/healthz', { key: null });
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({ status: 'ok', db: 'ok' });
      expect(['tensorflow', 'wasm', 'cpu']).toContain(r.body.backend);
      const m = await s.call('GET', '/metrics', { key: null });
      expect(m.text).toMatch(/furrow_http_requests_total\{method="GET",route="\/healthz",status="200"\} 1/);
    } finally {
      await s.stop();
    }
  });
});
