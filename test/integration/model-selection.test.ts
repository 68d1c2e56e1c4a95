import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mulberry32 } from '../../scripts/lib/sampling.ts';
import { startTestServer, waitForIdle, waitForJob, type TestServer } from '../helpers.ts';

/**
 * Model selection through the API: what a retrain chose and why is on the job and on GET /models, labels
 * that cannot support k-fold cross-validation still train (with the reason), and settings.model is validated;
 * on a constructed case where one candidate is clearly right, the cross-validation picks it; the audit
 * cross-validates with the candidate the active version chose.
 */
const TOPICS: Record<string, string[]> = {
  music: ['violin', 'cello', 'flute', 'piano'],
  fish: ['salmon', 'trout', 'carp', 'tuna'],
  rock: ['granite', 'basalt', 'marble', 'slate'],
};
const FILLER = ['a', 'kind', 'of', 'the', 'thing', 'seen', 'in', 'many', 'places', 'often'];

function text(label: string, i: number): string {
  const words = Array.from({ length: 6 }, (_, j) => FILLER[(i * 7 + j * 3) % FILLER.length]);
  words.splice(i % 6, 0, TOPICS[label][i % 4]);
  return words.join(' ');
}

async function project(s: TestServer, name: string, settings: Record<string, unknown> = {}) {
  const created = await s.call('POST', '/api/projects', {
    body: {
      name,
      modality: 'text',
      labels: Object.keys(TOPICS),
      settings: { retrainEvery: 0, auditEvery: 0, goldFraction: 0, minLabelsToTrain: 2, ...settings },
    },
  });
  expect(created.status, created.text).toBe(201);
  return created.body.id as string;
}

/** Ingests items already labelled (imported labels train like human ones). */
async function ingest(s: TestServer, P: string, labelled: [string, number][]) {
  const items: { text: string; label?: string }[] = labelled.flatMap(([label, n]) => Array.from({ length: n }, (_, i) => ({ text: text(label, i), label })));
  items.push(...Array.from({ length: 20 }, (_, i) => ({ text: text(Object.keys(TOPICS)[i % 3], 100 + i) })));
  const r = await s.call('POST', `/api/projects/${P}/items`, { body: { items } });
  expect(r.status, r.text).toBe(202);
  await waitForIdle(s, P);
}

describe('model selection per project', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer();
  });
  afterAll(() => s?.stop());

  it('records the cross-validated choice on the job and on /models', async () => {
    const P = await project(s, 'sel-cv', { model: 'auto' });
    await ingest(s, P, [
      ['music', 6],
      ['fish', 6],
      ['rock', 6],
    ]);
    const job = await s.call('POST', `/api/projects/${P}/train`, { body: {} });
    expect(job.status, job.text).toBe(202);
    const done = await waitForJob(s, job.body.jobId);
    expect(done.status, done.error).toBe('succeeded');
    expect(done.selection.method).toBe('cv');
    const models = await s.call('GET', `/api/projects/${P}/models`);
    expect(models.status).toBe(200);
    const v = models.body.versions[0];
    expect(v.model.method).toBe('cv');
    expect(v.model.cv.k).toBeGreaterThanOrEqual(2);
    expect(v.model.candidates.length).toBeGreaterThanOrEqual(4);
    expect(v.model.candidates.map((c: { candidate: string }) => c.candidate)).toContain(v.model.candidate);
    expect(v.model.reason).toMatch(/cross-validation/);
    expect(v.metrics.selection.chosen).toBe(v.model.candidate);
  }, 300_000);

  it('trains with a stated reason when a class has a single label, never failing', async () => {
    const P = await project(s, 'sel-single');
    await ingest(s, P, [
      ['music', 4],
      ['fish', 1],
    ]);
    const job = await s.call('POST', `/api/projects/${P}/train`, { body: {} });
    expect(job.status, job.text).toBe(202);
    const done = await waitForJob(s, job.body.jobId);
    expect(done.status, done.error).toBe('succeeded');
    expect(done.selection.method).toBe('fallback');
    expect(done.selection.reason).toMatch(/No cross-validation: fewer than two classes have 2 or more labels/);
    const models = await s.call('GET', `/api/projects/${P}/models`);
    expect(models.body.versions[0].model).toMatchObject({ method: 'fallback', candidate: 'tfidf-lr (C=10)', cv: null });
  }, 120_000);

  it('refuses training on a single class with 409, not a 500', async () => {
    const P = await project(s, 'sel-one-class');
    await ingest(s, P, [['music', 5]]);
    const r = await s.call('POST', `/api/projects/${P}/train`, { body: {} });
    expect(r.status).toBe(409);
    expect(r.body.error.code).toBe('not_enough_labels');
  });

  it('trains a forced candidate and validates settings.model', async () => {
    const bad = await s.call('POST', '/api/projects', { body: { name: 'sel-bad', modality: 'text', labels: ['a', 'b'], settings: { model: 'gpt' } } });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toBeDefined();
    const P = await project(s, 'sel-forced', { model: 'ngram-mlp' });
    await ingest(s, P, [
      ['music', 3],
      ['fish', 3],
    ]);
    const done = await waitForJob(s, (await s.call('POST', `/api/projects/${P}/train`, { body: {} })).body.jobId);
    expect(done.status, done.error).toBe('succeeded');
    expect(done.selection).toMatchObject({ method: 'forced', chosen: 'ngram-mlp' });
    const models = await s.call('GET', `/api/projects/${P}/models`);
    expect(models.body.versions[0].model).toMatchObject({ arch: 'ngram-mlp-v1', method: 'forced' });
  }, 120_000);
});

/**
 * Labelled 2-d points of two classes: a disk (r < 0.45) inside a ring (0.65 < r < 1). No line separates
 * them, so the linear candidates score about the majority share while the MLP draws the circle.
 */
function rings(n: number, seed: number): { vector: number[]; label: string }[] {
  const rnd = mulberry32(seed);
  return Array.from({ length: n }, (_, i) => {
    const inner = i % 2 === 0;
    const r = inner ? 0.45 * Math.sqrt(rnd()) : 0.65 + 0.35 * rnd();
    const a = 2 * Math.PI * rnd();
    return { vector: [r * Math.cos(a), r * Math.sin(a)], label: inner ? 'inner' : 'outer' };
  });
}

/** A standard normal deviate (Box-Muller). */
function gauss(rnd: () => number): number {
  return Math.sqrt(-2 * Math.log(rnd() + 1e-12)) * Math.cos(2 * Math.PI * rnd());
}

/**
 * 30 Gaussian classes in 100 dimensions with one covariance (the identity), 5 labels each: the Bayes boundary
 * between two such classes is a hyperplane, so a linear model is the right family, and the MLP's 128 hidden
 * units only add variance on 150 labels. (Data seeds 1-3 of this and of 20 classes x 6 labels in 100 or 200
 * dimensions: every linear variant ahead of the MLP by 7.5-22 points, a linear one chosen in all nine.)
 */
function gaussianClasses(seed: number): { vector: number[]; label: string }[] {
  const rnd = mulberry32(seed);
  const means = Array.from({ length: 30 }, () => Array.from({ length: 100 }, () => 0.4 * gauss(rnd)));
  return Array.from({ length: 150 }, (_, i) => ({ vector: means[i % 30].map((m) => m + gauss(rnd)), label: `c${i % 30}` }));
}

async function vectorProject(s: TestServer, name: string, settings: Record<string, unknown>, points: { vector: number[]; label: string }[]) {
  const created = await s.call('POST', '/api/projects', {
    body: {
      name,
      modality: 'vector',
      labels: [...new Set(points.map((p) => p.label))].sort(),
      settings: { vectorDim: points[0].vector.length, retrainEvery: 0, auditEvery: 0, goldFraction: 0, minLabelsToTrain: 2, seed: 1, ...settings },
    },
  });
  expect(created.status, created.text).toBe(201);
  const P = created.body.id as string;
  const r = await s.call('POST', `/api/projects/${P}/items`, { body: { items: points.map((p) => ({ vector: p.vector, label: p.label })) } });
  expect(r.status, r.text).toBe(202);
  await waitForIdle(s, P);
  return P;
}

describe('model selection on a case with a clear answer', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer();
  });
  afterAll(() => s?.stop());

  it('picks the MLP over every linear variant when the classes are concentric rings', async () => {
    const P = await vectorProject(s, 'sel-rings', { model: 'auto' }, rings(120, 11));
    const done = await waitForJob(s, (await s.call('POST', `/api/projects/${P}/train`, { body: {} })).body.jobId);
    expect(done.status, done.error).toBe('succeeded');
    const v = (await s.call('GET', `/api/projects/${P}/models`)).body.versions[0];
    const scores = v.model.candidates as { candidate: string; mean: number; k: number }[];
    console.log(JSON.stringify({ test: 'selection-rings', chosen: v.model.candidate, scores: scores.map((c) => [c.candidate, c.mean, c.k]) }));
    expect(v.model.method).toBe('cv');
    expect(v.model.cv.k).toBe(5);
    expect(v.model.candidate).toBe('mlp');
    const mlp = scores.find((c) => c.candidate === 'mlp')!;
    const linear = scores.filter((c) => c.candidate.startsWith('linear'));
    expect(linear).toHaveLength(3);
    // Not a close call: the circle is learnable, a line is not.
    expect(mlp.mean).toBeGreaterThan(0.85);
    for (const c of linear) expect(mlp.mean).toBeGreaterThan(c.mean + 0.2);
  }, 300_000);

  it('picks a linear model when the classes are Gaussians with a shared covariance, many of them with few labels', async () => {
    const P = await vectorProject(s, 'sel-gaussians', { model: 'auto' }, gaussianClasses(1));
    const done = await waitForJob(s, (await s.call('POST', `/api/projects/${P}/train`, { body: {} })).body.jobId);
    expect(done.status, done.error).toBe('succeeded');
    const v = (await s.call('GET', `/api/projects/${P}/models`)).body.versions[0];
    const scores = v.model.candidates as { candidate: string; mean: number; k: number }[];
    console.log(JSON.stringify({ test: 'selection-gaussians', chosen: v.model.candidate, scores: scores.map((c) => [c.candidate, c.mean, c.k]) }));
    expect(v.model.method).toBe('cv');
    expect(v.model.cv.k).toBe(5);
    expect(v.model.candidate).toMatch(/^linear \(C=/);
    const mlp = scores.find((c) => c.candidate === 'mlp')!;
    const linear = scores.filter((c) => c.candidate.startsWith('linear'));
    expect(linear).toHaveLength(3);
    // Every variant, not only the winner: the family is right, whatever its regularisation.
    for (const c of linear) expect(c.mean).toBeGreaterThan(mlp.mean + 0.05);
  }, 300_000);
});

describe("the audit cross-validates with the project's model", () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer();
  });
  afterAll(() => s?.stop());

  async function audit(P: string) {
    const a = await s.call('POST', `/api/projects/${P}/audit`, { body: {} });
    expect(a.status, a.text).toBe(202);
    const done = await waitForJob(s, a.body.jobId);
    expect(done.status, done.error).toBe('succeeded');
    return done;
  }

  it("uses the active version's candidate, else the forced one, else the modality's default", async () => {
    const points = rings(60, 12);
    // Without a version and with 'auto': the vector default (the MLP).
    const auto = await vectorProject(s, 'audit-default', { model: 'auto', auditRepeats: 1 }, points);
    expect((await audit(auto)).model).toEqual({ candidate: 'mlp-v1', arch: 'mlp-v1', source: 'default' });

    // Forced to the linear model: before any version, the forced candidate.
    const P = await vectorProject(s, 'audit-linear', { model: 'linear', auditRepeats: 1 }, points);
    expect((await audit(P)).model).toEqual({ candidate: 'linear (C=1)', arch: 'linear-v1', C: 1, source: 'setting' });
    const trained = await waitForJob(s, (await s.call('POST', `/api/projects/${P}/train`, { body: {} })).body.jobId);
    expect(trained.selection).toMatchObject({ method: 'forced', chosen: 'linear (C=1)' });
    // Back to 'auto' after training: the audit still judges labels with the model the project serves.
    expect((await s.call('PATCH', `/api/projects/${P}/settings`, { body: { settings: { model: 'auto' } } })).status).toBe(200);
    const job = await audit(P);
    expect(job.model).toEqual({ candidate: 'linear (C=1)', arch: 'linear-v1', C: 1, source: 'active-version', version: 1 });
    expect((await s.call('GET', `/api/jobs/${job.id}`)).body.model.arch).toBe('linear-v1');
  }, 300_000);
});
