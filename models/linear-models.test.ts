import { beforeAll, describe, expect, it } from 'vitest';
import type { ModelInput } from '../core/types.ts';
import { initBackend } from './backend.ts';
import { createClassifier, loadClassifier, type ModelSpec } from './classifier.ts';
import { fitLinear, objective, toSparseRows } from './linear-solver.ts';
import { createPrng } from './prng.ts';
import { CANDIDATES, crossValidate, defaultFoldsFor, foldPlan, stratifiedFolds, type FoldRunner } from './selection.ts';
import { decodeModel, encodeModel } from './weights.ts';

/** Texts whose class (one of 6) is carried by one topic word among shared filler. */
function topicTexts(n: number, seed: number): { inputs: string[]; labels: Int32Array; names: string[] } {
  const prng = createPrng(seed);
  const topics = [
    ['violin', 'cello', 'flute'],
    ['salmon', 'trout', 'carp'],
    ['granite', 'basalt', 'marble'],
    ['tulip', 'orchid', 'daisy'],
    ['hammer', 'wrench', 'chisel'],
    ['comet', 'nebula', 'quasar'],
  ];
  const filler = ['a', 'kind', 'of', 'the', 'thing', 'with', 'that', 'is', 'often', 'seen', 'in', 'many', 'places'];
  const inputs: string[] = [];
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const y = i % topics.length;
    const words = Array.from({ length: 7 }, () => filler[prng.int(filler.length)]);
    words.splice(prng.int(7), 0, topics[y][prng.int(3)]);
    inputs.push(words.join(' '));
    labels[i] = y;
  }
  return { inputs, labels, names: topics.map((t) => t[0]) };
}

/** 2-D XOR quadrants plus noise dimensions: no linear model can separate them, an MLP can. */
function xor(n: number, seed: number): { inputs: Float32Array[]; labels: Int32Array } {
  const prng = createPrng(seed);
  const inputs: Float32Array[] = [];
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const x = prng.next() * 2 - 1;
    const y = prng.next() * 2 - 1;
    inputs.push(Float32Array.of(x, y, prng.normal() * 0.1));
    labels[i] = x * y > 0 ? 1 : 0;
  }
  return { inputs, labels };
}

const inProcess: FoldRunner = async (spec, train, test, options) => {
  const c = createClassifier(spec, options.seed ?? 0);
  try {
    await c.fit(train.inputs, train.labels, options);
    return await c.predictProba(test);
  } finally {
    c.dispose();
  }
};

beforeAll(async () => {
  await initBackend();
});

describe('linear solver', () => {
  it('has an analytic gradient that matches finite differences', () => {
    const prng = createPrng(3);
    const dim = 5;
    const k = 3;
    const rows = toSparseRows(
      Array.from({ length: 12 }, () => {
        const idx = [0, 2, 4].filter(() => prng.next() < 0.8);
        return { indices: idx, values: idx.map(() => prng.normal()) };
      }),
      dim,
    );
    const labels = Int32Array.from({ length: 12 }, (_, i) => i % k);
    const weights = Float64Array.from({ length: 12 }, () => 0.5 + prng.next());
    const theta = Float64Array.from({ length: dim * k + k }, () => prng.normal() * 0.3);
    const grad = new Float64Array(theta.length);
    objective(rows, labels, k, theta, 2, weights, grad);
    const scratch = new Float64Array(theta.length);
    for (let j = 0; j < theta.length; j++) {
      const h = 1e-6;
      const plus = Float64Array.from(theta);
      const minus = Float64Array.from(theta);
      plus[j] += h;
      minus[j] -= h;
      const numeric = (objective(rows, labels, k, plus, 2, weights, scratch) - objective(rows, labels, k, minus, 2, weights, scratch)) / (2 * h);
      expect(Math.abs(numeric - grad[j])).toBeLessThan(1e-6);
    }
  });

  it('converges: the gradient at the solution is near zero and a weaker penalty fits the training set better', () => {
    const { inputs, labels } = xor(80, 5);
    const rows = toSparseRows(
      inputs.map((v) => ({ indices: [0, 1, 2], values: v })),
      3,
    );
    const strong = fitLinear(rows, labels, 2, { C: 0.01 });
    const weak = fitLinear(rows, labels, 2, { C: 100 });
    expect(strong.converged && weak.converged).toBe(true);
    expect(weak.loss).toBeLessThan(strong.loss);
    const theta = Float64Array.from([...weak.kernel, ...weak.bias]);
    const grad = new Float64Array(theta.length);
    objective(rows, labels, 2, theta, 100, new Float64Array(80).fill(1), grad);
    expect(Math.max(...grad.map(Math.abs))).toBeLessThan(1e-3);
  });
});

describe('linear classifiers', () => {
  it('tfidf-lr learns topic words and reloads to identical probabilities', async () => {
    const train = topicTexts(120, 1);
    const test = topicTexts(60, 2);
    const spec: ModelSpec = { modality: 'text', labels: train.names, arch: 'tfidf-lr-v1' };
    const c = createClassifier(spec, 1);
    const result = await c.fit(train.inputs, train.labels, { unlabeled: test.inputs });
    expect(result.finite).toBe(true);
    const probs = await c.predictProba(test.inputs);
    let correct = 0;
    for (let i = 0; i < test.labels.length; i++) {
      const row = Array.from(probs.subarray(i * 6, i * 6 + 6));
      expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
      if (row.indexOf(Math.max(...row)) === test.labels[i]) correct++;
    }
    expect(correct / test.labels.length).toBeGreaterThan(0.85);
    const blob = encodeModel(c.serialize());
    const again = loadClassifier(decodeModel(blob));
    expect(again.spec.arch).toBe('tfidf-lr-v1');
    expect(Array.from(await again.predictProba(test.inputs))).toEqual(Array.from(probs));
    const emb = await again.embed(test.inputs.slice(0, 3));
    expect(emb.data.length).toBe(3 * emb.dim);
    expect((await again.predictProbaSamples(test.inputs.slice(0, 2), 3)).length).toBe(3 * 2 * 6);
    c.dispose();
    again.dispose();
  });

  it('linear-v1 reloads to identical probabilities and rejects a wrong-length vector', async () => {
    const { inputs, labels } = xor(60, 7);
    const c = createClassifier({ modality: 'vector', labels: ['a', 'b'], dim: 3, arch: 'linear-v1' }, 1);
    await c.fit(inputs, labels);
    const probs = await c.predictProba(inputs);
    const again = loadClassifier(decodeModel(encodeModel(c.serialize())));
    expect(Array.from(await again.predictProba(inputs))).toEqual(Array.from(probs));
    await expect(again.predictProba([new Float32Array(2)] as ModelInput[])).rejects.toThrow(/length 3/);
  });
});

describe('model selection', () => {
  it('stratified folds keep every class in every fold and never hold out a single-label class', () => {
    const labels = Int32Array.from([0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 2]);
    const folds = stratifiedFolds(labels, 2, 9);
    expect(folds[10]).toBe(-1);
    for (const f of [0, 1]) {
      expect(labels.filter((y, i) => folds[i] === f && y === 0).length).toBe(2);
      expect(labels.filter((y, i) => folds[i] === f && y === 1).length).toBe(3);
    }
    expect(foldPlan(labels, 5, ['a', 'b', 'c'])).toMatchObject({ k: 4 });
    expect(foldPlan(Int32Array.from([0, 0, 1]), 5, ['a', 'b'])).toMatchObject({ k: 0 });
    expect(foldPlan(Int32Array.from([1, 1, 1]), 5, ['a', 'b'])).toMatchObject({ k: 0 });
  });

  it('picks the MLP on a task no linear model can fit (XOR)', async () => {
    const { inputs, labels } = xor(150, 11);
    const sel = await crossValidate({
      base: { modality: 'vector', labels: ['a', 'b'], dim: 3 },
      candidates: CANDIDATES.vector,
      inputs,
      labels,
      maxFolds: 3,
      maxLabels: 1000,
      seed: 1,
      foldsFor: defaultFoldsFor('vector'), // every size: networks on 2 folds
      run: inProcess,
    });
    expect(sel.method).toBe('cv');
    expect(sel.name).toBe('mlp');
    const mlp = sel.scores.find((s) => s.name === 'mlp')!;
    expect(mlp.k).toBe(2);
    expect(Math.max(...sel.scores.filter((s) => s.name === 'linear').map((s) => s.mean))).toBeLessThan(mlp.mean - 0.2);
  }, 60_000);

  it('picks the linear model on a linearly separable sparse text task, and falls back with a reason on one-label classes', async () => {
    const { inputs, labels, names } = topicTexts(60, 4);
    // The n-gram MLP on 1,024 buckets stands in for the networks (fast); the lexicon would only add cost.
    const candidates = CANDIDATES.text.filter((c) => c.arch === 'tfidf-lr-v1' || c.name === 'ngram-mlp');
    const base: ModelSpec = { modality: 'text', labels: names, hashDim: 2 ** 10 };
    const run: FoldRunner = (spec, train, test, options) => inProcess(spec, train, test, { ...options });
    const sel = await crossValidate({ base, candidates, inputs, labels, maxFolds: 3, maxLabels: 1000, seed: 2, run, foldsFor: defaultFoldsFor('text') });
    expect(sel.name).toBe('tfidf-lr');
    expect(sel.scores.find((s) => s.name === 'tfidf-lr')!.mean).toBeGreaterThan(sel.scores.find((s) => s.name === 'ngram-mlp')!.mean);
    const fb = await crossValidate({
      base,
      candidates,
      inputs: inputs.slice(0, 7),
      labels: Int32Array.from([0, 1, 2, 3, 4, 5, 0]),
      maxFolds: 5,
      maxLabels: 1000,
      seed: 2,
      run,
    });
    expect(fb.method).toBe('fallback');
    expect(fb.name).toBe('tfidf-lr');
    expect(fb.reason).toMatch(/fewer than two classes/);
  }, 120_000);
});
