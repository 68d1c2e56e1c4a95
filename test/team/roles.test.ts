/**
 * A team on one PostgreSQL (issue 15): API processes that never train, a worker process that claims every
 * job and is woken by NOTIFY, and an activation served by every API process. Real child processes.
 */
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, freshDatabaseUrl } from '../helpers.ts';
import { call, sleep, spawnServer, type ChildServer } from '../reliability/support.ts';

const onPostgres = Boolean(process.env.DATABASE_URL);
const LABELS = ['low', 'high'];
/** A fail-safe bound for waiting on a job or a process, not a latency figure. */
const GUARD_MS = 45_000;

describe('FURROW_ROLE on PGlite', () => {
  it('refuses api and worker at start, with a clear message', async () => {
    await expect(spawnServer({ FURROW_ROLE: 'worker', FURROW_DATA_DIR: 'memory://' })).rejects.toThrow(
      /FURROW_ROLE: "worker" needs PostgreSQL \(set DATABASE_URL\)/,
    );
  });
});

describe.skipIf(!onPostgres)('two API processes and a worker on one PostgreSQL', () => {
  let db: Awaited<ReturnType<typeof freshDatabaseUrl>>;
  let sql: postgres.Sql;
  let api1: ChildServer;
  let api2: ChildServer;
  let worker: ChildServer;
  let P: string;

  async function waitForJob(base: string, jobId: string): Promise<{ status: string; modelVersion?: number }> {
    const until = Date.now() + GUARD_MS;
    for (;;) {
      const r = await call(base, 'GET', `/api/jobs/${jobId}`, { key: ADMIN_KEY });
      expect(r.status, r.text).toBe(200);
      if (r.body.status === 'succeeded' || r.body.status === 'failed') return r.body;
      if (Date.now() > until) throw new Error(`job ${jobId} still ${r.body.status} after ${GUARD_MS} ms`);
      await sleep(100);
    }
  }

  beforeAll(async () => {
    db = await freshDatabaseUrl();
    sql = postgres(db.url!, { max: 1, onnotice: () => {} });
    const env = { DATABASE_URL: db.url!, FURROW_ADMIN_KEY: ADMIN_KEY, FURROW_LOG_LEVEL: 'warn', FURROW_AUTH_FAIL_LIMIT: '0' };
    // All three start at once on an empty database, as a team's service manager would start them: one
    // migrates, the others wait for it. The worker polls only once a minute: a job it runs sooner was
    // announced by NOTIFY.
    [api1, api2, worker] = await Promise.all([
      spawnServer({ ...env, FURROW_ROLE: 'api' }),
      spawnServer({ ...env, FURROW_ROLE: 'api' }),
      spawnServer({ ...env, FURROW_ROLE: 'worker', FURROW_JOB_POLL_MS: '60000' }),
    ]);
    const p = await call(api1.url, 'POST', '/api/projects', {
      key: ADMIN_KEY,
      body: { name: 'team', modality: 'vector', labels: LABELS, settings: { vectorDim: 2, retrainEvery: 0, goldFraction: 0 } },
    });
    expect(p.status, p.text).toBe(201);
    P = p.body.id;
    const items = Array.from({ length: 80 }, (_, i) => {
      const x = (i % 40) / 40;
      return { vector: [x, 1 - x], externalId: `v${i}`, ...(i < 40 ? { label: x < 0.5 ? 'low' : 'high' } : {}) };
    });
    const r = await call(api1.url, 'POST', `/api/projects/${P}/items`, { key: ADMIN_KEY, body: { items } });
    expect(r.status, r.text).toBe(202);
  }, 240_000);

  afterAll(async () => {
    for (const s of [api1, api2, worker]) s?.kill('SIGKILL');
    await Promise.all([api1, api2, worker].map((s) => s?.exited));
    await sql?.end({ timeout: 5 });
    await db?.cleanup();
  });

  it('the worker serves no API, only health and metrics', async () => {
    const h = await call(worker.url, 'GET', '/healthz');
    expect(h.status).toBe(200);
    expect(h.body.role).toBe('worker');
    expect((await call(worker.url, 'GET', '/metrics')).status).toBe(200);
    const a = await call(worker.url, 'GET', '/api/projects', { key: ADMIN_KEY });
    expect(a.status).toBe(404);
    expect(a.body.error.code).toBe('not_found');
  });

  it('a train request to an API process is run by the worker, woken by NOTIFY, and every API process serves the version it activates', async () => {
    const t = await call(api1.url, 'POST', `/api/projects/${P}/train`, { key: ADMIN_KEY, body: {} });
    expect(t.status, t.text).toBe(202);
    const job = await waitForJob(api1.url, t.body.jobId);
    expect(job.status).toBe('succeeded');
    // Every job so far (the training, the pre-labelling it queued) was claimed by the worker, none by an API process.
    const [row] = await sql`select locked_by from jobs where id = ${t.body.jobId}`;
    expect(row.locked_by.startsWith(`${worker.child.pid}-`)).toBe(true);
    const claimedBy = await sql`select distinct split_part(locked_by, '-', 1) as pid from jobs where locked_by is not null`;
    expect(claimedBy.map((r) => Number(r.pid))).toEqual([worker.child.pid]);

    // A second version (activated by the worker on its commit), then a roll back on one API process: the
    // other API process serves the rolled-back version (bounded poll; the project row is read per request).
    const t2 = await call(api2.url, 'POST', `/api/projects/${P}/train`, { key: ADMIN_KEY, body: {} });
    expect(t2.status, t2.text).toBe(202);
    expect((await waitForJob(api2.url, t2.body.jobId)).status).toBe('succeeded');
    for (const api of [api1, api2]) expect((await call(api.url, 'GET', `/api/projects/${P}/models`, { key: ADMIN_KEY })).body.active).toBe(2);
    const back = await call(api1.url, 'POST', `/api/projects/${P}/models/1/activate`, { key: ADMIN_KEY, body: {} });
    expect(back.status, back.text).toBe(200);
    const until = Date.now() + GUARD_MS;
    for (;;) {
      const pr = await call(api2.url, 'POST', `/api/projects/${P}/predict`, { key: ADMIN_KEY, body: { items: [{ vector: [0.1, 0.9] }] } });
      expect(pr.status, pr.text).toBe(200);
      if (pr.body.modelVersion === 1) break;
      if (Date.now() > until) throw new Error('the other API process never served the rolled-back version');
      await sleep(100);
    }
  }, 180_000);
});
