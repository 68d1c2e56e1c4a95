import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql, type SQL } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../core/config.ts';
import { silentLogger } from '../../core/logger.ts';
import { MIGRATIONS_DIR } from '../../db/client.ts';
import { startServer, type RunningServer } from '../../server/main.ts';
import { ADMIN_KEY, freshDatabaseUrl } from '../helpers.ts';
import { call, printFigures, sleep } from './support.ts';

const FIXTURE = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'previous-release');
const OLD = JSON.parse(fs.readFileSync(path.join(FIXTURE, 'vector-model.json'), 'utf8')) as {
  settings: Record<string, unknown>;
  spec: Record<string, unknown>;
  probes: number[][];
  probs: number[];
};
const OLD_BLOB = fs.readFileSync(path.join(FIXTURE, 'vector-model.bin'));
const ANNOTATOR_KEY = 'fw_previous_release_annotator_key_0123456789';
const ITEMS = 60;
const LABELLED = 24;

/** A migrations folder holding only the first migration: the schema of the previous release. */
function firstMigrationOnly(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'furrow-mig0-'));
  const journal = JSON.parse(fs.readFileSync(path.join(MIGRATIONS_DIR, 'meta', '_journal.json'), 'utf8'));
  const first = journal.entries[0];
  fs.mkdirSync(path.join(dir, 'meta'));
  fs.copyFileSync(path.join(MIGRATIONS_DIR, `${first.tag}.sql`), path.join(dir, `${first.tag}.sql`));
  fs.writeFileSync(path.join(dir, 'meta', '_journal.json'), JSON.stringify({ ...journal, entries: [first] }));
  return dir;
}

/** Opens the database with the previous release's schema and fills it as that release would have. */
async function previousRelease(target: { dataDir: string; url?: string }, migrations: string) {
  let exec: (q: SQL) => Promise<unknown>;
  let close: () => Promise<void>;
  if (target.url) {
    const { default: postgres } = await import('postgres');
    const { drizzle } = await import('drizzle-orm/postgres-js');
    const { migrate } = await import('drizzle-orm/postgres-js/migrator');
    const client = postgres(target.url, { max: 1, onnotice: () => {} });
    const db = drizzle(client);
    await migrate(db, { migrationsFolder: migrations });
    exec = (q) => db.execute(q);
    close = () => client.end({ timeout: 5 });
  } else {
    const { PGlite } = await import('@electric-sql/pglite');
    const { drizzle } = await import('drizzle-orm/pglite');
    const { migrate } = await import('drizzle-orm/pglite/migrator');
    const client = new PGlite(path.join(target.dataDir, 'pg'));
    const db = drizzle(client);
    await migrate(db, { migrationsFolder: migrations });
    exec = (q) => db.execute(q);
    close = () => client.close();
  }
  const hash = (s: string) => createHash('sha256').update(s).digest('hex');
  const P = randomUUID();
  const annotator = randomUUID();
  await exec(
    sql`insert into projects (id, name, modality, labels, settings, active_version) values (${P}, 'from the previous release', 'vector', ${JSON.stringify(['x', 'y'])}::jsonb, ${JSON.stringify(OLD.settings)}::jsonb, 1)`,
  );
  await exec(
    sql`insert into api_keys (id, project_id, role, name, key_hash, prefix) values (${randomUUID()}, null, 'admin', 'admin', ${hash(ADMIN_KEY)}, ${ADMIN_KEY.slice(0, 8)})`,
  );
  await exec(
    sql`insert into api_keys (id, project_id, role, name, key_hash, prefix) values (${annotator}, ${P}, 'annotator', 'ana', ${hash(ANNOTATOR_KEY)}, ${ANNOTATOR_KEY.slice(0, 8)})`,
  );
  const job = randomUUID();
  await exec(sql`insert into jobs (id, project_id, kind, status, progress, model_version, payload, attempts, created_at, started_at, finished_at)
                 values (${job}, ${P}, 'train', 'succeeded', 1, 1, '{"reason":"manual"}'::jsonb, 1, now() - interval '2 days', now() - interval '2 days', now() - interval '2 days')`);
  await exec(sql`insert into model_versions (project_id, version, status, spec, weights, metrics, trained_on_labels, job_id)
                 values (${P}, 1, 'ready', ${JSON.stringify(OLD.spec)}::jsonb, ${OLD_BLOB}, '{"gold":{"n":0,"accuracy":null,"perClass":{},"confusion":[],"ece":null,"calibration":[]}}'::jsonb, ${LABELLED}, ${job})`);
  const ids: string[] = [];
  for (let i = 0; i < ITEMS; i++) {
    const id = randomUUID();
    ids.push(id);
    const v = [i % 2 ? 1 : -1, i / ITEMS];
    const labelled = i < LABELLED;
    const label = i % 2 ? 'x' : 'y';
    const source = i < LABELLED / 2 ? 'imported' : 'human';
    await exec(sql`insert into items (id, project_id, external_id, split, status, data, input, label, label_source, rand, pred_version, pred_label, confidence, uncertainty)
                   values (${id}, ${P}, ${`old-${i}`}, 'pool', ${labelled ? 'labeled' : 'pending'}, ${JSON.stringify({ vector: v })}::jsonb,
                           ${Buffer.from(new Float32Array(v).buffer)}, ${labelled ? label : null}, ${labelled ? source : null}, ${i / ITEMS}, 1, ${label}, 0.8, ${0.2 + i / 1000})`);
    await exec(sql`insert into predictions (project_id, item_id, model_version, probs, label, confidence, uncertainty)
                   values (${P}, ${id}, 1, ${i % 2 ? '{0.2,0.8}' : '{0.8,0.2}'}::real[], ${label}, 0.8, ${0.2 + i / 1000})`);
    if (labelled)
      await exec(sql`insert into labels (project_id, item_id, label, source, key_id, predicted_label, agreed_with_model, model_version, created_at)
                     values (${P}, ${id}, ${label}, ${source}, ${source === 'human' ? annotator : null}, ${source === 'human' ? label : null}, ${source === 'human' ? true : null}, ${source === 'human' ? 1 : null}, now() - interval '1 day')`);
  }
  // One correction in the history: the second decision on item 20 is the one that counts.
  await exec(
    sql`insert into labels (project_id, item_id, label, source, key_id, created_at) values (${P}, ${ids[20]}, 'x', 'human', ${annotator}, now() - interval '1 hour')`,
  );
  await exec(sql`update items set label = 'x' where id = ${ids[20]}`);
  await close();
  return { P, ids, job };
}

/**
 * A database written by the previous release (migration 0000 only: projects, keys, items, label history,
 * predictions, a trained model from that release, a finished job) is opened by this release, which applies
 * every later migration on start. Nothing is lost: the old keys work, the counts, the label history and the
 * export are as they were, and the old model serves the same predictions it did before.
 */
describe('upgrade from the previous release', () => {
  let dataDir: string;
  let db: Awaited<ReturnType<typeof freshDatabaseUrl>>;
  let migrations: string;
  let srv: RunningServer | undefined;
  const start = () =>
    startServer(
      loadConfig({
        PORT: '0',
        FURROW_DATA_DIR: dataDir,
        FURROW_DEMO: '0',
        FURROW_LOG_LEVEL: 'silent',
        FURROW_JOB_POLL_MS: '100',
        FURROW_ADMIN_KEY: 'fw_an_operator_key_set_after_the_upgrade',
        ...(db.url ? { DATABASE_URL: db.url } : {}),
      }),
      { logger: silentLogger, announce: () => {} },
    );

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'furrow-upgrade-'));
    db = await freshDatabaseUrl();
    migrations = firstMigrationOnly();
  });
  afterAll(async () => {
    await srv?.close();
    await db?.cleanup();
    fs.rmSync(dataDir, { recursive: true, force: true });
    fs.rmSync(migrations, { recursive: true, force: true });
  });

  it('applies every later migration and keeps every row, key, label and model', async () => {
    const old = await previousRelease({ dataDir, url: db.url }, migrations);
    srv = await start();
    const api = (method: string, p: string, key = ADMIN_KEY, body?: unknown) => call(srv!.url, method, p, { key, body });

    // The old admin key still works; FURROW_ADMIN_KEY is added beside it (how an operator who lost the first
    // key gets back in, issue 14 defect 2), not instead of it.
    expect((await api('GET', '/api/projects')).status).toBe(200);
    expect((await api('GET', '/api/projects', 'fw_an_operator_key_set_after_the_upgrade')).status).toBe(200);
    const project = await api('GET', `/api/projects/${old.P}`, ANNOTATOR_KEY);
    expect(project.status).toBe(200);
    expect(project.body.counts).toMatchObject({ items: ITEMS, labeled: LABELLED, pending: ITEMS - LABELLED });
    expect(project.body.activeVersion).toBe(1);

    const item = (await api('GET', `/api/projects/${old.P}/items/${old.ids[20]}`)).body;
    expect(item.labels.map((l: { label: string; source: string }) => `${l.source}:${l.label}`)).toEqual(['human:y', 'human:x']);
    expect(item.label).toBe('x');
    expect(item.prediction).toMatchObject({ label: 'y', modelVersion: 1 });
    const exported = (await api('GET', `/api/projects/${old.P}/export`)).text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(exported.length).toBe(ITEMS);
    expect(exported.filter((r: { label: string | null }) => r.label !== null).length).toBe(LABELLED);

    const models = (await api('GET', `/api/projects/${old.P}/models`)).body;
    expect(models.active).toBe(1);
    expect(models.versions).toMatchObject([{ version: 1, status: 'ready', trainedOnLabels: LABELLED, jobId: old.job }]);
    expect((await api('GET', `/api/jobs/${old.job}`)).body).toMatchObject({ status: 'succeeded', modelVersion: 1 });

    // The previous release's model serves the predictions it made then.
    const predicted = (await api('POST', `/api/projects/${old.P}/predict`, ADMIN_KEY, { items: OLD.probes.map((v) => ({ vector: v })) })).body;
    expect(predicted.modelVersion).toBe(1);
    let maxDiff = 0;
    predicted.predictions.forEach((p: { probs: Record<string, number> }, i: number) => {
      maxDiff = Math.max(maxDiff, Math.abs(p.probs.x - OLD.probs[2 * i]), Math.abs(p.probs.y - OLD.probs[2 * i + 1]));
    });
    expect(maxDiff).toBeLessThan(1e-4);

    // And the project carries on: the queue serves old pending items, labels and training work.
    const queue = (await api('GET', `/api/projects/${old.P}/queue?limit=3`, ANNOTATOR_KEY)).body.items;
    expect(queue.length).toBe(3);
    expect((await api('POST', `/api/projects/${old.P}/items/${queue[0].id}/label`, ANNOTATOR_KEY, { label: 'x' })).status).toBe(200);
    const job = (await api('POST', `/api/projects/${old.P}/train`, ADMIN_KEY, {})).body.jobId;
    let status = 'queued';
    for (let i = 0; i < 600 && (status === 'queued' || status === 'running'); i++) {
      await sleep(100);
      status = (await api('GET', `/api/jobs/${job}`)).body.status;
    }
    expect(status).toBe('succeeded');

    // Restarting applies nothing twice.
    await srv.close();
    srv = await start();
    const applied = await call(srv.url, 'GET', `/api/projects/${old.P}`, { key: ANNOTATOR_KEY });
    expect(applied.body.counts.items).toBe(ITEMS);
    const journal = JSON.parse(fs.readFileSync(path.join(MIGRATIONS_DIR, 'meta', '_journal.json'), 'utf8'));
    const { queryRows } = await import('../../db/repositories/rows.ts');
    const [{ n }] = await queryRows<{ n: number }>(srv.ctx.db, sql`select count(*)::int as n from drizzle.__drizzle_migrations`);
    expect(n).toBe(journal.entries.length);
    printFigures('upgrade', {
      from: 'migration 0000 (release 28d94f4)',
      migrationsApplied: journal.entries.length - 1,
      items: ITEMS,
      labelRows: LABELLED + 1,
      rowsLost: 0,
      oldKeysWork: true,
      oldModelMaxProbDiff: Number(maxDiff.toExponential(2)),
      trainingAfterUpgrade: status,
    });
  });
});
