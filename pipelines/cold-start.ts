import type { Modality } from '../core/types.ts';
import { modelInputOf } from './inputs.ts';

/** Dimensions of the hashed bag of words used to spread out a cold-start text sample. */
const TEXT_DIM = 512;
/** Images are average-pooled to at most this many values per side before comparing them (shape, not detail). */
const IMAGE_SIDE = 7;

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

/**
 * Typical items from the regions the labels do not cover yet (after TypiClust, Hacohen et al. 2022, "Active
 * learning on a budget"): with few labels, the items worth a human look are the typical members of the data's
 * clusters, not the model's uncertain cases, which are mostly its own noise while it is this weak. Clusters
 * the candidates and the already-labelled items together into (labelled + count) groups with k-means, then
 * takes, largest group first among those with the fewest labels, the candidate nearest to the group's centre.
 * `candidates` and `labelled` are row-major feature matrices of width `dim`. Returns candidate indices.
 */
export function typicalCoverage(
  candidates: Float32Array,
  labelled: Float32Array,
  dim: number,
  count: number,
  random: () => number,
  iterations = COVERAGE_ITERATIONS,
): number[] {
  const n = dim ? candidates.length / dim : 0;
  const m = dim ? labelled.length / dim : 0;
  if (!n || count <= 0) return [];
  if (count >= n) return Array.from({ length: n }, (_, i) => i);
  const total = n + m;
  const row = (i: number) => (i < n ? candidates.subarray(i * dim, (i + 1) * dim) : labelled.subarray((i - n) * dim, (i - n + 1) * dim));
  const all = new Float32Array(total * dim);
  for (let i = 0; i < total; i++) all.set(row(i), i * dim);
  const k = Math.min(total, m + count);
  // k-means++ seeding, then Lloyd iterations.
  const centres = new Float32Array(k * dim);
  kmeansppSample(all, dim, k, random).forEach((p, c) => centres.set(all.subarray(p * dim, (p + 1) * dim), c * dim));
  const assign = new Int32Array(total);
  const dist = new Float64Array(total);
  for (let it = 0; it <= iterations; it++) {
    for (let i = 0; i < total; i++) {
      let best = 0;
      let bestD = Infinity;
      for (let c = 0; c < k; c++) {
        let d = 0;
        for (let j = 0; j < dim; j++) {
          const diff = all[i * dim + j] - centres[c * dim + j];
          d += diff * diff;
          if (d >= bestD) break;
        }
        if (d < bestD) {
          bestD = d;
          best = c;
        }
      }
      assign[i] = best;
      dist[i] = bestD;
    }
    if (it === iterations) break;
    const sums = new Float64Array(k * dim);
    const sizes = new Int32Array(k);
    for (let i = 0; i < total; i++) {
      sizes[assign[i]]++;
      for (let j = 0; j < dim; j++) sums[assign[i] * dim + j] += all[i * dim + j];
    }
    for (let c = 0; c < k; c++) if (sizes[c]) for (let j = 0; j < dim; j++) centres[c * dim + j] = sums[c * dim + j] / sizes[c];
  }
  // Per cluster: its size, its labels, and its candidates from the most typical (nearest the centre) out.
  const size = new Int32Array(k);
  const covered = new Int32Array(k);
  const members: number[][] = Array.from({ length: k }, () => []);
  for (let i = 0; i < total; i++) {
    size[assign[i]]++;
    if (i < n) members[assign[i]].push(i);
    else covered[assign[i]]++;
  }
  for (const list of members) list.sort((a, b) => dist[a] - dist[b]);
  const next = new Int32Array(k);
  const picked: number[] = [];
  while (picked.length < count) {
    let best = -1;
    for (let c = 0; c < k; c++) {
      if (next[c] >= members[c].length) continue;
      // Clusters of a few outliers last; then fewest labels (and picks) first; among those, the largest.
      const small = size[c] < MIN_CLUSTER_SIZE;
      const bestSmall = best >= 0 && size[best] < MIN_CLUSTER_SIZE;
      if (best < 0 || (bestSmall && !small) || (small === bestSmall && (covered[c] < covered[best] || (covered[c] === covered[best] && size[c] > size[best])))) best = c;
    }
    if (best < 0) break;
    picked.push(members[best][next[best]++]);
    covered[best]++;
  }
  return picked;
}

/** Lloyd iterations of the coverage clustering: enough to settle the clusters' centres for picking. */
export const COVERAGE_ITERATIONS = 5;
/** A cluster with fewer members than this is a handful of outliers: it is picked from only after the others. */
export const MIN_CLUSTER_SIZE = 5;
