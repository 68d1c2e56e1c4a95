import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodePngBase64 } from '../../pipelines/image-decode.ts';
import { startTestServer, type TestServer } from '../helpers.ts';

/** Every bad request answers 4xx in the error shape, and the item count stays what it was. */
describe('bad input is refused and changes nothing', () => {
  let s: TestServer;
  let img: string;
  let txt: string;
  let vec: string;
  const png = encodePngBase64(new Uint8Array(28 * 28).fill(128), 28, 28, 1);

  beforeAll(async () => {
    s = await startTestServer({ FURROW_BODY_LIMIT_MB: '1' });
    img = (await s.call('POST', '/api/projects', { body: { name: 'img', modality: 'image', labels: ['a', 'b'] } })).body.id;
    txt = (await s.call('POST', '/api/projects', { body: { name: 'txt', modality: 'text', labels: ['pos', 'neg'] } })).body.id;
    vec = (await s.call('POST', '/api/projects', { body: { name: 'vec', modality: 'vector', labels: ['x', 'y'], settings: { vectorDim: 3 } } })).body.id;
    // One good item each, so "nothing stored" is checked against a non-empty project.
    expect((await s.call('POST', `/api/projects/${img}/items`, { body: { items: [{ image: png, externalId: 'ok' }] } })).status).toBe(202);
    expect((await s.call('POST', `/api/projects/${txt}/items`, { body: { items: [{ text: 'fine' }] } })).status).toBe(202);
    expect((await s.call('POST', `/api/projects/${vec}/items`, { body: { items: [{ vector: [1, 2, 3] }] } })).status).toBe(202);
  });
  afterAll(() => s?.stop());

  const count = async (id: string) => (await s.call('GET', `/api/projects/${id}`)).body.counts.items as number;

  function expectErrorShape(r: { status: number; body: any }, status: number, code?: string) {
    expect(r.status).toBe(status);
    expect(typeof r.body.error.code).toBe('string');
    expect(r.body.error.code).toMatch(/^[a-z_]+$/);
    expect(typeof r.body.error.message).toBe('string');
    if (code) expect(r.body.error.code).toBe(code);
  }

  const cases: [string, () => string, unknown, number, string?][] = [
    ['wrong label name', () => img, { items: [{ image: png, label: 'zebra' }] }, 400, 'invalid_items'],
    ['text sent to an image project', () => img, { items: [{ text: 'hello' }] }, 400, 'invalid_items'],
    ['image sent to a text project', () => txt, { items: [{ image: png }] }, 400, 'invalid_items'],
    ['malformed base64', () => img, { items: [{ image: 'iVBORw0KGgo$$$notbase64' }] }, 400, 'invalid_items'],
    ['truncated PNG', () => img, { items: [{ image: png.slice(0, 40) }] }, 400, 'invalid_items'],
    ['wrong vector length', () => vec, { items: [{ vector: [1, 2] }] }, 400, 'invalid_items'],
    ['non-finite in a vector', () => vec, { items: [{ vector: [1, 'NaN', 3] }] }, 400, 'invalid_items'],
    ['empty batch', () => img, { items: [] }, 400, 'empty_batch'],
    ['gold item without a label', () => txt, { items: [{ text: 'x', split: 'gold' }] }, 400, 'invalid_items'],
    ['one bad item among good ones', () => txt, { items: [{ text: 'good' }, { text: '' }, { text: 'also good' }] }, 400, 'invalid_items'],
    ['unknown field', () => txt, { items: [{ text: 'x', colour: 'red' }] }, 400, 'invalid_items'],
    ['items not an array', () => txt, { items: 'nope' }, 400, 'invalid_body'],
  ];
  for (const [name, project, body, status, code] of cases) {
    it(name, async () => {
      const id = project();
      const before = await count(id);
      const r = await s.call('POST', `/api/projects/${id}/items`, { body });
      expectErrorShape(r, status, code);
      expect(await count(id)).toBe(before);
    });
  }

  it('lists every rejected item with its index', async () => {
    const r = await s.call('POST', `/api/projects/${txt}/items`, { body: { items: [{ text: 'a' }, { text: 5 }, { text: 'b', label: 'meh' }] } });
    expectErrorShape(r, 400, 'invalid_items');
    expect(r.body.error.details.rejected.map((x: any) => x.index)).toEqual([1, 2]);
  });

  it('stores the valid items with ?partial=true and reports the others', async () => {
    const before = await count(txt);
    const r = await s.call('POST', `/api/projects/${txt}/items?partial=true`, { body: { items: [{ text: 'a' }, { text: '' }] } });
    expect(r.status).toBe(202);
    expect(r.body.accepted).toBe(1);
    expect(r.body.rejected).toEqual([{ index: 1, error: expect.any(String) }]);
    expect(await count(txt)).toBe(before + 1);
  });

  it('unknown project answers 404', async () => {
    const r = await s.call('POST', `/api/projects/00000000-0000-0000-0000-000000000000/items`, { body: { items: [{ text: 'a' }] } });
    expectErrorShape(r, 404, 'not_found');
  });

  it('oversized body answers 413', async () => {
    const before = await count(txt);
    const big = { items: [{ text: 'x'.repeat(2 * 1024 * 1024) }] };
    const r = await s.call('POST', `/api/projects/${txt}/items`, { body: big });
    expectErrorShape(r, 413, 'payload_too_large');
    expect(await count(txt)).toBe(before);
  });

  it('malformed JSON answers 400', async () => {
    const r = await s.call('POST', `/api/projects/${txt}/items`, { raw: '{"items": [', headers: { 'content-type': 'application/json' } });
    expectErrorShape(r, 400, 'invalid_json');
  });

  it('wrong content type answers 415', async () => {
    const r = await s.call('POST', `/api/projects/${txt}/items`, { raw: 'text=hello', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expectErrorShape(r, 415, 'unsupported_media_type');
  });

  it('NDJSON ingest works, and a bad line rejects the whole request', async () => {
    const before = await count(txt);
    const ok = await s.call('POST', `/api/projects/${txt}/items`, {
      raw: '{"text":"one"}\n{"text":"two","label":"pos"}\n',
      headers: { 'content-type': 'application/x-ndjson' },
    });
    expect(ok.status).toBe(202);
    expect(ok.body).toEqual({ accepted: 2, duplicates: 0, rejected: [] });
    const bad = await s.call('POST', `/api/projects/${txt}/items`, {
      raw: '{"text":"three"}\n{not json\n',
      headers: { 'content-type': 'application/x-ndjson' },
    });
    expectErrorShape(bad, 400, 'invalid_items');
    expect(bad.body.error.details.rejected).toEqual([{ index: 1, error: expect.stringMatching(/JSON/) }]);
    expect(await count(txt)).toBe(before + 2);
  });

  it('repeated externalId is a duplicate, not a second item', async () => {
    const before = await count(img);
    const r = await s.call('POST', `/api/projects/${img}/items`, {
      body: {
        items: [
          { image: png, externalId: 'ok' },
          { image: png, externalId: 'new' },
          { image: png, externalId: 'new' },
        ],
      },
    });
    expect(r.status).toBe(202);
    expect(r.body).toMatchObject({ accepted: 1, duplicates: 2 });
    expect(await count(img)).toBe(before + 1);
  });

  it('project creation validates its body', async () => {
    for (const body of [
      { name: 'x', modality: 'audio', labels: ['a', 'b'] },
      { name: 'x', modality: 'text', labels: ['a'] },
      { name: 'x', modality: 'text', labels: ['a', 'a'] },
      { name: '', modality: 'text', labels: ['a', 'b'] },
      { name: 'x', modality: 'vector', labels: ['a', 'b'] },
      { name: 'x', modality: 'text', labels: ['a', 'b'], settings: { strategy: 'guess' } },
      { name: 'x', modality: 'text', labels: ['a', 'b'], settings: { typo: 1 } },
    ]) {
      const r = await s.call('POST', '/api/projects', { body });
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.error.code).toMatch(/^[a-z_]+$/);
    }
  });

  it('label validation: unknown label 400, unknown item 404, nothing stored', async () => {
    const q = await s.call('GET', `/api/projects/${txt}/queue?limit=1`);
    const itemId = q.body.items[0].id;
    const bad = await s.call('POST', `/api/projects/${txt}/items/${itemId}/label`, { body: { label: 'nope' } });
    expectErrorShape(bad, 400, 'unknown_label');
    const item = await s.call('GET', `/api/projects/${txt}/items/${itemId}`);
    expect(item.body.labels).toEqual([]);
    const missing = await s.call('POST', `/api/projects/${txt}/items/00000000-0000-0000-0000-000000000000/label`, { body: { label: 'pos' } });
    expectErrorShape(missing, 404, 'not_found');
    const badQuery = await s.call('GET', `/api/projects/${txt}/queue?limit=abc`);
    expectErrorShape(badQuery, 400, 'invalid_query');
  });

  it('predict validates items and needs a model', async () => {
    expectErrorShape(await s.call('POST', `/api/projects/${vec}/predict`, { body: { items: [{ vector: [1] }] } }), 400, 'invalid_items');
    expectErrorShape(await s.call('POST', `/api/projects/${vec}/predict`, { body: { items: [{ vector: [1, 2, 3] }] } }), 409, 'no_model');
  });

  it('train with too few labels answers 409', async () => {
    expectErrorShape(await s.call('POST', `/api/projects/${vec}/train`, { body: {} }), 409, 'not_enough_labels');
  });

  it('unknown routes answer 404 in the error shape', async () => {
    expectErrorShape(await s.call('GET', '/api/nothing-here'), 404, 'not_found');
  });
});
