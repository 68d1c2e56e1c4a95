import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { ValidationError } from '../core/errors.ts';
import type { ModelInput } from '../core/types.ts';
import { initBackend } from './backend.ts';
import { createClassifier, loadClassifier, type ModelSpec, type SerializedModel } from './classifier.ts';
import { createPrng } from './prng.ts';
import { classWeights } from './tf-classifier.ts';

interface Dataset {
  spec: ModelSpec;
  inputs: ModelInput[];
  labels: Int32Array;
  /** Epochs that reach high train accuracy on this data. */
  epochs: number;
}

/** 12x10 RGB images, 3 classes: a horizontal bar, a vertical bar, or only noise. */
function images(n: number, seed: number): Dataset {
  const prng = createPrng(seed);
  const [w, h, c] = [12, 10, 3];
  const inputs: Uint8Array[] = [];
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const y = i % 3;
    const img = new Uint8Array(w * h * c);
    for (let p = 0; p < img.length; p++) img[p] = prng.int(60);
    const at = 1 + prng.int(8);
    for (let r = 0; r < h; r++) {
      for (let col = 0; col < w; col++) {
        const on = (y === 0 && r === at) || (y === 1 && col === at);
        if (on) for (let ch = 0; ch < c; ch++) img[(r * w + col) * c + ch] = 200 + prng.int(55);
      }
    }
    inputs.push(img);
    labels[i] = y;
  }
  return { spec: { modality: 'image', labels: ['h', 'v', 'none'], width: w, height: h, channels: c }, inputs, labels, epochs: 40 };
}

/** Short reviews whose label is carried by a few sentiment words among filler. */
function texts(n: number, seed: number): Dataset {
  const prng = createPrng(seed);
  const good = ['great', 'excellent', 'love', 'delicious', 'perfect'];
  const bad = ['awful', 'terrible', 'hate', 'stale', 'broken'];
  const filler = ['the', 'box', 'arrived', 'coffee', 'taste', 'was', 'and', 'it', 'my', 'kids', 'price', 'bag'];
  const pick = (a: string[]) => a[prng.int(a.length)];
  const inputs: string[] = [];
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const y = i % 2;
    const words = Array.from({ length: 8 }, () => pick(filler));
    words.splice(prng.int(8), 0, pick(y === 0 ? good : bad), pick(y === 0 ? good : bad));
    inputs.push(words.join(' '));
    labels[i] = y;
  }
  return { spec: { modality: 'text', labels: ['great', 'other'], hashDim: 2 ** 12 }, inputs, labels, epochs: 20 };
}

/** 3 Gaussian blobs in 6-D at a large offset and scale, so standardisation matters. */
function vectors(n: number, seed: number): Dataset {
  const prng = createPrng(seed);
  const dim = 6;
  const inputs: Float32Array[] = [];
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const y = i % 3;
    const v = new Float32Array(dim);
    for (let j = 0; j < dim; j++) v[j] = 1000 + 50 * prng.normal() + (j % 3 === y ? 300 : 0);
    inputs.push(v);
    labels[i] = y;
  }
  return { spec: { modality: 'vector', labels: ['a', 'b', 'c'], dim }, inputs, labels, epochs: 30 };
}

function argmaxRows(p: Float32Array, k: number): Int32Array {
  const out = new Int32Array(p.length / k);
  for (let i = 0; i < out.length; i++) {
    let best = 0;
    for (let c = 1; c < k; c++) if (p[i * k + c] > p[i * k + best]) best = c;
    out[i] = best;
  }
  return out;
}

function accuracy(p: Float32Array, labels: Int32Array, k: number): number {
  const pred = argmaxRows(p, k);
  return pred.filter((y, i) => y === labels[i]).length / labels.length;
}

function expectRowsSumToOne(p: Float32Array, k: number): void {
  for (let i = 0; i < p.length / k; i++) {
    let s = 0;
    for (let c = 0; c < k; c++) {
      expect(p[i * k + c]).toBeGreaterThanOrEqual(0);
      s += p[i * k + c];
    }
    expect(s).toBeCloseTo(1, 5);
  }
}

beforeAll(async () => {
  await initBackend('wasm');
});

describe.each([
  { name: 'image', make: images, arch: 'cnn-v1' },
  { name: 'text', make: texts, arch: 'ngram-lex-v2' },
  { name: 'vector', make: vectors, arch: 'mlp-v1' },
])('$name classifier', ({ make, arch }) => {
  const train = make(60, 1);
  const test = make(30, 2);
  const k = train.spec.labels.length;

  it('fills in its arch and predicts rows that sum to 1 before training', async () => {
    const model = createClassifier(train.spec, 7);
    expect(model.spec.arch).toBe(arch);
    const p = await model.predictProba(test.inputs);
    expect(p).toBeInstanceOf(Float32Array);
    expect(p.length).toBe(test.inputs.length * k);
    expectRowsSumToOne(p, k);
    expect((await model.predictProba([])).length).toBe(0);
    model.dispose();
  });

  it('fits separable data to high accuracy, keeping the tensor count stable', async () => {
    const model = createClassifier(train.spec, 7);
    const before = tf.memory().numTensors;
    const progress: number[] = [];
    const result = await model.fit(train.inputs, train.labels, { epochs: train.epochs, onProgress: (p) => progress.push(p) });
    expect(tf.memory().numTensors).toBe(before);
    expect(result).toMatchObject({ epochs: train.epochs, finite: true });
    expect(result.loss).toBeLessThan(0.5);
    expect(progress.at(-1)).toBe(1);
    expect(progress.every((p, i) => p > 0 && (i === 0 || p >= progress[i - 1]))).toBe(true);

    const p = await model.predictProba(train.inputs);
    expect(tf.memory().numTensors).toBe(before);
    expect(accuracy(p, train.labels, k)).toBeGreaterThanOrEqual(0.95);
    expect(accuracy(await model.predictProba(test.inputs), test.labels, k)).toBeGreaterThanOrEqual(0.8);

    const e = await model.embed(test.inputs);
    expect(tf.memory().numTensors).toBe(before);
    expect(e.data.length).toBe(test.inputs.length * e.dim);
    expect(e.dim).toBeGreaterThan(0);
    model.serialize();
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  it('serialises and loads to identical predictions and embeddings', async () => {
    const model = createClassifier(train.spec, 3);
    await model.fit(train.inputs, train.labels, { epochs: 3 });
    const copy = loadClassifier(model.serialize());
    expect(copy.spec).toEqual(model.spec);
    expect(await copy.predictProba(test.inputs)).toEqual(await model.predictProba(test.inputs));
    expect((await copy.embed(test.inputs)).data).toEqual((await model.embed(test.inputs)).data);
    // A warm start continues from the loaded weights.
    const res = await copy.fit(train.inputs, train.labels, { epochs: 2 });
    expect(res.finite).toBe(true);
    model.dispose();
    copy.dispose();
  });

  it('is deterministic for a seed', async () => {
    const run = async (seed: number) => {
      const model = createClassifier(train.spec, seed);
      await model.fit(train.inputs, train.labels, { epochs: 2 });
      const p = await model.predictProba(test.inputs);
      model.dispose();
      return p;
    };
    const a = await run(5);
    expect(await run(5)).toEqual(a);
    expect(await run(6)).not.toEqual(a);
  });

  it('gives MC-dropout samples whose mean is predictProba with mcDropoutSamples', async () => {
    const model = createClassifier(train.spec, 2);
    await model.fit(train.inputs, train.labels, { epochs: 2 });
    const before = tf.memory().numTensors;
    const t = 4;
    const n = test.inputs.length;
    const samples = await model.predictProbaSamples(test.inputs, t);
    expect(samples.length).toBe(t * n * k);
    expectRowsSumToOne(samples, k);
    expect(samples.subarray(0, n * k)).not.toEqual(samples.subarray(n * k, 2 * n * k));
    const mean = await model.predictProba(test.inputs, { mcDropoutSamples: t });
    for (let i = 0; i < n * k; i++) {
      let s = 0;
      for (let j = 0; j < t; j++) s += samples[j * n * k + i];
      expect(mean[i]).toBeCloseTo(s / t, 5);
    }
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  it('keeps the best epoch on validation data and reports its accuracy', async () => {
    const model = createClassifier(train.spec, 4);
    const result = await model.fit(train.inputs, train.labels, { epochs: 60, validation: { inputs: test.inputs, labels: test.labels } });
    expect(result.valAccuracy).toBeGreaterThanOrEqual(0.8);
    // The kept weights are the best epoch's: predicting the validation set reproduces its accuracy.
    expect(accuracy(await model.predictProba(test.inputs), test.labels, k)).toBeCloseTo(result.valAccuracy!, 10);
    model.dispose();
  });

  it('restores the weights when aborted', async () => {
    const model = createClassifier(train.spec, 8);
    const before = await model.predictProba(test.inputs);
    const tensors = tf.memory().numTensors;
    const controller = new AbortController();
    const fit = model.fit(train.inputs, train.labels, {
      epochs: 50,
      signal: controller.signal,
      onProgress: (_p, info) => info.epoch === 1 && controller.abort(new Error('stop')),
    });
    await expect(fit).rejects.toThrow('stop');
    expect(await model.predictProba(test.inputs)).toEqual(before);
    expect(tf.memory().numTensors).toBe(tensors);
    model.dispose();
  });

  it('rejects inputs of the wrong type or size with a ValidationError', async () => {
    const model = createClassifier(train.spec, 1);
    const wrong: ModelInput[] = [typeof train.inputs[0] === 'string' ? new Uint8Array(4) : 'text'];
    await expect(model.predictProba(wrong)).rejects.toBeInstanceOf(ValidationError);
    await expect(model.fit(train.inputs, new Int32Array(3))).rejects.toBeInstanceOf(ValidationError);
    await expect(model.fit(train.inputs.slice(0, 2), Int32Array.of(0, k))).rejects.toThrow(/outside/);
    model.dispose();
    await expect(model.predictProba(test.inputs)).rejects.toThrow(/disposed/);
  });
});

describe('classifier specs and training details', () => {
  it('rejects bad specs', () => {
    expect(() => createClassifier({ modality: 'image', labels: ['a'], width: 8, height: 8 })).toThrow(ValidationError);
    expect(() => createClassifier({ modality: 'vector', labels: ['a', 'b'] })).toThrow(/dim/);
    expect(() => createClassifier({ modality: 'image', labels: ['a', 'b'], width: 8, height: 8, channels: 2 })).toThrow(/channels/);
    expect(() => createClassifier({ modality: 'text', labels: ['a', 'b'], arch: 'transformer-v9' })).toThrow(/architecture/);
  });

  it('trains image models of large and tiny, odd sizes', async () => {
    for (const [width, height] of [
      [64, 48],
      [5, 7],
    ]) {
      const spec: ModelSpec = { modality: 'image', labels: ['a', 'b'], width, height, channels: 3 };
      const prng = createPrng(width);
      const inputs = Array.from({ length: 4 }, () => Uint8Array.from({ length: width * height * 3 }, () => prng.int(256)));
      const model = createClassifier(spec, 1);
      const before = tf.memory().numTensors;
      await model.fit(inputs, Int32Array.of(0, 1, 0, 1), { epochs: 2 });
      expectRowsSumToOne(await model.predictProba(inputs), 2);
      expect(tf.memory().numTensors).toBe(before);
      model.dispose();
    }
  });

  it('rejects weights that do not match the spec', () => {
    const small = createClassifier({ modality: 'vector', labels: ['a', 'b'], dim: 3 });
    const serialized = small.serialize();
    small.dispose();
    const before = tf.memory().numTensors;
    expect(() => loadClassifier({ ...serialized, spec: { ...serialized.spec, dim: 4 } })).toThrow(/weights/);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('reports a diverging fit as not finite and restores the weights it started from', async () => {
    const data = vectors(30, 3);
    const model = createClassifier(data.spec, 1);
    await model.fit(data.inputs, data.labels, { epochs: 1 });
    const start = await model.predictProba(data.inputs);
    const before = tf.memory().numTensors;
    const result = await model.fit(data.inputs, data.labels, { epochs: 5, learningRate: 1e38 });
    expect(result.finite).toBe(false);
    expect(await model.predictProba(data.inputs)).toEqual(start);
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  it('stops early when validation accuracy stalls', async () => {
    const data = vectors(30, 5);
    const val = vectors(30, 6);
    // Labels unrelated to the inputs: no epoch beats the first few, so patience runs out.
    const prng = createPrng(9);
    const noise = Int32Array.from(val.labels, () => prng.int(3));
    const model = createClassifier(data.spec, 1);
    const result = await model.fit(data.inputs, data.labels, { epochs: 200, validation: { inputs: val.inputs, labels: noise } });
    expect(result.epochs).toBeLessThan(200);
    expect(result.valAccuracy).toBeDefined();
    model.dispose();
  });

  it('computes vector statistics on the first fit only, and serialises them', async () => {
    const data = vectors(30, 4);
    const model = createClassifier(data.spec, 1);
    await model.fit(data.inputs, data.labels, { epochs: 1 });
    const stats = (m: { serialize(): SerializedModel }) => {
      const s = m.serialize();
      const floats = new Float32Array(s.weights.slice().buffer);
      expect(s.manifest[0].name).toBe('standardize/mean');
      return Array.from(floats.subarray(0, 6));
    };
    const first = stats(model);
    expect(first[0]).toBeGreaterThan(900);
    const shifted = data.inputs.map((v) => (v as Float32Array).map((x) => x + 500));
    const copy = loadClassifier(model.serialize());
    await copy.fit(shifted, data.labels, { epochs: 1 });
    expect(stats(copy)).toEqual(first);
    model.dispose();
    copy.dispose();
  });

  it('weights classes so each carries the same total weight, within a cap', () => {
    const w = classWeights(Int32Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 1), 3);
    expect(9 * w[0]).toBeCloseTo(w[1], 5);
    expect(w[2]).toBe(0);
    // The mean weight over the samples is 1, so the loss scale does not depend on the label mix.
    expect((9 * w[0] + w[1]) / 10).toBeCloseTo(1, 6);
    const rare = classWeights(
      Int32Array.from({ length: 100 }, (_, i) => (i === 0 ? 1 : 0)),
      2,
    );
    expect(rare[1]).toBe(10);
  });
});
