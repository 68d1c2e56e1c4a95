import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from './backend.ts';
import { createClassifier, loadClassifier } from './classifier.ts';
import { createPrng } from './prng.ts';
import { decodeModel, encodeModel } from './weights.ts';

/** 8x8 gray images: a bright row (class 0) or a bright column (class 1) in noise. */
function bars(n: number, seed: number): { inputs: Uint8Array[]; labels: Int32Array } {
  const prng = createPrng(seed);
  const inputs: Uint8Array[] = [];
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const img = Uint8Array.from({ length: 64 }, () => prng.int(60));
    const at = 1 + prng.int(6);
    for (let j = 0; j < 8; j++) img[i % 2 === 0 ? at * 8 + j : j * 8 + at] = 230;
    inputs.push(img);
    labels[i] = i % 2;
  }
  return { inputs, labels };
}

beforeAll(async () => {
  await initBackend();
});

describe('image ensemble (cnn-ens3-v1)', () => {
  it('averages three differently seeded CNNs, exposes their disagreement, and reloads identically', async () => {
    const { inputs, labels } = bars(40, 1);
    const test = bars(10, 2).inputs;
    const c = createClassifier({ modality: 'image', labels: ['row', 'column'], width: 8, height: 8, channels: 1, arch: 'cnn-ens3-v1' }, 3);
    const r = await c.fit(inputs, labels, { epochs: 5 });
    expect(r.finite).toBe(true);
    const mean = await c.predictProba(test);
    const members = await c.predictProbaSamples(test, 3);
    // The members differ (different seeds) and their average is the ensemble's prediction.
    expect(Array.from(members.subarray(0, 20))).not.toEqual(Array.from(members.subarray(20, 40)));
    for (let i = 0; i < 20; i++) expect(mean[i]).toBeCloseTo((members[i] + members[20 + i] + members[40 + i]) / 3, 5);
    const again = loadClassifier(decodeModel(encodeModel(c.serialize())));
    expect(again.spec.arch).toBe('cnn-ens3-v1');
    expect(Array.from(await again.predictProba(test))).toEqual(Array.from(mean));
    c.dispose();
    again.dispose();
  }, 120_000);
});
