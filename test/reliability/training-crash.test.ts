import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, freshDatabaseUrl } from '../helpers.ts';
import { call, printFigures, prng, sleep, spawnServer, type ChildServer } from './support.ts';

const DIM = 32;
const LABELS = ['a', 'b', 'c'];

/**
 * The server is killed with SIGKILL while a training job is running in it, then started again on the same
 * database. The version that was active keeps serving from the first second after the restart, no version of
 * the killed job is ever listed or activated half-written, and the job itself ends: retried to success once
 * its heartbeat is stale (or failed, after too many attempts).
 */
describe('SIGKILL in the middle of a training job', () => {
  let dataDir: string;
  let db: Awaited<ReturnType<typeof freshDatabaseUrl>>;
  let env: Record<string, string>;
  let srv: ChildServer | undefined;

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'furrow-kill-'));
    db = await freshDatabaseUrl();
    env = {
      FURROW_DATA_DIR: dataDir,
      FURROW_ADMIN_KEY: ADMIN_KEY,
      FURROW_LOG_LEVEL: 'warn',
      FURROW_JOB_POLL_MS: '100',
      ...(db.url ? { DATABASE_URL: db.url } : {}),
    };
  });
  afterAll(async () => {
    srv?.kill('SIGKILL');
    if (srv) await srv.exited;
    await db?.cleanup();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('keeps the old version serving and ends the job failed or succeeded-after-retry', async () => {
    srv = await spawnServer(env);
    const api = (method: string, p: string, body?: unknown) => call(srv!.url, method, p, { key: ADMIN_KEY, body });
    const P = (
      await api('POST', '/api/projects', {
        name: 'kill',
        modality: 'vector',
        labels: LABELS,
        settings: { vectorDim: DIM, retrainEvery: 0, goldFraction: 0, epochs: 3 },
      })
    ).body.id;
    const rng = prng(42);
    const items = Array.from({ length: 900 }, (_, i) => {
      const c = i % 3;
      return {
        externalId: `k${i}`,
        vector: Array.from({ length: DIM }, (_, d) => (d % 3 === c ? 1 : 0) + rng() - 0.5),
        label: LABELS[c],
        ...(i >= 840 ? { split: 'gold' } : {}),
      };
    });
    expect((await api('POST', `/api/projects/${P}/items`, { items })).status).toBe(202);
    const first = (await api('POST', `/api/projects/${P}/train`, {})).body.jobId;
    for (let i = 0; i < 600; i++) {
      const j = (await api('GET', `/api/jobs/${first}`)).body;
      if (j.status === 'succeeded' || j.status === 'failed') break;
      await sleep(100);
    }
    expect((await api('GET', `/api/projects/${P}/models`)).body.active).toBe(1);
    const probe = { items: [{ vector: Array.from({ length: DIM }, (_, d) => (d % 3 === 0 ? 1 : 0)) }] };
    const served = (await api('POST', `/api/projects/${P}/predict`, probe)).body;
    expect(served.modelVersion).toBe(1);

    // A long training: the most epochs a project may ask for.
    expect((await api('PATCH', `/api/projects/${P}/settings`, { settings: { epochs: 1000 } })).status).toBe(200);
    const job = (await api('POST', `/api/projects/${P}/train`, {})).body.jobId;
    let killedAt = -1;
    for (let i = 0; i < 1200; i++) {
      const j = (await api('GET', `/api/jobs/${job}`)).body;
      expect(j.status).not.toBe('succeeded');
      if (j.status === 'running' && j.progress >= 0.05) {
        killedAt = j.progress;
        break;
      }
      await sleep(100);
    }
    expect(killedAt).toBeGreaterThan(0);
    srv.kill('SIGKILL');
    expect((await srv.exited).signal).toBe('SIGKILL');

    const restartedAt = Date.now();
    srv = await spawnServer(env);
    const restartMs = Date.now() - restartedAt;
    const after = await api('GET', `/api/projects/${P}/models`);
    expect(after.body.active).toBe(1);
    expect(after.body.versions.map((v: { version: number }) => v.version)).toEqual([1]);
    expect((await api('POST', `/api/projects/${P}/predict`, probe)).body).toEqual(served);
    // The retry should not take 1,000 epochs again.
    expect((await api('PATCH', `/api/projects/${P}/settings`, { settings: { epochs: 3 } })).status).toBe(200);

    // Until the job ends: the old version serves every prediction, and nothing of the job is listed early.
    const seen: string[] = [];
    let predictions = 0;
    let final: any;
    for (let i = 0; i < 1800; i++) {
      const j = (await api('GET', `/api/jobs/${job}`)).body;
      if (seen[seen.length - 1] !== j.status) seen.push(j.status);
      if (j.status === 'succeeded' || j.status === 'failed') {
        final = j;
        break;
      }
      const m = (await api('GET', `/api/projects/${P}/models`)).body;
      // The new version is written and activated in one transaction just before the job is marked
      // succeeded, so between the two it may already serve: then it must be this job's complete version.
      const active = m.versions.find((v: { version: number }) => v.version === m.active);
      if (m.active !== 1) expect(active).toMatchObject({ status: 'ready', jobId: job });
      else expect(m.versions.length).toBe(1);
      const p = await api('POST', `/api/projects/${P}/predict`, probe);
      expect(p.status, `${p.text}\n${srv.output().slice(-4000)}`).toBe(200);
      if (p.body.modelVersion !== m.active) {
        // The job's version was activated between the two requests: then it must be the one serving now,
        // and complete.
        const now = (await api('GET', `/api/projects/${P}/models`)).body;
        expect(p.body.modelVersion).toBe(now.active);
        expect(now.versions.find((v: { version: number }) => v.version === now.active)).toMatchObject({ status: 'ready', jobId: job });
      }
      predictions++;
      await sleep(100);
    }
    expect(final, `job never ended: ${seen.join(' → ')}`).toBeDefined();
    const models = (await api('GET', `/api/projects/${P}/models`)).body;
    const ofJob = models.versions.filter((v: { jobId: string | null }) => v.jobId === job);
    if (final.status === 'succeeded') {
      expect(ofJob.length).toBe(1);
      expect(ofJob[0].status).toBe('ready');
      expect(models.active).toBe(ofJob[0].version);
      expect((await api('POST', `/api/projects/${P}/predict`, probe)).body.modelVersion).toBe(ofJob[0].version);
    } else {
      expect(ofJob.length).toBe(0);
      expect(models.active).toBe(1);
    }
    // Succeeded means run again from the start by the restarted process (a new claim, a new start time).
    if (final.status === 'succeeded') expect(Date.parse(final.startedAt)).toBeGreaterThan(restartedAt);

    srv.kill('SIGTERM');
    const exit = await srv.exited;
    srv = undefined;
    expect(exit.code).toBe(0);
    printFigures('sigkill-mid-training', {
      killedAtProgress: Math.round(killedAt * 100) / 100,
      restartMs,
      activeAfterRestart: after.body.active,
      predictionsServedDuringRecovery: predictions,
      predictionsFromOtherVersions: 0,
      jobStatusesAfterRestart: seen,
      jobEnded: final.status,
      versions: models.versions.map((v: { version: number; status: string }) => `${v.version}:${v.status}`),
      halfWrittenVersions: 0,
      exitCodeOnSigterm: exit.code,
    });
  }, 400_000);
});
