import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mulberry32 } from '../../scripts/lib/sampling.ts';
import { startTestServer, waitForIdle, waitForJob, type TestServer } from '../helpers.ts';

/** Three well-separated classes; 5% of the imported labels are flipped on purpose. */
describe('label-error detection and the second-review queue', () => {
  let s: TestServer;
  let P: string;
  let reviewer: string;
  const flipped = new Set<string>();
  const truth = new Map<string, string>();

  beforeAll(async () => {
    s = await startTestServer();
    P = (
      await s.call('POST', '/api/projects', {
        body: { name: 'audit', modality: 'vector', labels: ['a', 'b', 'c'], settings: { vectorDim: 2, retrainEvery: 0, auditEvery: 0 } },
      })
    ).body.id;
    reviewer = (await s.call('POST', `/api/projects/${P}/keys`, { body: { role: 'annotator', name: 'second reviewer' } })).body.key;
    const rnd = mulberry32(3);
    const centres = { a: [0, 4], b: [-3.5, -2], c: [3.5, -2] } as const;
    const names = ['a', 'b', 'c'] as const;
    const items = Array.from({ length: 400 }, (_, i) => {
      const label = names[i % 3];
      const [cx, cy] = centres[label];
      const externalId = `e${i}`;
      truth.set(externalId, label);
      let given: string = label;
      if (rnd() < 0.05) {
        given = names[(i + 1 + Math.floor(rnd() * 2)) % 3];
        flipped.add(externalId);
      }
      return { externalId, label: given, vector: [cx + rnd() * 2 - 1, cy + rnd() * 2 - 1] };
    });
    expect((await s.call('POST', `/api/projects/${P}/items`, { body: { items } })).status).toBe(202);
    const a = await s.call('POST', `/api/projects/${P}/audit`, { body: {} });
    expect(a.status).toBe(202);
    expect((await waitForJob(s, a.body.jobId)).status).toBe('succeeded');
    await waitForIdle(s, P);
  });
  afterAll(() => s?.stop());

  it('flags the flipped labels with good precision and recall', async () => {
    const q = await s.call('GET', `/api/projects/${P}/queue?kind=disputed&limit=100`, { key: reviewer });
    expect(q.status).toBe(200);
    const flagged = [];
    for (const it of q.body.items) flagged.push((await s.call('GET', `/api/projects/${P}/items/${it.id}`)).body.externalId as string);
    const hits = flagged.filter((e) => flipped.has(e)).length;
    const precision = hits / flagged.length;
    const recall = hits / flipped.size;
    console.log(JSON.stringify({ test: 'label-errors', flipped: flipped.size, flagged: flagged.length, precision, recall }));
    expect(flipped.size).toBeGreaterThan(5);
    expect(recall).toBeGreaterThanOrEqual(0.6);
    expect(precision).toBeGreaterThanOrEqual(0.5);
    // Both labels are shown: the human one under review and the model's suggestion.
    for (const it of q.body.items) {
      expect(['a', 'b', 'c']).toContain(it.dispute.label);
      expect(it.dispute.suggested).not.toBe(it.dispute.label);
    }
    const m = await s.call('GET', `/api/projects/${P}/metrics`);
    expect(m.body.labels.disputed).toBe(flagged.length);
  });

  it("the second annotator's decision stands and history is kept", async () => {
    const q = await s.call('GET', `/api/projects/${P}/queue?kind=disputed&limit=1`, { key: reviewer });
    const it = q.body.items[0];
    const ext = (await s.call('GET', `/api/projects/${P}/items/${it.id}`)).body.externalId;
    const r = await s.call('POST', `/api/projects/${P}/items/${it.id}/label`, { key: reviewer, body: { label: truth.get(ext) } });
    expect(r.status).toBe(200);
    const d = await s.call('GET', `/api/projects/${P}/items/${it.id}`);
    expect(d.body.label).toBe(truth.get(ext));
    expect(d.body.reviewed).toBe(true);
    expect(d.body.dispute).toBeUndefined();
    expect(d.body.labels.map((l: any) => l.source)).toEqual(['imported', 'human']);
    const again = await s.call('GET', `/api/projects/${P}/queue?kind=disputed&limit=100`, { key: reviewer });
    expect(again.body.items.map((i: any) => i.id)).not.toContain(it.id);
  });

  it('settings.disputeBelow sets how strongly the model must dispute a label', async () => {
    const before = (await s.call('GET', `/api/projects/${P}/metrics`)).body.labels.disputed as number;
    expect(before).toBeGreaterThan(5);
    expect((await s.call('PATCH', `/api/projects/${P}/settings`, { body: { settings: { disputeBelow: 0 } } })).status).toBe(400);
    expect((await s.call('PATCH', `/api/projects/${P}/settings`, { body: { settings: { disputeBelow: 1e-6 } } })).status).toBe(200);
    const a = await s.call('POST', `/api/projects/${P}/audit`, { body: {} });
    expect((await waitForJob(s, a.body.jobId)).status).toBe('succeeded');
    // A millionth of the class's typical self-confidence: next to nothing is that far below.
    const after = (await s.call('GET', `/api/projects/${P}/metrics`)).body.labels.disputed as number;
    expect(after).toBeLessThan(before / 2);
  });

  it('settings.auditRepeats takes 1 to 5 repeats of the cross-validation', async () => {
    for (const bad of [0, 6, 1.5])
      expect((await s.call('PATCH', `/api/projects/${P}/settings`, { body: { settings: { auditRepeats: bad } } })).status).toBe(400);
    expect((await s.call('PATCH', `/api/projects/${P}/settings`, { body: { settings: { auditRepeats: 1, disputeBelow: 0.5 } } })).status).toBe(200);
    const a = await s.call('POST', `/api/projects/${P}/audit`, { body: {} });
    expect((await waitForJob(s, a.body.jobId)).status).toBe('succeeded');
    expect((await s.call('GET', `/api/projects/${P}/metrics`)).body.labels.disputed).toBeGreaterThan(0);
  });
});
