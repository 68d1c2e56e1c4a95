import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, waitForIdle, waitForJob, type TestServer } from '../helpers.ts';
import { expectErrorShape, printFigures } from './support.ts';

/**
 * A model whose training diverges (NaN/Infinity loss; here forced by an absurd learning rate, a real project
 * setting) is stored as `rejected`, never activated: the version that served before keeps serving.
 */
describe('a diverging model is rejected, not activated', () => {
  let s: TestServer;
  let P: string;
  const items = Array.from({ length: 40 }, (_, i) => ({
    vector: [i % 2 ? 1 + (i % 5) / 10 : -1 - (i % 5) / 10, Math.sin(i)],
    label: i % 2 ? 'x' : 'y',
    ...(i >= 30 ? { split: 'gold' } : {}),
  }));

  beforeAll(async () => {
    s = await startTestServer();
    P = (
      await s.call('POST', '/api/projects', {
        body: { name: 'nan', modality: 'vector', labels: ['x', 'y'], settings: { vectorDim: 2, retrainEvery: 0, epochs: 5 } },
      })
    ).body.id;
    expect((await s.call('POST', `/api/projects/${P}/items`, { body: { items } })).status).toBe(202);
  });
  afterAll(() => s?.stop());

  it('keeps the previous version active and serving, and refuses to activate the rejected one', async () => {
    const good = await waitForJob(s, (await s.call('POST', `/api/projects/${P}/train`, { body: {} })).body.jobId);
    expect(good).toMatchObject({ status: 'succeeded', modelVersion: 1 });
    await waitForIdle(s, P);
    const before = await s.call('POST', `/api/projects/${P}/predict`, { body: { items: [{ vector: [1, 0] }, { vector: [-1, 0] }] } });
    expect(before.status, JSON.stringify(before.body)).toBe(200);
    expect(before.body.modelVersion).toBe(1);

    expect((await s.call('PATCH', `/api/projects/${P}/settings`, { body: { settings: { learningRate: 1e38 } } })).status).toBe(200);
    const bad = await waitForJob(s, (await s.call('POST', `/api/projects/${P}/train`, { body: {} })).body.jobId);
    expect(bad.status).toBe('failed');
    expect(bad.error).toMatch(/non-finite/);

    const models = (await s.call('GET', `/api/projects/${P}/models`)).body;
    expect(models.active).toBe(1);
    const v2 = models.versions.find((v: any) => v.version === 2);
    expect(v2.status).toBe('rejected');
    expect(v2.active).toBe(false);
    const after = await s.call('POST', `/api/projects/${P}/predict`, { body: { items: [{ vector: [1, 0] }, { vector: [-1, 0] }] } });
    expect(after.status).toBe(200);
    expect(after.body).toEqual(before.body);
    for (const p of after.body.predictions) for (const v of Object.values(p.probs)) expect(Number.isFinite(v)).toBe(true);
    expect((await s.call('GET', `/api/projects/${P}/metrics`)).body.modelVersion).toBe(1);

    expectErrorShape(await s.call('POST', `/api/projects/${P}/models/2/activate`, { body: {} }), 400, 'version_not_ready');
    expect((await s.call('GET', `/api/projects/${P}/models`)).body.active).toBe(1);

    // A sane learning rate trains a good version again.
    expect((await s.call('PATCH', `/api/projects/${P}/settings`, { body: { settings: { learningRate: 0.01 } } })).status).toBe(200);
    const again = await waitForJob(s, (await s.call('POST', `/api/projects/${P}/train`, { body: {} })).body.jobId);
    expect(again).toMatchObject({ status: 'succeeded', modelVersion: 3 });
    printFigures('diverging-model', {
      versions: (await s.call('GET', `/api/projects/${P}/models`)).body.versions.map((v: any) => `${v.version}:${v.status}`),
      divergedJob: bad.status,
      activeWhileDiverged: models.active,
      activateRejected: 400,
    });
  });

  it('with no earlier model, a diverged first training leaves the project without one', async () => {
    const Q = (
      await s.call('POST', '/api/projects', {
        body: { name: 'nan-first', modality: 'vector', labels: ['x', 'y'], settings: { vectorDim: 2, retrainEvery: 0, epochs: 5, learningRate: 1e38 } },
      })
    ).body.id;
    expect((await s.call('POST', `/api/projects/${Q}/items`, { body: { items } })).status).toBe(202);
    const job = await waitForJob(s, (await s.call('POST', `/api/projects/${Q}/train`, { body: {} })).body.jobId);
    expect(job.status).toBe('failed');
    expect((await s.call('GET', `/api/projects/${Q}/models`)).body.active).toBeNull();
    expectErrorShape(await s.call('POST', `/api/projects/${Q}/predict`, { body: { items: [{ vector: [1, 0] }] } }), 409, 'no_model');
  });
});
