/**
 * Worker-thread entry: owns a tfjs backend and a ModelService, and answers model-runner.ts's requests
 * one at a time (so a worker's memory holds one job's tensors at most). Only an 'abort' jumps the queue,
 * which works because training yields to the event loop between batches.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { ModelInput } from '../core/types.ts';
import type { Classifier, FitOptions } from './classifier.ts';
import { pickCoverage } from './clustering.ts';
import { createModelService } from './model-service.ts';
import { createPrng } from './prng.ts';
import { toWireError, unpackInputs, type WorkerRequest, type WorkerResponse } from './runner-protocol.ts';

if (!parentPort) throw new Error('model-worker.ts must run in a worker thread (see model-runner.ts).');
const port = parentPort;
const { backend } = (workerData ?? {}) as { backend?: string };
const service = createModelService({ backend });
const aborts = new Map<number, AbortController>();
let queue: Promise<void> = Promise.resolve();

function send(msg: WorkerResponse, transfer: ArrayBuffer[] = []): void {
  try {
    port.postMessage(msg, transfer);
  } catch (err) {
    // e.g. an error's details that cannot be cloned: still answer, without them.
    port.postMessage({ id: msg.id, type: 'error', error: toWireError(err) } satisfies WorkerResponse);
  }
}

async function handle(req: WorkerRequest): Promise<void> {
  switch (req.type) {
    case 'backend':
      send({ id: req.id, type: 'result', result: await service.backend() });
      return;

    case 'train': {
      const controller = new AbortController();
      aborts.set(req.id, controller);
      try {
        const { validation, unlabeled, ...rest } = req.options ?? {};
        const options: Omit<FitOptions, 'onProgress' | 'signal'> = {
          ...rest,
          validation: validation && { inputs: unpackInputs(validation.inputs), labels: validation.labels },
          unlabeled: unlabeled && unpackInputs(unlabeled),
        };
        const out = await service.train(
          { spec: req.spec, inputs: unpackInputs(req.inputs), labels: req.labels, options, initial: req.initial },
          (progress, info) => send({ id: req.id, type: 'progress', progress, info }),
          controller.signal,
        );
        send({ id: req.id, type: 'result', result: out }, [out.blob.buffer as ArrayBuffer]);
      } finally {
        aborts.delete(req.id);
      }
      return;
    }

    case 'coverage': {
      const prng = createPrng(req.seed);
      const picked = pickCoverage(req, () => prng.next());
      send({ id: req.id, type: 'result', result: picked });
      return;
    }

    case 'predict':
    case 'embed': {
      const model = service.cached(req.key) ?? (req.blob ? await service.add(req.key, req.blob) : undefined);
      if (!model) {
        send({ id: req.id, type: 'missing' });
        return;
      }
      const inputs = unpackInputs(req.inputs);
      if (req.type === 'embed') {
        const out = await model.embed(inputs);
        send({ id: req.id, type: 'result', result: out }, [out.data.buffer as ArrayBuffer]);
        return;
      }
      const probs = await predict(model, inputs, req.mcDropoutSamples, req.samples);
      send({ id: req.id, type: 'result', result: probs }, [probs.buffer as ArrayBuffer]);
      return;
    }
  }
}

function predict(model: Classifier, inputs: ModelInput[], mcDropoutSamples?: number, samples?: number): Promise<Float32Array> {
  return samples !== undefined ? model.predictProbaSamples(inputs, samples) : model.predictProba(inputs, { mcDropoutSamples });
}

port.on('message', (req: WorkerRequest) => {
  if (req.type === 'abort') {
    aborts.get(req.target)?.abort(new Error('Training was aborted.'));
    return;
  }
  queue = queue.then(() => handle(req).catch((err: unknown) => send({ id: req.id, type: 'error', error: toWireError(err) })));
});
