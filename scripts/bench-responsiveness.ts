/**
 * Does a big request hold up everyone else? Ingests `--items` Fashion-MNIST images in one request (the most a
 * request may carry is 10,000) while another client asks `/healthz` every 10 ms, as annotators' requests would
 * arrive, then predicts 1,000 images in one request the same way. Prints JSON: how long each big request took,
 * the longest the server's event loop was blocked meanwhile, and the health checks' latency.
 *
 *   npm run bench:responsiveness -- [--items 10000]
 */
import { parseArgs } from 'node:util';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { encodePngBase64 } from '../pipelines/image-decode.ts';
import { FASHION_MNIST_LABELS, loadFashionFixture, loadFashionMnist } from './lib/datasets.ts';
import { startHarness, trainAndWait } from './lib/harness.ts';

const { values: args } = parseArgs({ options: { items: { type: 'string', default: '10000' } } });
const nItems = Number(args.items);
const data = await loadFashionMnist('train').catch(() => loadFashionFixture('train'));
const png = (i: number) => encodePngBase64(data.images[i % data.images.length], 28, 28, 1);

const h = await startHarness();
try {
  const P = (await h.call('POST', '/api/projects', { name: 'responsiveness', modality: 'image', labels: FASHION_MNIST_LABELS, settings: { retrainEvery: 0 } }))
    .id;
  // A model, so that ingest also queues pre-labelling and predict has something to serve.
  await h.call('POST', `/api/projects/${P}/items`, {
    items: Array.from({ length: 300 }, (_, i) => ({ externalId: `t${i}`, image: png(i), label: FASHION_MNIST_LABELS[data.labels[i % data.labels.length]] })),
  });
  await trainAndWait(h, P);

  const ingestBody = JSON.stringify({ items: Array.from({ length: nItems }, (_, i) => ({ externalId: `x${i}`, image: png(300 + i) })) });
  const predictBody = JSON.stringify({ items: Array.from({ length: 1000 }, (_, i) => ({ image: png(i) })) });
  const ingest = await measure(() => post(`/api/projects/${P}/items`, ingestBody));
  const predict = await measure(() => post(`/api/projects/${P}/predict`, predictBody));
  process.stdout.write(
    JSON.stringify({ benchmark: 'responsiveness', ingest: { items: nItems, ...ingest }, predict: { items: 1000, ...predict } }, null, 2) + '\n',
  );
} finally {
  await h.close();
}

async function post(path: string, body: string): Promise<void> {
  const r = await fetch(h.srv.url + path, { method: 'POST', headers: { authorization: `Bearer ${h.adminKey}`, 'content-type': 'application/json' }, body });
  if (r.status >= 400) throw new Error(`${path}: ${r.status} ${await r.text()}`);
  await r.arrayBuffer();
}

/** Runs `work` while polling /healthz every 10 ms and watching the event loop. */
async function measure(work: () => Promise<void>) {
  const loop = monitorEventLoopDelay({ resolution: 5 });
  const latencies: number[] = [];
  let running = true;
  const poller = (async () => {
    while (running) {
      const t = performance.now();
      const r = await fetch(h.srv.url + '/healthz');
      await r.arrayBuffer();
      latencies.push(performance.now() - t);
      await new Promise((res) => setTimeout(res, 10));
    }
  })();
  loop.enable();
  const t0 = performance.now();
  try {
    await work();
  } finally {
    loop.disable();
    running = false;
    await poller;
  }
  const ms = performance.now() - t0;
  latencies.sort((a, b) => a - b);
  const q = (p: number) => Math.round(latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]);
  return {
    requestMs: Math.round(ms),
    eventLoopBlockedMaxMs: Math.round(loop.max / 1e6),
    healthChecks: latencies.length,
    healthLatencyMs: { p50: q(0.5), p99: q(0.99), max: Math.round(latencies[latencies.length - 1]) },
  };
}
