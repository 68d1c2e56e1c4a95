/**
 * 'cnn-ens3-v1': three 'cnn-v1' networks trained from different seeds (different initial weights, batch
 * order and dropout masks), their probabilities averaged. predictProbaSamples returns the members'
 * predictions (one member per sample, cycling; with more samples than members each member adds
 * MC-dropout passes), so BALD over the samples measures committee disagreement. embed is member 0's.
 * Weights are the members' in order, each name prefixed with "m<i>/".
 */
import type { ModelInput } from '../core/types.ts';
import type { FitOptions, FitResult, ModelSpec, SerializedModel } from './classifier.ts';
import { createImageCnn } from './image-cnn.ts';
import type { LoadableClassifier } from './tf-classifier.ts';

export const IMAGE_ENSEMBLE_ARCH = 'cnn-ens3-v1';
export const ENSEMBLE_MEMBERS = 3;
/** Members' seeds are the ensemble's seed plus multiples of this. */
const SEED_STRIDE = 7919;

export function createImageEnsemble(spec: ModelSpec, seed: number): LoadableClassifier {
  const members = Array.from({ length: ENSEMBLE_MEMBERS }, (_, m) => createImageCnn({ ...spec, arch: 'cnn-v1' }, seed + SEED_STRIDE * m));
  const k = spec.labels.length;
  const fullSpec: ModelSpec = { ...members[0].spec, arch: IMAGE_ENSEMBLE_ARCH };
  let fits = 0;

  return {
    spec: fullSpec,

    async fit(inputs: ModelInput[], labels: Int32Array, opts: FitOptions = {}): Promise<FitResult> {
      const results: FitResult[] = [];
      const before = members.map((m) => m.serialize());
      const baseSeed = opts.seed ?? seed + fits;
      fits++;
      try {
        for (let m = 0; m < members.length; m++) {
          results.push(
            await members[m].fit(inputs, labels, {
              ...opts,
              seed: baseSeed + SEED_STRIDE * m,
              onProgress: opts.onProgress ? (p, info) => opts.onProgress!((m + p) / members.length, info) : undefined,
            }),
          );
        }
      } catch (err) {
        // An abort mid-way: the members already trained go back to their weights before the fit too.
        members.forEach((mem, i) => mem.loadWeights(before[i]));
        throw err;
      }
      const finite = results.every((r) => r.finite);
      if (!finite) members.forEach((mem, i) => mem.loadWeights(before[i]));
      const vals = results.map((r) => r.valAccuracy).filter((v): v is number => v !== undefined);
      return {
        epochs: Math.max(...results.map((r) => r.epochs)),
        loss: results.reduce((a, r) => a + r.loss, 0) / results.length,
        valAccuracy: vals.length ? vals.reduce((a, b) => a + b, 0) / vals.length : undefined,
        finite,
      };
    },

    async predictProba(inputs, opts = {}) {
      const out = new Float32Array(inputs.length * k);
      for (const m of members) {
        const p = await m.predictProba(inputs, opts);
        for (let i = 0; i < out.length; i++) out[i] += p[i] / members.length;
      }
      return out;
    },

    async predictProbaSamples(inputs, samples) {
      const t = Math.floor(samples);
      const size = inputs.length * k;
      const out = new Float32Array(Math.max(1, t) * size);
      for (let m = 0; m < members.length; m++) {
        const mine: number[] = [];
        for (let s = m; s < t; s += members.length) mine.push(s);
        if (!mine.length) continue;
        const p = mine.length === 1 ? await members[m].predictProba(inputs) : await members[m].predictProbaSamples(inputs, mine.length);
        mine.forEach((s, j) => out.set(p.subarray(j * size, (j + 1) * size), s * size));
      }
      return out;
    },

    embed(inputs) {
      return members[0].embed(inputs);
    },

    serialize(): SerializedModel {
      const parts = members.map((m) => m.serialize());
      const total = parts.reduce((a, p) => a + p.weights.byteLength, 0);
      const weights = new Uint8Array(total);
      let o = 0;
      for (const p of parts) {
        weights.set(p.weights, o);
        o += p.weights.byteLength;
      }
      return {
        spec: structuredClone(fullSpec),
        manifest: parts.flatMap((p, i) => p.manifest.map((e) => ({ name: `m${i}/${e.name}`, shape: e.shape }))),
        weights,
      };
    },

    loadWeights(serialized: SerializedModel): void {
      const per = serialized.manifest.length / members.length;
      if (!Number.isInteger(per))
        throw new Error(`Model weights list ${serialized.manifest.length} tensors; ${IMAGE_ENSEMBLE_ARCH} needs a multiple of ${members.length}.`);
      const bytes = new Uint8Array(serialized.weights);
      let o = 0;
      members.forEach((m, i) => {
        const manifest = serialized.manifest.slice(i * per, (i + 1) * per).map((e) => {
          const prefix = `m${i}/`;
          if (!e.name.startsWith(prefix)) throw new Error(`Model weight ${e.name} does not belong to ensemble member ${i}.`);
          return { name: e.name.slice(prefix.length), shape: e.shape };
        });
        const size = 4 * manifest.reduce((a, e) => a + e.shape.reduce((x, y) => x * y, 1), 0);
        m.loadWeights({ spec: { ...fullSpec, arch: 'cnn-v1' }, manifest, weights: bytes.subarray(o, o + size) });
        o += size;
      });
      if (o !== bytes.byteLength) throw new Error(`Model weights hold ${bytes.byteLength} bytes; ${IMAGE_ENSEMBLE_ARCH} needs ${o}.`);
    },

    dispose(): void {
      for (const m of members) m.dispose();
    },
  };
}
