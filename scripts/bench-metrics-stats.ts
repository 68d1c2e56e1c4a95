/**
 * What one read of /metrics' service state (db/repositories/stats.ts) costs on a big database: loads N items
 * (a third of them labelled, a third of those labels human) over 10 projects into a fresh PostgreSQL database,
 * times serviceStats() seven times, drops the database.
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npx tsx scripts/bench-metrics-stats.ts 1000000
 */
import postgres from 'postgres';
import { openDatabase } from '../db/client.ts';
import { serviceStats } from '../db/repositories/stats.ts';

const base = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const n = Number(process.argv[2] ?? 1_000_000);
const name = `furrow_bench_stats_${Date.now()}`;
const admin = postgres(base, { max: 1, onnotice: () => {} });
await admin.unsafe(`create database ${name}`);
try {
  const u = new URL(base);
  u.pathname = `/${name}`;
  const database = await openDatabase({ databaseUrl: u.toString(), dataDir: 'memory://' });
  const sql = postgres(u.toString(), { max: 1, onnotice: () => {} });
  for (let p = 0; p < 10; p++)
    await sql`insert into projects (id, name, modality, labels, settings) values (${`p${p}`}, ${`p${p}`}, 'text', '["a","b"]', '{}')`;
  const t0 = Date.now();
  await sql.unsafe(
    `insert into items (id, project_id, split, status, data, rand)
     select 'i'||g, 'p'||(g%10), case when g%50=0 then 'gold' else 'pool' end, case when g%3=0 then 'labeled' else 'pending' end, '{}'::jsonb, random()
     from generate_series(1, ${n}) g`,
  );
  await sql.unsafe(
    `insert into labels (project_id, item_id, label, source)
     select 'p'||(g%10), 'i'||g, 'a', case when g%2=0 then 'human' else 'auto' end from generate_series(3, ${n}, 3) g`,
  );
  await sql.unsafe('vacuum analyze');
  const loadMs = Date.now() - t0;
  const ms: number[] = [];
  for (let i = 0; i < 7; i++) {
    const t = performance.now();
    await serviceStats(database.db);
    ms.push(Math.round(performance.now() - t));
  }
  process.stdout.write(`${JSON.stringify({ items: n, labels: Math.floor(n / 3), loadMs, serviceStatsMs: ms })}\n`);
  await sql.end();
  await database.close();
} finally {
  await admin.unsafe(`drop database if exists ${name} with (force)`);
  await admin.end();
}
