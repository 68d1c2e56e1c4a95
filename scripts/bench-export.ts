/**
 * Does the export stream in constant memory, and how fast? Fills a vector project with `--items` items (written
 * straight into the database with generate_series: going through ingest would take longer than the export),
 * a fifth of them labelled, starts the server as its own process, downloads the export without keeping it and
 * samples the server's resident memory (VmRSS) every 100 ms. Prints JSON: rows, seconds, rows/s, MB, and the
 * server's RSS before, at its peak, at every tenth of the rows and at the end.
 *
 *   npm run bench:export -- [--items 1000000] [--dim 16] [--format jsonl|csv]
 *
 * With DATABASE_URL the project goes into that PostgreSQL database (a fresh one is created and dropped);
 * otherwise into an embedded database in a temporary directory.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { sql } from 'drizzle-orm';
import { openDatabase } from '../db/client.ts';
import { queryRows } from '../db/repositories/rows.ts';

const { values: args } = parseArgs({
  options: { items: { type: 'string', default: '1000000' }, dim: { type: 'string', default: '16' }, format: { type: 'string', default: 'jsonl' } },
});
const nItems = Number(args.items);
const dim = Number(args.dim);
const ADMIN = 'fw_bench_export_admin_key_0123456789ab';

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'furrow-export-'));
let databaseUrl: string | undefined;
let dropDatabase = async () => {};
if (process.env.DATABASE_URL) {
  const { default: postgres } = await import('postgres');
  const name = `furrow_bench_export_${randomBytes(4).toString('hex')}`;
  const admin = postgres(process.env.DATABASE_URL, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  const u = new URL(process.env.DATABASE_URL);
  u.pathname = `/${name}`;
  databaseUrl = u.toString();
  dropDatabase = async () => {
    await admin.unsafe(`drop database if exists ${name} with (force)`);
    await admin.end();
  };
}

const t0 = Date.now();
const database = await openDatabase({ databaseUrl, dataDir });
const projectId = 'bench-export';
await database.db.execute(
  sql`insert into projects (id, name, modality, labels, settings) values (${projectId}, 'export bench', 'vector', '["a","b","c"]'::jsonb, ${JSON.stringify({ vectorDim: dim })}::jsonb)`,
);
// In slices, so the embedded database's memory stays bounded while filling.
const slice = 100_000;
for (let from = 0; from < nItems; from += slice) {
  const to = Math.min(nItems, from + slice) - 1;
  await database.db.execute(sql`
    insert into items (id, project_id, external_id, split, status, data, label, label_source, rand, meta)
    select 'i' || g, ${projectId}, 'x' || g, 'pool',
           case when g % 5 = 0 then 'labeled' else 'pending' end,
           jsonb_build_object('vector', (select jsonb_agg(round((random() * 2 - 1)::numeric, 4)) from generate_series(1, ${dim}::int) d where g >= 0)),
           case when g % 5 = 0 then (array['a','b','c'])[1 + g % 3] end,
           case when g % 5 = 0 then 'human' end,
           random(), jsonb_build_object('row', g)
    from generate_series(${from}::int, ${to}::int) g`);
  await database.db.execute(sql`
    insert into labels (project_id, item_id, label, source, key_id)
    select ${projectId}, 'i' || g, (array['a','b','c'])[1 + g % 3], 'human', 'bench-key'
    from generate_series(${from}::int, ${to}::int) g where g % 5 = 0`);
}
await database.db.execute(sql`analyze`);
const [{ n }] = await queryRows<{ n: string }>(database.db, sql`select count(*) as n from items`);
await database.close();
const fillSeconds = (Date.now() - t0) / 1000;

const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
  env: {
    ...process.env,
    PORT: '0',
    FURROW_DATA_DIR: dataDir,
    FURROW_ADMIN_KEY: ADMIN,
    FURROW_DEMO: '0',
    FURROW_LOG_LEVEL: 'info',
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
  },
  stdio: ['ignore', 'pipe', 'inherit'],
});
const url = await new Promise<string>((resolve, reject) => {
  let out = '';
  child.stdout.on('data', (b: Buffer) => {
    out += b.toString();
    const m = /http:\/\/[\d.]+:\d+/.exec(out);
    if (m) resolve(m[0]);
  });
  child.once('exit', (code) => reject(new Error(`server exited (${code}): ${out}`)));
});

function rssMb(): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** CPU seconds (user + system) the server process has used: a figure that a busy machine distorts less than rows/s. */
function cpuSeconds(): number {
  const fields = fs.readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

try {
  const before = rssMb();
  const cpuBefore = cpuSeconds();
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, rssMb())), 100);
  const start = process.hrtime.bigint();
  const res = await fetch(`${url}/api/projects/${projectId}/export?format=${args.format}`, { headers: { authorization: `Bearer ${ADMIN}` } });
  if (res.status !== 200) throw new Error(`export: ${res.status} ${await res.text()}`);
  let bytes = 0;
  let lines = 0;
  // The server's RSS at every tenth of the export: flat memory means these stay level, not grow with rows.
  const atTenths: number[] = [];
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    bytes += chunk.byteLength;
    for (let i = 0; i < chunk.length; i++) if (chunk[i] === 10) lines++;
    if (lines >= ((atTenths.length + 1) * Number(n)) / 10) atTenths.push(Math.round(rssMb()));
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const cpu = cpuSeconds() - cpuBefore;
  clearInterval(sampler);
  const rows = args.format === 'csv' ? lines - 1 : lines;
  const round = (x: number) => Math.round(x * 10) / 10;
  process.stdout.write(
    JSON.stringify(
      {
        benchmark: 'export',
        driver: databaseUrl ? 'postgres' : 'pglite',
        format: args.format,
        items: Number(n),
        dim,
        fillSeconds: round(fillSeconds),
        rows,
        seconds: round(seconds),
        rowsPerSecond: Math.round(rows / seconds),
        serverCpuSeconds: round(cpu),
        rowsPerServerCpuSecond: Math.round(rows / cpu),
        loadAverage: os.loadavg().map(round),
        mb: round(bytes / 1024 / 1024),
        serverRssMb: { before: round(before), peak: round(peak), end: round(rssMb()), atTenths },
      },
      null,
      2,
    ) + '\n',
  );
} finally {
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  await dropDatabase();
  fs.rmSync(dataDir, { recursive: true, force: true });
}
