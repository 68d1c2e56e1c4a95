/**
 * Clustering for spreading human labels over the data (the queue's cold start). Pure arithmetic on row-major
 * feature matrices, run in the model runner's inference worker so that the event loop never waits on it.
 */

/** Squared Euclidean distance between row `i` of `a` and row `j` of `b` (both row-major, width `dim`). */
export function squaredDistance(a: Float32Array, i: number, b: Float32Array, j: number, dim: number): number {
  let d = 0;
  for (let t = 0; t < dim; t++) {
    const diff = a[i * dim + t] - b[j * dim + t];
    d += diff * diff;
  }
  return d;
}

/** Scales every row of a row-major matrix to unit length, in place (all-zero rows stay zero). */
export function normaliseRows(data: Float32Array, dim: number): void {
  if (!dim) return;
  for (let i = 0; i * dim < data.length; i++) {
    const row = data.subarray(i * dim, (i + 1) * dim);
    let n = 0;
    for (const v of row) n += v * v;
    n = Math.sqrt(n) || 1;
    for (let j = 0; j < dim; j++) row[j] /= n;
  }
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
      const d = squaredDistance(data, i, data, last, dim);
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
      if (best < 0 || (bestSmall && !small) || (small === bestSmall && (covered[c] < covered[best] || (covered[c] === covered[best] && size[c] > size[best]))))
        best = c;
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

/** The picks of a coverage request (see ModelRunner.coverage). */
export function pickCoverage(
  req: { method: 'typical' | 'spread'; candidates: Float32Array; labelled: Float32Array; dim: number; count: number },
  random: () => number,
): number[] {
  return req.method === 'spread'
    ? kmeansppSample(req.candidates, req.dim, req.count, random)
    : typicalCoverage(req.candidates, req.labelled, req.dim, req.count, random);
}
