import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { ValidationError } from '../core/errors.ts';
import { initBackend } from './backend.ts';
import { loadClassifier, type ModelSpec } from './classifier.ts';
import { createPrng } from './prng.ts';
import { LEXICON_DIM } from './text-lexicon.ts';
import { createTextNgram, TEXT_NGRAM_ARCHS, TEXT_NGRAM_LEX_ARCH, TEXT_NGRAM_V1_ARCH } from './text-ngram.ts';
import { decodeModel } from './weights.ts';

beforeAll(async () => {
  await initBackend('wasm');
});

/** Reviews whose label is carried by sentiment words VADER knows, or (for `domain`) by words it does not. */
function reviews(n: number, seed: number, domain = false): { texts: string[]; labels: Int32Array } {
  const prng = createPrng(seed);
  const good = domain ? ['addictive', 'restock', 'reorder'] : ['great', 'excellent', 'love', 'delicious', 'perfect'];
  const bad = domain ? ['soggy', 'refund', 'returned'] : ['awful', 'terrible', 'hate', 'stale', 'disappointing'];
  const filler = ['the', 'box', 'arrived', 'coffee', 'taste', 'was', 'and', 'it', 'my', 'kids', 'price', 'bag'];
  const pick = (a: string[]): string => a[prng.int(a.length)];
  const texts: string[] = [];
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const y = i % 2;
    const words = Array.from({ length: 8 }, () => pick(filler));
    words.splice(prng.int(8), 0, pick(y === 0 ? good : bad), pick(y === 0 ? good : bad));
    texts.push(words.join(' '));
    labels[i] = y;
  }
  return { texts, labels };
}

const spec: ModelSpec = { modality: 'text', labels: ['great', 'other'], hashDim: 2 ** 10, arch: TEXT_NGRAM_LEX_ARCH };

function accuracy(p: Float32Array, labels: Int32Array): number {
  let ok = 0;
  for (let i = 0; i < labels.length; i++) if ((p[2 * i + 1] > p[2 * i] ? 1 : 0) === labels[i]) ok++;
  return ok / labels.length;
}

describe("'ngram-mlp-v1' blobs", () => {
  it('load and predict exactly as the v1 code that saved them', async () => {
    const fixture = JSON.parse(readFileSync(join(import.meta.dirname, 'text-ngram-v1.fixture.json'), 'utf8')) as {
      blob: string;
      probe: string[];
      probs: number[];
      embed: number[];
    };
    const serialized = decodeModel(new Uint8Array(Buffer.from(fixture.blob, 'base64')));
    expect(serialized.spec.arch).toBe(TEXT_NGRAM_V1_ARCH);
    const viaClassifier = loadClassifier(serialized);
    const direct = createTextNgram(serialized.spec, 0);
    direct.loadWeights(serialized);
    for (const model of [viaClassifier, direct]) {
      expect(await model.predictProba(fixture.probe)).toEqual(Float32Array.from(fixture.probs));
      expect((await model.embed(fixture.probe)).data).toEqual(Float32Array.from(fixture.embed));
      model.dispose();
    }
  });

  it('are what createTextNgram builds when the spec names no arch', () => {
    const model = createTextNgram({ modality: 'text', labels: ['a', 'b'], hashDim: 64 }, 1);
    expect(model.spec.arch).toBe(TEXT_NGRAM_V1_ARCH);
    expect(model.serialize().manifest.map((m) => m.name)).toEqual(['hidden/kernel', 'hidden/bias', 'output/kernel', 'output/bias']);
    model.dispose();
  });
});

describe("'ngram-lex-v2' classifier", () => {
  const train = reviews(40, 1);
  const test = reviews(30, 2);
  const pool = reviews(200, 3).texts;

  it('lists both arches and rejects unknown ones', () => {
    expect(TEXT_NGRAM_ARCHS).toEqual([TEXT_NGRAM_LEX_ARCH, TEXT_NGRAM_V1_ARCH]);
    expect(() => createTextNgram({ ...spec, arch: 'ngram-v9' }, 1)).toThrow(ValidationError);
  });

  it('learns from a few labels, embeds into hidden + lexicon + projected features, keeping the tensor count stable', async () => {
    const model = createTextNgram(spec, 7);
    const before = tf.memory().numTensors;
    const result = await model.fit(train.texts, train.labels, { unlabeled: pool });
    expect(result.finite).toBe(true);
    expect(tf.memory().numTensors).toBe(before);
    expect(accuracy(await model.predictProba(test.texts), test.labels)).toBeGreaterThanOrEqual(0.9);
    const e = await model.embed(test.texts);
    expect(e.dim).toBe(32 + 2 * LEXICON_DIM);
    expect(e.data.length).toBe(test.texts.length * e.dim);
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  it('carries sentiment from the pool to words the lexicon does not know', async () => {
    // Labels only on lexicon words; the test reviews use domain words that co-occur with them in the pool.
    const mixed = reviews(200, 4).texts.map((t, i) => `${t} ${reviews(200, 4, true).texts[i]}`);
    const model = createTextNgram(spec, 3);
    await model.fit(train.texts, train.labels, { unlabeled: mixed, epochs: 20 });
    const domain = reviews(30, 5, true);
    expect(accuracy(await model.predictProba(domain.texts), domain.labels)).toBeGreaterThanOrEqual(0.8);
    model.dispose();
  });

  it('fits its statistics on the first fit only and serialises them', async () => {
    const model = createTextNgram(spec, 2);
    await model.fit(train.texts, train.labels, { unlabeled: pool, epochs: 2 });
    const names = model.serialize().manifest.map((m) => m.name);
    const stats = (): Float32Array => {
      const s = model.serialize();
      const floats = new Float32Array(s.weights.slice().buffer);
      let offset = 0;
      for (const m of s.manifest) {
        const size = m.shape.reduce((a, b) => a * b, 1);
        if (m.name === 'lexicon/mean') return floats.slice(offset, offset + size);
        offset += size;
      }
      throw new Error('no lexicon/mean');
    };
    expect(names).toContain('projection/kernel');
    const first = stats();
    expect(first.some((v) => v !== 0)).toBe(true);
    await model.fit(
      reviews(20, 9).texts.map((t) => `${t}!!! best ever`),
      Int32Array.from({ length: 20 }, (_, i) => i % 2),
      { epochs: 1 },
    );
    expect(stats()).toEqual(first);

    const copy = createTextNgram(spec, 0);
    copy.loadWeights(model.serialize());
    expect(await copy.predictProba(test.texts)).toEqual(await model.predictProba(test.texts));
    expect((await copy.embed(test.texts)).data).toEqual((await model.embed(test.texts)).data);
    model.dispose();
    copy.dispose();
  });

  it('is deterministic for a seed and gives distinct MC-dropout samples', async () => {
    const run = async (seed: number): Promise<Float32Array> => {
      const model = createTextNgram(spec, seed);
      await model.fit(train.texts, train.labels, { unlabeled: pool, epochs: 2 });
      const p = await model.predictProba(test.texts);
      const samples = await model.predictProbaSamples(test.texts, 3);
      const n = test.texts.length * 2;
      expect(samples.subarray(0, n)).not.toEqual(samples.subarray(n, 2 * n));
      model.dispose();
      return p;
    };
    const a = await run(5);
    expect(await run(5)).toEqual(a);
    expect(await run(6)).not.toEqual(a);
  });

  it('rejects a non-text unlabelled item before changing anything', async () => {
    const model = createTextNgram(spec, 1);
    const before = await model.predictProba(test.texts);
    const tensors = tf.memory().numTensors;
    await expect(model.fit(train.texts, train.labels, { unlabeled: ['fine', new Uint8Array(3)] })).rejects.toBeInstanceOf(ValidationError);
    expect(await model.predictProba(test.texts)).toEqual(before);
    expect(tf.memory().numTensors).toBe(tensors);
    model.dispose();
  });

  it('restores its statistics when a first fit is aborted', async () => {
    const model = createTextNgram(spec, 8);
    const fresh = model.serialize().weights;
    const controller = new AbortController();
    const fit = model.fit(train.texts, train.labels, {
      unlabeled: pool,
      epochs: 50,
      signal: controller.signal,
      onProgress: (_p, info) => info.epoch === 1 && controller.abort(new Error('stop')),
    });
    await expect(fit).rejects.toThrow('stop');
    expect(model.serialize().weights).toEqual(fresh);
    model.dispose();
  });
});
