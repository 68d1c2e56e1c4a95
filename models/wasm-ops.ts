/**
 * Differentiable ops whose gradients run fast on the wasm backend.
 *
 * Why: the wasm backend has no Conv2DBackpropFilter kernel, so tf.conv2d cannot be trained there, its
 * Conv2DBackpropInput is a naive loop about 8x slower than a forward conv of the same size, and its
 * BatchMatMul with transposeA/transposeB (which tf.matMul's gradient uses) is 5-15x slower than an explicit
 * transpose followed by a plain matMul. So:
 *
 * Both gradients of a stride-1 convolution are themselves forward convolutions:
 *  - input:  dx = conv(pad(dy), flip(w) with in/out channels swapped), 'valid';
 *  - filter: dW = conv(x_padded with batch and channels swapped, dy as a filter), 'valid',
 *    i.e. transpose(conv2d(x_p^[Ci,Hp,Wp,N], dy^[Ho,Wo,N,Co]), [1,2,0,3]) -> [kh,kw,Ci,Co].
 */
import * as tf from '@tensorflow/tfjs';

/**
 * conv2d(x, filter, stride 1, 'same') for odd square kernels, NHWC. On backends with native conv
 * gradients it is plain tf.conv2d; otherwise a tf.customGrad op (see the file comment).
 *
 * @param x [N, H, W, Ci] activations.
 * @param filter [k, k, Ci, Co] with k odd.
 * @param inputGrad false for a first layer whose input needs no gradient: its dx is then zeros,
 *   saving a convolution per step.
 * @returns [N, H, W, Co].
 */
export function conv2dSame(x: tf.Tensor4D, filter: tf.Tensor4D, inputGrad = true): tf.Tensor4D {
  if (hasNativeConvGrad()) return tf.conv2d(x, filter, 1, 'same');
  return forwardOnlyGradConv(x, filter, inputGrad);
}

/** The custom-gradient convolution itself, exported so tests can compare it with tf.grad of tf.conv2d. */
export function forwardOnlyGradConv(x: tf.Tensor4D, filter: tf.Tensor4D, inputGrad = true): tf.Tensor4D {
  const [kh, kw] = filter.shape;
  if (kh !== kw || kh % 2 !== 1) throw new Error(`conv2dSame needs an odd square kernel, got ${kh}x${kw}.`);
  const p = (kh - 1) / 2;
  const pads: [number, number][] = [
    [0, 0],
    [p, p],
    [p, p],
    [0, 0],
  ];
  // customGrad passes the inputs then the save function through one loosely typed rest parameter.
  const op = tf.customGrad<tf.Tensor4D>((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xIn, w, save] = args as [tf.Tensor4D, tf.Tensor4D, tf.GradSaveFunc];
    const xp = tf.pad(xIn, pads);
    save([xp, w]);
    return {
      value: tf.conv2d(xp, w, 1, 'valid'),
      gradFunc: (dy: tf.Tensor4D, saved: tf.Tensor[]) => {
        const [xpSaved, wSaved] = saved as [tf.Tensor4D, tf.Tensor4D];
        const dw = tf.transpose(
          tf.conv2d(tf.transpose(xpSaved, [3, 1, 2, 0]) as tf.Tensor4D, tf.transpose(dy, [1, 2, 0, 3]) as tf.Tensor4D, 1, 'valid'),
          [1, 2, 0, 3],
        );
        const dx = inputGrad
          ? tf.conv2d(tf.pad(dy, pads), tf.transpose(tf.reverse(wSaved, [0, 1]), [0, 1, 3, 2]) as tf.Tensor4D, 1, 'valid')
          : tf.zeros(xIn.shape);
        return [dx, dw];
      },
    };
  });
  return op(x, filter);
}

/**
 * x @ w for x [n, din], w [din, dout] with a gradient built from explicit transposes and plain matMuls.
 * @param inputGrad false when x needs no gradient (a first layer fed raw features): x is then closed over
 *   instead of being an input of the op, so no dx (not even zeros) is computed.
 */
export function matMulFast(x: tf.Tensor2D, w: tf.Tensor2D, inputGrad = true): tf.Tensor2D {
  if (!inputGrad) {
    const op = tf.customGrad<tf.Tensor2D>((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const [wIn, save] = args as [tf.Tensor2D, tf.GradSaveFunc];
      // save() keeps a clone alive until the backward pass; the caller's tidy may dispose x before then.
      save([x]);
      return {
        value: tf.matMul(x, wIn),
        gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => [tf.matMul(tf.transpose(saved[0] as tf.Tensor2D), dy)],
      };
    });
    return op(w);
  }
  const op = tf.customGrad<tf.Tensor2D>((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xIn, wIn, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
    save([xIn, wIn]);
    return {
      value: tf.matMul(xIn, wIn),
      gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => {
        const [xs, ws] = saved as [tf.Tensor2D, tf.Tensor2D];
        return [tf.matMul(dy, tf.transpose(ws)), tf.matMul(tf.transpose(xs), dy)];
      },
    };
  });
  return op(x, w);
}

/**
 * 2x2 max-pool, stride 2, 'valid' (odd trailing rows/columns dropped), NHWC. Same values as tf.maxPool;
 * on backends without native conv gradients its gradient is computed in JavaScript, which on wasm is
 * about 2.5x faster than the MaxPoolGrad kernel (5.6 vs 13.5 ms for a 32x28x28x16 input).
 * Ties route the gradient to the first maximum in row-major window order.
 */
export function maxPool2x2(x: tf.Tensor4D): tf.Tensor4D {
  if (hasNativeConvGrad()) return tf.maxPool(x, 2, 2, 'valid');
  const op = tf.customGrad<tf.Tensor4D>((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xIn, save] = args as [tf.Tensor4D, tf.GradSaveFunc];
    save([xIn]);
    return {
      value: tf.maxPool(xIn, 2, 2, 'valid'),
      gradFunc: (dy: tf.Tensor4D, saved: tf.Tensor[]) => {
        const xs = saved[0] as tf.Tensor4D;
        const [n, H, W, C] = xs.shape;
        const [h, w] = [dy.shape[1], dy.shape[2]];
        const xv = xs.dataSync() as Float32Array;
        const dv = dy.dataSync() as Float32Array;
        const dx = new Float32Array(xv.length);
        for (let b = 0; b < n; b++) {
          for (let i = 0; i < h; i++) {
            for (let j = 0; j < w; j++) {
              const o = ((b * h + i) * w + j) * C;
              const p00 = ((b * H + 2 * i) * W + 2 * j) * C;
              const p01 = p00 + C;
              const p10 = p00 + W * C;
              const p11 = p10 + C;
              for (let c = 0; c < C; c++) {
                let best = p00 + c;
                if (xv[p01 + c] > xv[best]) best = p01 + c;
                if (xv[p10 + c] > xv[best]) best = p10 + c;
                if (xv[p11 + c] > xv[best]) best = p11 + c;
                dx[best] = dv[o + c];
              }
            }
          }
        }
        return [tf.tensor4d(dx, xs.shape)];
      },
    };
  });
  return op(x);
}

function hasNativeConvGrad(): boolean {
  try {
    return tf.getKernel('Conv2DBackpropFilter', tf.getBackend()) !== undefined;
  } catch {
    return false;
  }
}
