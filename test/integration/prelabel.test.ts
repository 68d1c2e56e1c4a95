import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobRow } from '../../db/repositories/jobs.ts';
import { findProject } from '../../db/repositories/projects.ts';
import { queryRows } from '../../db/repositories/rows.ts';
import { ingestItems } from '../../pipelines/ingest.ts';
import { PRELABEL_BATCH, runPrelabel } from '../../pipelines/prelabel.ts';
import { startTestServer, waitForIdle, waitForJob, type TestServer } from '../helpers.ts';

/**
 * The pre-label job reads the next page and writes the previous one while the model scores the current one,
 * paging by `seq`. It must still score every item: those a concurrent ingest adds while it runs, and any left
 * behind its read position (a pass that reaches the end starts over from the beginning).
 */
describe('pre-label job', () => {
  let s: TestServer;
  let P: string;
  const ITEMS = 3 * PRELABEL_BATCH + 100;

  beforeAll(async () => {
    s = await startTestServer();
    P = (
      await s.call('POST', '/api/projects', {
        body: { name: 'pre', modality: 'vector', labels: ['a', 'b'], settings: { vectorDim: 2, retrainEvery: 0, goldFraction: 0, model: 'linear' } },
      })
    ).body.id;
    const items = Array.from({ length: ITEMS }, (_, i) => ({
      externalId: `x${i}`,
      vector: [i % 2, (i * 7) % 5],
      ...(i < 40 ? { label: i % 2 ? 'b' : 'a' } : {}),
    }));
    expect((await s.call('POST', `/api/projects/${P}/items`, { body: { items } })).status).toBe(202);
    const job = await s.call('POST', `/api/projects/${P}/train`, { body: {} });
    expect((await waitForJob(s, job.body.jobId)).status).toBe('succeeded');
    await waitForIdle(s, P);
  }, 180_000);
  afterAll(() => s?.stop());

  const unscored = async (version: number) =>
    (
      await queryRows<{ n: number }>(
        s.ctx.db,
        sql`select count(*)::int as n from items where project_id = ${P} and (pred_version is null or pred_version <> ${version})`,
      )
    )[0].n;

  it('scores items ingested while it runs and items left behind its read position', async () => {
    const project = (await findProject(s.ctx.db, P))!;
    const version = project.activeVersion!;
    expect(await unscored(version)).toBe(0);
    await queryRows(s.ctx.db, sql`update items set pred_version = null where project_id = ${P}`);
    let calls = 0;
    const runner = Object.create(s.ctx.runner) as typeof s.ctx.runner;
    runner.predict = async (ref, inputs) => {
      calls++;
      if (calls === 2) {
        // Mid-pass: new items arrive (after the read position). Ingested as if no model were active, so that
        // no second pre-label job is queued: this run alone must score them.
        const more = Array.from({ length: 50 }, (_, i) => ({ externalId: `late${i}`, vector: [1, i % 5] }));
        expect((await ingestItems(s.ctx, { ...project, activeVersion: null }, more)).accepted).toBe(50);
      }
      if (calls === 3) {
        // ...and an item already written loses its score (behind the read position).
        await queryRows(s.ctx.db, sql`update items set pred_version = null where project_id = ${P} and external_id = 'x0'`);
      }
      return s.ctx.runner.predict(ref, inputs);
    };
    const progress: number[] = [];
    const out = await runPrelabel({ ...s.ctx, runner }, { projectId: P } as JobRow, async (p) => {
      progress.push(p);
    });
    expect(out.modelVersion).toBe(version);
    expect(await unscored(version)).toBe(0);
    expect(out.scored).toBe(ITEMS + 50 + 1);
    expect(progress.length).toBeGreaterThanOrEqual(4);
  }, 120_000);
});

/**
 * After a pre-label pass over many new items, PostgreSQL's statistics of `items` are refreshed at once: left to
 * autovacuum, a million-item project went unanalyzed through the first minutes of labelling and every lease
 * walked the project's rows (bench:team, docs/team.md). The check is on `last_analyze`, which only an explicit
 * ANALYZE sets (autovacuum sets `last_autoanalyze`).
 */
describe.skipIf(!process.env.DATABASE_URL)('pre-label pass on PostgreSQL', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer();
  });
  afterAll(() => s?.stop());

  it('analyzes the items table when the pass leaves its statistics stale', async () => {
    const P = (
      await s.call('POST', '/api/projects', {
        body: { name: 'stats', modality: 'vector', labels: ['a', 'b'], settings: { vectorDim: 2, retrainEvery: 0, goldFraction: 0, model: 'linear' } },
      })
    ).body.id;
    for (let b = 0; b < 3; b++) {
      const items = Array.from({ length: 4000 }, (_, j) => {
        const i = b * 4000 + j;
        return { externalId: `v${i}`, vector: [i % 2, (i * 7) % 5], ...(i < 40 ? { label: i % 2 ? 'b' : 'a' } : {}) };
      });
      expect((await s.call('POST', `/api/projects/${P}/items`, { body: { items } })).status).toBe(202);
    }
    const job = await s.call('POST', `/api/projects/${P}/train`, { body: {} });
    expect((await waitForJob(s, job.body.jobId)).status).toBe('succeeded');
    await waitForIdle(s, P);
    const [row] = await queryRows<{ analyzed: boolean }>(
      s.ctx.db,
      sql`select last_analyze is not null as analyzed from pg_stat_user_tables where relname = 'items'`,
    );
    expect(row.analyzed).toBe(true);
  }, 300_000);
});
