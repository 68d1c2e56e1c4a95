/**
 * Multinomial logistic regression with an L2 penalty, fitted to convergence by L-BFGS on sparse rows, in
 * plain TypeScript (no tfjs: the problem is convex and small, a few hundred iterations over n * nnz * k
 * multiply-adds, milliseconds to a second for a thousand labels).
 *
 * Objective, with per-row weights w_i (mean 1) and C as in scikit-learn's LogisticRegression:
 *   f(W, b) = (1/n) sum_i w_i CE(softmax(x_i W + b), y_i) + ||W||^2 / (2 C n)
 * i.e. scikit-learn's C-scaled loss divided by C n; the bias is not penalised.
 */

/** Rows in compressed form: row i's features are indices[ptr[i]..ptr[i+1]) with values. */
export interface SparseRows {
  n: number;
  /** Number of feature columns. */
  dim: number;
  ptr: Int32Array;
  indices: Int32Array;
  values: Float32Array;
}

export interface LinearFit {
  /** [dim][k] row-major. */
  kernel: Float32Array;
  bias: Float32Array;
  iterations: number;
  /** Final objective value. */
  loss: number;
  converged: boolean;
}

export interface LinearFitOptions {
  /** Inverse regularisation strength (scikit-learn's C). */
  C: number;
  /** Per-row weights; default all 1. Rescaled to mean 1. */
  rowWeights?: Float32Array;
  maxIterations?: number;
  /** Stop when the gradient's max-norm falls below this. */
  tolerance?: number;
  /** Checked between iterations; an aborted signal throws its reason. */
  signal?: AbortSignal;
}

/** Builds SparseRows from per-row index/value arrays. */
export function toSparseRows(rows: { indices: ArrayLike<number>; values: ArrayLike<number> }[], dim: number): SparseRows {
  const ptr = new Int32Array(rows.length + 1);
  for (let i = 0; i < rows.length; i++) ptr[i + 1] = ptr[i] + rows[i].indices.length;
  const indices = new Int32Array(ptr[rows.length]);
  const values = new Float32Array(ptr[rows.length]);
  rows.forEach((r, i) => {
    indices.set(r.indices, ptr[i]);
    values.set(r.values, ptr[i]);
  });
  return { n: rows.length, dim, ptr, indices, values };
}

/** Logits x W + b of every row, n*k. */
export function linearLogits(rows: SparseRows, kernel: ArrayLike<number>, bias: ArrayLike<number>, k: number): Float64Array {
  const out = new Float64Array(rows.n * k);
  for (let i = 0; i < rows.n; i++) {
    const o = i * k;
    for (let c = 0; c < k; c++) out[o + c] = bias[c];
    for (let p = rows.ptr[i]; p < rows.ptr[i + 1]; p++) {
      const j = rows.indices[p];
      const v = rows.values[p];
      const base = j * k;
      for (let c = 0; c < k; c++) out[o + c] += v * kernel[base + c];
    }
  }
  return out;
}

/** Row-wise softmax of n*k logits, in place, into probabilities. */
export function softmaxRows(logits: Float64Array, k: number): Float64Array {
  for (let o = 0; o < logits.length; o += k) {
    let max = -Infinity;
    for (let c = 0; c < k; c++) max = Math.max(max, logits[o + c]);
    let sum = 0;
    for (let c = 0; c < k; c++) {
      const e = Math.exp(logits[o + c] - max);
      logits[o + c] = e;
      sum += e;
    }
    for (let c = 0; c < k; c++) logits[o + c] /= sum;
  }
  return logits;
}

/**
 * The objective and its gradient at theta = [kernel (dim*k) | bias (k)], for the gradient check and the solver.
 */
export function objective(
  rows: SparseRows,
  labels: Int32Array,
  k: number,
  theta: Float64Array,
  C: number,
  rowWeights: Float64Array,
  grad: Float64Array,
): number {
  const { n, dim } = rows;
  const wk = dim * k;
  grad.fill(0);
  let loss = 0;
  const z = new Float64Array(k);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < k; c++) z[c] = theta[wk + c];
    for (let p = rows.ptr[i]; p < rows.ptr[i + 1]; p++) {
      const base = rows.indices[p] * k;
      const v = rows.values[p];
      for (let c = 0; c < k; c++) z[c] += v * theta[base + c];
    }
    let max = -Infinity;
    for (let c = 0; c < k; c++) max = Math.max(max, z[c]);
    let sum = 0;
    for (let c = 0; c < k; c++) sum += Math.exp(z[c] - max);
    const lse = max + Math.log(sum);
    const w = rowWeights[i] / n;
    loss += w * (lse - z[labels[i]]);
    for (let c = 0; c < k; c++) z[c] = w * (Math.exp(z[c] - lse) - (c === labels[i] ? 1 : 0));
    for (let c = 0; c < k; c++) grad[wk + c] += z[c];
    for (let p = rows.ptr[i]; p < rows.ptr[i + 1]; p++) {
      const base = rows.indices[p] * k;
      const v = rows.values[p];
      for (let c = 0; c < k; c++) grad[base + c] += v * z[c];
    }
  }
  const lambda = 1 / (C * n);
  let reg = 0;
  for (let j = 0; j < wk; j++) {
    reg += theta[j] * theta[j];
    grad[j] += lambda * theta[j];
  }
  return loss + 0.5 * lambda * reg;
}

/** Fits W, b by L-BFGS (memory 10, backtracking Armijo line search) from zero. */
export function fitLinear(rows: SparseRows, labels: Int32Array, k: number, opts: LinearFitOptions): LinearFit {
  const { n, dim } = rows;
  const size = dim * k + k;
  const maxIterations = opts.maxIterations ?? 300;
  const tolerance = opts.tolerance ?? 1e-5;
  const weights = new Float64Array(n).fill(1);
  if (opts.rowWeights) {
    let s = 0;
    for (let i = 0; i < n; i++) s += opts.rowWeights[i];
    for (let i = 0; i < n; i++) weights[i] = s > 0 ? (opts.rowWeights[i] * n) / s : 1;
  }
  const theta = new Float64Array(size);
  const grad = new Float64Array(size);
  if (n === 0) return { kernel: new Float32Array(dim * k), bias: new Float32Array(k), iterations: 0, loss: 0, converged: true };
  let f = objective(rows, labels, k, theta, opts.C, weights, grad);
  const m = 10;
  const S: Float64Array[] = [];
  const Y: Float64Array[] = [];
  const rho: number[] = [];
  const dir = new Float64Array(size);
  const next = new Float64Array(size);
  const nextGrad = new Float64Array(size);
  const alpha = new Float64Array(m);
  let iterations = 0;
  let converged = false;
  for (; iterations < maxIterations; iterations++) {
    opts.signal?.throwIfAborted();
    let gmax = 0;
    for (let j = 0; j < size; j++) gmax = Math.max(gmax, Math.abs(grad[j]));
    if (gmax < tolerance) {
      converged = true;
      break;
    }
    // Two-loop recursion: dir = -H grad.
    for (let j = 0; j < size; j++) dir[j] = -grad[j];
    for (let h = S.length - 1; h >= 0; h--) {
      alpha[h] = rho[h] * dot(S[h], dir);
      axpy(-alpha[h], Y[h], dir);
    }
    if (S.length) {
      const last = S.length - 1;
      const gamma = dot(S[last], Y[last]) / dot(Y[last], Y[last]);
      for (let j = 0; j < size; j++) dir[j] *= gamma;
    } else {
      // First step: a unit-ish step along the steepest descent.
      const norm = Math.sqrt(dot(dir, dir));
      if (norm > 0) for (let j = 0; j < size; j++) dir[j] /= Math.max(1, norm);
    }
    for (let h = 0; h < S.length; h++) {
      const beta = rho[h] * dot(Y[h], dir);
      axpy(alpha[h] - beta, S[h], dir);
    }
    let slope = dot(grad, dir);
    if (!(slope < 0)) {
      // Not a descent direction (numerical trouble): restart from steepest descent.
      S.length = Y.length = rho.length = 0;
      for (let j = 0; j < size; j++) dir[j] = -grad[j];
      slope = dot(grad, dir);
    }
    let step = 1;
    let fNext = Number.NaN;
    for (let tries = 0; tries < 40; tries++) {
      for (let j = 0; j < size; j++) next[j] = theta[j] + step * dir[j];
      fNext = objective(rows, labels, k, next, opts.C, weights, nextGrad);
      if (Number.isFinite(fNext) && fNext <= f + 1e-4 * step * slope) break;
      step *= 0.5;
    }
    if (!(Number.isFinite(fNext) && fNext <= f + 1e-4 * step * slope)) break;
    const s = new Float64Array(size);
    const y = new Float64Array(size);
    for (let j = 0; j < size; j++) {
      s[j] = next[j] - theta[j];
      y[j] = nextGrad[j] - grad[j];
    }
    const sy = dot(s, y);
    if (sy > 1e-12) {
      if (S.length === m) {
        S.shift();
        Y.shift();
        rho.shift();
      }
      S.push(s);
      Y.push(y);
      rho.push(1 / sy);
    }
    const improvement = f - fNext;
    theta.set(next);
    grad.set(nextGrad);
    f = fNext;
    if (improvement < 1e-10 * Math.max(1, Math.abs(f))) {
      converged = true;
      iterations++;
      break;
    }
  }
  return {
    kernel: Float32Array.from(theta.subarray(0, dim * k)),
    bias: Float32Array.from(theta.subarray(dim * k)),
    iterations,
    loss: f,
    converged,
  };
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let j = 0; j < a.length; j++) s += a[j] * b[j];
  return s;
}

function axpy(a: number, x: Float64Array, y: Float64Array): void {
  for (let j = 0; j < x.length; j++) y[j] += a * x[j];
}

/** Balanced class weights per row (n / (classes present * count), capped), as classWeights in tf-classifier.ts. */
export function balancedRowWeights(labels: Int32Array, k: number, cap = 10): Float32Array {
  const counts = new Float64Array(k);
  for (const y of labels) counts[y]++;
  const present = counts.filter((c) => c > 0).length;
  return Float32Array.from(labels, (y) => Math.min(cap, labels.length / (present * counts[y])));
}
