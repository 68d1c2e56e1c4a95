/**
 * Text classifiers over hashed word/character n-gram features (text-features.ts), densified per batch.
 * Dense batches rather than an embedding bag because the wasm backend cannot take gradients of gather
 * (no UnsortedSegmentSum kernel). Two architectures, picked by spec.arch:
 *
 * - 'ngram-mlp-v1': n-grams → dense(32)-relu = embedding → dropout(0.5) → softmax.
 * - 'ngram-lex-v2': the same n-gram path, plus VADER lexicon features and their projection onto the
 *   n-grams (text-lexicon.ts) fed straight to the output layer (a wide & deep model): embedding =
 *   [relu hidden (32), standardised lexicon features (29), standardised projected features (29)].
 *   The lexicon statistics and the projection are fitted once, on the first fit, on the labelled texts
 *   plus FitOptions.unlabeled (the unlabelled pool; the more the better), and are stored as weights.
 */
import * as tf from '@tensorflow/tfjs';
import { ValidationError } from '../core/errors.ts';
import type { ModelInput } from '../core/types.ts';
import type { ModelSpec } from './classifier.ts';
import { createPrng } from './prng.ts';
import { createTextFeaturizer, DEFAULT_HASH_DIM, type SparseFeatures, type TextFeaturizer } from './text-features.ts';
import { columnStats, fitLexiconProjection, LEXICON_DIM, lexiconFeatures, projectSparse, standardize } from './text-lexicon.ts';
import {
  createTfClassifier,
  dense,
  dropout,
  initWeights,
  variableFrom,
  zerosVariable,
  type LoadableClassifier,
  type NetworkDef,
  type Param,
} from './tf-classifier.ts';

/** The original text arch; blobs saved with it load and predict exactly as before. */
export const TEXT_NGRAM_V1_ARCH = 'ngram-mlp-v1';
/** Hashed n-grams + VADER lexicon features + their pool-fitted projection onto the n-grams (wide & deep). */
export const TEXT_NGRAM_LEX_ARCH = 'ngram-lex-v2';
/** Every arch createTextNgram builds, newest first. */
export const TEXT_NGRAM_ARCHS: readonly string[] = [TEXT_NGRAM_LEX_ARCH, TEXT_NGRAM_V1_ARCH];
/**
 * The text arch classifier.ts fills in for new models. Still v1: classifier.ts accepts only this one
 * value, so switching it to TEXT_NGRAM_LEX_ARCH there would also reject every stored v1 blob. The switch
 * is classifier.ts accepting TEXT_NGRAM_ARCHS plus this constant becoming TEXT_NGRAM_LEX_ARCH.
 */
export const TEXT_NGRAM_ARCH: string = TEXT_NGRAM_V1_ARCH;

/** Layer sizes; fixed for each arch tag. */
export interface NgramPlan {
  hidden: number;
  /** Dropout before the output layer (also used by MC dropout). */
  headDropout: number;
}

const NGRAM_V1: NgramPlan = { hidden: 32, headDropout: 0.5 };

interface PreparedTexts {
  features: SparseFeatures[];
}

/**
 * Builds the text classifier spec.arch names ('ngram-lex-v2' or 'ngram-mlp-v1'; v1 when unset).
 * spec.hashDim defaults to 2**15.
 */
export function createTextNgram(spec: ModelSpec, seed: number): LoadableClassifier {
  const arch = spec.arch ?? TEXT_NGRAM_V1_ARCH;
  if (arch === TEXT_NGRAM_LEX_ARCH) return createNgramLex({ ...spec, arch }, seed);
  if (arch === TEXT_NGRAM_V1_ARCH) return createNgramMlp({ ...spec, arch }, seed);
  throw new ValidationError(`Unknown text architecture "${arch}".`, { arch });
}

function checkedHashDim(spec: ModelSpec): number {
  const hashDim = spec.hashDim ?? DEFAULT_HASH_DIM;
  if (!Number.isInteger(hashDim) || hashDim < 16 || hashDim > 2 ** 20) {
    throw new ValidationError('hashDim must be an integer between 16 and 2**20.', { hashDim });
  }
  return hashDim;
}

/** Featurises texts, rejecting non-strings with a ValidationError naming the index. */
function featurizeAll(featurizer: TextFeaturizer, inputs: ModelInput[]): SparseFeatures[] {
  return inputs.map((x, i) => {
    if (typeof x !== 'string') throw new ValidationError(`Text input ${i} must be a string.`, { index: i });
    return featurizer.featurize(x);
  });
}

/** Writes sparse rows into a dense [rows.length, width] buffer, row r starting at r * width. */
function densify(features: SparseFeatures[], rows: ArrayLike<number>, width: number): Float32Array {
  const out = new Float32Array(rows.length * width);
  for (let r = 0; r < rows.length; r++) {
    const { indices, values } = features[rows[r]];
    const base = r * width;
    for (let j = 0; j < indices.length; j++) out[base + indices[j]] = values[j];
  }
  return out;
}

/**
 * 'ngram-mlp-v1': hidden 32. On fine-foods more buckets kept helping (2**13 → 2**15: +2.5 points at 1,000
 * labels) while a wider hidden layer did not, and training time grows with hashDim x hidden because
 * batches are dense. Kept unchanged so stored v1 models predict as they did.
 */
function createNgramMlp(spec: ModelSpec, seed: number, plan: NgramPlan = NGRAM_V1): LoadableClassifier {
  const hashDim = checkedHashDim(spec);
  const k = spec.labels.length;
  const prng = createPrng(seed);
  const featurizer = createTextFeaturizer(hashDim);

  const params: Param[] = [
    { name: 'hidden/kernel', variable: initWeights([hashDim, plan.hidden], hashDim, plan.hidden, prng, 'he'), trainable: true },
    { name: 'hidden/bias', variable: zerosVariable([plan.hidden]), trainable: true },
    { name: 'output/kernel', variable: initWeights([plan.hidden, k], plan.hidden, k, prng, 'glorot'), trainable: true },
    { name: 'output/bias', variable: zerosVariable([k]), trainable: true },
  ];
  const [hk, hb, ok, ob] = params.map((p) => p.variable);

  const def: NetworkDef<PreparedTexts> = {
    spec: { ...spec, hashDim },
    params,
    embedDim: plan.hidden,
    // Few epochs: the hashed features are separable early and more passes only overfit (measured on fine-foods).
    defaults: { epochs: 10, batchSize: 32, learningRate: 2e-3, minSteps: 80, maxEpochs: 30, predictBatchSize: 128 },

    prepare(inputs: ModelInput[]): PreparedTexts {
      return { features: featurizeAll(featurizer, inputs) };
    },

    batch({ features }, rows): tf.Tensor {
      return tf.tensor2d(densify(features, rows, hashDim), [rows.length, hashDim]);
    },

    trunk(x): tf.Tensor2D {
      return tf.relu(dense(x as tf.Tensor2D, hk, hb, false));
    },

    head(h, drop): tf.Tensor2D {
      return dense(dropout(h, plan.headDropout, drop), ok, ob);
    },
  };
  return createTfClassifier(def, seed);
}

/** Layer sizes and fitting constants of 'ngram-lex-v2'; fixed for the arch tag. */
export interface NgramLexPlan {
  hidden: number;
  /** Dropout on the n-gram embedding before the output layer (also used by MC dropout). */
  headDropout: number;
  /** Dropout on the lexicon and projected features before the output layer. */
  sideDropout: number;
  /** Multiplier on the standardised lexicon and projected features (with Adam: their step size). */
  sideScale: number;
  /** Shrinkage of the lexicon projection (fitLexiconProjection). */
  shrinkage: number;
  /** At most this many texts (labelled first, then evenly spaced unlabelled ones) fit the statistics. */
  maxPool: number;
}

/*
 * Measured on fine-foods and dropped: IDF weighting of the n-grams (from the pool; -0.5 to -1 point),
 * self-training on the pool's own predictions (no gain), shifting the logits by the label frequencies or
 * by an EM estimate of the pool's class prior (-3.6 and -13 points at 200 labels on a dev split), a full
 * ridge projection instead of the diagonal one (-1 point), side-feature scale 0.3 or 3 (no gain).
 */
const NGRAM_LEX_V2: NgramLexPlan = { hidden: 32, headDropout: 0.5, sideDropout: 0.2, sideScale: 1, shrinkage: 0.1, maxPool: 5000 };

interface PreparedLexTexts {
  features: SparseFeatures[];
  /** Raw (unstandardised) lexicon features, LEXICON_DIM per text. */
  lexicon: Float32Array[];
}

/**
 * 'ngram-lex-v2'. Batches are [n-grams (hashDim) | raw lexicon features (LEXICON_DIM)]; the trunk
 * standardises the lexicon part, projects the n-gram part with the fitted projection, standardises that,
 * and concatenates both to the relu hidden layer. The output rows for those side features start at zero
 * so the untrained model carries no random lexicon weighting. Weight names and order are fixed for the
 * arch: the trainable layers, then the non-trainable statistics.
 */
function createNgramLex(spec: ModelSpec, seed: number, plan: NgramLexPlan = NGRAM_LEX_V2): LoadableClassifier {
  const hashDim = checkedHashDim(spec);
  const k = spec.labels.length;
  const L = LEXICON_DIM;
  const side = 2 * L;
  const prng = createPrng(seed);
  const featurizer = createTextFeaturizer(hashDim);

  const outputInit = (): tf.Variable => {
    const head = initWeights([plan.hidden, k], plan.hidden, k, prng, 'glorot');
    const full = tf.concat([head, tf.zeros([side, k])]);
    head.dispose();
    return variableFrom(full, true);
  };
  const constant = (shape: number[], value: number): tf.Variable => variableFrom(tf.fill(shape, value), false);
  const params: Param[] = [
    { name: 'hidden/kernel', variable: initWeights([hashDim, plan.hidden], hashDim, plan.hidden, prng, 'he'), trainable: true },
    { name: 'hidden/bias', variable: zerosVariable([plan.hidden]), trainable: true },
    { name: 'output/kernel', variable: outputInit(), trainable: true },
    { name: 'output/bias', variable: zerosVariable([k]), trainable: true },
    { name: 'lexicon/mean', variable: constant([L], 0), trainable: false },
    { name: 'lexicon/inv_std', variable: constant([L], 1), trainable: false },
    { name: 'projection/kernel', variable: constant([hashDim, L], 0), trainable: false },
    { name: 'projection/mean', variable: constant([L], 0), trainable: false },
    { name: 'projection/inv_std', variable: constant([L], 1), trainable: false },
    // 1 once the statistics are fitted. A weight rather than a flag so it is serialised with them and
    // restored with them when a fit is aborted.
    { name: 'statistics/fitted', variable: constant([1], 0), trainable: false },
  ];
  const [hk, hb, ok, ob, lexMean, lexInvStd, proj, projMean, projInvStd, fitted] = params.map((p) => p.variable);

  const prepare = (inputs: ModelInput[]): PreparedLexTexts => {
    const features = featurizeAll(featurizer, inputs);
    return { features, lexicon: (inputs as string[]).map(lexiconFeatures) };
  };
  /** Extra texts for the statistics of the fit under way (see fit below); undefined outside a fit. */
  let pool: PreparedLexTexts | undefined;

  const def: NetworkDef<PreparedLexTexts> = {
    spec: { ...spec, hashDim },
    params,
    embedDim: plan.hidden + side,
    // Far fewer steps than v1: the side features carry most of the signal from the first step and the
    // n-gram weights only overfit a few hundred labels. On fine-foods (dev split, 3 seeds) v1's schedule
    // gave 0.769 at 200 labels, 6 epochs at 2e-3 0.806, and 3 epochs 0.810 vs 0.795 for 6 at 1,000 labels.
    defaults: { epochs: 6, batchSize: 32, learningRate: 1e-3, minSteps: 60, maxEpochs: 40, predictBatchSize: 128 },
    prepare,

    beforeFit(prepared): void {
      if (fitted.dataSync()[0] === 1) return;
      const features = [...prepared.features, ...(pool?.features ?? [])].slice(0, plan.maxPool);
      const lexicon = [...prepared.lexicon, ...(pool?.lexicon ?? [])].slice(0, plan.maxPool);
      const lex = columnStats(lexicon, L);
      const targets = lexicon.map((r) => standardize(Float32Array.from(r), lex.mean, lex.invStd));
      const projection = fitLexiconProjection(features, targets, hashDim, L, plan.shrinkage);
      const projected = columnStats(
        features.map((f) => projectSparse(f, projection, L)),
        L,
      );
      tf.tidy(() => {
        lexMean.assign(tf.tensor1d(lex.mean));
        lexInvStd.assign(tf.tensor1d(lex.invStd));
        proj.assign(tf.tensor2d(projection, [hashDim, L]));
        projMean.assign(tf.tensor1d(projected.mean));
        projInvStd.assign(tf.tensor1d(projected.invStd));
        fitted.assign(tf.ones([1]));
      });
    },

    batch({ features, lexicon }, rows): tf.Tensor {
      const width = hashDim + L;
      const out = densify(features, rows, width);
      for (let r = 0; r < rows.length; r++) out.set(lexicon[rows[r]], r * width + hashDim);
      return tf.tensor2d(out, [rows.length, width]);
    },

    trunk(x): tf.Tensor2D {
      const m = x.shape[0];
      const grams = tf.slice(x as tf.Tensor2D, [0, 0], [m, hashDim]);
      const h = tf.relu(dense(grams, hk, hb, false));
      const lex = tf.mul(tf.sub(tf.slice(x as tf.Tensor2D, [0, hashDim], [m, L]), lexMean), lexInvStd);
      const projected = tf.mul(tf.sub(tf.matMul(grams, proj), projMean), projInvStd);
      return tf.concat([h, tf.mul(tf.concat([lex, projected], 1), plan.sideScale)], 1) as tf.Tensor2D;
    },

    head(e, drop): tf.Tensor2D {
      const m = e.shape[0];
      const h = dropout(tf.slice(e, [0, 0], [m, plan.hidden]), plan.headDropout, drop);
      const s = dropout(tf.slice(e, [0, plan.hidden], [m, side]), plan.sideDropout, drop);
      return dense(tf.concat([h, s], 1), ok, ob);
    },
  };
  const inner = createTfClassifier(def, seed);
  let disposed = false;

  return {
    ...inner,
    async fit(inputs, labels, opts = {}) {
      // FitOptions.unlabeled and the validation texts only feed the statistics of a first fit: prepare
      // them here, where a bad input can still be rejected before any weight changes.
      if (!disposed && fitted.dataSync()[0] !== 1) {
        const extra: ModelInput[] = [...(opts.validation?.inputs ?? []), ...evenlySpaced(opts.unlabeled ?? [], plan.maxPool - inputs.length)];
        pool = extra.length ? prepare(extra) : undefined;
      }
      try {
        return await inner.fit(inputs, labels, opts);
      } finally {
        pool = undefined;
      }
    },
    dispose() {
      disposed = true;
      inner.dispose();
    },
  };
}

/** Up to `n` items of `items`, evenly spaced so a sorted pool is still sampled across its range. */
function evenlySpaced<T>(items: readonly T[], n: number): T[] {
  if (n <= 0) return [];
  if (items.length <= n) return [...items];
  const out: T[] = [];
  for (let i = 0; i < n; i++) out.push(items[Math.floor((i * items.length) / n)]);
  return out;
}
