/**
 * The only module that picks a tfjs backend. Every other file imports plain `@tensorflow/tfjs` and runs on
 * whatever backend was initialised here, so the same model code serves the native, wasm and cpu backends.
 */
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** Backends Furrow knows how to start, fastest first. */
export type BackendName = 'tensorflow' | 'wasm' | 'cpu';
export const BACKEND_NAMES: readonly BackendName[] = ['tensorflow', 'wasm', 'cpu'];

let pending: Promise<string> | undefined;

/**
 * Initialise tfjs once per thread and return the backend's name ('tensorflow', 'wasm' or 'cpu').
 *
 * Tries `preferred` first (the caller may read `FURROW_TF_BACKEND` and pass it), then the native
 * `@tensorflow/tfjs-node` binding, then wasm, then the pure-JS cpu backend. Idempotent: later calls return
 * the backend chosen by the first call, whatever they prefer. Logs nothing; the caller reports the result.
 */
export function initBackend(preferred?: BackendName | string): Promise<string> {
  pending ??= pick(preferred).catch((err: unknown) => {
    pending = undefined; // let a later call retry instead of caching the failure
    throw err;
  });
  return pending;
}

/** Name of the active backend; initialises nothing (tfjs's own default, usually 'cpu', before initBackend). */
export function currentBackend(): string {
  return tf.getBackend();
}

async function pick(preferred: string | undefined): Promise<string> {
  if (preferred !== undefined && !(BACKEND_NAMES as readonly string[]).includes(preferred)) {
    throw new Error(`Unknown tfjs backend "${preferred}"; expected one of ${BACKEND_NAMES.join(', ')}.`);
  }
  // Prod mode silences tfjs's console advice ("install tfjs-node") that would otherwise bypass the logger.
  tf.enableProdMode();
  const order = preferred ? [preferred as BackendName, ...BACKEND_NAMES.filter((b) => b !== preferred)] : [...BACKEND_NAMES];
  for (const name of order) {
    if (await tryBackend(name)) {
      await tf.ready();
      return tf.getBackend();
    }
  }
  throw new Error('No tfjs backend could be initialised (tried tensorflow, wasm, cpu).');
}

async function tryBackend(name: BackendName): Promise<boolean> {
  try {
    if (name === 'tensorflow') {
      // A variable specifier keeps TypeScript from requiring the optional, often-absent native package.
      const specifier = '@tensorflow/tfjs-node';
      await import(specifier);
    }
    if (name === 'wasm') {
      // In Node the wasm binaries must be located explicitly; they ship in the package's dist/.
      const require = createRequire(import.meta.url);
      const dist = join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist');
      setWasmPaths(dist + '/');
    }
    return await tf.setBackend(name);
  } catch {
    return false;
  }
}
