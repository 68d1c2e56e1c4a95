import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from './backend.ts';
import { createPrng } from './prng.ts';
import { forwardOnlyGradConv, matMulFast } from './wasm-ops.ts';

/** Deterministic normal values, so the same numbers feed both backends. */
function normals(n: number, seed: number): Float32Array {
  const prng = createPrng(seed);
  return Float32Array.from({ length: n }, () => prng.normal());
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function maxAbs(a: Float32Array): number {
  return a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
}

/** Value and gradients of sum(conv(x, w) * r) w.r.t. x and w, as arrays. */
function convGrads(conv: (x: tf.Tensor4D, w: tf.Tensor4D) => tf.Tensor4D, xs: number[], ws: number[], seed: number) {
  return tf.tidy(() => {
    const x = tf.tensor4d(
      normals(
        xs.reduce((a, b) => a * b),
        seed,
      ),
      xs as [number, number, number, number],
    );
    const w = tf.tensor4d(
      normals(
        ws.reduce((a, b) => a * b),
        seed + 1,
      ),
      ws as [number, number, number, number],
    );
    const outShape = [xs[0], xs[1], xs[2], ws[3]];
    const r = tf.tensor(
      normals(
        outShape.reduce((a, b) => a * b),
        seed + 2,
      ),
      outShape,
    );
    const f = (a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(conv(a as tf.Tensor4D, b as tf.Tensor4D), r));
    const [dx, dw] = tf.grads(f)([x, w]);
    return {
      value: conv(x, w).dataSync() as Float32Array,
      dx: dx.dataSync() as Float32Array,
      dw: dw.dataSync() as Float32Array,
    };
  });
}

describe('wasm-friendly ops', () => {
  let backend: string;
  beforeAll(async () => {
    backend = await initBackend('wasm');
  });

  it('forwardOnlyGradConv matches tf.conv2d and its cpu gradient', async () => {
    const cases: { x: number[]; w: number[] }[] = [
      { x: [3, 7, 6, 2], w: [3, 3, 2, 4] }, // odd, non-square image
      { x: [2, 5, 5, 3], w: [5, 5, 3, 2] }, // 5x5 kernel
    ];
    for (const [i, c] of cases.entries()) {
      await tf.setBackend('cpu');
      const ref = convGrads((x, w) => tf.conv2d(x, w, 1, 'same'), c.x, c.w, 10 * i);
      await tf.setBackend(backend);
      const custom = convGrads((x, w) => forwardOnlyGradConv(x, w), c.x, c.w, 10 * i);
      expect(maxAbsDiff(custom.value, ref.value)).toBeLessThan(1e-4 * Math.max(1, maxAbs(ref.value)));
      expect(maxAbsDiff(custom.dx, ref.dx)).toBeLessThan(1e-4 * Math.max(1, maxAbs(ref.dx)));
      expect(maxAbsDiff(custom.dw, ref.dw)).toBeLessThan(1e-4 * Math.max(1, maxAbs(ref.dw)));
    }
  });

  it('forwardOnlyGradConv with inputGrad=false still gives the filter gradient', () => {
    const full = convGrads((x, w) => forwardOnlyGradConv(x, w), [2, 6, 6, 1], [3, 3, 1, 3], 5);
    const noDx = convGrads((x, w) => forwardOnlyGradConv(x, w, false), [2, 6, 6, 1], [3, 3, 1, 3], 5);
    expect(maxAbsDiff(noDx.dw, full.dw)).toBe(0);
    expect(maxAbs(noDx.dx)).toBe(0);
  });

  it('matMulFast matches tf.matMul and its gradients', async () => {
    const inputs = () => [tf.tensor2d(normals(5 * 7, 1), [5, 7]), tf.tensor2d(normals(7 * 3, 2), [7, 3]), tf.tensor2d(normals(5 * 3, 3), [5, 3])];
    const run = (mm: (a: tf.Tensor2D, b: tf.Tensor2D) => tf.Tensor2D) =>
      tf.tidy(() => {
        const [a, b, r] = inputs();
        const [da, db] = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(mm(x as tf.Tensor2D, y as tf.Tensor2D), r)))([a, b]);
        return [mm(a, b), da, db].map((t) => t.dataSync() as Float32Array);
      });
    await tf.setBackend('cpu');
    const ref = run((a, b) => tf.matMul(a, b));
    await tf.setBackend(backend);
    const fast = run((a, b) => matMulFast(a, b));
    for (let i = 0; i < 3; i++) expect(maxAbsDiff(fast[i], ref[i])).toBeLessThan(1e-4);
    // Without an input gradient only w is differentiated.
    const dbOnly = tf.tidy(() => {
      const [a, b, r] = inputs();
      return tf
        .grad((y: tf.Tensor) => tf.sum(tf.mul(matMulFast(a, y as tf.Tensor2D, false), r)))(b)
        .dataSync() as Float32Array;
    });
    expect(maxAbsDiff(dbOnly, ref[2])).toBeLessThan(1e-4);
  });

  it('leaves no tensors behind', () => {
    const before = tf.memory().numTensors;
    convGrads((x, w) => forwardOnlyGradConv(x, w), [2, 4, 4, 2], [3, 3, 2, 2], 1);
    expect(tf.memory().numTensors).toBe(before);
  });
});
