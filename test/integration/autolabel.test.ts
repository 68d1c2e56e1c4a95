import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mulberry32 } from '../../scripts/lib/sampling.ts';
import { startTestServer, waitForIdle, waitForJob, type TestServer } from '../helpers.ts';

/** Two overlapping Gaussian classes in 2-D: most items are easy, a band in the middle is not. */
function makeData(n: number, seed: number) {
  const rnd = mulberry32(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
  return Array.from({ length: n }, () => {
    const label = rnd() < 0.5 ? 'x' : 'y';
    return { vector: [(label === 'x' ? 1.5 : -1.5) + gauss(), gauss()], label };
  });
}

describe('auto-labelling under an accuracy target', () => {
  let s: TestServer;
  let P: string;
  const truth = new Map<string, string>();
  const metrics = async () => (await s.call('GET', `/api/projects/${P}/metrics`)).body;
  const exported = async () =>
    (await s.call('GET', `/api/projects/${P}/export`)).text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));

  beforeAll(async () => {
    s = await startTestServer();
    P = (
      await s.call('POST', '/api/projects', {
        body: {
          name: 'auto',
          modality: 'vector',
          labels: ['x', 'y'],
          settings: { vectorDim: 2, retrainEvery: 0, autoLabel: { enabled: true, targetAccuracy: 0.95 } },
        },
      })
    ).body.id;
    const pool = makeData(1500, 1);
    const gold = makeData(600, 2);
    pool.forEach((p, i) => truth.set(`p${i}`, p.label));
    const items = [
      ...gold.map((g, i) => ({ externalId: `g${i}`, split: 'gold', label: g.label, vector: g.vector })),
      ...pool.map((p, i) => (i < 60 ? { externalId: `p${i}`, label: p.label, vector: p.vector } : { externalId: `p${i}`, vector: p.vector })),
    ];
    expect((await s.call('POST', `/api/projects/${P}/items`, { body: { items } })).status).toBe(202);
    // One human label on an item the model will be sure about: it must survive auto-labelling.
    const q = await s.call('GET', `/api/projects/${P}/queue?limit=1`);
    const detail = await s.call('GET', `/api/projects/${P}/items/${q.body.items[0].id}`);
    await s.call('POST', `/api/projects/${P}/items/${q.body.items[0].id}/label`, { body: { label: truth.get(detail.body.externalId) } });
    const t = await s.call('POST', `/api/projects/${P}/train`, { body: {} });
    expect((await waitForJob(s, t.body.jobId)).status).toBe('succeeded');
    await waitForIdle(s, P);
  });
  afterAll(() => s?.stop());

  it('labels the confident pool items, and their real accuracy meets the target', async () => {
    const m = await metrics();
    expect(m.autoLabel.enabled).toBe(true);
    expect(m.autoLabel.items).toBeGreaterThan(500);
    expect(m.autoLabel.interval[0]).toBeGreaterThanOrEqual(0.95);
    expect(Object.keys(m.autoLabel.thresholds).sort()).toEqual(['x', 'y']);
    const rows = await exported();
    const auto = rows.filter((r) => r.source === 'auto');
    expect(auto.length).toBe(m.autoLabel.items);
    const right = auto.filter((r) => truth.get(r.externalId) === r.label).length;
    console.log(
      JSON.stringify({
        test: 'autolabel',
        autoLabeled: auto.length,
        realAccuracy: right / auto.length,
        estimated: m.autoLabel.estimatedAccuracy,
        interval: m.autoLabel.interval,
        thresholds: m.autoLabel.thresholds,
      }),
    );
    expect(right / auto.length).toBeGreaterThanOrEqual(0.95);
    // Never the gold set, never a human label.
    expect(auto.every((r) => r.split === 'pool')).toBe(true);
    expect(rows.filter((r) => r.source === 'human').length).toBe(1);
    expect(rows.filter((r) => r.source === 'imported').length).toBe(660);
    const p = await s.call('GET', `/api/projects/${P}`);
    expect(p.body.counts.autoLabeled).toBe(m.autoLabel.items);
  });

  it('auto-labelled items leave the queue; a human label overrides an auto label and is kept', async () => {
    const rows = await exported();
    const autoIds = new Set(rows.filter((r) => r.source === 'auto').map((r) => r.id));
    const q = await s.call('GET', `/api/projects/${P}/queue?limit=100`);
    expect(q.body.items.some((i: any) => autoIds.has(i.id))).toBe(false);
    const one = rows.find((r) => r.source === 'auto');
    const r = await s.call('POST', `/api/projects/${P}/items/${one.id}/label`, { body: { label: one.label === 'x' ? 'y' : 'x' } });
    expect(r.status).toBe(200);
    const item = await s.call('GET', `/api/projects/${P}/items/${one.id}`);
    expect(item.body.labelSource).toBe('human');
    expect(item.body.labels.map((l: any) => l.source)).toEqual(['auto', 'human']);
  });

  it('a stricter target that cannot be shown sends every auto label back to the queue', async () => {
    const before = (await metrics()).autoLabel.items;
    expect(before).toBeGreaterThan(0);
    expect((await s.call('PATCH', `/api/projects/${P}/settings`, { body: { settings: { autoLabel: { enabled: true, targetAccuracy: 0.999 } } } })).status).toBe(
      200,
    );
    await waitForIdle(s, P);
    const m = await metrics();
    expect(m.autoLabel.items).toBe(0);
    expect(m.autoLabel.reason).toMatch(/no confidence threshold/);
    const rows = await exported();
    expect(rows.filter((r) => r.source === 'auto').length).toBe(0);
    expect(rows.filter((r) => r.source === 'human').length).toBe(2);
  });
});
