import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mulberry32 } from '../../scripts/lib/sampling.ts';
import { startTestServer, waitForIdle, waitForJob, type TestServer } from '../helpers.ts';

/**
 * The small, seeded version of `npm run bench:al`: the same oracle loop through the HTTP API, on a
 * synthetic vector task where the labels that matter lie near the class boundaries. Furrow's default
 * (margin sampling, k-means++ cold start, semi-supervised retraining) and random sampling with the same
 * model each get the same label budget; the default must end more accurate on the gold set. Both arms
 * choose their model by cross-validation at each retrain (settings.model 'auto'), which is what makes it slow.
 */
const SEED = Number(process.env.FURROW_AL_TEST_SEED ?? 1);
const POOL = 600;
const GOLD = 400;
const ROUNDS = [20, 40, 60];
const LABELS = ['left', 'middle', 'right'];

/** The class of a point: three bands between two parallel lines. */
function classOf(x: number, y: number): string {
  const t = x + 0.5 * y;
  return t < -0.4 ? 'left' : t > 0.4 ? 'right' : 'middle';
}

/**
 * `n` points in [-1, 1]^2, a `spread` share of them uniform, the rest repeats of six easy look-alikes
 * (tight clusters well inside the bands), as a scraped pool full of near-duplicates is.
 */
function makeData(n: number, seed: number, spread: number): { vector: number[]; label: string }[] {
  const rnd = mulberry32(seed);
  const centres = [
    [-0.8, -0.6],
    [-0.9, 0.5],
    [0, -0.8],
    [0.1, 0.6],
    [0.8, 0.4],
    [0.9, -0.5],
  ];
  return Array.from({ length: n }, () => {
    let x = rnd() * 2 - 1;
    let y = rnd() * 2 - 1;
    if (rnd() >= spread) {
      const [cx, cy] = centres[Math.floor(rnd() * centres.length)];
      x = cx + (rnd() - 0.5) * 0.1;
      y = cy + (rnd() - 0.5) * 0.1;
    }
    return { vector: [x, y], label: classOf(x, y) };
  });
}

async function runArm(s: TestServer, arm: 'default' | 'random'): Promise<number[]> {
  // No hidden gold checks: the oracle knows only pool items, and the comparison counts queue labels.
  const settings: Record<string, unknown> = {
    vectorDim: 2,
    retrainEvery: 0,
    auditEvery: 0,
    goldFraction: 0,
    minLabelsToTrain: 2,
    seed: SEED,
    quality: { goldCheckShare: 0 },
  };
  if (arm === 'random') settings.strategy = 'random';
  const created = await s.call('POST', '/api/projects', { body: { name: `al-${arm}`, modality: 'vector', labels: LABELS, settings } });
  expect(created.status, created.text).toBe(201);
  const P = created.body.id as string;
  const annotator = (await s.call('POST', `/api/projects/${P}/keys`, { body: { role: 'annotator', name: 'oracle' } })).body.key as string;

  const pool = makeData(POOL, SEED * 1000 + 1, 0.15);
  const gold = makeData(GOLD, SEED * 1000 + 2, 1);
  const ingest = await s.call('POST', `/api/projects/${P}/items`, {
    body: {
      items: [
        ...pool.map((p, i) => ({ externalId: `p${i}`, vector: p.vector })),
        ...gold.map((g, i) => ({ externalId: `g${i}`, split: 'gold', label: g.label, vector: g.vector })),
      ],
    },
  });
  expect(ingest.status, ingest.text).toBe(202);
  await waitForIdle(s, P);
  // The oracle knows each pool item's true label through its externalId.
  const truth = new Map<string, string>();
  for (const line of (await s.call('GET', `/api/projects/${P}/export?format=jsonl`)).text.trim().split('\n')) {
    const row = JSON.parse(line);
    if (row.externalId.startsWith('p')) truth.set(row.id, pool[Number(row.externalId.slice(1))].label);
  }
  expect(truth.size).toBe(POOL);

  const accuracies: number[] = [];
  let labelled = 0;
  for (const target of ROUNDS) {
    while (labelled < target) {
      const q = await s.call('GET', `/api/projects/${P}/queue?limit=${target - labelled}`, { key: annotator });
      expect(q.status).toBe(200);
      expect(q.body.items.length).toBeGreaterThan(0);
      for (const it of q.body.items) {
        const r = await s.call('POST', `/api/projects/${P}/items/${it.id}/label`, { key: annotator, body: { label: truth.get(it.id) } });
        expect(r.status, r.text).toBe(200);
        labelled++;
      }
    }
    const job = await s.call('POST', `/api/projects/${P}/train`, { body: {} });
    expect(job.status, job.text).toBe(202);
    expect((await waitForJob(s, job.body.jobId)).status).toBe('succeeded');
    await waitForIdle(s, P);
    const m = await s.call('GET', `/api/projects/${P}/metrics`);
    accuracies.push(m.body.gold.accuracy);
  }
  return accuracies;
}

describe('active learning beats random sampling (seeded, small)', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer();
  });
  afterAll(() => s?.stop());

  it('the default strategy ends more accurate than random labels with the same model and budget', async () => {
    const furrow = await runArm(s, 'default');
    const random = await runArm(s, 'random');
    console.log(JSON.stringify({ test: 'active-learning', seed: SEED, labels: ROUNDS, furrow, random }));
    const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
    expect(furrow[furrow.length - 1]).toBeGreaterThan(random[random.length - 1]);
    // And over the whole curve, not only at its end.
    expect(mean(furrow)).toBeGreaterThan(mean(random));
  }, 900_000);
});
