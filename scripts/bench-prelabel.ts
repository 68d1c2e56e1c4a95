/**
 * Pre-labelling throughput: images per second through the whole pipeline (HTTP ingest → decode → stored
 * item → pre-label job → worker-thread predict → stored prediction) beside raw tfjs predict on the same
 * model and batch size, in one run; and the pre-label job alone (read inputs → predict → write predictions,
 * every stored item scored again by the same version, started directly) against the same raw rate. Prints JSON.
 *
 *   npm run bench:prelabel -- [--items 2000] [--train 300]
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../core/config.ts';
import { silentLogger } from '../core/logger.ts';
import { and, count, eq, sql } from 'drizzle-orm';
import type { JobRow } from '../db/repositories/jobs.ts';
import { queryRows } from '../db/repositories/rows.ts';
import { loadWeights } from '../db/repositories/models.ts';
import { predictions } from '../db/schema.ts';
import { createInProcessRunner } from '../models/model-runner.ts';
import { encodePngBase64 } from '../pipelines/image-decode.ts';
import { PRELABEL_BATCH, runPrelabel } from '../pipelines/prelabel.ts';
import { startServer } from '../server/main.ts';
import { FASHION_MNIST_LABELS, loadFashionFixture, loadFashionMnist } from './lib/datasets.ts';
import { round } from './lib/round.ts';

const { values: args } = parseArgs({ options: { items: { type: 'string', default: '2000' }, train: { type: 'string', default: '300' } } });
const nItems = Number(args.items);
const nTrain = Number(args.train);
const ADMIN = 'fw_bench_admin_key_0123456789abcdef';

const data = await loadFashionMnist('train').catch(() => loadFashionFixture('train'));
if (data.images.length < nItems + nTrain) throw new Error(`need ${nItems + nTrain} images, have ${data.images.length}`);
const config = loadConfig({
  ...process.env,
  PORT: '0',
  FURROW_DATA_DIR: 'memory://',
  FURROW_ADMIN_KEY: ADMIN,
  FURROW_DEMO: '0',
  FURROW_LOG_LEVEL: 'silent',
  FURROW_JOB_POLL_MS: '50',
});
const srv = await startServer(config, { logger: silentLogger, announce: () => {} });
const call = async (method: string, path: string, body?: unknown) => {
  const r = await fetch(srv.url + path, {
    method,
    headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const j = (await r.json()) as any;
  if (r.status >= 400) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(j)}`);
  return j;
};
const idle = async (projectId: string) => {
  for (;;) {
    const { jobs } = await call('GET', `/api/projects/${projectId}/jobs?limit=50`);
    if (!jobs.some((j: any) => j.status === 'queued' || j.status === 'running')) return jobs;
    await new Promise((r) => setTimeout(r, 20));
  }
};

try {
  const P = (
    await call('POST', '/api/projects', { name: 'bench', modality: 'image', labels: FASHION_MNIST_LABELS, settings: { retrainEvery: 0, goldFraction: 0 } })
  ).id;
  const png = (i: number) => encodePngBase64(data.images[i], 28, 28, 1);
  await call('POST', `/api/projects/${P}/items`, {
    items: Array.from({ length: nTrain }, (_, i) => ({ image: png(i), label: FASHION_MNIST_LABELS[data.labels[i]] })),
  });
  const { jobId } = await call('POST', `/api/projects/${P}/train`, {});
  await idle(P);
  const job = await call('GET', `/api/jobs/${jobId}`);
  if (job.status !== 'succeeded') throw new Error(`training failed: ${job.error}`);

  // Pipeline: ingest → stored predictions for every new item.
  const payload = Array.from({ length: nItems }, (_, i) => ({ image: png(nTrain + i) }));
  const t0 = performance.now();
  for (let i = 0; i < nItems; i += 1000) await call('POST', `/api/projects/${P}/items`, { items: payload.slice(i, i + 1000) });
  await idle(P);
  const pipelineSeconds = (performance.now() - t0) / 1000;
  const [stored] = await srv.ctx.db
    .select({ n: count() })
    .from(predictions)
    .where(and(eq(predictions.projectId, P), eq(predictions.modelVersion, job.modelVersion)));

  // The pre-label job alone: every item's score cleared and the job run directly (no HTTP, no decoding).
  await queryRows(srv.ctx.db, sql`update items set pred_version = null where project_id = ${P}`);
  const t2 = performance.now();
  const rerun = await runPrelabel(srv.ctx, { projectId: P } as JobRow, async () => {});
  const jobSeconds = (performance.now() - t2) / 1000;

  // Raw tfjs on this thread, same model, same batch size, same decoded inputs.
  const blob = (await loadWeights(srv.ctx.db, P, job.modelVersion))!;
  const raw = createInProcessRunner({ backend: config.tfBackend });
  const inputs = Array.from({ length: nItems }, (_, i) => data.images[nTrain + i]);
  const ref = { key: 'bench', load: async () => blob };
  await raw.predict(ref, inputs.slice(0, PRELABEL_BATCH)); // load + warm up
  const t1 = performance.now();
  for (let i = 0; i < nItems; i += PRELABEL_BATCH) await raw.predict(ref, inputs.slice(i, i + PRELABEL_BATCH));
  const rawSeconds = (performance.now() - t1) / 1000;
  const rawBackend = await raw.backend();
  await raw.close();

  process.stdout.write(
    JSON.stringify(
      {
        benchmark: 'prelabel',
        backend: await srv.ctx.runner.backend(),
        rawBackend,
        database: config.databaseUrl ? 'postgres' : 'pglite',
        items: nItems,
        batch: PRELABEL_BATCH,
        storedPredictions: Number(stored.n),
        pipeline: { seconds: round(pipelineSeconds, 3), itemsPerSecond: round(nItems / pipelineSeconds, 3) },
        rawTfjsPredict: { seconds: round(rawSeconds, 3), itemsPerSecond: round(nItems / rawSeconds, 3) },
        pipelineOverRaw: round(rawSeconds / pipelineSeconds, 3),
        prelabelJob: { items: rerun.scored, seconds: round(jobSeconds, 3), itemsPerSecond: round(rerun.scored / jobSeconds, 3) },
        jobOverRaw: round(rerun.scored / jobSeconds / (nItems / rawSeconds), 3),
      },
      null,
      2,
    ) + '\n',
  );
} finally {
  await srv.close();
}
