import { afterAll, describe, expect, it } from 'vitest';
import { ValidationError } from '../core/errors.ts';
import type { ModelSpec } from './classifier.ts';
import { createInProcessRunner, createModelRunner, type ModelRef, type ModelRunner } from './model-runner.ts';
import { createPrng } from './prng.ts';
import { decodeModel } from './weights.ts';

/** 8x8 gray images: bright top half (class 0) or bright bottom half (class 1), with noise. */
function halves(n: number, seed: number): { inputs: Uint8Array[]; labels: Int32Array } {
  const prng = createPrng(seed);
  const inputs: Uint8Array[] = [];
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const y = i % 2;
    const img = new Uint8Array(64);
    for (let p = 0; p < 64; p++) img[p] = (p < 32 === (y === 0) ? 150 : 0) + prng.int(100);
    inputs.push(img);
    labels[i] = y;
  }
  return { inputs, labels };
}

const spec: ModelSpec = { modality: 'image', labels: ['top', 'bottom'], width: 8, height: 8, channels: 1 };
const train = halves(40, 1);
const test = halves(20, 2);

function refTo(blob: Uint8Array, key: string): ModelRef & { loads: number } {
  const ref = {
    key,
    loads: 0,
    load: async () => {
      ref.loads++;
      return blob;
    },
  };
  return ref;
}

const runners: ModelRunner[] = [];
afterAll(async () => {
  await Promise.all(runners.map((r) => r.close()));
});

describe('model runner (worker threads)', () => {
  const runner = createModelRunner({ backend: 'wasm' });
  runners.push(runner);

  it('reports its backend', async () => {
    expect(await runner.backend()).toBe('wasm');
  });

  it('trains in a worker, then predicts and embeds through a cached model ref', async () => {
    const progress: number[] = [];
    const { blob, result } = await runner.train({ spec, inputs: train.inputs, labels: train.labels, options: { epochs: 15, seed: 3 } }, (p) =>
      progress.push(p),
    );
    expect(result.finite).toBe(true);
    expect(progress.at(-1)).toBe(1);
    expect(decodeModel(blob).spec).toMatchObject({ ...spec, arch: 'cnn-v1' });
    // The caller's inputs were copied, not transferred away.
    expect(train.inputs[0].length).toBe(64);

    const ref = refTo(blob, 'halves:v1');
    const probs = await runner.predict(ref, test.inputs);
    expect(probs.length).toBe(test.inputs.length * 2);
    const correct = test.labels.filter((y, i) => (probs[2 * i + 1] > probs[2 * i] ? 1 : 0) === y).length;
    expect(correct / test.labels.length).toBeGreaterThanOrEqual(0.9);

    const again = await runner.predict(ref, test.inputs);
    expect(again).toEqual(probs);
    const emb = await runner.embed(ref, test.inputs.slice(0, 3));
    expect(emb.data.length).toBe(3 * emb.dim);
    const samples = await runner.predictSamples(ref, test.inputs, 3);
    expect(samples.length).toBe(3 * test.inputs.length * 2);
    const mean = await runner.predict(ref, test.inputs, { mcDropoutSamples: 3 });
    expect(mean.length).toBe(probs.length);
    expect(ref.loads).toBe(1);

    // Same seed on the calling thread: same weights, same predictions.
    const local = createInProcessRunner({ backend: 'wasm' });
    runners.push(local);
    const localRun = await local.train({ spec, inputs: train.inputs, labels: train.labels, options: { epochs: 15, seed: 3 } });
    expect(localRun.blob).toEqual(blob);
    expect(await local.predict(refTo(localRun.blob, 'x'), test.inputs)).toEqual(probs);
  });

  it('picks cold-start coverage in the worker, as the calling thread would', async () => {
    const rnd = (() => {
      let x = 11;
      return () => (x = (x * 16807) % 2147483647) / 2147483647;
    })();
    const candidates = Float32Array.from({ length: 300 * 4 }, rnd);
    const labelled = Float32Array.from({ length: 20 * 4 }, rnd);
    const req = { method: 'typical' as const, candidates, labelled, dim: 4, count: 12, seed: 5 };
    const inWorker = await runner.coverage(req);
    expect(inWorker).toHaveLength(12);
    expect(new Set(inWorker).size).toBe(12);
    expect(inWorker).toEqual(await createInProcessRunner().coverage(req));
    const spread = { ...req, method: 'spread' as const };
    expect(await runner.coverage(spread)).toEqual(await createInProcessRunner().coverage(spread));
    // The caller's arrays are copied, not transferred away.
    expect(candidates.length).toBe(1200);
  });

  it('warm-starts from an initial blob', async () => {
    const first = await runner.train({ spec, inputs: train.inputs, labels: train.labels, options: { epochs: 1, seed: 1 } });
    const warm = await runner.train({ spec, inputs: train.inputs, labels: train.labels, options: { epochs: 1, seed: 1 }, initial: first.blob });
    const cold = await runner.train({ spec, inputs: train.inputs, labels: train.labels, options: { epochs: 2, seed: 1 } });
    expect(warm.result.loss).toBeLessThan(first.result.loss);
    expect(warm.blob).not.toEqual(cold.blob);
  });

  it('serves concurrent requests for a model whose weights load as a Node Buffer, leaving the Buffer intact', async () => {
    const { blob } = await runner.train({ spec, inputs: train.inputs, labels: train.labels, options: { epochs: 1, seed: 2 } });
    // postgres.js hands bytea back as a Buffer; this one is a view into a larger ArrayBuffer, as pooled ones are.
    const backing = Buffer.alloc(blob.length + 16);
    const asBuffer = backing.subarray(8, 8 + blob.length);
    asBuffer.set(blob);
    const ref = refTo(asBuffer, 'buffer-blob');
    const results = await Promise.all([1, 2, 3].map(() => runner.predict(ref, test.inputs)));
    for (const r of results) expect(r).toEqual(results[0]);
    expect(results[0].length).toBe(40);
    expect(backing.buffer.byteLength).toBeGreaterThan(0);
    expect(Buffer.from(asBuffer)).toEqual(Buffer.from(blob));
    // Warm-starting from a Buffer leaves it intact too.
    await runner.train({ spec, inputs: train.inputs, labels: train.labels, options: { epochs: 1, seed: 2 }, initial: asBuffer });
    expect(asBuffer.length).toBe(blob.length);
    expect(Buffer.from(asBuffer)).toEqual(Buffer.from(blob));
  });

  it('rejects with the worker error class and keeps serving', async () => {
    const { blob } = await runner.train({ spec, inputs: train.inputs, labels: train.labels, options: { epochs: 1 } });
    await expect(runner.predict(refTo(blob, 'bad-input'), [new Uint8Array(3)])).rejects.toBeInstanceOf(ValidationError);
    await expect(runner.train({ spec, inputs: train.inputs, labels: new Int32Array(2) })).rejects.toBeInstanceOf(ValidationError);
    const failing: ModelRef = { key: 'gone', load: async () => Promise.reject(new Error('no such version')) };
    await expect(runner.predict(failing, test.inputs)).rejects.toThrow('no such version');
    const truncated = refTo(blob.subarray(0, blob.length - 10), 'truncated');
    await expect(runner.predict(truncated, test.inputs)).rejects.toThrow(/truncated/);
    expect((await runner.predict(refTo(blob, 'ok'), test.inputs)).length).toBe(40);
  });

  it('aborts training and can train again', async () => {
    const controller = new AbortController();
    const job = runner.train(
      { spec, inputs: train.inputs, labels: train.labels, options: { epochs: 500 } },
      (_p, info) => {
        if (info.epoch === 2) controller.abort(new Error('cancelled by test'));
      },
      controller.signal,
    );
    await expect(job).rejects.toThrow('cancelled by test');
    const throwing = runner.train({ spec, inputs: train.inputs, labels: train.labels, options: { epochs: 500 } }, () => {
      throw new Error('progress callback failed');
    });
    await expect(throwing).rejects.toThrow('progress callback failed');
    const next = await runner.train({ spec, inputs: train.inputs, labels: train.labels, options: { epochs: 1 } });
    expect(next.result.epochs).toBe(1);
  });
});

describe('model runner crash handling', () => {
  it('rejects pending calls when a worker dies and respawns it on the next call', async () => {
    // A small heap limit lets the test kill the inference worker with an oversized request.
    const runner = createModelRunner({ backend: 'wasm', resourceLimits: { maxOldGenerationSizeMb: 64 } });
    runners.push(runner);
    const { blob } = await runner.train({
      spec: { modality: 'text', labels: ['a', 'b'], hashDim: 256 },
      inputs: ['good', 'bad'],
      labels: Int32Array.of(0, 1),
      options: { epochs: 1 },
    });
    const ref = refTo(blob, 'text');
    expect((await runner.predict(ref, ['fine'])).length).toBe(2);
    const huge = Array.from({ length: 150 }, () => 'x'.repeat(1 << 20));
    await expect(runner.predict(ref, huge)).rejects.toThrow(/predictor model worker crashed: .*memory/);
    expect((await runner.predict(ref, ['fine again'])).length).toBe(2);
    expect(ref.loads).toBe(2);
  });

  it('rejects calls after close', async () => {
    const runner = createModelRunner({ backend: 'wasm' });
    await runner.backend();
    await runner.close();
    await expect(runner.backend()).rejects.toThrow(/closed/);
  });
});
