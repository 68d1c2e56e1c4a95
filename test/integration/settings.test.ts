import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers.ts';

describe('PATCH /api/projects/:id/settings', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer();
  });
  afterAll(async () => s?.stop());

  it('changes only the keys sent: settings left out keep their stored values, nested ones too', async () => {
    const created = await s.call('POST', '/api/projects', {
      body: {
        name: 'patch',
        modality: 'vector',
        labels: ['a', 'b'],
        settings: { vectorDim: 2, retrainEvery: 0, strategy: 'entropy', goldFraction: 0.2, autoLabel: { enabled: true, targetAccuracy: 0.9 } },
      },
    });
    expect(created.status, created.text).toBe(201);
    const P = created.body.id;
    const patched = await s.call('PATCH', `/api/projects/${P}/settings`, { body: { settings: { seed: 5 } } });
    expect(patched.status, patched.text).toBe(200);
    expect(patched.body.settings).toMatchObject({
      seed: 5,
      retrainEvery: 0,
      strategy: 'entropy',
      goldFraction: 0.2,
      autoLabel: { enabled: true, targetAccuracy: 0.9 },
    });
    // A nested key alone changes only itself.
    const nested = await s.call('PATCH', `/api/projects/${P}/settings`, { body: { settings: { autoLabel: { confidenceLevel: 0.9 } } } });
    expect(nested.status, nested.text).toBe(200);
    expect(nested.body.settings.autoLabel).toEqual({ enabled: true, targetAccuracy: 0.9, confidenceLevel: 0.9 });
    // And it is what is stored, not only what was answered.
    const got = await s.call('GET', `/api/projects/${P}`);
    expect(got.body.settings).toMatchObject({
      seed: 5,
      retrainEvery: 0,
      strategy: 'entropy',
      goldFraction: 0.2,
      autoLabel: { enabled: true, targetAccuracy: 0.9, confidenceLevel: 0.9 },
    });
  });

  it('on an image project of another size, a PATCH need not repeat the size; the same size is fine, another is refused', async () => {
    const created = await s.call('POST', '/api/projects', {
      body: { name: 'photos', modality: 'image', labels: ['cat', 'dog'], settings: { imageWidth: 64, imageHeight: 48, channels: 3, retrainEvery: 0 } },
    });
    expect(created.status, created.text).toBe(201);
    const P = created.body.id;
    const plain = await s.call('PATCH', `/api/projects/${P}/settings`, { body: { settings: { retrainEvery: 25 } } });
    expect(plain.status, plain.text).toBe(200);
    expect(plain.body.settings).toMatchObject({ imageWidth: 64, imageHeight: 48, channels: 3, retrainEvery: 25 });
    const same = await s.call('PATCH', `/api/projects/${P}/settings`, { body: { settings: { imageWidth: 64, channels: 3, seed: 2 } } });
    expect(same.status, same.text).toBe(200);
    const other = await s.call('PATCH', `/api/projects/${P}/settings`, { body: { settings: { imageWidth: 32, seed: 3 } } });
    expect(other.status).toBe(400);
    expect(other.body.error.code).toBe('immutable_setting');
    // A refused patch changes nothing.
    expect((await s.call('GET', `/api/projects/${P}`)).body.settings).toMatchObject({ imageWidth: 64, seed: 2 });
  });
});
