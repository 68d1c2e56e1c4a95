/**
 * Messages between model-runner.ts (main thread) and model-worker.ts, and the packing of inputs into
 * a few transferable buffers: an array of 1,000 small typed arrays would be structured-cloned one by one,
 * while one packed buffer moves to the worker without a copy.
 */
import { AppError, ValidationError } from '../core/errors.ts';
import type { ModelInput } from '../core/types.ts';
import type { FitOptions, FitResult, ModelSpec } from './classifier.ts';

/** Inputs of one call packed by type: all strings, all byte images, or all float vectors. */
export type PackedInputs =
  | { kind: 'text'; texts: string[] }
  | { kind: 'bytes'; data: Uint8Array; offsets: Int32Array }
  | { kind: 'floats'; data: Float32Array; offsets: Int32Array };

/** Training options as sent to the worker (their inputs packed). */
export type WireFitOptions = Omit<FitOptions, 'onProgress' | 'signal' | 'validation' | 'unlabeled'> & {
  validation?: { inputs: PackedInputs; labels: Int32Array };
  unlabeled?: PackedInputs;
};

export type ProgressInfo = { epoch: number; loss: number; valAccuracy?: number };

export type WorkerRequest =
  | { id: number; type: 'backend' }
  | { id: number; type: 'train'; spec: ModelSpec; inputs: PackedInputs; labels: Int32Array; options?: WireFitOptions; initial?: Uint8Array }
  | { id: number; type: 'abort'; target: number }
  | { id: number; type: 'predict'; key: string; blob?: Uint8Array; inputs: PackedInputs; mcDropoutSamples?: number; samples?: number }
  | { id: number; type: 'embed'; key: string; blob?: Uint8Array; inputs: PackedInputs }
  | { id: number; type: 'coverage'; method: 'typical' | 'spread'; candidates: Float32Array; labelled: Float32Array; dim: number; count: number; seed: number };

export type WorkerResponse =
  | { id: number; type: 'result'; result: unknown }
  | { id: number; type: 'error'; error: WireError }
  /** The worker does not hold the model key: resend the request with the blob. */
  | { id: number; type: 'missing' }
  | { id: number; type: 'progress'; progress: number; info: ProgressInfo };

export type TrainResult = { blob: Uint8Array; result: FitResult };

/** An Error flattened for postMessage, keeping what callers branch on (AppError status/code). */
export interface WireError {
  name: string;
  message: string;
  stack?: string;
  status?: number;
  code?: string;
  details?: unknown;
}

/**
 * Packs inputs into fresh buffers (never the caller's, which transfer would detach) and lists the
 * buffers to transfer. Throws ValidationError when types are mixed.
 */
export function packInputs(inputs: ModelInput[]): { packed: PackedInputs; transfer: ArrayBuffer[] } {
  if (!Array.isArray(inputs)) throw new ValidationError('Model inputs must be an array.');
  const first = inputs[0];
  if (inputs.length === 0 || typeof first === 'string') {
    if (!inputs.every((x) => typeof x === 'string')) throw new ValidationError('Model inputs mix text with other types.');
    return { packed: { kind: 'text', texts: inputs as string[] }, transfer: [] };
  }
  const Ctor = first instanceof Float32Array ? Float32Array : Uint8Array;
  const offsets = new Int32Array(inputs.length + 1);
  for (let i = 0; i < inputs.length; i++) {
    const x = inputs[i];
    // A Node Buffer is a Uint8Array too and packs as bytes.
    if (!(x instanceof Ctor)) {
      throw new ValidationError(`Model input ${i} is not a ${Ctor.name} like input 0.`);
    }
    offsets[i + 1] = offsets[i] + x.length;
  }
  const data = new Ctor(offsets[inputs.length]);
  for (let i = 0; i < inputs.length; i++) data.set(inputs[i] as ArrayLike<number>, offsets[i]);
  const packed: PackedInputs =
    Ctor === Float32Array ? { kind: 'floats', data: data as Float32Array, offsets } : { kind: 'bytes', data: data as Uint8Array, offsets };
  return { packed, transfer: [data.buffer as ArrayBuffer, offsets.buffer as ArrayBuffer] };
}

/** Views into the packed buffers, one per input (no copy). */
export function unpackInputs(p: PackedInputs): ModelInput[] {
  if (p.kind === 'text') return p.texts;
  const out: ModelInput[] = new Array(p.offsets.length - 1);
  for (let i = 0; i < out.length; i++) out[i] = p.data.subarray(p.offsets[i], p.offsets[i + 1]);
  return out;
}

/**
 * A copy of `bytes` in its own ArrayBuffer, safe to transfer. Not `bytes.slice()`: on a Node Buffer (what
 * postgres.js returns for bytea) `slice` is `subarray` and shares memory, so transferring it detached the
 * caller's buffer and broke every other request waiting on the same model load.
 */
export function ownedCopy(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes);
}

export function toWireError(err: unknown): WireError {
  if (err instanceof AppError) {
    return { name: err.name, message: err.message, stack: err.stack, status: err.status, code: err.code, details: err.details };
  }
  if (err instanceof Error) return { name: err.name, message: err.message, stack: err.stack };
  return { name: 'Error', message: String(err) };
}

/** Rebuilds an Error on the main thread; ValidationError and other AppErrors keep their class semantics. */
export function fromWireError(w: WireError): Error {
  let err: Error;
  if (w.name === 'ValidationError') err = new ValidationError(w.message, w.details, w.code);
  else if (w.status !== undefined && w.code !== undefined) err = new AppError(w.status, w.code, w.message, w.details);
  else {
    err = new Error(w.message);
    err.name = w.name;
  }
  if (w.stack) err.stack = `${err.name}: ${w.message}\n    (in model worker)\n${w.stack.split('\n').slice(1).join('\n')}`;
  return err;
}
