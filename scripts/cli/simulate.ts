/**
 * `furrow simulate`: runs Furrow's loop on a labelled file as a team would, through the HTTP API — pool
 * items ingested unlabelled, a held-out gold set, an annotator answering the queue from the file's labels,
 * retraining every `step` labels — once with Furrow's default queue and once with random picks, and reports
 * held-out accuracy per label spent and how many labels the queue saved.
 */
import path from 'node:path';
import { renderCurvesSvg } from '../lib/plot.ts';
import { createFurrowClient, ok, type FurrowClient } from './client.ts';
import { csvItems, jsonlItems } from './import-files.ts';

export interface SimulateOptions {
  budget: number;
  step: number;
  batch: number;
  gold: number;
  arms: string;
  modality?: 'text' | 'image' | 'vector';
  /** settings.model of both arms: 'auto' (cross-validation picks, as for a new project) or a candidate. */
  model?: string;
  seed: number;
  svg?: string;
  local?: boolean;
  url: string;
  key?: string;
}

export interface SimulateResult {
  summary: {
    file: string;
    items: number;
    labels: string[];
    gold: number;
    curves: Record<string, { labels: number; accuracy: number }[]>;
    /** Labels the first arm needed to reach the last arm's final accuracy, and the saving (e.g. 2.1x). */
    saving?: { target: number; labelsNeeded: number | null; baseline: number; factor: number | null };
  };
  svg: string;
}

/** A seeded shuffle (mulberry32), so a simulation's split is the same every run. */
function shuffled<T>(xs: T[], seed: number): T[] {
  let a = seed >>> 0;
  const rand = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

async function readLabelled(file: string): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  const ext = path.extname(file).toLowerCase();
  for await (const item of ext === '.csv' ? csvItems(file) : jsonlItems(file)) out.push(item);
  const unlabelled = out.findIndex((i) => typeof i.label !== 'string' || i.label === '');
  if (unlabelled >= 0) throw new Error(`${path.basename(file)}: item ${unlabelled + 1} has no label; simulate needs a labelled file`);
  return out;
}

function modalityOf(item: Record<string, unknown>): 'text' | 'image' | 'vector' {
  if (typeof item.text === 'string') return 'text';
  if (Array.isArray(item.vector)) return 'vector';
  if (item.image !== undefined || item.pixels !== undefined) return 'image';
  throw new Error('cannot tell the modality from the first item: give it text, image or vector (or pass --modality)');
}

/** Labels the first arm needs to reach `target`, interpolated between its points; null if it never does. */
function labelsToReach(curve: { labels: number; accuracy: number }[], target: number): number | null {
  for (let i = 0; i < curve.length; i++) {
    if (curve[i].accuracy >= target) {
      if (i === 0) return curve[0].labels;
      const a = curve[i - 1];
      const b = curve[i];
      return Math.round(a.labels + ((target - a.accuracy) / (b.accuracy - a.accuracy)) * (b.labels - a.labels));
    }
  }
  return null;
}

async function runArm(
  api: FurrowClient,
  arm: string,
  data: {
    pool: Record<string, unknown>[];
    gold: Record<string, unknown>[];
    labels: string[];
    modality: 'text' | 'image' | 'vector';
    truth: Map<string, string>;
  },
  o: SimulateOptions,
  log: (line: string) => void,
): Promise<{ labels: number; accuracy: number }[]> {
  const vectorDim = data.modality === 'vector' ? (data.pool[0].vector as unknown[]).length : undefined;
  const settings: Record<string, unknown> = {
    retrainEvery: 0,
    goldFraction: 0,
    seed: o.seed,
    ...(vectorDim ? { vectorDim } : {}),
    ...(o.model ? { model: o.model } : {}),
    // The simulated annotator is an oracle: scoring it with hidden gold checks would only spend its labels.
    quality: { goldCheckShare: 0 },
    ...(arm === 'random' ? { strategy: 'random' } : {}),
  };
  const project = ok(await api.POST('/api/projects', { body: { name: `simulate ${arm}`, modality: data.modality, labels: data.labels, settings } })) as {
    id: string;
  };
  const params = { params: { path: { id: project.id } } };
  const annotator = ok(await api.POST('/api/projects/{id}/keys', { ...params, body: { role: 'annotator', name: `simulated annotator (${arm})` } })) as {
    key: string;
  };
  const strip = ({ label: _l, split: _s, ...rest }: Record<string, unknown>) => rest;
  const items: Record<string, unknown>[] = [...data.pool.map(strip), ...data.gold.map((g) => ({ ...strip(g), split: 'gold', label: g.label }))];
  for (let i = 0; i < items.length; i += 1000) ok(await api.POST('/api/projects/{id}/items', { ...params, body: { items: items.slice(i, i + 1000) } }));
  // Item id -> externalId, from the export (the queue names items by id).
  const exported = await api.GET('/api/projects/{id}/export', { params: { path: { id: project.id }, query: { format: 'jsonl' } }, parseAs: 'text' });
  const ids = new Map<string, string>();
  for (const line of String(exported.data ?? '')
    .trim()
    .split('\n')) {
    const r = JSON.parse(line) as { id: string; externalId: string };
    ids.set(r.id, r.externalId);
  }
  const labeller = createFurrowClient({ url: o.url, key: annotator.key });
  const curve: { labels: number; accuracy: number }[] = [];
  let spent = 0;
  const train = async () => {
    const { jobId } = ok(await api.POST('/api/projects/{id}/train', { ...params, body: {} })) as { jobId: string };
    for (;;) {
      const job = ok(await api.GET('/api/jobs/{jobId}', { params: { path: { jobId } } })) as { status: string; error?: string | null };
      if (job.status === 'failed') throw new Error(`training failed: ${job.error}`);
      if (job.status === 'succeeded') break;
      await new Promise((r) => setTimeout(r, 250));
    }
    // Wait for the new version's pre-labelling, so the next queue ranks by it.
    for (;;) {
      const { jobs } = ok(await api.GET('/api/projects/{id}/jobs', params)) as { jobs: { status: string }[] };
      if (!jobs.some((j) => j.status === 'queued' || j.status === 'running')) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    const m = ok(await api.GET('/api/projects/{id}/metrics', params)) as { gold?: { accuracy: number | null } };
    curve.push({ labels: spent, accuracy: m.gold?.accuracy ?? 0 });
    log(`${arm}: ${spent} labels, held-out accuracy ${(m.gold?.accuracy ?? 0).toFixed(3)}`);
  };
  while (spent < o.budget) {
    const want = Math.min(o.batch, o.budget - spent, o.step - (spent % o.step));
    const q = ok(await labeller.GET('/api/projects/{id}/queue', { params: { path: { id: project.id }, query: { limit: want } } })) as {
      items: { id: string }[];
      retryAfterMs?: number;
    };
    if (q.items.length === 0) {
      if (q.retryAfterMs) {
        await new Promise((r) => setTimeout(r, q.retryAfterMs));
        continue;
      }
      break;
    }
    const before = spent;
    for (const it of q.items) {
      const label = data.truth.get(ids.get(it.id) ?? '');
      if (label === undefined) continue;
      ok(await labeller.POST('/api/projects/{id}/items/{itemId}/label', { params: { path: { id: project.id, itemId: it.id } }, body: { label } }));
      spent++;
    }
    // Asking again would be served the same leased items: stop rather than loop.
    if (spent === before) throw new Error('the queue served only items the file has no label for');
    if (spent % o.step === 0) await train();
  }
  if (curve.at(-1)?.labels !== spent) await train();
  return curve;
}

export async function simulate(file: string, o: SimulateOptions, log: (line: string) => void): Promise<SimulateResult> {
  const all = await readLabelled(file);
  const modality = o.modality ?? modalityOf(all[0]);
  const withIds: Record<string, unknown>[] = all.map((it, i) => ({ ...it, externalId: typeof it.externalId === 'string' ? it.externalId : `sim-${i}` }));
  const order = shuffled(withIds, o.seed);
  const nGold = Math.min(o.gold, Math.floor(order.length / 5));
  const gold = order.slice(0, nGold);
  const pool = order.slice(nGold);
  const labels = [...new Set(all.map((i) => i.label as string))].sort();
  if (labels.length < 2) throw new Error('the file has fewer than 2 classes');
  // The simulated annotator knows every answer: gold items reach it too, as hidden gold checks (quality settings).
  const truth = new Map(order.map((i) => [i.externalId as string, i.label as string]));
  const arms = o.arms
    .split(',')
    .map((a) => a.trim())
    .filter(Boolean);
  for (const a of arms) if (a !== 'furrow' && a !== 'random') throw new Error(`unknown arm "${a}": use furrow and/or random`);

  let url = o.url;
  let key = o.key;
  let close: (() => Promise<void>) | undefined;
  if (o.local) {
    const { startHarness } = await import('../lib/harness.ts');
    const h = await startHarness();
    url = h.srv.url;
    key = h.adminKey;
    close = () => h.close();
    log(`simulating on an in-process Furrow at ${url}`);
  }
  if (!key) throw new Error('set FURROW_KEY to an admin key, or use --local');
  const api = createFurrowClient({ url, key });
  try {
    const curves: Record<string, { labels: number; accuracy: number }[]> = {};
    for (const arm of arms) curves[arm] = await runArm(api, arm, { pool, gold, labels, modality, truth }, { ...o, url }, log);
    const summary: SimulateResult['summary'] = { file: path.basename(file), items: all.length, labels, gold: nGold, curves };
    if (curves.furrow?.length && curves.random?.length) {
      const last = curves.random[curves.random.length - 1];
      const needed = labelsToReach(curves.furrow, last.accuracy);
      summary.saving = {
        target: last.accuracy,
        baseline: last.labels,
        labelsNeeded: needed,
        factor: needed ? Math.round((last.labels / needed) * 100) / 100 : null,
      };
    }
    const svg = renderCurvesSvg({
      title: `${path.basename(file)}: held-out accuracy per human label`,
      curves: Object.fromEntries(Object.entries(curves).map(([k, c]) => [k, c.map((p) => ({ labels: p.labels, mean: p.accuracy, std: 0 }))])),
    });
    return { summary, svg };
  } finally {
    await close?.();
  }
}
