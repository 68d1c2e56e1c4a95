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

/**
 * An image project's cold start spreads its picks over pooled pixels of a thousand sampled items. Those
 * features are computed at ingest and cached, so the first queue request does not read a thousand images back
 * (on PGlite that read took 0.6 s for 64x64 RGB photos: docs/media.md); the picks do not depend on the cache.
 */
describe('cold-start features of an image project', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer();
  });
  afterAll(() => s?.stop());

  const project = async (name: string) => {
    const id = (
      await s.call('POST', '/api/projects', {
        body: { name, modality: 'image', labels: ['dark', 'light'], settings: { imageWidth: 8, imageHeight: 8, channels: 1, goldFraction: 0, seed: 3 } },
      })
    ).body.id as string;
    // Forty images in four shades: pixels vary by item so that the features differ.
    const items = Array.from({ length: 40 }, (_, i) => ({
      externalId: `img${i}`,
      pixels: Array.from({ length: 64 }, (_, j) => ((i % 4) * 60 + ((i * 7 + j) % 13)) / 255),
      width: 8,
      height: 8,
    }));
    expect((await s.call('POST', `/api/projects/${id}/items`, { body: { items } })).status).toBe(202);
    return id;
  };

  it('caches them at ingest, and picks the same items with the cache or without it', async () => {
    const warm = await project('warm');
    const cold = await project('cold');
    // Ingest cached one row per pool item of each project.
    expect(s.ctx.embeddings.rows).toBe(80);
    s.ctx.embeddings.drop(cold);
    const picks = async (id: string) =>
      ((await s.call('GET', `/api/projects/${id}/queue?limit=5`)).body.items as { externalId: string }[]).map((i) => i.externalId).sort();
    const fromCache = await picks(warm);
    const fromDatabase = await picks(cold);
    expect(fromCache).toHaveLength(5);
    expect(fromCache).toEqual(fromDatabase);
    expect(s.ctx.embeddings.rows).toBe(80); // the cold project's request cached its sample again
  });
});
