import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_ITEMS_PER_REQUEST } from '../../pipelines/ingest.ts';
import { startTestServer, type TestServer } from '../helpers.ts';

/**
 * The largest ingest a request may carry is stored whole. (One multi-row INSERT of 10,000 items binds 110,000
 * values, over Postgres's 65,535, and answered 500 before inserts were split.)
 */
describe('an ingest of the most items a request may carry', () => {
  let s: TestServer;
  let P: string;
  const items = Array.from({ length: MAX_ITEMS_PER_REQUEST }, (_, i) => ({
    externalId: `big${i}`,
    vector: [Math.sin(i), Math.cos(i)],
    ...(i % 10 === 0 ? { label: i % 20 === 0 ? 'x' : 'y' } : {}),
  }));

  beforeAll(async () => {
    s = await startTestServer();
    P = (await s.call('POST', '/api/projects', { body: { name: 'big', modality: 'vector', labels: ['x', 'y'], settings: { vectorDim: 2, retrainEvery: 0 } } }))
      .body.id;
  });
  afterAll(() => s?.stop());

  it('stores all of them with their labels, and a repeat changes nothing', async () => {
    const first = await s.call('POST', `/api/projects/${P}/items`, { body: { items } });
    expect(first.status, first.text).toBe(202);
    expect(first.body).toMatchObject({ accepted: MAX_ITEMS_PER_REQUEST, duplicates: 0, rejected: [] });
    const counts = (await s.call('GET', `/api/projects/${P}`)).body.counts;
    expect(counts.items).toBe(MAX_ITEMS_PER_REQUEST);
    expect(counts.labeled).toBe(MAX_ITEMS_PER_REQUEST / 10);

    const again = await s.call('POST', `/api/projects/${P}/items`, { body: { items } });
    expect(again.status).toBe(202);
    expect(again.body).toMatchObject({ accepted: 0, duplicates: MAX_ITEMS_PER_REQUEST });
    expect((await s.call('GET', `/api/projects/${P}`)).body.counts).toEqual(counts);
  });
});
