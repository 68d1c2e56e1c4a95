/**
 * Prometheus metrics (prom-client). Two kinds:
 * - this process's own: HTTP requests (counter and latency histogram by method, route template and status) and
 *   the default process/Node.js metrics;
 * - the service's state, read from the database when scraped (one grouped query per family, cached for
 *   `statsTtlMs`, refreshed behind the scrape): queue depth, labels, jobs, training time, the active version's gold accuracy. Every process
 *   reports the same values for these, so aggregate them across instances with max(), not sum().
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, type Metric, Registry } from 'prom-client';
import { describeError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import type { Db } from '../db/client.ts';
import { type ServiceStats, serviceStats, TRAINING_SECONDS_BUCKETS } from '../db/repositories/stats.ts';

export interface Metrics {
  registry: Registry;
  /** Records one answered HTTP request; `route` is the route template (`/api/projects/:id`), never the raw path. */
  observeRequest(method: string, route: string, status: number, seconds: number): void;
  /** The text exposition of every metric. */
  render(): Promise<string>;
  contentType: string;
}

/** HTTP latency buckets (seconds): from a cached read to a large ingest. */
const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export function createMetrics(opts: {
  db: Db;
  logger: Logger;
  /** How long one read of the service's state serves scrapes; 15 s, a common scrape interval. */
  statsTtlMs?: number;
  /** How long a scrape with no recent state waits for the database. */
  statsWaitMs?: number;
  processMetrics?: boolean;
  /** Reads the service's state (tests pass a fake); `serviceStats` of `db` by default. */
  readStats?: () => Promise<ServiceStats>;
}): Metrics {
  const registry = new Registry();
  const ttl = opts.statsTtlMs ?? 15_000;
  if (opts.processMetrics !== false) collectDefaultMetrics({ register: registry });

  const requests = new Counter({
    name: 'furrow_http_requests_total',
    help: 'HTTP requests answered, by method, route template and status.',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'furrow_http_request_duration_seconds',
    help: 'Time to answer an HTTP request (until the last byte was handed to the socket), by method, route template and status.',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: HTTP_BUCKETS,
    registers: [registry],
  });

  let last: { at: number; stats: ServiceStats } | undefined;
  let reading: Promise<ServiceStats | null> | undefined;
  /**
   * The database's view, shared by all the gauges of one scrape and by scrapes within the TTL. Counting a million
   * items takes the database about half a second, so a scrape does not wait for it when a recent answer exists
   * (up to 4 TTLs old): it gets that one while the next is read. With none, it waits at most `statsWaitMs`, so a
   * slow or unreachable database never costs the scrape its process metrics.
   */
  const stats = async (): Promise<ServiceStats | null> => {
    const age = last ? Date.now() - last.at : Infinity;
    if (last && age < ttl) return last.stats;
    reading ??= (opts.readStats ?? (() => serviceStats(opts.db)))()
      .then(
        (s) => {
          last = { at: Date.now(), stats: s };
          return s;
        },
        (e) => {
          // The service's state goes missing from the scrape rather than going stale.
          opts.logger.warn('metrics: could not read service stats', { error: describeError(e) });
          last = undefined;
          return null;
        },
      )
      .finally(() => {
        reading = undefined;
      });
    if (last && age < ttl * 4) return last.stats;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<null>((resolve) => {
      timer = setTimeout(() => resolve(null), opts.statsWaitMs ?? 5_000);
    });
    try {
      return await Promise.race([reading, timeout]);
    } finally {
      clearTimeout(timer);
    }
  };
  const fromStats = <L extends string>(name: string, help: string, labelNames: readonly L[], fill: (g: Gauge<L>, s: ServiceStats) => void) =>
    new Gauge<L>({
      name,
      help,
      labelNames,
      registers: [registry],
      async collect() {
        const s = await stats();
        this.reset(); // a deleted project's series disappear
        if (s) fill(this, s);
      },
    });

  fromStats('furrow_queue_depth', 'Pool items waiting for a human label, per project.', ['project'], (g, s) => {
    for (const r of s.queueDepth) g.set({ project: r.projectId }, r.n);
  });
  fromStats('furrow_labels', 'Label rows stored, per project and source (human, auto, imported).', ['project', 'source'], (g, s) => {
    for (const r of s.labels) g.set({ project: r.projectId, source: r.source }, r.n);
  });
  fromStats('furrow_jobs', 'Jobs by kind and status (queued, running, succeeded, failed).', ['kind', 'status'], (g, s) => {
    for (const r of s.jobs) g.set({ kind: r.kind, status: r.status }, r.n);
  });
  fromStats('furrow_model_active_version', "The version number of each project's active model.", ['project'], (g, s) => {
    for (const r of s.active) g.set({ project: r.projectId }, r.version);
  });
  fromStats('furrow_model_gold_accuracy_ratio', "The active model's accuracy on the project's gold set (0..1).", ['project'], (g, s) => {
    for (const r of s.active) if (r.accuracy !== null && Number.isFinite(r.accuracy)) g.set({ project: r.projectId }, r.accuracy);
  });
  fromStats('furrow_model_gold_items', "Gold items the active model's accuracy was measured on.", ['project'], (g, s) => {
    for (const r of s.active) if (r.goldN !== null && Number.isFinite(r.goldN)) g.set({ project: r.projectId }, r.goldN);
  });

  // prom-client's Histogram only counts observations made in this process; training runs in whichever process
  // claims the job, so this histogram is built from the jobs table instead, in the same exposition shape.
  const trainingName = 'furrow_training_duration_seconds';
  const trainingHelp = 'Wall time of succeeded training jobs, from start to finish.';
  const training = {
    name: trainingName,
    help: trainingHelp,
    type: 'histogram',
    aggregator: 'max',
    async get() {
      const s = await stats();
      const values = s
        ? [
            ...TRAINING_SECONDS_BUCKETS.map((le, i) => ({ metricName: `${trainingName}_bucket`, labels: { le }, value: s.training.buckets[i] })),
            { metricName: `${trainingName}_bucket`, labels: { le: '+Inf' }, value: s.training.count },
            { metricName: `${trainingName}_sum`, labels: {}, value: s.training.sum },
            { metricName: `${trainingName}_count`, labels: {}, value: s.training.count },
          ]
        : [];
      return { name: trainingName, help: trainingHelp, type: 'histogram', aggregator: 'max', values };
    },
  };
  registry.registerMetric(training as unknown as Metric);

  return {
    registry,
    contentType: registry.contentType,
    observeRequest(method, route, status, seconds) {
      const labels = { method, route, status: String(status) };
      requests.inc(labels);
      latency.observe(labels, seconds);
    },
    render: () => registry.metrics(),
  };
}
