/**
 * `npm run bench:team`: a team on one PostgreSQL (issue 15). A vector project of --items items; first one
 * process (FURROW_ROLE=all), then two API processes and one worker, each under --annotators simulated
 * annotators for --seconds. Prints labels/s, queue and label p50/p99, 5xx count, ingest and pre-label
 * items/s, and the seconds from "version N committed" to "every API process serves N".
 *
 * Needs DATABASE_URL (a PostgreSQL server; the database named in it is only used to create and drop the
 * bench's own database `furrow_bench_team`). Only 127.0.0.1 traffic; every loop is bounded by time.
 */
import { Command } from 'commander';
import postgres from 'postgres';
import { mulberry32 } from './lib/sampling.ts';
import { callJson, spawnFurrow, type ServerProcess } from './lib/spawn-server.ts';

const opts = new Command()
  .option('--items <n>', 'vector items', '100000')
  .option('--dim <n>', 'vector length', '16')
  .option('--annotators <n>', 'simulated annotators', '50')
  .option('--seconds <n>', 'seconds of labelling per layout', '60')
  .parse()
  .opts();
const ITEMS = Number(opts.items);
const DIM = Number(opts.dim);
const ANNOTATORS = Number(opts.annotators);
const SECONDS = Number(opts.seconds);
const CLASSES = ['c0', 'c1', 'c2', 'c3'];
const ADMIN = 'fw_bench_team_admin_key_0123456789';

const base = process.env.DATABASE_URL;
if (!base) {
  process.stderr.write('bench:team needs DATABASE_URL (PostgreSQL).\n');
  process.exit(2);
}
const dbName = 'furrow_bench_team';
const admin = postgres(base, { max: 1, onnotice: () => {} });
await admin.unsafe(`drop database if exists ${dbName} with (force)`);
await admin.unsafe(`create database ${dbName}`);
const url = new URL(base);
url.pathname = `/${dbName}`;
const env = { DATABASE_URL: url.toString(), FURROW_ADMIN_KEY: ADMIN, FURROW_LOG_LEVEL: 'warn', FURROW_AUTH_FAIL_LIMIT: '0' };

const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
const pct = (xs: number[], p: number) => {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return round(s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))], 1);
};
const print = (phase: string, figures: Record<string, unknown>) => console.log(JSON.stringify({ bench: 'team', phase, ...figures }));

/** The class of a vector: its largest of the first four numbers (the data is generated that way). */
const truth = (v: number[]) => CLASSES[v.slice(0, 4).reduce((best, x, i, a) => (x > a[best] ? i : best), 0)];

function vectorOf(i: number, rand: () => number): number[] {
  const c = i % CLASSES.length;
  return Array.from({ length: DIM }, (_, j) => round((j === c ? 1 : 0) + (rand() - 0.5) * 0.8, 3));
}

async function waitJob(proc: ServerProcess, jobId: string, limitMs = 600_000) {
  const until = Date.now() + limitMs;
  for (;;) {
    const r = await callJson(proc.url, 'GET', `/api/jobs/${jobId}`, ADMIN);
    if (r.body?.status === 'succeeded' || r.body?.status === 'failed') return r.body;
    if (Date.now() > until) throw new Error(`job ${jobId} did not finish in ${limitMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Pre-label jobs of the project that finished: scored items per second of their run. */
async function prelabelRate(sql: postgres.Sql, projectId: string) {
  const rows = await sql`select extract(epoch from finished_at - started_at) as s from jobs
                         where project_id = ${projectId} and kind = 'prelabel' and status = 'succeeded' order by finished_at desc limit 1`;
  const [n] = await sql`select count(*)::int as n from items where project_id = ${projectId} and pred_version is not null`;
  return rows.length ? round(n.n / Number(rows[0].s)) : null;
}

async function annotate(apis: ServerProcess[], projectId: string, keys: string[]) {
  const queueMs: number[] = [];
  const labelMs: number[] = [];
  const statuses = new Map<number, number>();
  let labels = 0;
  const count = (s: number) => statuses.set(s, (statuses.get(s) ?? 0) + 1);
  const started = Date.now();
  const until = started + SECONDS * 1000;
  await Promise.all(
    keys.map(async (key, i) => {
      const api = apis[i % apis.length];
      while (Date.now() < until) {
        let t = performance.now();
        const q = await callJson(api.url, 'GET', `/api/projects/${projectId}/queue?limit=10`, key);
        queueMs.push(performance.now() - t);
        count(q.status);
        if (q.status !== 200 || !q.body.items?.length) {
          await new Promise((r) => setTimeout(r, 200));
          continue;
        }
        for (const it of q.body.items) {
          if (Date.now() >= until) break;
          t = performance.now();
          const r = await callJson(api.url, 'POST', `/api/projects/${projectId}/items/${it.id}/label`, key, { label: truth(it.data.vector) });
          labelMs.push(performance.now() - t);
          count(r.status);
          if (r.status === 200) labels++;
        }
      }
    }),
  );
  const seconds = (Date.now() - started) / 1000;
  return {
    labelsPerSecond: round(labels / seconds),
    labels,
    queueP50Ms: pct(queueMs, 50),
    queueP99Ms: pct(queueMs, 99),
    labelP50Ms: pct(labelMs, 50),
    labelP99Ms: pct(labelMs, 99),
    status5xx: [...statuses].filter(([s]) => s >= 500).reduce((a, [, n]) => a + n, 0),
    statuses: Object.fromEntries(statuses),
  };
}

/** Trains a new version through `apis[0]` and measures how long until every API process serves it. */
async function activationSpread(apis: ServerProcess[], projectId: string) {
  const t = await callJson(apis[0].url, 'POST', `/api/projects/${projectId}/train`, ADMIN, {});
  if (t.status !== 202) throw new Error(`train: ${t.status} ${t.text}`);
  const job = await waitJob(apis[0], t.body.jobId);
  const committed = Date.now();
  const served = new Set<number>();
  const until = committed + 30_000;
  while (served.size < apis.length && Date.now() < until) {
    for (const [i, api] of apis.entries()) {
      const m = await callJson(api.url, 'GET', `/api/projects/${projectId}/models`, ADMIN);
      if (m.body?.active === job.modelVersion) served.add(i);
    }
  }
  return { version: job.modelVersion, secondsToEveryApi: served.size === apis.length ? round((Date.now() - committed) / 1000, 3) : null };
}

const sql = postgres(env.DATABASE_URL, { max: 1, onnotice: () => {} });
const procs: ServerProcess[] = [];
try {
  // Layout 1: one process does everything.
  const one = await spawnFurrow({ ...env, FURROW_ROLE: 'all' });
  procs.push(one);
  const p = await callJson(one.url, 'POST', '/api/projects', ADMIN, {
    name: 'bench-team',
    modality: 'vector',
    labels: CLASSES,
    settings: { vectorDim: DIM, retrainEvery: 500, goldFraction: 0.02 },
  });
  if (p.status !== 201) throw new Error(`project: ${p.status} ${p.text}`);
  const P = p.body.id as string;
  const rand = mulberry32(7);
  const ingestStart = Date.now();
  const BATCH = 5000;
  for (let from = 0; from < ITEMS; from += BATCH) {
    const items = Array.from({ length: Math.min(BATCH, ITEMS - from) }, (_, k) => {
      const i = from + k;
      const vector = vectorOf(i, rand);
      return { vector, externalId: `v${i}`, ...(i < 200 ? { label: truth(vector) } : {}) };
    });
    const r = await callJson(one.url, 'POST', `/api/projects/${P}/items`, ADMIN, { items });
    if (r.status !== 202) throw new Error(`ingest: ${r.status} ${r.text.slice(0, 200)}`);
  }
  const ingestPerSecond = round(ITEMS / ((Date.now() - ingestStart) / 1000));
  const keys: string[] = [];
  for (let i = 0; i < ANNOTATORS; i++)
    keys.push((await callJson(one.url, 'POST', `/api/projects/${P}/keys`, ADMIN, { role: 'annotator', name: `annotator-${i}` })).body.key);
  const first = await activationSpread([one], P);
  // Let the first pre-label pass finish before measuring the queue on a scored project.
  for (const until = Date.now() + 600_000; Date.now() < until; ) {
    const [r] = await sql`select count(*)::int as n from jobs where project_id = ${P} and kind = 'prelabel' and status in ('queued', 'running')`;
    if (r.n === 0) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  print('one process', {
    items: ITEMS,
    annotators: ANNOTATORS,
    ingestPerSecond,
    prelabelItemsPerSecond: await prelabelRate(sql, P),
    firstVersion: first.version,
    ...(await annotate([one], P, keys)),
  });
  await one.stop();
  procs.length = 0;

  // Layout 2: two API processes and one worker on the same database.
  const [api1, api2, worker] = await Promise.all([
    spawnFurrow({ ...env, FURROW_ROLE: 'api' }),
    spawnFurrow({ ...env, FURROW_ROLE: 'api' }),
    spawnFurrow({ ...env, FURROW_ROLE: 'worker' }),
  ]);
  procs.push(api1, api2, worker);
  const labelling = await annotate([api1, api2], P, keys);
  const spread = await activationSpread([api1, api2], P);
  print('two API processes + one worker', {
    items: ITEMS,
    annotators: ANNOTATORS,
    ...labelling,
    prelabelItemsPerSecond: await prelabelRate(sql, P),
    activatedVersion: spread.version,
    secondsFromCommitToEveryApi: spread.secondsToEveryApi,
  });
} finally {
  await Promise.all(procs.map((p) => p.stop().catch(() => {})));
  await sql.end({ timeout: 5 });
  await admin.unsafe(`drop database if exists ${dbName} with (force)`).catch(() => {});
  await admin.end({ timeout: 5 });
}
