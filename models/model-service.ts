/**
 * The model work behind a ModelRunner, free of any threading: train a classifier into a blob, and keep a
 * small LRU of loaded classifiers for prediction. The worker (model-worker.ts) and the in-process runner
 * (model-runner.ts) both wrap one of these.
 */
import { ValidationError } from '../core/errors.ts';
import type { ModelInput } from '../core/types.ts';
import { initBackend } from './backend.ts';
import { createClassifier, loadClassifier, type Classifier, type FitOptions, type FitResult, type ModelSpec } from './classifier.ts';
import { decodeModel, encodeModel } from './weights.ts';

/** What a training call needs; `initial` is a blob to warm-start from. */
export interface TrainRequest {
  spec: ModelSpec;
  inputs: ModelInput[];
  labels: Int32Array;
  options?: Omit<FitOptions, 'onProgress' | 'signal'>;
  initial?: Uint8Array;
}

/** Progress of a training call: fraction done in [0, 1] and the latest epoch's numbers. */
export type TrainProgress = (progress: number, info: { epoch: number; loss: number; valAccuracy?: number }) => void;

export interface ModelService {
  backend(): Promise<string>;
  /**
   * Trains and returns the encoded model. Warm-starts from `initial` when its spec matches `spec`
   * (same modality, labels in the same order and input size); otherwise starts from fresh weights.
   */
  train(req: TrainRequest, onProgress?: TrainProgress, signal?: AbortSignal): Promise<{ blob: Uint8Array; result: FitResult }>;
  /** The cached classifier for `key`, if any (marks it most recently used). */
  cached(key: string): Classifier | undefined;
  /** Decodes `blob`, caches it under `key` (evicting the least recently used beyond capacity) and returns it. */
  add(key: string, blob: Uint8Array): Promise<Classifier>;
  /** Disposes every cached classifier. */
  clear(): void;
}

/** Models kept loaded per service: a project's active version plus a few being compared or trained. */
export const DEFAULT_CACHE_SIZE = 4;

export function createModelService(opts: { backend?: string; cacheSize?: number } = {}): ModelService {
  const capacity = Math.max(1, opts.cacheSize ?? DEFAULT_CACHE_SIZE);
  // Map iteration order is insertion order: re-inserting on use keeps the least recently used first.
  const cache = new Map<string, Classifier>();
  const ready = (): Promise<string> => initBackend(opts.backend);
  const cached = (key: string): Classifier | undefined => {
    const c = cache.get(key);
    if (c) {
      cache.delete(key);
      cache.set(key, c);
    }
    return c;
  };

  return {
    backend: ready,

    async train(req, onProgress, signal) {
      await ready();
      const seed = req.options?.seed ?? 0;
      let classifier: Classifier | undefined;
      if (req.initial) {
        const initial = decodeModel(req.initial);
        if (compatible(initial.spec, req.spec)) classifier = loadClassifier(initial, seed);
      }
      classifier ??= createClassifier(req.spec, seed);
      try {
        const result = await classifier.fit(req.inputs, req.labels, { ...req.options, onProgress, signal });
        return { blob: encodeModel(classifier.serialize()), result };
      } finally {
        classifier.dispose();
      }
    },

    cached,

    async add(key, blob) {
      await ready();
      const existing = cached(key);
      if (existing) return existing;
      const classifier = loadClassifier(decodeModel(blob));
      cache.set(key, classifier);
      while (cache.size > capacity) {
        const [oldest, c] = cache.entries().next().value as [string, Classifier];
        cache.delete(oldest);
        c.dispose();
      }
      return classifier;
    },

    clear() {
      for (const c of cache.values()) c.dispose();
      cache.clear();
    },
  };
}

/** Whether weights trained for `a` fit a model for `b`: same task and input size (arch defaults aside). */
function compatible(a: ModelSpec, b: ModelSpec): boolean {
  if (!b || !Array.isArray(b.labels)) throw new ValidationError('A model spec with labels is required.');
  return (
    a.modality === b.modality &&
    a.labels.length === b.labels.length &&
    a.labels.every((l, i) => l === b.labels[i]) &&
    (b.arch === undefined || a.arch === b.arch) &&
    (b.width === undefined || a.width === b.width) &&
    (b.height === undefined || a.height === b.height) &&
    (b.channels === undefined || (a.channels ?? 1) === b.channels) &&
    (b.dim === undefined || a.dim === b.dim) &&
    (b.hashDim === undefined || a.hashDim === b.hashDim)
  );
}
