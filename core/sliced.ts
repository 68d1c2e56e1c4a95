/**
 * Main-thread work of big requests (decoding an ingest's images, preparing a prediction batch), cut into slices
 * so that no request holds up the others for long. Node runs every request on one thread: a 10,000-image ingest
 * decoded in one go blocks the review page's requests for seconds.
 */
import PQueue from 'p-queue';
import { setImmediate as nextTurn } from 'node:timers/promises';

/** Longest stretch of work before giving other requests a turn. */
export const SLICE_MS = 10;

/** Calls `fn` on each item in order, yielding to the event loop whenever SLICE_MS (or `sliceMs`) has passed. */
export async function forEachSliced<T>(items: readonly T[], fn: (item: T, index: number) => void, sliceMs = SLICE_MS): Promise<void> {
  let start = performance.now();
  for (let i = 0; i < items.length; i++) {
    fn(items[i], i);
    if (i + 1 < items.length && performance.now() - start >= sliceMs) {
      await nextTurn();
      start = performance.now();
    }
  }
}

/**
 * Bounds how many big requests do their sliced work at once (two: one more can start while one waits on the
 * database). The rest wait their turn instead of all advancing slowly together, each holding its decoded
 * batch in memory; small requests never queue here.
 */
export function createWorkQueue(concurrency = 2): PQueue {
  return new PQueue({ concurrency });
}
