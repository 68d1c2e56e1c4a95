/**
 * The 50-annotator run of `concurrency.test.ts` (the same workload and checks: `crowd.ts`) against a team layout:
 * two `FURROW_ROLE=api` processes and one `FURROW_ROLE=worker` process, real child processes on one fresh
 * PostgreSQL database. Most annotators stick to one API process; one in five switches process on every request
 * (a load balancer without sticky sessions), so a lease, a retry and an Idempotency-Key replay may each meet
 * another process than the request before. Automatic retraining is on: the worker trains and activates versions
 * while the annotators work, and every API process must serve the final active version afterwards.
 *
 * PostgreSQL only: PGlite is embedded in one process, so `api` and `worker` refuse to start without DATABASE_URL.
 */
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, openDatabase } from '../../db/client.ts';
import { queryRows } from '../../db/repositories/rows.ts';
import { ADMIN_KEY, freshDatabaseUrl } from '../helpers.ts';
import { type Answer, type Crowd, type CrowdOptions, createCrowd, expectCrowdHeld, runCrowd } from './crowd.ts';
import { type ChildServer, call, printFigures, sleep, spawnServer } from './support.ts';

const onPostgres = Boolean(process.env.DATABASE_URL);

const CROWD: CrowdOptions = {
  annotators: 50,
  quitters: 5,
  items: 4_000,
  batch: 10,
  leaseSeconds: 5,
  // A retrain every 200 new labels: the worker trains and activates versions (each followed by a pre-label pass
  // over the pool) while the annotators work. The linear text model, not 'auto': choosing by cross-validation
  // took the first training 85-103 s on this loaded machine, about as long as all the labelling. Audits are left
  // off: their writes against labels are the subject of test/team/lock-order.test.ts, and their cross-validated
  // trainings would only lengthen the wait at the end.
  settings: { retrainEvery: 200, auditEvery: 0, model: 'tfidf-lr' },
  // A guard against a hang, not a performance figure (see docs/reliability.md for measured times).
  deadlineMs: 900_000,
};
/** Annotators `a` with `a % SWITCH_EVERY === SWITCH_EVERY - 1` switch API process on every request. */
const SWITCH_EVERY = 5;
/** A fail-safe bound for the jobs still running after the last label, not a latency figure. */
const IDLE_GUARD_MS = 300_000;

describe.skipIf(!onPostgres)('50 concurrent annotators over two API processes and a worker (PostgreSQL; PGlite is single-process)', () => {
  let dbUrl: Awaited<ReturnType<typeof freshDatabaseUrl>>;
  let database: Database;
  let apis: ChildServer[] = [];
  let worker: ChildServer;
  let crowd: Crowd;

  beforeAll(async () => {
    dbUrl = await freshDatabaseUrl();
    const env = { DATABASE_URL: dbUrl.url!, FURROW_ADMIN_KEY: ADMIN_KEY, FURROW_LOG_LEVEL: 'warn', FURROW_AUTH_FAIL_LIMIT: '0' };
    let api1: ChildServer;
    let api2: ChildServer;
    [api1, api2, worker] = await Promise.all([
      spawnServer({ ...env, FURROW_ROLE: 'api' }),
      spawnServer({ ...env, FURROW_ROLE: 'api' }),
      spawnServer({ ...env, FURROW_ROLE: 'worker' }),
    ]);
    apis = [api1, api2];
    // The checks read the database the three processes share (already migrated by them: nothing left to do).
    database = await openDatabase({ databaseUrl: dbUrl.url!, dataDir: 'memory://', poolSize: 2 });
    crowd = await createCrowd((method, path, body) => call(api1.url, method, path, { key: ADMIN_KEY, body }), CROWD);
  }, 240_000);

  afterAll(async () => {
    for (const s of [...apis, worker]) s?.kill('SIGKILL');
    await Promise.all([...apis, worker].map((s) => s?.exited));
    await database?.close();
    await dbUrl?.cleanup();
  });

  it(
    'stores every label exactly once, never leases an item to two annotators, answers no 5xx, and every API process serves the version the worker activated',
    async () => {
      const P = crowd.projectId;
      const requestsTo = [0, 0];
      const http5xxFrom = [0, 0];
      /** Model versions whose predictions each API process served in queue answers while the annotators worked. */
      const versionsServedBy = [new Set<number>(), new Set<number>()];
      const turn = new Map<number, number>();
      const route = (a: number) => {
        if (a % SWITCH_EVERY !== SWITCH_EVERY - 1) return a % 2;
        const n = turn.get(a) ?? 0;
        turn.set(a, n + 1);
        return n % 2;
      };
      const outcome = await runCrowd(
        CROWD,
        crowd,
        async (a, method, path, key, body, headers): Promise<Answer> => {
          const i = route(a);
          requestsTo[i]++;
          const r = await call(apis[i].url, method, path, { key, body, headers });
          if (r.status >= 500) http5xxFrom[i]++;
          if (method === 'GET' && path.includes('/queue') && r.status === 200)
            for (const it of r.body.items) if (it.prediction) versionsServedBy[i].add(it.prediction.modelVersion);
          return r;
        },
        (q) => queryRows(database.db, q),
      );

      // The last labels may have queued one more training (and its pre-label pass): wait for the worker to finish.
      const until = Date.now() + IDLE_GUARD_MS;
      for (;;) {
        const [{ n }] = await queryRows<{ n: number }>(
          database.db,
          sql`select count(*)::int as n from jobs where project_id = ${P} and status in ('queued', 'running')`,
        );
        if (n === 0) break;
        if (Date.now() > until) throw new Error(`${n} jobs still queued or running ${IDLE_GUARD_MS} ms after the last label`);
        await sleep(500);
      }
      const [{ active }] = await queryRows<{ active: number | null }>(database.db, sql`select active_version as active from projects where id = ${P}`);
      const ended = new Date(outcome.endedAt).toISOString();
      // A version went live when its training job finished (created_at is its transaction's start, not its commit).
      const versions = await queryRows<{ version: number; status: string; during: boolean; labels: number; before_end: number }>(
        database.db,
        sql`select v.version, v.status, j.finished_at < ${ended}::timestamptz as during, v.trained_on_labels as labels,
                   round(extract(epoch from ${ended}::timestamptz - j.finished_at))::int as before_end
            from model_versions v join jobs j on j.id = v.job_id where v.project_id = ${P} order by v.version`,
      );
      const jobs = await queryRows<{ kind: string; status: string; pid: string; seconds: number }>(
        database.db,
        sql`select kind, status, split_part(locked_by, '-', 1) as pid, extract(epoch from finished_at - started_at)::float8 as seconds
            from jobs where project_id = ${P}`,
      );
      const jobFigures = (kind: string) => {
        const s = jobs.filter((j) => j.kind === kind).map((j) => Math.round(j.seconds * 10) / 10);
        return { n: s.length, seconds: s };
      };
      const predictionRows = await queryRows<{ version: number; n: number }>(
        database.db,
        sql`select p.model_version as version, count(*)::int as n from predictions p join items i on i.id = p.item_id
            where i.project_id = ${P} group by 1 order by 1`,
      );
      // What each API process serves now: the active version in the models list and in a prediction.
      const served = await Promise.all(
        apis.map(async (api) => {
          const m = await call(api.url, 'GET', `/api/projects/${P}/models`, { key: ADMIN_KEY });
          const p = await call(api.url, 'POST', `/api/projects/${P}/predict`, { key: ADMIN_KEY, body: { items: [{ text: 'item number 7' }] } });
          return { models: m.status, listed: m.body?.active, predict: p.status, predicted: p.body?.modelVersion };
        }),
      );

      printFigures('concurrent-annotators-team', {
        ...outcome.figures,
        layout: '2 api + 1 worker',
        requestsPerApi: requestsTo,
        http5xxPerApi: http5xxFrom,
        versions: versions.map((v) => ({ version: v.version, trainedOnLabels: v.labels, secondsBeforeLastLabel: v.before_end })),
        versionsActivatedWhileLabelling: versions.filter((v) => v.during).length,
        activeVersion: active,
        versionsServedInQueue: versionsServedBy.map((s) => [...s].sort((x, y) => x - y)),
        predictionsPerVersion: Object.fromEntries(predictionRows.map((r) => [r.version, r.n])),
        trainJobs: jobFigures('train'),
        prelabelJobs: jobFigures('prelabel'),
        otherJobs: jobs.filter((j) => j.kind !== 'train' && j.kind !== 'prelabel').length,
        finalVersionServed: served.map((s) => s.predicted),
      });
      if (outcome.figures.http5xx > 0 || outcome.unexpected.length > 0)
        for (const s of [...apis, worker])
          console.log(
            s
              .output()
              .split('\n')
              .filter((l) => /error/i.test(l))
              .slice(-20)
              .join('\n'),
          );

      expectCrowdHeld(outcome, CROWD);
      expect(http5xxFrom).toEqual([0, 0]);
      // Both processes carried annotators.
      expect(Math.min(...requestsTo)).toBeGreaterThan(0);
      // The worker trained while the annotators worked; no job failed; API processes never ran a job.
      expect(versions.filter((v) => v.during).length).toBeGreaterThan(0);
      // Each API process picked up an activation while the annotators worked: its queue answers carried predictions
      // (there was no version when they started).
      for (const s of versionsServedBy) expect(s.size).toBeGreaterThan(0);
      expect(jobs.filter((j) => j.status !== 'succeeded')).toEqual([]);
      expect(new Set(jobs.map((j) => Number(j.pid)))).toEqual(new Set([worker.child.pid]));
      // Every API process serves the version that is active now.
      expect(active).toBe(Math.max(...versions.filter((v) => v.status === 'ready').map((v) => v.version)));
      for (const s of served) expect(s).toEqual({ models: 200, listed: active, predict: 200, predicted: active });
    },
    CROWD.deadlineMs + IDLE_GUARD_MS + 60_000,
  );
});
