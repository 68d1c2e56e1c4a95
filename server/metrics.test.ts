import { afterEach, describe, expect, it, vi } from 'vitest';
import { silentLogger } from '../core/logger.ts';
import type { Db } from '../db/client.ts';
import type { ServiceStats } from '../db/repositories/stats.ts';
import { createMetrics } from './metrics.ts';

const state = (depth: number): ServiceStats => ({
  queueDepth: [{ projectId: 'p1', n: depth }],
  labels: [],
  jobs: [],
  training: { buckets: Array(10).fill(0), count: 0, sum: 0 },
  active: [],
});

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const depthOf = (text: string) => /^furrow_queue_depth\{project="p1"\} (\d+)$/m.exec(text)?.[1];

describe('the service state behind /metrics', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('is read once per TTL, refreshed behind the scrape, and absent (not stale) after a failed read', async () => {
    vi.useFakeTimers({ toFake: ['Date', 'setTimeout', 'clearTimeout'] });
    const reads: ReturnType<typeof deferred<ServiceStats>>[] = [];
    const m = createMetrics({
      db: {} as Db,
      logger: silentLogger,
      processMetrics: false,
      statsTtlMs: 1_000,
      readStats: () => {
        const d = deferred<ServiceStats>();
        reads.push(d);
        return d.promise;
      },
    });
    // First scrape: nothing known yet, so it waits for the read (one read for all the gauges).
    const first = m.render();
    await vi.waitFor(() => expect(reads).toHaveLength(1));
    reads[0].resolve(state(7));
    expect(depthOf(await first)).toBe('7');
    // Within the TTL: no new read.
    vi.advanceTimersByTime(500);
    expect(depthOf(await m.render())).toBe('7');
    expect(reads).toHaveLength(1);
    // Past the TTL: the scrape answers at once with the last state while the next read runs.
    vi.advanceTimersByTime(1_000);
    expect(depthOf(await m.render())).toBe('7');
    expect(reads).toHaveLength(2);
    reads[1].resolve(state(9));
    await reads[1].promise;
    expect(depthOf(await m.render())).toBe('9');
    // A failed read drops the service state from the next scrapes instead of repeating old numbers.
    vi.advanceTimersByTime(1_500);
    await m.render();
    reads[2].reject(new Error('database down'));
    await reads[2].promise.catch(() => {});
    await Promise.resolve();
    const next = m.render();
    await vi.waitFor(() => expect(reads).toHaveLength(4));
    reads[3].reject(new Error('still down'));
    expect(depthOf(await next)).toBeUndefined();
  });

  it('does not hold a scrape longer than statsWaitMs for a database that does not answer', async () => {
    vi.useFakeTimers({ toFake: ['Date', 'setTimeout', 'clearTimeout'] });
    const m = createMetrics({ db: {} as Db, logger: silentLogger, statsWaitMs: 2_000, readStats: () => new Promise<ServiceStats>(() => {}) });
    const scrape = m.render();
    await vi.advanceTimersByTimeAsync(2_000);
    const text = await scrape;
    expect(text).toContain('process_cpu_user_seconds_total');
    expect(depthOf(text)).toBeUndefined();
  });
});
