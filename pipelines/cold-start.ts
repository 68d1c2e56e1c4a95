import type { Modality } from '../core/types.ts';
import { modelInputOf } from './inputs.ts';

/** Dimensions of the hashed bag of words used to spread out a cold-start text sample. */
const TEXT_DIM = 512;
/** Images are average-pooled to at most this many values per side before comparing them. */
const IMAGE_SIDE = 14;

/**
 * A model-free representation for spreading the first labels over the data: pooled pixels for images, the
 * vector itself, a hashed bag of words for text. Rows are L2-normalised.
 */
export function rawFeatures(
  rows: { input: Uint8Array | null; data: Record<string, unknown> }[],
  modality: Modality,
  image?: { width: number; height: number; channels: number },
): { dim: number; data: Float32Array } {
  if (!rows.length) return { dim: 0, data: new Float32Array(0) };
  let dim: number;
  let fill: (r: (typeof rows)[number], out: Float32Array) => void;
  if (modality === 'text') {
    dim = TEXT_DIM;
    fill = (r, out) => {
      for (const w of String(r.data.text ?? '').toLowerCase().split(/[^a-z0-9']+/)) {
        if (!w) continue;
        let h = 2166136261;
        for (let i = 0; i < w.length; i++) h = Math.imul(h ^ w.charCodeAt(i), 16777619);
        out[(h >>> 0) % TEXT_DIM] += 1;
      }
    };
  } else if (modality === 'vector') {
    dim = (modelInputOf(rows[0], 'vector') as Float32Array).length;
    fill = (r, out) => out.set(modelInputOf(r, 'vector') as Float32Array);
  } else {
    const { width, height, channels } = image!;
    const f = Math.max(1, Math.ceil(Math.max(width, height) / IMAGE_SIDE));
    const pw = Math.ceil(width / f);
    const ph = Math.ceil(height / f);
    dim = pw * ph * channels;
    fill = (r, out) => {
      const px = r.input!;
      for (let y = 0; y < height; y++)
        for (let x = 0; x < width; x++)
          for (let c = 0; c < channels; c++) out[(Math.floor(y / f) * pw + Math.floor(x / f)) * channels + c] += px[(y * width + x) * channels + c];
    };
  }
  const data = new Float32Array(rows.length * dim);
  rows.forEach((r, i) => {
    const out = data.subarray(i * dim, (i + 1) * dim);
    fill(r, out);
    let n = 0;
    for (const v of out) n += v * v;
    n = Math.sqrt(n) || 1;
    for (let j = 0; j < dim; j++) out[j] /= n;
  });
  return { dim, data };
}

/**
 * k-means++ seeding (Arthur & Vassilvitskii 2007) as a sampler: each next item is drawn with probability
 * proportional to its squared distance from the items already drawn, so the sample covers the data's
 * clusters (and so, usually, its classes) without chasing single outliers the way k-center would.
 */
export function kmeansppSample(data: Float32Array, dim: number, count: number, random: () => number): number[] {
  const n = dim ? data.length / dim : 0;
  if (!n || count <= 0) return [];
  const d2 = new Float64Array(n).fill(Infinity);
  const picked: number[] = [Math.floor(random() * n)];
  const taken = new Uint8Array(n);
  taken[picked[0]] = 1;
  while (picked.length < Math.min(count, n)) {
    const last = picked[picked.length - 1];
    let total = 0;
    for (let i = 0; i < n; i++) {
      if (taken[i]) continue;
      let d = 0;
      for (let j = 0; j < dim; j++) {
        const diff = data[i * dim + j] - data[last * dim + j];
        d += diff * diff;
      }
      if (d < d2[i]) d2[i] = d;
      total += d2[i];
    }
    let r = random() * total;
    let next = -1;
    for (let i = 0; i < n; i++) {
      if (taken[i]) continue;
      next = i;
      r -= d2[i];
      if (r <= 0) break;
    }
    if (next < 0) break;
    picked.push(next);
    taken[next] = 1;
  }
  return picked;
}
