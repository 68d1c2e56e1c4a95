/**
 * Queue cost independent of project size (issue 15): every statement a queue request and a label request
 * send is EXPLAINed against a 200,000-item project, and none may read the items table sequentially. The
 * statements are captured from the real pipeline code (drizzle's query logger), with their parameters.
 * PostgreSQL only: PGlite plans the same SQL but is not what a large team runs on.
 */
import { drizzle } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../../db/client.ts';
import {
  countTrainable,
  holdoutCounts,
  likelyOfClass,
  randomServableIds,
  topUncertainConfidences,
  topUncertainServable,
  trainableCountsByLabel,
  unscoredItems,
} from '../../db/repositories/items.ts';
import { overlapCandidates } from '../../db/repositories/quality.ts';
import { findProject } from '../../db/repositories/projects.ts';
import * as schema from '../../db/schema.ts';
import { labelItem } from '../../pipelines/labeling.ts';
import { leaseQueue } from '../../pipelines/queue.ts';
import { startTestServer, type TestServer } from '../helpers.ts';

const onPostgres = Boolean(process.env.DATABASE_URL);
const ITEMS = 200_000;

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  Plans?: PlanNode[];
}

function seqScansOfItems(node: PlanNode): number {
  return (node['Node Type'] === 'Seq Scan' && node['Relation Name'] === 'items' ? 1 : 0) + (node.Plans ?? []).reduce((s, p) => s + seqScansOfItems(p), 0);
}

describe.skipIf(!onPostgres)(`queue and label statements on ${ITEMS.toLocaleString('en')} items (PostgreSQL)`, () => {
  let s: TestServer;
  let client: postgres.Sql;
  let db: Db;
  const captured: { query: string; params: unknown[] }[] = [];
  let P: string;
  let keyId: string;

  beforeAll(async () => {
    s = await startTestServer();
    const p = await s.call('POST', '/api/projects', {
      body: {
        name: 'big',
        modality: 'vector',
        labels: ['a', 'b', 'c'],
        settings: { vectorDim: 2, goldFraction: 0.1, retrainEvery: 0, quality: { adaptiveOverlap: true } },
      },
    });
    expect(p.status).toBe(201);
    P = p.body.id;
    const k = await s.call('POST', `/api/projects/${P}/keys`, { body: { role: 'annotator', name: 'ann' } });
    keyId = k.body.id;
    client = postgres(s.config.databaseUrl!, { max: 2, onnotice: () => {} });
    // A scored project: 1% labelled by humans (all classes), 2% held out, every item predicted by version 1.
    await client`
      insert into items (id, project_id, external_id, split, holdout, status, data, label, label_source, rand, pred_version, pred_label, confidence, uncertainty)
      select 'big' || g, ${P}, 'e' || g, 'pool', g % 50 = 0,
             case when g % 100 = 1 then 'labeled' else 'pending' end, '{}'::jsonb,
             case when g % 100 = 1 then (array['a','b','c'])[1 + g % 3] end,
             case when g % 100 = 1 then 'human' end,
             random(), 1, (array['a','b','c'])[1 + (g / 7) % 3], random(), random()
      from generate_series(1, ${ITEMS}::int) g`;
    await client`update projects set active_version = 1 where id = ${P}`;
    // Adaptive overlap: the labelled items have consolidated rows, half of them wanting another label (issue 17's
    // expected gain: the queue weighs them against the new items).
    await client`
      insert into consolidated_labels (item_id, project_id, label, posterior, n, method, needs_more, gain)
      select id, project_id, label, 0.5 + random() / 2, 2, 'majority', (seq % 2 = 0), case when seq % 2 = 0 then random() * 0.3 else 0 end
      from items where project_id = ${P} and label is not null`;
    await client`analyze items`;
    await client`analyze consolidated_labels`;
    db = drizzle(client, { schema, logger: { logQuery: (query, params) => captured.push({ query, params }) } }) as unknown as Db;
  }, 300_000);

  afterAll(async () => {
    await client?.end({ timeout: 5 });
    await s?.stop();
  });

  it('reads items through indexes only: no sequential scan in any queue, label or count statement', async () => {
    const project = (await findProject(db, P))!;
    const ctx = { ...s.ctx, db };
    const now = new Date();
    const served = await leaseQueue(ctx, project, keyId, { limit: 10 });
    expect(served.length).toBe(10);
    // Some slots went to another label on an old item (the gain statements ran and are EXPLAINed below).
    expect(captured.some((c) => /consolidated_labels/.test(c.query) && /gain/.test(c.query))).toBe(true);
    await leaseQueue(ctx, project, keyId, { limit: 10 }); // a reload: this key's own leases come first
    await leaseQueue(ctx, project, keyId, { limit: 10, strategy: 'random' });
    await labelItem(ctx, project, { id: keyId, role: 'annotator' }, served[0].id, 'a');
    await holdoutCounts(db, P);
    await trainableCountsByLabel(db, P);
    await countTrainable(db, P);
    await randomServableIds(db, { projectId: P, keyId, now, limit: 100 });
    await topUncertainServable(db, { projectId: P, keyId, now, limit: 100 });
    await likelyOfClass(db, { projectId: P, keyId, now, label: 'b', limit: 5 });
    await topUncertainConfidences(db, { projectId: P, keyId, now, limit: 10 });
    await overlapCandidates(db, { projectId: P, keyId, now, belowGain: 1, limit: 10 });

    const offenders: string[] = [];
    let explained = 0;
    for (const { query, params } of captured) {
      if (!/^\s*(select|update|insert|with|delete)/i.test(query)) continue;
      const [row] = await client.unsafe(`explain (format json) ${query}`, params as never[]);
      const plan = (row['QUERY PLAN'] as { Plan: PlanNode }[])[0].Plan;
      explained++;
      if (seqScansOfItems(plan) > 0) offenders.push(query);
    }
    expect(explained).toBeGreaterThan(10);
    expect(offenders, `sequential scans of items:\n${offenders.join('\n\n')}`).toEqual([]);
  }, 120_000);

  // A pre-label pass reads pages of unscored items. Half-way through a pass over this project (the first half
  // scored by version 2), reading the next page must touch that page's rows, not every scored row before it:
  // the read from the start of the project visited 100,000 rows per page, a billion over a million-item pass.
  it('reads the next pre-label page without rereading the rows already scored', async () => {
    await client`update items set pred_version = 2 where project_id = ${P} and seq <= (select min(seq) + ${ITEMS / 2} from items where project_id = ${P})`;
    const [{ mid }] = await client`select min(seq) + ${ITEMS / 2} as mid from items where project_id = ${P}`;
    captured.length = 0;
    const page = await unscoredItems(db, P, 2, 512, Number(mid));
    expect(page).toHaveLength(512);
    const [{ query, params }] = captured;
    const [row] = await client.unsafe(`explain (analyze, format json) ${query}`, params as never[]);
    const visited = (node: PlanNode & { 'Actual Rows'?: number; 'Rows Removed by Filter'?: number }): number =>
      (node['Relation Name'] === 'items' ? (node['Actual Rows'] ?? 0) + (node['Rows Removed by Filter'] ?? 0) : 0) +
      (node.Plans ?? []).reduce((n, p) => n + visited(p), 0);
    expect(visited((row['QUERY PLAN'] as { Plan: PlanNode }[])[0].Plan)).toBeLessThan(5_000);
    await client`update items set pred_version = 1 where project_id = ${P}`;
  }, 120_000);
});
