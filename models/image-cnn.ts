/**
 * A small CNN for images of any size. 'cnn-v1': conv3x3(16)-relu-maxpool2 → conv3x3(32)-relu-maxpool2 →
 * (average pool down to at most ~7x7 positions for large inputs) → dense(128)-relu = embedding →
 * dropout(0.5) → softmax.
 *
 * Sized for the wasm backend on one core: 1,000 28x28 images x 20 epochs train in about 20 s. Wider
 * layers (32/64) or a second conv per block cost 1.5-3x the time and were no more accurate with 100 or
 * 1,000 Fashion-MNIST labels; random shifts helped slightly at 100 labels and hurt at 1,000 within 20
 * epochs, so augmentation is off.
 */
import * as tf from '@tensorflow/tfjs';
import { ValidationError } from '../core/errors.ts';
import type { ModelInput } from '../core/types.ts';
import type { ModelSpec } from './classifier.ts';
import { conv2dSame, maxPool2x2 } from './wasm-ops.ts';
import { createPrng } from './prng.ts';
import {
  createTfClassifier,
  dense,
  dropout,
  initWeights,
  variableFrom,
  zerosVariable,
  type ConsistencyDef,
  type LoadableClassifier,
  type NetworkDef,
  type Param,
  type TrainDefaults,
} from './tf-classifier.ts';
import type { Prng } from './prng.ts';

export const IMAGE_CNN_ARCH = 'cnn-v1';

/** A network layout; fixed for each arch tag (changing it means a new tag). */
export interface CnnPlan {
  /** Layers in order: 'c<N>' (conv3x3 'same' to N channels + ReLU) or 'p' (2x2 max-pool). */
  layers: string[];
  hidden: number;
  /** Dropout on the flattened conv features, while training only. */
  featureDropout: number;
  /** Dropout before the output layer (also used by MC dropout). */
  headDropout: number;
  /** Max random shift in pixels for augmentation (0 = off). */
  shift: number;
  /** Random horizontal flips in training batches. */
  flip?: boolean;
  /** Keep the first conv layer at its initial weights (no gradient below the second). */
  freezeFirst?: boolean;
  /** Batch normalisation after each conv (after its max-pool when one follows), before the ReLU. */
  batchNorm?: boolean;
  /** Global average pooling of the last conv layer instead of flattening it. */
  gap?: boolean;
  /** Strong augmentation for semi-supervised training; without it unlabelled data is ignored. */
  strong?: StrongAugment;
  consistency?: Omit<ConsistencyDef<unknown>, 'strongBatch'>;
  defaults?: Partial<TrainDefaults>;
}

/** Ranges of the random strong augmentation (each drawn uniformly in [-x, x] unless noted). */
export interface StrongAugment {
  /** Shift in pixels. */
  shift: number;
  /** Rotation in degrees. */
  rotate: number;
  /** Relative scale change. */
  scale: number;
  /** Horizontal shear factor. */
  shear: number;
  /** Side of a square cut out (set to 0), in pixels; 0 = none. */
  cutout: number;
  /** Relative contrast change around the image mean. */
  contrast: number;
  /** Brightness offset (pixel values in [0, 1]). */
  brightness: number;
  /** Standard deviation of added Gaussian noise. */
  noise: number;
}

const CNN_V1: CnnPlan = { layers: ['c16', 'p', 'c32', 'p'], hidden: 128, featureDropout: 0, headDropout: 0.5, shift: 0 };
const BN_MOMENTUM = 0.9;
const BN_EPSILON = 1e-3;
const CNN_V1_DEFAULTS: TrainDefaults = { epochs: 20, batchSize: 32, learningRate: 2e-3, minSteps: 300, maxEpochs: 150, predictBatchSize: 256 };

interface PreparedImages {
  images: Uint8Array[];
}

/**
 * Builds the 'cnn-v1' classifier for spec.width x spec.height x spec.channels uint8 HWC images.
 * @param plan only for experiments; production code uses the default.
 */
export function createImageCnn(spec: ModelSpec, seed: number, plan: CnnPlan = CNN_V1): LoadableClassifier {
  const { width, height } = spec;
  const channels = spec.channels ?? 1;
  if (!isPositiveInt(width) || !isPositiveInt(height) || width < 4 || height < 4) {
    throw new ValidationError('An image model needs integer width and height of at least 4 pixels.', { width, height });
  }
  if (channels !== 1 && channels !== 3) {
    throw new ValidationError('An image model needs 1 (gray) or 3 (RGB) channels.', { channels });
  }
  const k = spec.labels.length;
  const pixels = width * height * channels;
  const prng = createPrng(seed);

  const params: Param[] = [];
  type Norm = { gamma: tf.Variable; mean: tf.Variable; variance: tf.Variable };
  type Layer = { kind: 'conv'; kernel: tf.Variable; bias: tf.Variable; first: boolean; norm?: Norm } | { kind: 'pool' };
  const layers: Layer[] = [];
  let [h, w, c] = [height, width, channels];
  let n = 0;
  for (const l of plan.layers) {
    if (l === 'p') {
      layers.push({ kind: 'pool' });
      h = Math.floor(h / 2);
      w = Math.floor(w / 2);
    } else {
      const out = Number(l.slice(1));
      n++;
      const kernel = initWeights([3, 3, c, out], 9 * c, 9 * out, prng, 'he');
      const bias = zerosVariable([out]);
      const frozen = n === 1 && !!plan.freezeFirst;
      params.push({ name: `conv${n}/kernel`, variable: kernel, trainable: !frozen }, { name: `conv${n}/bias`, variable: bias, trainable: !frozen });
      let norm: Norm | undefined;
      if (plan.batchNorm) {
        norm = { gamma: variableFrom(tf.ones([out]), true), mean: zerosVariable([out], false), variance: variableFrom(tf.ones([out]), false) };
        params.push(
          { name: `conv${n}/gamma`, variable: norm.gamma, trainable: true },
          { name: `conv${n}/moving_mean`, variable: norm.mean, trainable: false },
          { name: `conv${n}/moving_variance`, variable: norm.variance, trainable: false },
        );
      }
      layers.push({ kind: 'conv', kernel, bias, first: n === 1 || (n === 2 && !!plan.freezeFirst), norm });
      c = out;
    }
  }
  /** Bias (or batch norm, whose shift is the bias) then ReLU. */
  const activate = (a: tf.Tensor4D, l: Extract<Layer, { kind: 'conv' }>, training: boolean): tf.Tensor4D => {
    if (!l.norm) return tf.relu(tf.add(a, l.bias)) as tf.Tensor4D;
    const { gamma, mean, variance } = l.norm;
    let mu: tf.Tensor = mean;
    let v: tf.Tensor = variance;
    if (training) {
      const m = tf.moments(a, [0, 1, 2]);
      mu = m.mean;
      v = m.variance;
      // Running statistics for prediction; no gradient flows into them.
      mean.assign(tf.add(tf.mul(mean, BN_MOMENTUM), tf.mul(mu, 1 - BN_MOMENTUM)));
      variance.assign(tf.add(tf.mul(variance, BN_MOMENTUM), tf.mul(v, 1 - BN_MOMENTUM)));
    }
    return tf.relu(tf.add(tf.mul(tf.sub(a, mu), tf.mul(gamma, tf.rsqrt(tf.add(v, BN_EPSILON)))), l.bias)) as tf.Tensor4D;
  };
  if (h < 1 || w < 1) throw new ValidationError(`Images of ${width}x${height} are too small for ${spec.arch}.`);
  // An average pool keeps the dense layer small for big images (at most ~7x7 positions).
  const extra = plan.gap ? 1 : Math.max(1, Math.ceil(Math.max(h, w) / 7));
  const flat = plan.gap ? c : Math.floor(h / extra) * Math.floor(w / extra) * c;
  const hk = initWeights([flat, plan.hidden], flat, plan.hidden, prng, 'he');
  const hb = zerosVariable([plan.hidden]);
  const ok = initWeights([plan.hidden, k], plan.hidden, k, prng, 'glorot');
  const ob = zerosVariable([k]);
  params.push(
    { name: 'hidden/kernel', variable: hk, trainable: true },
    { name: 'hidden/bias', variable: hb, trainable: true },
    { name: 'output/kernel', variable: ok, trainable: true },
    { name: 'output/bias', variable: ob, trainable: true },
  );

  const def: NetworkDef<PreparedImages> = {
    spec: { ...spec, channels },
    params,
    embedDim: plan.hidden,
    defaults: { ...CNN_V1_DEFAULTS, ...plan.defaults },

    prepare(inputs: ModelInput[]): PreparedImages {
      inputs.forEach((x, i) => {
        if (!(x instanceof Uint8Array) || x.length !== pixels) {
          throw new ValidationError(`Image input ${i} must be a Uint8Array of ${height}x${width}x${channels} = ${pixels} bytes.`, {
            index: i,
            length: (x as { length?: number })?.length,
          });
        }
      });
      return { images: inputs as Uint8Array[] };
    },

    batch({ images }, rows, augment): tf.Tensor {
      const m = rows.length;
      const out = new Float32Array(m * pixels);
      const shift = augment ? plan.shift : 0;
      for (let r = 0; r < m; r++) {
        const img = images[rows[r]];
        const base = r * pixels;
        // Random translation; border pixels are repeated rather than zero-filled so natural images keep their edges.
        const dy = shift ? augment!.int(2 * shift + 1) - shift : 0;
        const dx = shift ? augment!.int(2 * shift + 1) - shift : 0;
        const flip = augment && plan.flip ? augment.next() < 0.5 : false;
        for (let y = 0; y < height; y++) {
          const sy = Math.min(height - 1, Math.max(0, y + dy));
          for (let x = 0; x < width; x++) {
            const sx0 = Math.min(width - 1, Math.max(0, x + dx));
            const sx = flip ? width - 1 - sx0 : sx0;
            const src = (sy * width + sx) * channels;
            const dst = base + (y * width + x) * channels;
            for (let ch = 0; ch < channels; ch++) out[dst + ch] = img[src + ch] / 255;
          }
        }
      }
      return tf.tensor4d(out, [m, height, width, channels]);
    },

    trunk(x, drop): tf.Tensor2D {
      let a = x as tf.Tensor4D;
      const training = drop !== undefined;
      for (let i = 0; i < layers.length; i++) {
        const l = layers[i];
        if (l.kind === 'pool') {
          a = maxPool2x2(a);
        } else if (layers[i + 1]?.kind === 'pool') {
          // Bias and ReLU commute with the max-pool that follows (both are monotone per channel), so they
          // run on a quarter of the values, with the same result. (With batch norm, it normalises the pooled values.)
          a = activate(maxPool2x2(conv2dSame(a, l.kernel as tf.Tensor4D, !l.first)), l, training);
          i++;
        } else {
          a = activate(conv2dSame(a, l.kernel as tf.Tensor4D, !l.first), l, training);
        }
      }
      if (plan.gap) return tf.relu(dense(tf.mean(a, [1, 2]) as tf.Tensor2D, hk, hb));
      if (extra > 1) a = tf.avgPool(a, extra, extra, 'valid');
      const f = dropout(tf.reshape(a, [a.shape[0], flat]) as tf.Tensor2D, plan.featureDropout, drop);
      return tf.relu(dense(f, hk, hb));
    },

    head(hidden, drop): tf.Tensor2D {
      return dense(dropout(hidden, plan.headDropout, drop), ok, ob);
    },
  };
  if (plan.strong && plan.consistency) {
    const strong = plan.strong;
    def.consistency = {
      ...plan.consistency,
      strongBatch: ({ images }, rows, augment) => strongBatch(images, rows, augment, width, height, channels, strong, plan.flip ?? false),
    };
  }
  return createTfClassifier(def, seed);
}

/**
 * A strongly augmented batch [m, height, width, channels] in [0, 1]: a random affine map (shift, rotation,
 * scale, shear; bilinear, edges repeated), an optional flip, contrast and brightness jitter, Gaussian
 * noise and a cut-out square.
 */
export function strongBatch(
  images: Uint8Array[],
  rows: ArrayLike<number>,
  prng: Prng,
  width: number,
  height: number,
  channels: number,
  a: StrongAugment,
  flip: boolean,
): tf.Tensor4D {
  const m = rows.length;
  const pixels = width * height * channels;
  const out = new Float32Array(m * pixels);
  const u = (x: number): number => (2 * prng.next() - 1) * x;
  const cx = (width - 1) / 2;
  const cy = (height - 1) / 2;
  for (let r = 0; r < m; r++) {
    const img = images[rows[r]];
    const base = r * pixels;
    const angle = (u(a.rotate) * Math.PI) / 180;
    const s = 1 + u(a.scale);
    const sh = u(a.shear);
    const tx = u(a.shift);
    const ty = u(a.shift);
    const f = flip && prng.next() < 0.5 ? -1 : 1;
    // Inverse map from output to source coordinates: source = R^-1 S^-1 H^-1 (out - c - t) + c.
    const cos = Math.cos(angle) / s;
    const sin = Math.sin(angle) / s;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const ox = f * (x - cx) - tx;
        const oy = y - cy - ty;
        const hx = ox - sh * oy;
        const sx = Math.min(width - 1, Math.max(0, cos * hx + sin * oy + cx));
        const sy = Math.min(height - 1, Math.max(0, -sin * hx + cos * oy + cy));
        const x0 = Math.floor(sx);
        const y0 = Math.floor(sy);
        const x1 = Math.min(width - 1, x0 + 1);
        const y1 = Math.min(height - 1, y0 + 1);
        const wx = sx - x0;
        const wy = sy - y0;
        const dst = base + (y * width + x) * channels;
        for (let ch = 0; ch < channels; ch++) {
          const v00 = img[(y0 * width + x0) * channels + ch];
          const v01 = img[(y0 * width + x1) * channels + ch];
          const v10 = img[(y1 * width + x0) * channels + ch];
          const v11 = img[(y1 * width + x1) * channels + ch];
          out[dst + ch] = ((v00 * (1 - wx) + v01 * wx) * (1 - wy) + (v10 * (1 - wx) + v11 * wx) * wy) / 255;
        }
      }
    }
    const contrast = 1 + u(a.contrast);
    const brightness = u(a.brightness);
    let mean = 0;
    for (let i = 0; i < pixels; i++) mean += out[base + i];
    mean /= pixels;
    for (let i = 0; i < pixels; i++) {
      const v = (out[base + i] - mean) * contrast + mean + brightness + (a.noise ? a.noise * prng.normal() : 0);
      out[base + i] = Math.min(1, Math.max(0, v));
    }
    if (a.cutout > 0) {
      const size = Math.min(a.cutout, width, height);
      const y0 = prng.int(height - size + 1);
      const x0 = prng.int(width - size + 1);
      for (let y = y0; y < y0 + size; y++) out.fill(0, base + (y * width + x0) * channels, base + (y * width + x0 + size) * channels);
    }
  }
  return tf.tensor4d(out, [m, height, width, channels]);
}

function isPositiveInt(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n > 0;
}
