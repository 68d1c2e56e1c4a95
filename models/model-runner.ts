/**
 * Runs all tfjs work off the main thread so an HTTP server never stalls on a training step or a big
 * prediction batch. Two workers: one trains, one predicts, so a long training job never delays the
 * predictions (pre-labelling, review queues) that people are waiting on.
 */
import { Worker, type ResourceLimits } from 'node:worker_threads';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import type { ModelInput } from '../core/types.ts';
import type { FitResult } from './classifier.ts';
import { pickCoverage } from './clustering.ts';
import { createModelService, type TrainProgress, type TrainRequest } from './model-service.ts';
import { createPrng } from './prng.ts';
import {
  fromWireError,
  ownedCopy,
  packInputs,
  type PackedInputs,
  type TrainResult,
  type WireFitOptions,
  type WorkerRequest,
  type WorkerResponse,
} from './runner-protocol.ts';

export type { TrainProgress, TrainRequest } from './model-service.ts';

/**
 * A model the runner can cache by `key` (e.g. "project:v3"). Keys must name immutable weights: the runner
 * calls `load` (on the calling thread) only when its worker does not hold the key.
 */
export interface ModelRef {
  key: string;
  load: () => Promise<Uint8Array>;
}

export interface ModelRunner {
  /** The tfjs backend the (inference) worker ended up on: 'tensorflow', 'wasm' or 'cpu'. */
  backend(): Promise<string>;
  /**
   * Trains a model and returns its blob (weights.ts format) and fit result. `req.initial` warm-starts
   * from a previous blob when its spec matches. Aborting `signal` rejects with its reason and stops the
   * worker's training at the next batch.
   */
  train(req: TrainRequest, onProgress?: TrainProgress, signal?: AbortSignal): Promise<{ blob: Uint8Array; result: FitResult }>;
  /** Class probabilities, n*numClasses row-major (mean over MC-dropout passes when mcDropoutSamples > 0). */
  predict(model: ModelRef, inputs: ModelInput[], opts?: { mcDropoutSamples?: number }): Promise<Float32Array>;
  /** `samples` MC-dropout passes, samples*n*numClasses laid out [t][i][class] (for BALD). */
  predictSamples(model: ModelRef, inputs: ModelInput[], samples: number): Promise<Float32Array>;
  /** Penultimate-layer activations, n*dim row-major. */
  embed(model: ModelRef, inputs: ModelInput[]): Promise<{ dim: number; data: Float32Array }>;
  /**
   * Cold-start picks (clustering.ts pickCoverage) on the inference worker: indices of `count` candidates,
   * rows of width `dim` in `candidates` and `labelled` (the items that already have labels).
   */
  coverage(req: CoverageRequest): Promise<number[]>;
  /** Stops the workers; pending and later calls reject. */
  close(): Promise<void>;
}

export interface CoverageRequest {
  /** `typical`: typicalCoverage; `spread`: k-means++ sampling (kmeansppSample), which ignores `labelled`. */
  method: 'typical' | 'spread';
  candidates: Float32Array;
  labelled: Float32Array;
  dim: number;
  count: number;
  seed: number;
}

export interface RunnerOptions {
  /** Preferred tfjs backend ('tensorflow' | 'wasm' | 'cpu'); the workers fall back as initBackend does. */
  backend?: string;
  /** Heap limits per worker (worker threads only); a worker that exceeds them crashes and is respawned. */
  resourceLimits?: ResourceLimits;
}

/** Creates a runner whose two workers start on first use and restart after a crash. */
export function createModelRunner(opts: RunnerOptions = {}): ModelRunner {
  const trainer = createWorkerHandle('trainer', opts);
  const predictor = createWorkerHandle('predictor', opts);
  const loads = new Map<string, Promise<Uint8Array>>();

  /** Sends a model request; on 'missing' loads the blob (once per key at a time) and resends it. */
  const modelCall = async <T>(model: ModelRef, build: (blob?: Uint8Array) => [WorkerRequestBody, ArrayBuffer[]]): Promise<T> => {
    const [body, transfer] = build();
    const first = await predictor.call(body, transfer);
    if (first.type !== 'missing') return first.result as T;
    let load = loads.get(model.key);
    if (!load) {
      load = Promise.resolve()
        .then(() => model.load())
        .finally(() => loads.delete(model.key));
      loads.set(model.key, load);
    }
    const blob = ownedCopy(await load);
    const [again, transferAgain] = build(blob);
    const second = await predictor.call(again, [...transferAgain, blob.buffer as ArrayBuffer]);
    if (second.type === 'missing') throw new Error(`The model worker did not accept the weights of ${model.key}.`);
    return second.result as T;
  };

  return {
    async backend() {
      return resultOf(await predictor.call({ type: 'backend' })) as string;
    },

    async train(req, onProgress, signal) {
      signal?.throwIfAborted();
      const transfer: ArrayBuffer[] = [];
      const pack = (inputs: ModelInput[]): PackedInputs => {
        const p = packInputs(inputs);
        transfer.push(...p.transfer);
        return p.packed;
      };
      const labels = Int32Array.from(req.labels);
      transfer.push(labels.buffer);
      const { validation, unlabeled, ...rest } = req.options ?? {};
      const options: WireFitOptions = { ...rest };
      if (validation) {
        const valLabels = Int32Array.from(validation.labels);
        transfer.push(valLabels.buffer);
        options.validation = { inputs: pack(validation.inputs), labels: valLabels };
      }
      if (unlabeled) options.unlabeled = pack(unlabeled);
      const initial = req.initial && ownedCopy(req.initial);
      if (initial) transfer.push(initial.buffer as ArrayBuffer);
      const body: WorkerRequestBody = { type: 'train', spec: req.spec, inputs: pack(req.inputs), labels, options, initial };
      const res = await trainer.call(body, transfer, onProgress, signal);
      return resultOf(res) as TrainResult;
    },

    predict(model, inputs, predictOpts = {}) {
      return modelCall<Float32Array>(model, (blob) => {
        const { packed, transfer } = packInputs(inputs);
        return [{ type: 'predict', key: model.key, blob, inputs: packed, mcDropoutSamples: predictOpts.mcDropoutSamples }, transfer];
      });
    },

    predictSamples(model, inputs, samples) {
      return modelCall<Float32Array>(model, (blob) => {
        const { packed, transfer } = packInputs(inputs);
        return [{ type: 'predict', key: model.key, blob, inputs: packed, samples }, transfer];
      });
    },

    embed(model, inputs) {
      return modelCall<{ dim: number; data: Float32Array }>(model, (blob) => {
        const { packed, transfer } = packInputs(inputs);
        return [{ type: 'embed', key: model.key, blob, inputs: packed }, transfer];
      });
    },

    async coverage(req) {
      const candidates = Float32Array.from(req.candidates);
      const labelled = Float32Array.from(req.labelled);
      const res = await predictor.call({ type: 'coverage', method: req.method, candidates, labelled, dim: req.dim, count: req.count, seed: req.seed }, [
        candidates.buffer,
        labelled.buffer,
      ]);
      return resultOf(res) as number[];
    },

    async close() {
      await Promise.all([trainer.close(), predictor.close()]);
    },
  };
}

/**
 * The same interface on the calling thread (no workers): for scripts and benchmarks that want to compare,
 * or environments without worker threads. Training blocks the event loop between batches only briefly,
 * but a big prediction batch blocks it for its whole duration.
 */
export function createInProcessRunner(opts: RunnerOptions = {}): ModelRunner {
  const service = createModelService({ backend: opts.backend });
  let closed = false;
  const open = (): void => {
    if (closed) throw new Error('The model runner is closed.');
  };
  const model = async (ref: ModelRef) => service.cached(ref.key) ?? service.add(ref.key, await ref.load());
  return {
    async backend() {
      open();
      return service.backend();
    },
    async train(req, onProgress, signal) {
      open();
      return service.train(req, onProgress, signal);
    },
    async predict(ref, inputs, predictOpts = {}) {
      open();
      return (await model(ref)).predictProba(inputs, predictOpts);
    },
    async predictSamples(ref, inputs, samples) {
      open();
      return (await model(ref)).predictProbaSamples(inputs, samples);
    },
    async embed(ref, inputs) {
      open();
      return (await model(ref)).embed(inputs);
    },
    async coverage(req) {
      open();
      const prng = createPrng(req.seed);
      return pickCoverage(req, () => prng.next());
    },
    async close() {
      closed = true;
      service.clear();
    },
  };
}

function resultOf(res: Settled): unknown {
  if (res.type === 'missing') throw new Error('The model worker answered "missing" to a request without a model.');
  return res.result;
}

/** A request without its id (the handle numbers requests). */
type WorkerRequestBody = WorkerRequest extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

type Settled = Extract<WorkerResponse, { type: 'result' | 'missing' }>;

interface Pending {
  resolve: (res: Settled) => void;
  reject: (err: Error) => void;
  onProgress?: TrainProgress;
  /** Stops the request in the worker and rejects it with `reason`. */
  cancel: (reason: unknown) => void;
}

interface WorkerHandle {
  call(body: WorkerRequestBody, transfer?: ArrayBuffer[], onProgress?: TrainProgress, signal?: AbortSignal): Promise<Settled>;
  close(): Promise<void>;
}

/** One lazily spawned worker; a crash rejects what is pending and the next call spawns a fresh one. */
function createWorkerHandle(role: string, opts: RunnerOptions): WorkerHandle {
  let worker: Worker | undefined;
  let closed = false;
  let nextId = 1;
  const pending = new Map<number, Pending>();

  const failAll = (err: Error): void => {
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  };

  // An idle worker must not keep a script's process alive; a busy one must.
  const updateRef = (): void => {
    if (!worker) return;
    if (pending.size > 0) worker.ref();
    else worker.unref();
  };

  const spawn = (): Worker => {
    const w = spawnModelWorker({ backend: opts.backend }, opts.resourceLimits);
    w.on('message', (msg: WorkerResponse) => {
      const p = pending.get(msg.id);
      if (!p) return; // answered already (aborted) or from before a crash
      if (msg.type === 'progress') {
        // As in the in-process runner, a throwing progress callback fails the training call.
        try {
          p.onProgress?.(msg.progress, msg.info);
        } catch (err) {
          p.cancel(err);
        }
        return;
      }
      pending.delete(msg.id);
      updateRef();
      if (msg.type === 'error') p.reject(fromWireError(msg.error));
      else p.resolve(msg);
    });
    w.on('error', (err: Error) => {
      if (worker === w) worker = undefined;
      failAll(new Error(`The ${role} model worker crashed: ${err.message}`, { cause: err }));
    });
    w.on('exit', (code) => {
      if (worker === w) worker = undefined;
      if (pending.size > 0) failAll(new Error(`The ${role} model worker exited unexpectedly (code ${code}).`));
    });
    return w;
  };

  return {
    call(body, transfer = [], onProgress, signal) {
      if (closed) return Promise.reject(new Error('The model runner is closed.'));
      worker ??= spawn();
      const w = worker;
      const id = nextId++;
      return new Promise<Settled>((resolve, reject) => {
        const cancel = (reason: unknown): void => {
          if (!pending.delete(id)) return;
          cleanup();
          updateRef();
          w.postMessage({ id: nextId++, type: 'abort', target: id } satisfies WorkerRequest);
          reject(reason);
        };
        const onAbort = (): void => cancel(signal?.reason ?? new Error('Aborted.'));
        const cleanup = (): void => signal?.removeEventListener('abort', onAbort);
        pending.set(id, {
          resolve: (r) => (cleanup(), resolve(r)),
          reject: (e) => (cleanup(), reject(e)),
          onProgress,
          cancel,
        });
        updateRef();
        signal?.addEventListener('abort', onAbort, { once: true });
        try {
          w.postMessage({ ...body, id } as WorkerRequest, transfer);
        } catch (err) {
          pending.delete(id);
          updateRef();
          cleanup();
          reject(err as Error);
        }
      });
    },

    async close() {
      closed = true;
      failAll(new Error('The model runner is closed.'));
      const w = worker;
      worker = undefined;
      if (w) await w.terminate();
    },
  };
}

/**
 * Starts model-worker in a worker thread. Under tsx or vitest the worker is TypeScript: Node 20 ignores
 * `--import tsx` in a worker's execArgv for the worker's own entry module, so a tiny eval'd bootstrap
 * loads tsx's programmatic API inside the worker and imports model-worker.ts through it. Compiled to
 * JavaScript, the sibling model-worker.js is started directly.
 */
function spawnModelWorker(workerData: { backend?: string }, resourceLimits?: ResourceLimits): Worker {
  const self = import.meta.url;
  if (!self.endsWith('.ts')) return new Worker(new URL('./model-worker.js', self), { workerData, resourceLimits });
  const require = createRequire(self);
  const tsxApi = pathToFileURL(require.resolve('tsx/package.json').replace(/package\.json$/, 'dist/esm/api/index.mjs')).href;
  const entry = new URL('./model-worker.ts', self).href;
  const bootstrap = `import(${JSON.stringify(tsxApi)}).then((tsx) => tsx.tsImport(${JSON.stringify(entry)}, ${JSON.stringify(self)}));`;
  return new Worker(bootstrap, { eval: true, workerData, resourceLimits });
}
