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
import { conv2dSame } from './wasm-ops.ts';
import { createPrng } from './prng.ts';
import {
  createTfClassifier,
  dense,
  dropout,
  initWeights,
  zerosVariable,
  type LoadableClassifier,
  type NetworkDef,
  type Param,
} from './tf-classifier.ts';

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
}

const CNN_V1: CnnPlan = { layers: ['c16', 'p', 'c32', 'p'], hidden: 128, featureDropout: 0, headDropout: 0.5, shift: 0 };

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
  type Layer = { kind: 'conv'; kernel: tf.Variable; bias: tf.Variable; first: boolean } | { kind: 'pool' };
  const layers: Layer[] = [];
  let [h, w, c] = [height, width, channels];
  for (const l of plan.layers) {
    if (l === 'p') {
      layers.push({ kind: 'pool' });
      h = Math.floor(h / 2);
      w = Math.floor(w / 2);
    } else {
      const out = Number(l.slice(1));
      const n = params.length / 2 + 1;
      const kernel = initWeights([3, 3, c, out], 9 * c, 9 * out, prng, 'he');
      const bias = zerosVariable([out]);
      params.push({ name: `conv${n}/kernel`, variable: kernel, trainable: true }, { name: `conv${n}/bias`, variable: bias, trainable: true });
      layers.push({ kind: 'conv', kernel, bias, first: n === 1 });
      c = out;
    }
  }
  if (h < 1 || w < 1) throw new ValidationError(`Images of ${width}x${height} are too small for ${spec.arch}.`);
  // An average pool keeps the dense layer small for big images (at most ~7x7 positions).
  const extra = Math.max(1, Math.ceil(Math.max(h, w) / 7));
  const flat = Math.floor(h / extra) * Math.floor(w / extra) * c;
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
    defaults: { epochs: 20, batchSize: 32, learningRate: 2e-3, minSteps: 300, maxEpochs: 150, predictBatchSize: 256 },

    prepare(inputs: ModelInput[]): PreparedImages {
      inputs.forEach((x, i) => {
        if (!(x instanceof Uint8Array) || x.length !== pixels) {
          throw new ValidationError(
            `Image input ${i} must be a Uint8Array of ${height}x${width}x${channels} = ${pixels} bytes.`,
            { index: i, length: (x as { length?: number })?.length },
          );
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
        for (let y = 0; y < height; y++) {
          const sy = Math.min(height - 1, Math.max(0, y + dy));
          for (let x = 0; x < width; x++) {
            const sx = Math.min(width - 1, Math.max(0, x + dx));
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
      for (const l of layers) {
        a = l.kind === 'pool'
          ? tf.maxPool(a, 2, 2, 'valid')
          : (tf.relu(tf.add(conv2dSame(a, l.kernel as tf.Tensor4D, !l.first), l.bias)) as tf.Tensor4D);
      }
      if (extra > 1) a = tf.avgPool(a, extra, extra, 'valid');
      const f = dropout(tf.reshape(a, [a.shape[0], flat]) as tf.Tensor2D, plan.featureDropout, drop);
      return tf.relu(dense(f, hk, hb));
    },

    head(hidden, drop): tf.Tensor2D {
      return dense(dropout(hidden, plan.headDropout, drop), ok, ob);
    },
  };
  return createTfClassifier(def, seed);
}

function isPositiveInt(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n > 0;
}
