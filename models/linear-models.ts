/**
 * Linear (softmax) classifiers fitted to convergence by linear-solver.ts, behind the Classifier interface:
 *
 * - 'tfidf-lr-v1' (text): word unigrams and bigrams, sublinear tf (1 + ln tf), smoothed IDF, rows L2-normalised,
 *   as scikit-learn's TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2). The vocabulary and
 *   IDF are fitted at each fit on the labelled texts plus FitOptions.unlabeled (the pool), and stored as
 *   weights: each term as its 32-bit hash split into two exactly-representable 16-bit halves, so a blob
 *   stays pure float32 and the spec stays small. Prediction looks terms up by hash.
 * - 'linear-v1' (vectors): standardised inputs (statistics of the first fit) into multinomial logistic regression.
 *
 * spec.C is the inverse L2 strength (scikit-learn's C; default 10 for text, 1 for vectors). Fits are
 * deterministic (convex, solved from zero); a fit replaces the previous weights rather than warm-starting.
 * predictProbaSamples returns the deterministic probabilities T times (no dropout: BALD scores 0).
 * embed: text, a 64-dim signed hashed projection of the TF-IDF row (model-free, so cold start and diversity
 * work with any vocabulary); vectors, the standardised input.
 */
import { ValidationError } from '../core/errors.ts';
import type { ModelInput } from '../core/types.ts';
import type { FitOptions, FitResult, ModelSpec, SerializedModel } from './classifier.ts';
import { balancedRowWeights, fitLinear, linearLogits, softmaxRows, toSparseRows, type SparseRows } from './linear-solver.ts';
import type { LoadableClassifier } from './tf-classifier.ts';

export const TEXT_TFIDF_ARCH = 'tfidf-lr-v1';
export const VECTOR_LINEAR_ARCH = 'linear-v1';

/** Default inverse L2 strength per arch (10 for text: on short, sparse texts C = 1 underfits a few hundred labels). */
export const DEFAULT_C: Record<string, number> = { [TEXT_TFIDF_ARCH]: 10, [VECTOR_LINEAR_ARCH]: 1 };

/** Vocabulary limits: a term must occur in MIN_DF texts; at most MAX_FEATURES terms (most frequent first), and kernel size is capped. */
export const MIN_DF = 2;
export const MAX_FEATURES = 50_000;
/** Largest kernel (terms x classes) kept: 4M floats = 16 MB. */
const MAX_KERNEL = 4_000_000;
/** Texts used to fit the vocabulary and IDF (labelled first, then evenly spaced pool items). */
const MAX_VOCAB_DOCS = 20_000;
const EMBED_DIM = 64;
const WORD_RE = /[\p{L}\p{N}]+(?:'\p{L}+)?/gu;

/** 32-bit FNV-1a with murmur's finaliser. */
function hashTerm(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Term hashes and counts of one text: lower-cased word unigrams and adjacent-word bigrams. */
export function termCounts(text: string): Map<number, number> {
  const counts = new Map<number, number>();
  let prev: string | undefined;
  for (const m of text.toLowerCase().matchAll(WORD_RE)) {
    const w = m[0];
    const h = hashTerm(w);
    counts.set(h, (counts.get(h) ?? 0) + 1);
    if (prev !== undefined) {
      const b = hashTerm(`${prev} ${w}`);
      counts.set(b, (counts.get(b) ?? 0) + 1);
    }
    prev = w;
  }
  return counts;
}

interface LinearCore {
  spec: ModelSpec;
  k: number;
  C: number;
  /** Extra (non-kernel) weights in manifest order, then kernel [dim, k], then bias [k]. */
  dim: number;
  kernel: Float32Array;
  bias: Float32Array;
}

function softmaxOf(rows: SparseRows, core: LinearCore): Float32Array {
  return Float32Array.from(softmaxRows(linearLogits(rows, core.kernel, core.bias, core.k), core.k));
}

function repeatSamples(probs: Float32Array, samples: number): Float32Array {
  const t = Math.floor(samples);
  if (!(t >= 1)) throw new ValidationError('predictProbaSamples needs at least one sample.');
  const out = new Float32Array(t * probs.length);
  for (let s = 0; s < t; s++) out.set(probs, s * probs.length);
  return out;
}

function trainAccuracyAndLoss(probs: Float32Array, labels: Int32Array, k: number): { accuracy: number; loss: number } {
  let correct = 0;
  let loss = 0;
  for (let i = 0; i < labels.length; i++) {
    let top = 0;
    for (let c = 1; c < k; c++) if (probs[i * k + c] > probs[i * k + top]) top = c;
    if (top === labels[i]) correct++;
    loss -= Math.log(Math.max(1e-12, probs[i * k + labels[i]]));
  }
  return { accuracy: labels.length ? correct / labels.length : 0, loss: labels.length ? loss / labels.length : 0 };
}

function checkLabels(labels: Int32Array, n: number, k: number): void {
  if (labels.length !== n) throw new ValidationError(`Got ${n} inputs but ${labels.length} labels.`);
  for (let i = 0; i < labels.length; i++) {
    if (!Number.isInteger(labels[i]) || labels[i] < 0 || labels[i] >= k) throw new ValidationError(`Label ${i} is out of range.`, { index: i });
  }
}

function checkC(spec: ModelSpec, arch: string): number {
  const C = spec.C ?? DEFAULT_C[arch];
  if (!(typeof C === 'number' && Number.isFinite(C) && C > 0)) throw new ValidationError('C must be a positive number.', { C });
  return C;
}

function concatFloats(parts: Float32Array[]): Uint8Array {
  const total = parts.reduce((a, p) => a + p.length, 0);
  const out = new Float32Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return new Uint8Array(out.buffer);
}

/** Splits a serialised payload by its manifest, checking names. */
function readParts(serialized: SerializedModel, names: string[], arch: string): Float32Array[] {
  const { manifest, weights } = serialized;
  if (manifest.length !== names.length || manifest.some((m, i) => m.name !== names[i])) {
    throw new Error(`Model weights list [${manifest.map((m) => m.name)}]; ${arch} needs [${names}].`);
  }
  const values = new Float32Array(new Uint8Array(weights).buffer);
  const out: Float32Array[] = [];
  let o = 0;
  for (const m of manifest) {
    const size = m.shape.reduce((a, b) => a * b, 1);
    if (o + size > values.length) throw new Error(`Model weights are shorter than ${arch}'s manifest describes.`);
    out.push(values.slice(o, o + size));
    o += size;
  }
  if (o !== values.length) throw new Error(`Model weights are longer than ${arch}'s manifest describes.`);
  return out;
}

/** 'tfidf-lr-v1': see the file comment. */
export function createTextTfidf(spec: ModelSpec, _seed = 0): LoadableClassifier {
  const arch = TEXT_TFIDF_ARCH;
  const k = spec.labels.length;
  const C = checkC(spec, arch);
  const core: LinearCore = { spec: { ...spec, arch, C }, k, C, dim: 0, kernel: new Float32Array(0), bias: new Float32Array(k) };
  let hashes: Uint32Array = new Uint32Array(0);
  let idf: Float32Array = new Float32Array(0);
  let lookup = new Map<number, number>();
  let disposed = false;
  const alive = (): void => {
    if (disposed) throw new Error('This classifier has been disposed.');
  };
  const texts = (inputs: ModelInput[]): string[] =>
    inputs.map((x, i) => {
      if (typeof x !== 'string') throw new ValidationError(`Text input ${i} must be a string.`, { index: i });
      return x;
    });
  const setVocabulary = (h: Uint32Array, w: Float32Array): void => {
    hashes = h;
    idf = w;
    lookup = new Map(Array.from(h, (v, i) => [v, i]));
  };
  const vectorize = (counts: Map<number, number>[]): SparseRows => {
    const rows = counts.map((c) => {
      const idx: number[] = [];
      for (const h of c.keys()) {
        const j = lookup.get(h);
        if (j !== undefined) idx.push(j);
      }
      idx.sort((a, b) => a - b);
      const values = new Float32Array(idx.length);
      const hashOf = hashes;
      let norm = 0;
      idx.forEach((j, t) => {
        const v = (1 + Math.log(c.get(hashOf[j])!)) * idf[j];
        values[t] = v;
        norm += v * v;
      });
      if (norm > 0) for (let t = 0; t < values.length; t++) values[t] /= Math.sqrt(norm);
      return { indices: Int32Array.from(idx), values };
    });
    return toSparseRows(rows, hashes.length);
  };

  return {
    get spec() {
      return core.spec;
    },

    async fit(inputs: ModelInput[], labels: Int32Array, opts: FitOptions = {}): Promise<FitResult> {
      alive();
      const labelled = texts(inputs).map(termCounts);
      checkLabels(labels, labelled.length, k);
      const extra = evenlySpaced(texts(opts.unlabeled ?? []), Math.max(0, MAX_VOCAB_DOCS - labelled.length)).map(termCounts);
      const docs = [...labelled, ...extra];
      const df = new Map<number, number>();
      for (const d of docs) for (const h of d.keys()) df.set(h, (df.get(h) ?? 0) + 1);
      // min_df 2 over the whole corpus; with a tiny corpus (no pool) every labelled term counts.
      const minDf = docs.length >= 50 ? MIN_DF : 1;
      const maxTerms = Math.max(1, Math.min(MAX_FEATURES, Math.floor(MAX_KERNEL / k)));
      // Only terms of the labelled texts: any other has a zero gradient and stays at zero under L2, so
      // leaving it out changes no prediction and keeps the solver's vectors small.
      const inLabelled = new Set<number>();
      for (const d of labelled) for (const h of d.keys()) inLabelled.add(h);
      const terms = [...df.entries()].filter(([h, d]) => d >= minDf && inLabelled.has(h));
      terms.sort((a, b) => b[1] - a[1] || a[0] - b[0]);
      terms.length = Math.min(terms.length, maxTerms);
      terms.sort((a, b) => a[0] - b[0]);
      const N = docs.length;
      setVocabulary(
        Uint32Array.from(terms, ([h]) => h),
        Float32Array.from(terms, ([, d]) => Math.log((1 + N) / (1 + d)) + 1),
      );
      const rows = vectorize(labelled);
      opts.onProgress?.(0.1, { epoch: 0, loss: Number.NaN });
      const fit = fitLinear(rows, labels, k, {
        C,
        rowWeights: balancedRowWeights(labels, k),
        maxIterations: opts.epochs ? Math.max(20, opts.epochs * 30) : 300,
        signal: opts.signal,
      });
      core.dim = hashes.length;
      core.kernel = fit.kernel;
      core.bias = fit.bias;
      const finite = Number.isFinite(fit.loss) && core.kernel.every(Number.isFinite);
      let valAccuracy: number | undefined;
      if (opts.validation)
        valAccuracy = trainAccuracyAndLoss(softmaxOf(vectorize(texts(opts.validation.inputs).map(termCounts)), core), opts.validation.labels, k).accuracy;
      opts.onProgress?.(1, { epoch: fit.iterations, loss: fit.loss, valAccuracy });
      return { epochs: fit.iterations, loss: fit.loss, valAccuracy, finite };
    },

    async predictProba(inputs) {
      alive();
      return softmaxOf(vectorize(texts(inputs).map(termCounts)), core);
    },

    async predictProbaSamples(inputs, samples) {
      alive();
      return repeatSamples(softmaxOf(vectorize(texts(inputs).map(termCounts)), core), samples);
    },

    async embed(inputs) {
      alive();
      const rows = vectorize(texts(inputs).map(termCounts));
      const data = new Float32Array(rows.n * EMBED_DIM);
      for (let i = 0; i < rows.n; i++) {
        for (let p = rows.ptr[i]; p < rows.ptr[i + 1]; p++) {
          // Each term adds its value to a few signed embedding columns picked by its hash.
          let h = hashes[rows.indices[p]];
          for (let r = 0; r < 4; r++) {
            h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) >>> 0;
            data[i * EMBED_DIM + (h % EMBED_DIM)] += (h & 0x10000 ? 1 : -1) * rows.values[p];
          }
        }
      }
      return { dim: EMBED_DIM, data };
    },

    serialize(): SerializedModel {
      alive();
      const V = hashes.length;
      const hi = Float32Array.from(hashes, (h) => h >>> 16);
      const lo = Float32Array.from(hashes, (h) => h & 0xffff);
      return {
        spec: structuredClone(core.spec),
        manifest: [
          { name: 'vocab/hash_hi', shape: [V] },
          { name: 'vocab/hash_lo', shape: [V] },
          { name: 'vocab/idf', shape: [V] },
          { name: 'linear/kernel', shape: [V, k] },
          { name: 'linear/bias', shape: [k] },
        ],
        weights: concatFloats([hi, lo, idf, core.kernel, core.bias]),
      };
    },

    loadWeights(serialized: SerializedModel): void {
      alive();
      const [hi, lo, w, kernel, bias] = readParts(serialized, ['vocab/hash_hi', 'vocab/hash_lo', 'vocab/idf', 'linear/kernel', 'linear/bias'], arch);
      const V = hi.length;
      if (lo.length !== V || w.length !== V || kernel.length !== V * k || bias.length !== k) {
        throw new Error(`Model weights of ${arch} have inconsistent shapes for ${V} terms and ${k} classes.`);
      }
      setVocabulary(
        Uint32Array.from(hi, (h, i) => ((h << 16) | lo[i]) >>> 0),
        w,
      );
      core.dim = V;
      core.kernel = kernel;
      core.bias = bias;
    },

    dispose(): void {
      disposed = true;
    },
  };
}

/** 'linear-v1': standardised vectors into multinomial logistic regression. */
export function createVectorLinear(spec: ModelSpec, _seed = 0): LoadableClassifier {
  const arch = VECTOR_LINEAR_ARCH;
  const dim = spec.dim;
  if (typeof dim !== 'number' || !Number.isInteger(dim) || dim < 1) {
    throw new ValidationError('A vector model needs a positive integer dim.', { dim });
  }
  const k = spec.labels.length;
  const C = checkC(spec, arch);
  const core: LinearCore = { spec: { ...spec, arch, C }, k, C, dim, kernel: new Float32Array(dim * k), bias: new Float32Array(k) };
  let mean: Float32Array = new Float32Array(dim);
  let invStd: Float32Array = new Float32Array(dim).fill(1);
  let fitted: Float32Array = new Float32Array(1);
  let disposed = false;
  const alive = (): void => {
    if (disposed) throw new Error('This classifier has been disposed.');
  };
  const vectors = (inputs: ModelInput[]): Float32Array[] =>
    inputs.map((x, i) => {
      if (!(x instanceof Float32Array) || x.length !== dim) {
        throw new ValidationError(`Vector input ${i} must be a Float32Array of length ${dim}.`, { index: i, length: (x as { length?: number })?.length });
      }
      return x;
    });
  const standardised = (vs: Float32Array[]): SparseRows => {
    const all = Int32Array.from({ length: dim }, (_, j) => j);
    return toSparseRows(
      vs.map((v) => ({ indices: all, values: Float32Array.from(v, (x, j) => (x - mean[j]) * invStd[j]) })),
      dim,
    );
  };

  return {
    get spec() {
      return core.spec;
    },

    async fit(inputs, labels, opts: FitOptions = {}) {
      alive();
      const vs = vectors(inputs);
      checkLabels(labels, vs.length, k);
      if (fitted[0] !== 1 && vs.length) {
        const n = vs.length;
        const mu = new Float64Array(dim);
        const sq = new Float64Array(dim);
        for (const v of vs) for (let j = 0; j < dim; j++) mu[j] += v[j];
        for (let j = 0; j < dim; j++) mu[j] /= n;
        for (const v of vs) for (let j = 0; j < dim; j++) sq[j] += (v[j] - mu[j]) ** 2;
        mean = Float32Array.from(mu);
        invStd = Float32Array.from(sq, (s) => (Math.sqrt(s / n) > 1e-6 ? 1 / Math.sqrt(s / n) : 1));
        fitted = Float32Array.of(1);
      }
      const fit = fitLinear(standardised(vs), labels, k, {
        C,
        rowWeights: balancedRowWeights(labels, k),
        maxIterations: opts.epochs ? Math.max(20, opts.epochs * 30) : 300,
        signal: opts.signal,
      });
      core.kernel = fit.kernel;
      core.bias = fit.bias;
      const finite = Number.isFinite(fit.loss) && core.kernel.every(Number.isFinite);
      const valAccuracy = opts.validation
        ? trainAccuracyAndLoss(softmaxOf(standardised(vectors(opts.validation.inputs)), core), opts.validation.labels, k).accuracy
        : undefined;
      opts.onProgress?.(1, { epoch: fit.iterations, loss: fit.loss, valAccuracy });
      return { epochs: fit.iterations, loss: fit.loss, valAccuracy, finite };
    },

    async predictProba(inputs) {
      alive();
      return softmaxOf(standardised(vectors(inputs)), core);
    },

    async predictProbaSamples(inputs, samples) {
      alive();
      return repeatSamples(softmaxOf(standardised(vectors(inputs)), core), samples);
    },

    async embed(inputs) {
      alive();
      const rows = standardised(vectors(inputs));
      return { dim, data: Float32Array.from(rows.values) };
    },

    serialize(): SerializedModel {
      alive();
      return {
        spec: structuredClone(core.spec),
        manifest: [
          { name: 'standardize/mean', shape: [dim] },
          { name: 'standardize/inv_std', shape: [dim] },
          { name: 'standardize/fitted', shape: [1] },
          { name: 'linear/kernel', shape: [dim, k] },
          { name: 'linear/bias', shape: [k] },
        ],
        weights: concatFloats([mean, invStd, fitted, core.kernel, core.bias]),
      };
    },

    loadWeights(serialized) {
      alive();
      const [m, s, f, kernel, bias] = readParts(
        serialized,
        ['standardize/mean', 'standardize/inv_std', 'standardize/fitted', 'linear/kernel', 'linear/bias'],
        arch,
      );
      if (m.length !== dim || s.length !== dim || kernel.length !== dim * k || bias.length !== k) {
        throw new Error(`Model weights of ${arch} do not fit dim ${dim} and ${k} classes.`);
      }
      mean = m;
      invStd = s;
      fitted = f;
      core.kernel = kernel;
      core.bias = bias;
    },

    dispose() {
      disposed = true;
    },
  };
}

function evenlySpaced<T>(items: readonly T[], n: number): T[] {
  if (n <= 0) return [];
  if (items.length <= n) return [...items];
  const out: T[] = [];
  for (let i = 0; i < n; i++) out.push(items[Math.floor((i * items.length) / n)]);
  return out;
}
