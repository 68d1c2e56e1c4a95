/**
 * Contention on one PostgreSQL (issue 15): a label must never answer 500 because another transaction held
 * locks in the opposite order. PostgreSQL only: PGlite runs one connection, so it cannot deadlock.
 */
import postgres from 'postgres';
import { sql as dsql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { transactionWithRetry } from '../../db/retry.ts';
import { startTestServer, type TestServer } from '../helpers.ts';
import { sleep } from '../reliability/support.ts';

const onPostgres = Boolean(process.env.DATABASE_URL);

describe.skipIf(!onPostgres)('lock order and deadlock retries (PostgreSQL)', () => {
  let s: TestServer;
  let other: postgres.Sql;
  let P: string;

  /** Polls (bounded) until some backend of this database waits for a lock. */
  async function untilSomeoneWaitsForALock(): Promise<void> {
    for (let i = 0; i < 600; i++) {
      const [r] = await other`select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`;
      if (r.n > 0) return;
      await sleep(10);
    }
    throw new Error('no transaction ever waited for a lock');
  }

  beforeAll(async () => {
    s = await startTestServer();
    other = postgres(s.config.databaseUrl!, { max: 2, onnotice: () => {} });
    const p = await s.call('POST', '/api/projects', { body: { name: 'locks', modality: 'text', labels: ['a', 'b'], settings: { retrainEvery: 0 } } });
    expect(p.status).toBe(201);
    P = p.body.id;
    const r = await s.call('POST', `/api/projects/${P}/items`, {
      body: {
        items: [
          { text: 'one', externalId: 'one' },
          { text: 'two', externalId: 'two' },
        ],
      },
    });
    expect(r.status).toBe(202);
  });
  afterAll(async () => {
    await other?.end({ timeout: 5 });
    await s?.stop();
  });

  it('a label waits for a transaction that holds the project and then writes the item, instead of deadlocking with it', async () => {
    const [item] = await other`select id from items where project_id = ${P} and external_id = 'one'`;
    let label: Promise<{ status: number; text: string }> | undefined;
    // The documented order: project row first, then items. This transaction is what a training commit or an
    // activation that also touches items looks like. The old labelItem locked the item first and took the
    // project row only at its labels insert (foreign key), so the two waited for each other: PostgreSQL
    // aborted one of them with 40P01, and the label answered 500.
    await other.begin(async (t) => {
      await t`select id from projects where id = ${P} for update`;
      label = s.call('POST', `/api/projects/${P}/items/${item.id}/label`, { body: { label: 'b' } });
      await untilSomeoneWaitsForALock();
      await t`update items set data = data where id = ${item.id}`;
    });
    const r = await label!;
    expect(r.status, r.text).toBe(200);
    const [row] = await other`select label, status from items where id = ${item.id}`;
    expect(row).toMatchObject({ label: 'b', status: 'labeled' });
  });

  it('retries a transaction PostgreSQL chose as a deadlock victim, so both sides finish', async () => {
    await other`create table if not exists lock_pair (id int primary key, n int not null)`;
    await other`insert into lock_pair values (1, 0), (2, 0) on conflict do nothing`;
    const db = s.ctx.db;
    // Two transactions taking the same two rows in opposite orders, made to meet: each holds its first row
    // until the other holds its own. One of them is certain to be aborted with 40P01.
    const gate = { a: false, b: false };
    const ta = { n: 0 };
    const tb = { n: 0 };
    const run = (first: number, second: number, me: 'a' | 'b', peer: 'a' | 'b', tries: { n: number }) =>
      transactionWithRetry(db, async (tx) => {
        tries.n++;
        await tx.execute(dsql`update lock_pair set n = n + 1 where id = ${first}`);
        gate[me] = true;
        for (let i = 0; i < 500 && !gate[peer]; i++) await sleep(10);
        await tx.execute(dsql`update lock_pair set n = n + 1 where id = ${second}`);
      });
    await Promise.all([run(1, 2, 'a', 'b', ta), run(2, 1, 'b', 'a', tb)]);
    expect(ta.n + tb.n).toBe(3);
    const rows = await other`select id, n from lock_pair order by id`;
    expect(rows.map((r) => r.n)).toEqual([2, 2]);
  });
});
