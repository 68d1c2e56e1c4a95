import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, waitForIdle, waitForJob, type TestServer } from '../helpers.ts';

/**
 * A strategy asked for explicitly (per request, or chosen in the settings) ranks by the model's uncertainty as
 * soon as a model exists, even while the project's cold start would still spread labels over the data.
 */
describe('an explicit strategy is honoured during the cold start', () => {
  let s: TestServer;
  const project = async (settings: Record<string, unknown>) => {
    const P = (
      await s.call('POST', '/api/projects', {
        body: {
          name: 'explicit',
          modality: 'vector',
          labels: ['a', 'b'],
          settings: { vectorDim: 2, coldStartLabels: 1000, retrainEvery: 0, goldFraction: 0, minLabelsToTrain: 4, ...settings },
        },
      })
    ).body.id as string;
    // Points along a line: class a left of 0.5, b right; the labelled ones at the ends, the boundary unlabelled.
    const items = Array.from({ length: 201 }, (_, i) => {
      const x = i / 200;
      const labelled = x < 0.1 || x > 0.9;
      return { externalId: `p${i}`, vector: [x, 1 - x], ...(labelled ? { label: x < 0.5 ? 'a' : 'b' } : {}) };
    });
    expect((await s.call('POST', `/api/projects/${P}/items`, { body: { items } })).status).toBe(202);
    const train = await s.call('POST', `/api/projects/${P}/train`, { body: {} });
    expect(train.status, train.text).toBe(202);
    expect((await waitForJob(s, train.body.jobId)).status).toBe('succeeded');
    await waitForIdle(s, P);
    return P;
  };
  const nearBoundary = (items: { data: { vector: number[] }; uncertainty: number }[]) => {
    expect(items).toHaveLength(5);
    const u = items.map((i) => i.uncertainty);
    expect([...u].sort((a, b) => b - a)).toEqual(u);
    for (const it of items) expect(Math.abs(it.data.vector[0] - 0.5)).toBeLessThan(0.25);
  };

  beforeAll(async () => {
    s = await startTestServer();
  });
  afterAll(() => s?.stop());

  it('?strategy= in the request', async () => {
    const P = await project({});
    const q = await s.call('GET', `/api/projects/${P}/queue?limit=5&strategy=margin`);
    expect(q.status, q.text).toBe(200);
    nearBoundary(q.body.items);
  });

  it('settings.strategy chosen by the project', async () => {
    const P = await project({ strategy: 'least-confidence' });
    const q = await s.call('GET', `/api/projects/${P}/queue?limit=5`);
    expect(q.status, q.text).toBe(200);
    nearBoundary(q.body.items);
  });

  it('without either, the cold start still spreads the labels', async () => {
    const P = await project({});
    const q = await s.call('GET', `/api/projects/${P}/queue?limit=5`);
    const xs = q.body.items.map((i: { data: { vector: number[] } }) => i.data.vector[0]);
    expect(Math.max(...xs) - Math.min(...xs)).toBeGreaterThan(0.4);
  });
});
