import { expect } from 'vitest';
import { waitForIdle, waitForJob, type TestServer } from './helpers.ts';

/** A labelled example: the item's data fields (text, vector or pixels) and its true class. */
export interface OracleExample {
  data: Record<string, unknown>;
  label: string;
}

/** One arm of the seeded active-learning comparison (`npm run bench:al` in small). */
export interface OracleTask {
  modality: 'text' | 'vector' | 'image';
  labels: readonly string[];
  seed: number;
  /** Settings the modality needs (vectorDim, image size); the protocol's own are added by runOracleArm. */
  settings?: Record<string, unknown>;
  pool: OracleExample[];
  gold: OracleExample[];
  /** Human labels at each retrain. */
  rounds: number[];
}

/**
 * Creates a project with the default settings apart from what the protocol fixes (retrains and audits only when
 * called, no gold split of the pool, no hidden gold checks, a seed; `strategy: 'random'` for the random arm),
 * labels queue items with an oracle annotator that knows every pool item's class, retrains at each round and
 * returns the gold accuracy after each.
 */
export async function runOracleArm(s: TestServer, task: OracleTask, arm: 'default' | 'random'): Promise<number[]> {
  // No hidden gold checks: the oracle knows only pool items, and the comparison counts queue labels.
  const settings: Record<string, unknown> = {
    ...task.settings,
    retrainEvery: 0,
    auditEvery: 0,
    goldFraction: 0,
    seed: task.seed,
    quality: { goldCheckShare: 0 },
  };
  if (arm === 'random') settings.strategy = 'random';
  const created = await s.call('POST', '/api/projects', {
    body: { name: `al-${task.modality}-${arm}`, modality: task.modality, labels: task.labels, settings },
  });
  expect(created.status, created.text).toBe(201);
  const P = created.body.id as string;
  const annotator = (await s.call('POST', `/api/projects/${P}/keys`, { body: { role: 'annotator', name: 'oracle' } })).body.key as string;
  const items = [
    ...task.pool.map((p, i) => ({ externalId: `p${i}`, ...p.data })),
    ...task.gold.map((g, i) => ({ externalId: `g${i}`, split: 'gold', label: g.label, ...g.data })),
  ];
  for (let i = 0; i < items.length; i += 500) {
    const ingest = await s.call('POST', `/api/projects/${P}/items`, { body: { items: items.slice(i, i + 500) } });
    expect(ingest.status, ingest.text).toBe(202);
    expect(ingest.body.rejected).toEqual([]);
  }
  await waitForIdle(s, P);
  // The oracle knows each pool item's true label through its externalId.
  const truth = new Map<string, string>();
  for (const line of (await s.call('GET', `/api/projects/${P}/export?format=jsonl`)).text.trim().split('\n')) {
    const row = JSON.parse(line);
    if (row.externalId.startsWith('p')) truth.set(row.id, task.pool[Number(row.externalId.slice(1))].label);
  }
  expect(truth.size).toBe(task.pool.length);

  const accuracies: number[] = [];
  let labelled = 0;
  for (const target of task.rounds) {
    while (labelled < target) {
      const q = await s.call('GET', `/api/projects/${P}/queue?limit=${target - labelled}`, { key: annotator });
      expect(q.status).toBe(200);
      expect(q.body.items.length).toBeGreaterThan(0);
      for (const it of q.body.items) {
        const r = await s.call('POST', `/api/projects/${P}/items/${it.id}/label`, { key: annotator, body: { label: truth.get(it.id) } });
        expect(r.status, r.text).toBe(200);
        labelled++;
      }
    }
    const job = await s.call('POST', `/api/projects/${P}/train`, { body: {} });
    expect(job.status, job.text).toBe(202);
    const done = await waitForJob(s, job.body.jobId);
    expect(done.status, done.error).toBe('succeeded');
    await waitForIdle(s, P);
    const m = await s.call('GET', `/api/projects/${P}/metrics`);
    accuracies.push(m.body.gold.accuracy);
  }
  return accuracies;
}

/** Mean of a curve. */
function meanOf(a: number[]): number {
  return a.reduce((x, y) => x + y, 0) / a.length;
}

/**
 * Runs the default arm and the random arm on the same task, prints both curves as one JSON line (`test` names
 * it), and expects the default to end more accurate than random and to be ahead over the whole curve.
 */
export async function expectDefaultBeatsRandom(s: TestServer, test: string, task: OracleTask): Promise<void> {
  const furrow = await runOracleArm(s, task, 'default');
  const random = await runOracleArm(s, task, 'random');
  console.log(JSON.stringify({ test, seed: task.seed, labels: task.rounds, furrow, random }));
  expect(furrow[furrow.length - 1]).toBeGreaterThan(random[random.length - 1]);
  // And over the whole curve, not only at its end.
  expect(meanOf(furrow)).toBeGreaterThan(meanOf(random));
}
