import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers.ts';

/**
 * Before any model exists, the cold start picks typical items of the regions the labels do not cover yet,
 * counting labels that were there before the first training (here imported ones).
 */
describe('cold start before the first model', () => {
  let s: TestServer;
  let P: string;

  beforeAll(async () => {
    s = await startTestServer();
    P = (
      await s.call('POST', '/api/projects', {
        body: { name: 'cold', modality: 'vector', labels: ['a', 'b'], settings: { vectorDim: 2, coldStartLabels: 50, retrainEvery: 0, goldFraction: 0 } },
      })
    ).body.id;
    // Two places: 60 items at one (10 of them labelled on import), 30 at the other. Without the labels the
    // first place is the larger, more typical region; with them it is the covered one.
    const items = [
      ...Array.from({ length: 60 }, (_, i) => ({ externalId: `a${i}`, vector: [1, 0], ...(i < 10 ? { label: 'a' } : {}) })),
      ...Array.from({ length: 30 }, (_, i) => ({ externalId: `b${i}`, vector: [0, 1] })),
    ];
    expect((await s.call('POST', `/api/projects/${P}/items`, { body: { items } })).status).toBe(202);
  });
  afterAll(() => s?.stop());

  it('serves the region no label covers yet', async () => {
    const q = await s.call('GET', `/api/projects/${P}/queue?limit=1`);
    expect(q.status).toBe(200);
    expect(q.body.items).toHaveLength(1);
    expect(q.body.items[0].data.vector).toEqual([0, 1]);
  });
});
