import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { goldSetFingerprint } from '../../db/repositories/version-scores.ts';
import { fingerprintOf } from '../../pipelines/rescore.ts';
import { startTestServer, waitForIdle, waitForJob, type TestServer } from '../helpers.ts';

/**
 * Issue 14, defect 8: versions scored on different gold sets were compared as one series, and a rollback
 * showed the old version's score from its own (smaller) gold set. Every version is now re-scored on the current
 * gold set, with n and a 95% interval.
 */
describe('versions are compared on the current gold set', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer();
  });
  afterAll(() => s?.stop());

  it("re-scores every version when the gold set changes; a rollback shows the score on today's gold set", async () => {
    const P = (
      await s.call('POST', '/api/projects', {
        body: {
          name: 'rescore',
          modality: 'vector',
          labels: ['a', 'b'],
          settings: { vectorDim: 2, goldFraction: 0, retrainEvery: 0, autoLabel: { enabled: false } },
        },
      })
    ).body.id;
    const point = (i: number, cls: 'a' | 'b', spread = 1) => ({ vector: [(cls === 'a' ? 1 : -1) * (1 + (i % 4) / 4) * spread, ((i % 5) - 2) / 5] });
    const pool = Array.from({ length: 24 }, (_, i) => ({ externalId: `p${i}`, ...point(i, i % 2 ? 'a' : 'b'), label: i % 2 ? 'a' : 'b' }));
    // Day one: a gold set of 2 items. Day two: 14 more, some of them on the wrong side (hard items).
    const gold1 = [
      { externalId: 'g0', ...point(0, 'a'), label: 'a', split: 'gold' },
      { externalId: 'g1', ...point(1, 'b'), label: 'b', split: 'gold' },
    ];
    const gold2 = Array.from({ length: 14 }, (_, i) => ({ externalId: `h${i}`, ...point(i, i % 3 === 0 ? 'b' : 'a'), label: 'a', split: 'gold' }));
    expect((await s.call('POST', `/api/projects/${P}/items`, { body: { items: [...pool, ...gold1] } })).status).toBe(202);
    expect((await waitForJob(s, (await s.call('POST', `/api/projects/${P}/train`, { body: {} })).body.jobId)).status).toBe('succeeded');
    await waitForIdle(s, P);
    const day1 = (await s.call('GET', `/api/projects/${P}/metrics`)).body;
    expect(day1.gold.n).toBe(2);
    expect(day1.history[0]).toMatchObject({ version: 1, n: 2, currentGoldSet: true });

    expect((await s.call('POST', `/api/projects/${P}/items`, { body: { items: gold2 } })).status).toBe(202);
    await waitForIdle(s, P);
    expect((await waitForJob(s, (await s.call('POST', `/api/projects/${P}/train`, { body: {} })).body.jobId)).status).toBe('succeeded');
    await waitForIdle(s, P);

    // Roll back to version 1.
    expect((await s.call('POST', `/api/projects/${P}/models/1/activate`, { body: {} })).status).toBe(200);
    await waitForIdle(s, P);
    const m = (await s.call('GET', `/api/projects/${P}/metrics`)).body;
    expect(m.modelVersion).toBe(1);
    expect(m.gold.n).toBe(16);
    expect(m.gold.currentGoldSet).toBe(true);
    expect(m.history.map((h: any) => [h.version, h.n, h.currentGoldSet])).toEqual([
      [1, 16, true],
      [2, 16, true],
    ]);
    expect(m.history[0].atTraining.n).toBe(2);
    for (const h of m.history) {
      expect(h.interval[0]).toBeLessThanOrEqual(h.accuracy);
      expect(h.interval[1]).toBeGreaterThanOrEqual(h.accuracy);
    }
    expect(m.gold.accuracy).toBe(m.history[0].accuracy);
    expect(m.gold.interval).toEqual(m.history[0].interval);
    const models = (await s.call('GET', `/api/projects/${P}/models`)).body;
    expect(models.goldSet.n).toBe(16);
    expect(models.versions.map((v: any) => v.currentGold.n)).toEqual([16, 16]);

    // A relabelled gold item changes the set again; the versions follow.
    const h0 = (await s.call('GET', `/api/projects/${P}/items?q=h0`)).body.items[0].id;
    expect((await s.call('POST', `/api/projects/${P}/items/${h0}/label`, { body: { label: 'b' } })).status).toBe(200);
    await waitForIdle(s, P);
    const after = (await s.call('GET', `/api/projects/${P}/metrics`)).body;
    expect(after.history.every((h: any) => h.currentGoldSet && h.n === 16)).toBe(true);
  });

  it('computes the same gold-set fingerprint in the database and in the job', async () => {
    const P = (await s.call('POST', '/api/projects', { body: { name: 'fp', modality: 'text', labels: ['a', 'b'] } })).body.id;
    await s.call('POST', `/api/projects/${P}/items`, {
      body: { items: [{ text: 'x', split: 'gold', label: 'a' }, { text: 'y', split: 'gold', label: 'b' }, { text: 'z' }] },
    });
    const gold = (await s.call('GET', `/api/projects/${P}/items?split=gold`)).body.items.map((i: any) => ({ id: i.id, label: i.label }));
    const fp = await goldSetFingerprint(s.ctx.db, P);
    expect(fp.n).toBe(2);
    expect(fp.hash).toBe(fingerprintOf(gold));
    expect((await goldSetFingerprint(s.ctx.db, 'no-such-project')).hash).toBe(createHash('md5').update('').digest('hex'));
  });
});
