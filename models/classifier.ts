/**
 * One classifier interface over the three modalities. Callers pass arrays in and get arrays out; tensors
 * never leave models/. Implementations: image-cnn.ts (and its 3-seed ensemble, image-ensemble.ts),
 * text-ngram.ts, vector-mlp.ts, and the linear models of linear-models.ts (no tfjs).
 */
import { ValidationError } from '../core/errors.ts';
import type { Modality, ModelInput } from '../core/types.ts';
import type { LoadableClassifier } from './tf-classifier.ts';
import { createImageCnn, IMAGE_CNN_ARCH } from './image-cnn.ts';
import { createTextNgram, TEXT_NGRAM_ARCHS, TEXT_NGRAM_LEX_ARCH } from './text-ngram.ts';
import { createVectorMlp, VECTOR_MLP_ARCH } from './vector-mlp.ts';
import { createImageEnsemble, IMAGE_ENSEMBLE_ARCH } from './image-ensemble.ts';
import { createTextTfidf, createVectorLinear, TEXT_TFIDF_ARCH, VECTOR_LINEAR_ARCH } from './linear-models.ts';

/** What a model is for; stored with its weights so a blob is self-describing. */
export interface ModelSpec {
  modality: Modality;
  /** Class names; class id i is labels[i], numClasses = labels.length (at least 2). */
  labels: string[];
  /** Image size in pixels and channels (1 gray or 3 RGB); inputs are HWC uint8 of exactly this size. */
  width?: number;
  height?: number;
  channels?: number;
  /** Vector length for the 'vector' modality. */
  dim?: number;
  /** Number of feature-hashing buckets for text (default 2**15). */
  hashDim?: number;
  /**
   * Architecture, set by the factory ('cnn-v1', 'cnn-ens3-v1', 'ngram-mlp-v1', 'ngram-lex-v2', 'tfidf-lr-v1',
   * 'mlp-v1', 'linear-v1'); a blob with an unknown arch is rejected.
   */
  arch?: string;
  /** Inverse L2 strength of the linear models (scikit-learn's C); ignored by the networks. */
  C?: number;
}

export interface FitOptions {
  /** Passes over the labelled data. Default depends on the model and grows for tiny sets so training takes enough steps. */
  epochs?: number;
  batchSize?: number;
  /** Adam step size. */
  learningRate?: number;
  /** Seeds shuffling, augmentation and dropout of this fit; default derives from the classifier's seed. */
  seed?: number;
  /** Held-out items: after each epoch accuracy is measured on them, training stops early when it stalls and the best weights are restored. */
  validation?: { inputs: ModelInput[]; labels: Int32Array };
  /** Unlabelled pool items for semi-supervised training. Accepted but unused in v1. */
  unlabeled?: ModelInput[];
  /** Called after each epoch (and at most every ~second within long epochs); progress is in [0, 1]. */
  onProgress?: (progress: number, info: { epoch: number; loss: number; valAccuracy?: number }) => void;
  /** Aborting stops between batches: fit rejects with the signal's reason and the weights are restored to those before the fit. */
  signal?: AbortSignal;
}

export interface FitResult {
  /** Epochs actually run (fewer than asked when early stopping or divergence stopped training). */
  epochs: number;
  /** Mean (class-weighted) cross-entropy of the last epoch run. */
  loss: number;
  /** Validation accuracy of the kept weights, when validation data was given. */
  valAccuracy?: number;
  /** False if the loss or the weights went NaN/Infinity; the weights are then restored to those before the fit. */
  finite: boolean;
}

export interface SerializedModel {
  spec: ModelSpec;
  /** Tensors in payload order; each holds product(shape) float32 values. */
  manifest: { name: string; shape: number[] }[];
  /** Concatenated little-endian float32 values of every manifest entry. */
  weights: Uint8Array;
}

export interface Classifier {
  readonly spec: ModelSpec;
  /** Trains from the current weights (so a warm start is load, then fit). labels[i] is a class id in [0, numClasses). */
  fit(inputs: ModelInput[], labels: Int32Array, opts?: FitOptions): Promise<FitResult>;
  /**
   * Class probabilities, n*numClasses row-major, each row summing to 1. With mcDropoutSamples = T > 0 the
   * mean over T passes with dropout active (Monte-Carlo dropout).
   */
  predictProba(inputs: ModelInput[], opts?: { mcDropoutSamples?: number }): Promise<Float32Array>;
  /** T stochastic (dropout) passes, T*n*numClasses laid out [t][i][class], e.g. for BALD. */
  predictProbaSamples(inputs: ModelInput[], samples: number): Promise<Float32Array>;
  /** Penultimate-layer activations, n*dim row-major. */
  embed(inputs: ModelInput[]): Promise<{ dim: number; data: Float32Array }>;
  /** Copies the weights out; the classifier stays usable. */
  serialize(): SerializedModel;
  /** Frees the weights; the classifier must not be used afterwards. */
  dispose(): void;
}

/** Default architecture tag per modality. */
export const DEFAULT_ARCH: Readonly<Record<Modality, string>> = {
  image: IMAGE_CNN_ARCH,
  text: TEXT_NGRAM_LEX_ARCH,
  vector: VECTOR_MLP_ARCH,
};

/**
 * Builds an untrained classifier with weights initialised from `seed`. Validates the spec (sizes, labels)
 * and fills in `arch` (and defaults such as `hashDim`) on the returned classifier's spec.
 * Needs a tfjs backend: call initBackend() first.
 */
export function createClassifier(spec: ModelSpec, seed = 0): Classifier {
  return build(spec, seed);
}

/**
 * Rebuilds a classifier from serialize()'s output (see weights.ts for the single-blob form). Throws if
 * the manifest does not match the architecture the spec describes. `seed` only seeds later fits.
 */
export function loadClassifier(serialized: SerializedModel, seed = 0): Classifier {
  const classifier = build(serialized.spec, seed);
  try {
    classifier.loadWeights(serialized);
  } catch (err) {
    classifier.dispose();
    throw err;
  }
  return classifier;
}

function build(spec: ModelSpec, seed: number): LoadableClassifier {
  if (!spec || typeof spec !== 'object') throw new ValidationError('A model spec is required.');
  if (!Array.isArray(spec.labels) || spec.labels.length < 2) {
    throw new ValidationError('A model needs at least two labels.', { labels: spec.labels });
  }
  const arch = spec.arch ?? DEFAULT_ARCH[spec.modality];
  switch (spec.modality) {
    case 'image':
      if (arch === IMAGE_ENSEMBLE_ARCH) return createImageEnsemble({ ...spec, arch }, seed);
      if (arch !== IMAGE_CNN_ARCH) break;
      return createImageCnn({ ...spec, arch }, seed);
    case 'text':
      if (arch === TEXT_TFIDF_ARCH) return createTextTfidf({ ...spec, arch }, seed);
      if (!TEXT_NGRAM_ARCHS.includes(arch)) break;
      return createTextNgram({ ...spec, arch }, seed);
    case 'vector':
      if (arch === VECTOR_LINEAR_ARCH) return createVectorLinear({ ...spec, arch }, seed);
      if (arch !== VECTOR_MLP_ARCH) break;
      return createVectorMlp({ ...spec, arch }, seed);
    default:
      throw new ValidationError(`Unknown modality "${String(spec.modality)}".`);
  }
  throw new ValidationError(`Unknown architecture "${arch}" for modality "${spec.modality}".`);
}
