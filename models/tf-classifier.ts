/**
 * The training loop, batched prediction, Monte-Carlo dropout and weight bookkeeping shared by the three
 * classifiers. A model file only describes its network (a `NetworkDef`): its weights, how to turn inputs
 * into a batch tensor, and the forward pass split at the embedding layer.
 */
import * as tf from '@tensorflow/tfjs';
import { ValidationError } from '../core/errors.ts';
import type { ModelInput } from '../core/types.ts';
import type { Classifier, FitOptions, FitResult, ModelSpec, SerializedModel } from './classifier.ts';
import { createPrng, type Prng } from './prng.ts';
import { matMulFast } from './wasm-ops.ts';

/** A named weight. Non-trainable ones (e.g. standardisation statistics) are serialised but not optimised. */
export interface Param {
  name: string;
  variable: tf.Variable;
  trainable: boolean;
}

/** Training defaults a network picks for itself. */
export interface TrainDefaults {
  epochs: number;
  batchSize: number;
  learningRate: number;
  /** When epochs is not given, run at least this many optimiser steps (tiny labelled sets need more epochs). */
  minSteps: number;
  /** Cap on the epochs added by minSteps. */
  maxEpochs: number;
  /** Rows per forward pass when predicting (bounds peak memory). */
  predictBatchSize: number;
  /** Label smoothing of the supervised targets, in [0, 1); off when absent. */
  labelSmoothing?: number;
  /** Decoupled (AdamW-style) weight decay of the `/kernel` weights: each step w -= lr * weightDecay * w. */
  weightDecay?: number;
  /** Mixup of labelled batches with a Beta(mixup, mixup) weight; off when absent. */
  mixup?: number;
  /** Exponential moving average of the weights with this decay, kept as the final weights; off when absent. */
  ema?: number;
  /** Cosine decay of the learning rate over the planned steps, down to this fraction of it; constant when absent. */
  cosineFloor?: number;
}

/**
 * FixMatch-style semi-supervised training on FitOptions.unlabeled, for networks that can build a strongly
 * augmented batch. Each step also draws `ratio` unlabelled rows per labelled row; the model's prediction
 * on a weakly augmented view (the network's ordinary training batch) becomes a pseudo-label when its top
 * probability reaches `threshold`, and the cross-entropy of the prediction on a strongly augmented view
 * against it is added to the loss with `weight` (averaged over all unlabelled rows drawn).
 */
export interface ConsistencyDef<P> {
  /** Builds the strongly augmented input tensor for `rows`. */
  strongBatch(prepared: P, rows: ArrayLike<number>, augment: Prng): tf.Tensor;
  ratio: number;
  threshold: number;
  weight: number;
  /** minSteps and maxEpochs used instead of the TrainDefaults ones when unlabelled data is given. */
  minSteps: number;
  maxEpochs: number;
}

/** Everything model-specific; `P` is the validated / featurised form of a list of inputs. */
export interface NetworkDef<P> {
  spec: ModelSpec;
  params: Param[];
  /** Width of the embedding (penultimate) layer. */
  embedDim: number;
  defaults: TrainDefaults;
  /** Validates the inputs (throws ValidationError) and precomputes what batches need. */
  prepare(inputs: ModelInput[]): P;
  /** Builds the input tensor for `rows` of the prepared inputs; `augment` is given only while training. */
  batch(prepared: P, rows: ArrayLike<number>, augment: Prng | undefined): tf.Tensor;
  /** Input to embedding [n, embedDim]; `dropout` (a mask source) is given only while training. */
  trunk(x: tf.Tensor, dropout: Prng | undefined): tf.Tensor2D;
  /** Embedding to logits [n, numClasses]; `dropout` is given while training and for MC-dropout passes. */
  head(h: tf.Tensor2D, dropout: Prng | undefined): tf.Tensor2D;
  /** Hook before the first optimiser step of a fit, e.g. to compute input statistics. */
  beforeFit?(prepared: P): void;
  /** Semi-supervised training on unlabelled items; without it FitOptions.unlabeled is ignored. */
  consistency?: ConsistencyDef<P>;
}

/** A classifier whose weights can be replaced by a serialised copy (used by loadClassifier). */
export interface LoadableClassifier extends Classifier {
  loadWeights(serialized: SerializedModel): void;
}

/** Inverted dropout with a mask drawn from `prng`, so training and MC passes are reproducible. */
export function dropout<T extends tf.Tensor>(x: T, rate: number, prng: Prng | undefined): T {
  if (!prng || rate <= 0) return x;
  const n = x.size;
  const mask = new Float32Array(n);
  const keep = 1 - rate;
  const scale = 1 / keep;
  for (let i = 0; i < n; i++) mask[i] = prng.next() < keep ? scale : 0;
  return tf.mul(x, tf.tensor(mask, x.shape)) as T;
}

/** He-normal (ReLU layers) or Glorot-normal initial values drawn from `prng`. */
export function initWeights(shape: number[], fanIn: number, fanOut: number, prng: Prng, kind: 'he' | 'glorot'): tf.Variable {
  const size = shape.reduce((a, b) => a * b, 1);
  const std = kind === 'he' ? Math.sqrt(2 / fanIn) : Math.sqrt(2 / (fanIn + fanOut));
  const values = new Float32Array(size);
  for (let i = 0; i < size; i++) values[i] = prng.normal() * std;
  return variableFrom(tf.tensor(values, shape), true);
}

/** A zero-initialised variable (biases). */
export function zerosVariable(shape: number[], trainable = true): tf.Variable {
  return variableFrom(tf.zeros(shape), trainable);
}

/** tf.variable keeps its initial tensor alive as a separate handle; dispose it so only the variable remains. */
export function variableFrom(initial: tf.Tensor, trainable: boolean): tf.Variable {
  const v = tf.variable(initial, trainable);
  initial.dispose();
  return v;
}

/** x @ w + b for a 2-D x; `inputGrad` false skips the gradient for x (first layer on raw features). */
export function dense(x: tf.Tensor2D, w: tf.Variable, b: tf.Variable, inputGrad = true): tf.Tensor2D {
  return tf.add(matMulFast(x, w as tf.Tensor2D, inputGrad), b) as tf.Tensor2D;
}

/** Weights are stored little-endian by viewing Float32Arrays as bytes, which is only right on LE hosts. */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Wraps a network definition into a Classifier. */
export function createTfClassifier<P>(def: NetworkDef<P>, seed: number): LoadableClassifier {
  const numClasses = def.spec.labels.length;
  const trainable = def.params.filter((p) => p.trainable).map((p) => p.variable);
  let fits = 0;
  let disposed = false;

  const alive = (): void => {
    if (disposed) throw new Error('This classifier has been disposed.');
  };

  const snapshot = (): tf.Tensor[] => def.params.map((p) => p.variable.clone());
  const restore = (saved: tf.Tensor[]): void => {
    def.params.forEach((p, i) => p.variable.assign(saved[i]));
  };
  const weightsFinite = (): boolean => def.params.every((p) => tf.tidy(() => tf.all(tf.isFinite(p.variable)).dataSync()[0] === 1));

  /** Runs `fn` on each chunk of rows [start, end) of a prepared list of n inputs. */
  const chunks = (n: number, size: number, fn: (rows: Int32Array, start: number) => void): void => {
    for (let start = 0; start < n; start += size) {
      const end = Math.min(n, start + size);
      const rows = new Int32Array(end - start);
      for (let i = 0; i < rows.length; i++) rows[i] = start + i;
      fn(rows, start);
    }
  };

  /** Probabilities for one chunk: `passes` dropout samples (0 = deterministic), written sample-major via `write`. */
  const probaChunk = (prepared: P, rows: Int32Array, passes: number, prng: Prng | undefined, write: (t: number, probs: Float32Array) => void): void => {
    const h = tf.tidy(() => def.trunk(def.batch(prepared, rows, undefined), undefined));
    try {
      for (let t = 0; t < Math.max(1, passes); t++) {
        const probs = tf.tidy(() => tf.softmax(def.head(h, passes > 0 ? prng : undefined)));
        write(t, probs.dataSync() as Float32Array);
        probs.dispose();
      }
    } finally {
      h.dispose();
    }
  };

  /** [t][i][class] probabilities of n prepared inputs; passes = 0 means one deterministic pass. */
  const probaSamples = (prepared: P, n: number, passes: number): Float32Array => {
    const t = Math.max(1, passes);
    const out = new Float32Array(t * n * numClasses);
    // A fixed per-call seed: the same inputs give the same MC estimate, which keeps rankings reproducible.
    const prng = passes > 0 ? createPrng(seed ^ 0x5bd1e995) : undefined;
    chunks(n, def.defaults.predictBatchSize, (rows, start) => {
      probaChunk(prepared, rows, passes, prng, (s, probs) => out.set(probs, (s * n + start) * numClasses));
    });
    return out;
  };

  const accuracyAndLoss = (prepared: P, labels: Int32Array): { accuracy: number; loss: number } => {
    const probs = probaSamples(prepared, labels.length, 0);
    let correct = 0;
    let loss = 0;
    for (let i = 0; i < labels.length; i++) {
      let best = 0;
      for (let c = 1; c < numClasses; c++) if (probs[i * numClasses + c] > probs[i * numClasses + best]) best = c;
      if (best === labels[i]) correct++;
      loss -= Math.log(Math.max(probs[i * numClasses + labels[i]], 1e-12));
    }
    return { accuracy: labels.length ? correct / labels.length : 0, loss: labels.length ? loss / labels.length : 0 };
  };

  const checkLabels = (labels: Int32Array, n: number, what: string): void => {
    if (!(labels instanceof Int32Array)) throw new ValidationError(`${what} labels must be an Int32Array.`);
    if (labels.length !== n) {
      throw new ValidationError(`${what}: ${n} inputs but ${labels.length} labels.`);
    }
    for (let i = 0; i < labels.length; i++) {
      const y = labels[i];
      if (y < 0 || y >= numClasses) {
        throw new ValidationError(`${what}: label ${y} at row ${i} is outside [0, ${numClasses}).`);
      }
    }
  };

  const classifier: LoadableClassifier = {
    spec: def.spec,

    async fit(inputs: ModelInput[], labels: Int32Array, opts: FitOptions = {}): Promise<FitResult> {
      alive();
      const n = inputs.length;
      checkLabels(labels, n, 'fit');
      if (n === 0) throw new ValidationError('fit needs at least one labelled item.');
      opts.signal?.throwIfAborted();
      const prepared = def.prepare(inputs);
      const validation = opts.validation && opts.validation.inputs.length > 0 ? opts.validation : undefined;
      const valPrepared = validation ? def.prepare(validation.inputs) : undefined;
      if (validation) checkLabels(validation.labels, validation.inputs.length, 'validation');

      const consistency = def.consistency && opts.unlabeled?.length ? def.consistency : undefined;
      const unlabeled = consistency ? def.prepare(opts.unlabeled!) : undefined;
      const nu = consistency ? opts.unlabeled!.length : 0;

      const batchSize = Math.max(1, Math.min(opts.batchSize ?? def.defaults.batchSize, n));
      const stepsPerEpoch = Math.ceil(n / batchSize);
      const stepDefaults = consistency ? { ...def.defaults, minSteps: consistency.minSteps, maxEpochs: consistency.maxEpochs } : def.defaults;
      const epochs = Math.max(1, Math.floor(opts.epochs ?? defaultEpochs(stepDefaults, stepsPerEpoch)));
      // Epochs without a better validation score before stopping: a quarter of the run, within [5, 15].
      const patience = Math.max(5, Math.min(15, Math.ceil(epochs / 4)));
      const prng = createPrng(opts.seed ?? (seed + 0x9e3779b9 * ++fits) >>> 0);
      const sampleWeights = classWeights(labels, numClasses);
      const learningRate = opts.learningRate ?? def.defaults.learningRate;
      const totalSteps = epochs * stepsPerEpoch;
      const { labelSmoothing = 0, weightDecay = 0, cosineFloor, mixup = 0, ema: emaDecay = 0 } = def.defaults;
      const ema = emaDecay > 0 ? trainable.map((v) => tf.variable(v.clone(), false)) : undefined;
      const decayed = weightDecay > 0 ? def.params.filter((p) => p.trainable && p.name.endsWith('/kernel')).map((p) => p.variable) : [];
      const uBatch = consistency ? Math.max(1, Math.round(batchSize * consistency.ratio)) : 0;
      const uOrder = new Int32Array(nu);
      for (let i = 0; i < nu; i++) uOrder[i] = i;
      let uNext = nu;

      // Snapshot first: an abort or divergence must also undo what beforeFit set (e.g. input statistics).
      const before = snapshot();
      def.beforeFit?.(prepared);
      let best: { weights: tf.Tensor[]; accuracy: number; loss: number } | undefined;
      const optimizer = new ScheduledAdam(learningRate);
      const order = new Int32Array(n);
      for (let i = 0; i < n; i++) order[i] = i;
      let stepsRun = 0;
      let keptSum = 0,
        drawnSum = 0;

      /** The next unlabelled rows, reshuffled after each pass, with their confident pseudo-labels (-1 = none). */
      const pseudoLabelled = (): { rows: Int32Array; labels: Int32Array; kept: number } => {
        const rows = new Int32Array(Math.min(uBatch, nu));
        for (let i = 0; i < rows.length; i++) {
          if (uNext >= nu) {
            prng.shuffle(uOrder);
            uNext = 0;
          }
          rows[i] = uOrder[uNext++];
        }
        const probs = tf.tidy(() => tf.softmax(def.head(def.trunk(def.batch(unlabeled!, rows, prng), undefined), undefined)));
        const p = probs.dataSync();
        probs.dispose();
        const out = new Int32Array(rows.length).fill(-1);
        let kept = 0;
        for (let i = 0; i < rows.length; i++) {
          let top = 0;
          for (let c = 1; c < numClasses; c++) if (p[i * numClasses + c] > p[i * numClasses + top]) top = c;
          if (p[i * numClasses + top] >= consistency!.threshold) {
            out[i] = top;
            kept++;
          }
        }
        if (process.env.DEBUG_SEMI) {
          keptSum += kept;
          drawnSum += rows.length;
        }
        return { rows, labels: out, kept };
      };

      let epochLoss = Number.NaN;
      let epochsRun = 0;
      let finite = true;
      let valAccuracy: number | undefined;
      let sinceBest = 0;
      let lastReport = Date.now();
      try {
        for (let epoch = 0; epoch < epochs; epoch++) {
          prng.shuffle(order);
          let lossSum = 0;
          let seen = 0;
          for (let step = 0; step < stepsPerEpoch; step++) {
            if (opts.signal?.aborted) {
              restore(before);
              throw opts.signal.reason ?? new Error('Training was aborted.');
            }
            const rows = order.subarray(step * batchSize, Math.min(n, (step + 1) * batchSize));
            if (cosineFloor !== undefined) {
              const t = Math.min(1, stepsRun / Math.max(1, totalSteps - 1));
              optimizer.setLearningRate(learningRate * (cosineFloor + (1 - cosineFloor) * 0.5 * (1 + Math.cos(Math.PI * t))));
            }
            const pseudo = consistency ? pseudoLabelled() : undefined;
            // minimize runs the loss function inside its own tidy.
            const loss = optimizer.minimize(
              () => {
                const m = rows.length;
                let x = def.batch(prepared, rows, prng);
                let mixRows: Int32Array | undefined;
                let lam = 1;
                if (mixup > 0 && m > 1) {
                  lam = betaSample(prng, mixup);
                  lam = Math.max(lam, 1 - lam);
                  const perm = prng.shuffle(Int32Array.from({ length: m }, (_, i) => i));
                  mixRows = Int32Array.from(perm, (i) => rows[i]);
                  x = tf.add(tf.mul(x, lam), tf.mul(tf.gather(x, tf.tensor1d(perm, 'int32')), 1 - lam));
                }
                let uRows: Int32Array | undefined;
                if (pseudo && pseudo.kept > 0) {
                  // Only confident rows carry a loss; one forward pass over labelled and unlabelled rows.
                  uRows = new Int32Array(pseudo.kept);
                  for (let i = 0, j = 0; i < pseudo.rows.length; i++) if (pseudo.labels[i] >= 0) uRows[j++] = pseudo.rows[i];
                  x = tf.concat([x, consistency!.strongBatch(unlabeled!, uRows, prng)], 0);
                }
                const logits = def.head(def.trunk(x, prng), prng);
                const lLogits = uRows ? (tf.slice(logits, [0, 0], [m, numClasses]) as tf.Tensor2D) : logits;
                let supervised = weightedCrossEntropy(lLogits, rows, labels, sampleWeights, numClasses, labelSmoothing);
                if (mixRows) {
                  supervised = tf.add(
                    tf.mul(supervised, lam),
                    tf.mul(weightedCrossEntropy(lLogits, mixRows, labels, sampleWeights, numClasses, labelSmoothing), 1 - lam),
                  ) as tf.Scalar;
                }
                if (!uRows) return supervised;
                const targets = Int32Array.from(pseudo!.labels.filter((y) => y >= 0));
                const uLogits = tf.slice(logits, [m, 0], [uRows.length, numClasses]) as tf.Tensor2D;
                const oneHot = tf.oneHot(tf.tensor1d(targets, 'int32'), numClasses);
                const ce = tf.neg(tf.sum(tf.mul(oneHot, tf.logSoftmax(uLogits))));
                return tf.add(supervised, tf.mul(ce, consistency!.weight / pseudo!.rows.length)) as tf.Scalar;
              },
              true,
              trainable,
            );
            stepsRun++;
            if (ema) {
              const d = Math.min(emaDecay, (1 + stepsRun) / (10 + stepsRun));
              tf.tidy(() => trainable.forEach((v, i) => ema![i].assign(tf.add(tf.mul(ema![i], d), tf.mul(v, 1 - d)))));
            }
            if (decayed.length) {
              const factor = 1 - optimizer.getLearningRate() * weightDecay;
              tf.tidy(() => decayed.forEach((v) => v.assign(tf.mul(v, factor))));
            }
            const value = loss ? (await loss.data())[0] : Number.NaN;
            loss?.dispose();
            if (!Number.isFinite(value)) {
              finite = false;
              break;
            }
            lossSum += value * rows.length;
            seen += rows.length;
            // Long epochs (big data sets) also report within the epoch, at most about once a second.
            if (opts.onProgress && Date.now() - lastReport > 1000 && step < stepsPerEpoch - 1) {
              lastReport = Date.now();
              opts.onProgress((epoch + (step + 1) / stepsPerEpoch) / epochs, { epoch, loss: lossSum / seen });
            }
            await yieldToEventLoop();
          }
          if (!finite) break;
          epochsRun = epoch + 1;
          epochLoss = lossSum / n;

          if (validation && valPrepared) {
            const { accuracy, loss } = accuracyAndLoss(valPrepared, validation.labels);
            valAccuracy = accuracy;
            if (!best || accuracy > best.accuracy || (accuracy === best.accuracy && loss < best.loss)) {
              if (best) disposeAll(best.weights);
              best = { weights: snapshot(), accuracy, loss };
              sinceBest = 0;
            } else {
              sinceBest++;
            }
          }
          lastReport = Date.now();
          if (process.env.DEBUG_SEMI && epoch % 10 === 0) {
            console.error(`epoch ${epoch} step ${stepsRun} loss ${epochLoss.toFixed(3)} kept ${(keptSum / Math.max(1, drawnSum)).toFixed(2)}`);
            keptSum = 0;
            drawnSum = 0;
          }
          opts.onProgress?.(epochsRun / epochs, { epoch, loss: epochLoss, valAccuracy });
          if (validation && sinceBest >= patience) break;
        }
        if (ema && finite) trainable.forEach((v, i) => v.assign(ema[i]));
        if (best && finite) {
          restore(best.weights);
          valAccuracy = best.accuracy;
        }
        // A finite loss can still precede a final update that overflowed the weights.
        finite &&= weightsFinite();
        if (!finite) {
          // Diverged weights are useless, and those of the epochs before may already be extreme enough
          // to overflow: go back to the weights the fit started from.
          restore(before);
          valAccuracy = undefined;
        }
      } finally {
        if (ema) disposeAll(ema);
        optimizer.dispose();
        disposeAll(before);
        if (best) disposeAll(best.weights);
      }
      return { epochs: epochsRun, loss: epochLoss, valAccuracy, finite };
    },

    async predictProba(inputs, opts = {}) {
      alive();
      const t = Math.max(0, Math.floor(opts.mcDropoutSamples ?? 0));
      const samples = probaSamples(def.prepare(inputs), inputs.length, t);
      if (t <= 1) return samples;
      const n = inputs.length;
      const mean = new Float32Array(n * numClasses);
      for (let s = 0; s < t; s++) {
        const base = s * n * numClasses;
        for (let i = 0; i < mean.length; i++) mean[i] += samples[base + i];
      }
      for (let i = 0; i < mean.length; i++) mean[i] /= t;
      return mean;
    },

    async predictProbaSamples(inputs, samples) {
      alive();
      const t = Math.floor(samples);
      if (!(t >= 1)) throw new ValidationError('predictProbaSamples needs at least one sample.');
      return probaSamples(def.prepare(inputs), inputs.length, t);
    },

    async embed(inputs) {
      alive();
      const prepared = def.prepare(inputs);
      const n = inputs.length;
      const data = new Float32Array(n * def.embedDim);
      chunks(n, def.defaults.predictBatchSize, (rows, start) => {
        const h = tf.tidy(() => def.trunk(def.batch(prepared, rows, undefined), undefined));
        data.set(h.dataSync() as Float32Array, start * def.embedDim);
        h.dispose();
      });
      return { dim: def.embedDim, data };
    },

    serialize(): SerializedModel {
      alive();
      if (!LITTLE_ENDIAN) throw new Error('Furrow models need a little-endian host.');
      const manifest = def.params.map((p) => ({ name: p.name, shape: [...p.variable.shape] }));
      const total = def.params.reduce((a, p) => a + p.variable.size, 0);
      const values = new Float32Array(total);
      let offset = 0;
      for (const p of def.params) {
        values.set(p.variable.dataSync() as Float32Array, offset);
        offset += p.variable.size;
      }
      return { spec: structuredClone(def.spec), manifest, weights: new Uint8Array(values.buffer) };
    },

    loadWeights(serialized: SerializedModel): void {
      alive();
      if (!LITTLE_ENDIAN) throw new Error('Furrow models need a little-endian host.');
      const { manifest, weights } = serialized;
      if (manifest.length !== def.params.length) {
        throw new Error(`Model weights list ${manifest.length} tensors; ${def.spec.arch} needs ${def.params.length}.`);
      }
      const total = def.params.reduce((a, p) => a + p.variable.size, 0);
      if (weights.byteLength !== total * 4) {
        throw new Error(`Model weights hold ${weights.byteLength} bytes; ${def.spec.arch} needs ${total * 4}.`);
      }
      // Copy so the float view is aligned whatever the caller's byteOffset (a copy into a new Uint8Array:
      // a Node Buffer's slice() is a view into a shared, possibly pooled, ArrayBuffer).
      const values = new Float32Array(new Uint8Array(weights).buffer);
      let offset = 0;
      def.params.forEach((p, i) => {
        const entry = manifest[i];
        const expected = p.variable.shape;
        if (entry.name !== p.name || entry.shape.length !== expected.length || entry.shape.some((d, j) => d !== expected[j])) {
          throw new Error(`Model weight ${i} is ${entry.name} [${entry.shape}] but ${def.spec.arch} expects ${p.name} [${expected}].`);
        }
        const size = p.variable.size;
        tf.tidy(() => p.variable.assign(tf.tensor(values.subarray(offset, offset + size), expected)));
        offset += size;
      });
    },

    dispose(): void {
      if (disposed) return;
      disposed = true;
      for (const p of def.params) p.variable.dispose();
    },
  };
  return classifier;
}

/** A Beta(a, a) sample from two Gamma(a) samples (Marsaglia-Tsang, with the a < 1 boost). */
function betaSample(prng: Prng, a: number): number {
  const gamma = (k: number): number => {
    if (k < 1) return gamma(k + 1) * (1 - prng.next()) ** (1 / k);
    const d = k - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      const z = prng.normal();
      const v = (1 + c * z) ** 3;
      if (v <= 0) continue;
      const u = 1 - prng.next();
      if (Math.log(u) < 0.5 * z * z + d - d * v + d * Math.log(v)) return d * v;
    }
  };
  const x = gamma(a);
  const y = gamma(a);
  return x / (x + y);
}

/** Adam whose step size can change between steps (for a learning-rate schedule). */
class ScheduledAdam extends tf.AdamOptimizer {
  constructor(learningRate: number) {
    super(learningRate, 0.9, 0.999);
  }
  setLearningRate(lr: number): void {
    this.learningRate = lr;
  }
  getLearningRate(): number {
    return this.learningRate;
  }
}

/** The default epoch count, raised for tiny labelled sets so training still takes minSteps optimiser steps. */
function defaultEpochs(d: TrainDefaults, stepsPerEpoch: number): number {
  return Math.max(d.epochs, Math.min(d.maxEpochs, Math.ceil(d.minSteps / stepsPerEpoch)));
}

function disposeAll(tensors: tf.Tensor[]): void {
  for (const t of tensors) t.dispose();
}

/**
 * "Balanced" per-class weights n / (k * count_c) over the k classes present, so every class carries the
 * same total weight; capped at MAX_CLASS_WEIGHT so one or two examples of a rare class cannot dominate.
 * Active learning picks ambiguous items and skews the label mix; unweighted, a small text model then
 * predicts the majority class almost everywhere (replaying the 100-label fine-foods loop: 0.636 gold
 * accuracy with square-root weights, 0.654 balanced; random labels unchanged).
 */
export function classWeights(labels: Int32Array, numClasses: number): Float32Array {
  const counts = new Float64Array(numClasses);
  for (const y of labels) counts[y]++;
  const present = counts.filter((c) => c > 0).length;
  const w = new Float32Array(numClasses);
  for (let c = 0; c < numClasses; c++) {
    if (counts[c] > 0) w[c] = Math.min(MAX_CLASS_WEIGHT, labels.length / (present * counts[c]));
  }
  return w;
}

const MAX_CLASS_WEIGHT = 10;

function weightedCrossEntropy(
  logits: tf.Tensor2D,
  rows: ArrayLike<number>,
  labels: Int32Array,
  classWeight: Float32Array,
  numClasses: number,
  smoothing = 0,
): tf.Scalar {
  const m = rows.length;
  const y = new Int32Array(m);
  const w = new Float32Array(m);
  let wSum = 0;
  for (let i = 0; i < m; i++) {
    y[i] = labels[rows[i]];
    w[i] = classWeight[y[i]];
    wSum += w[i];
  }
  let oneHot: tf.Tensor = tf.oneHot(tf.tensor1d(y, 'int32'), numClasses);
  if (smoothing > 0) oneHot = tf.add(tf.mul(oneHot, 1 - smoothing), smoothing / numClasses);
  const logProbs = tf.logSoftmax(logits);
  const perRow = tf.neg(tf.sum(tf.mul(oneHot, logProbs), 1));
  return tf.div(tf.sum(tf.mul(perRow, tf.tensor1d(w))), wSum) as tf.Scalar;
}
