/**
 * Active-learning simulation through the real service: an in-process Furrow server (embedded database,
 * worker-thread models, the same HTTP API), an oracle annotator that answers every queue item with its true
 * label, training at fixed label counts, and test accuracy on the dataset's official test split (imported as
 * the project's gold set, so the service itself measures it). Several arms side by side, several seeds:
 *
 *   npm run bench:al -- --dataset fashion-mnist --seeds 3 --budget 1000
 *   npm run bench:al -- --dataset fine-foods --seeds 3 --budget 400 --arms furrow,random
 *   npm run bench:al -- --first-seed 2 --seeds 1 --out bench/out/s2     # one seed per process ...
 *   npm run bench:al -- --merge bench/out/s1/al-fashion-mnist.json,bench/out/s2/al-fashion-mnist.json  # ... combined
 *
 * Arms: `furrow` (the default strategy and semi-supervised training), `random` (random labels, same model:
 * the query strategy alone), `random-supervised` (random labels, plain supervised model: a team without
 * Furrow), or `strategy:<name>` for any query strategy with the default model; `+setting=value` overrides a
 * project setting (e.g. `furrow+coldStartLabels=0`). Prints JSON; writes an SVG plot.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { encodePngBase64 } from '../pipelines/image-decode.ts';
import { FASHION_MNIST_LABELS, FINE_FOODS_LABELS, loadFashionFixture, loadFashionMnist, loadFineFoods, loadFineFoodsFixture } from './lib/datasets.ts';
import { shuffle } from './lib/sampling.ts';
import { startHarness, trainAndWait } from './lib/harness.ts';
import { renderCurvesSvg } from './lib/plot.ts';
import { round } from './lib/round.ts';

const { values: args } = parseArgs({
  options: {
    dataset: { type: 'string', default: 'fashion-mnist' },
    arms: { type: 'string', default: 'furrow,random,random-supervised' },
    seeds: { type: 'string', default: '1' },
    'first-seed': { type: 'string', default: '1' },
    merge: { type: 'string' },
    budget: { type: 'string' },
    start: { type: 'string', default: '20' },
    step: { type: 'string' },
    pool: { type: 'string' },
    test: { type: 'string' },
    fixture: { type: 'boolean', default: false },
    out: { type: 'string', default: 'bench/out' },
    quiet: { type: 'boolean', default: false },
  },
});

interface Example {
  data: Record<string, unknown>;
  label: string;
}
interface Dataset {
  name: string;
  modality: 'image' | 'text';
  labels: readonly string[];
  pool: Example[];
  test: Example[];
}

async function loadDataset(name: string, poolSize: number | undefined, testSize: number | undefined, fixture: boolean): Promise<Dataset> {
  if (name === 'fashion-mnist') {
    const [tr, te] = fixture
      ? await Promise.all([loadFashionFixture('train'), loadFashionFixture('test')])
      : await Promise.all([loadFashionMnist('train'), loadFashionMnist('test')]);
    const ex = (d: typeof tr, i: number): Example => ({ data: { image: encodePngBase64(d.images[i], 28, 28, 1) }, label: FASHION_MNIST_LABELS[d.labels[i]] });
    const poolIdx = shuffle([...tr.labels.keys()], 7).slice(0, poolSize ?? tr.labels.length);
    const testIdx = [...te.labels.keys()].slice(0, testSize ?? te.labels.length);
    return { name, modality: 'image', labels: FASHION_MNIST_LABELS, pool: poolIdx.map((i) => ex(tr, i)), test: testIdx.map((i) => ex(te, i)) };
  }
  if (name === 'fine-foods') {
    const [tr, te] = fixture
      ? await Promise.all([loadFineFoodsFixture('train'), loadFineFoodsFixture('test')])
      : await Promise.all([loadFineFoods('train'), loadFineFoods('test')]);
    const ex = (d: typeof tr, i: number): Example => ({ data: { text: d.texts[i] }, label: d.labels[i] });
    const poolIdx = shuffle([...tr.labels.keys()], 7).slice(0, poolSize ?? tr.labels.length);
    const testIdx = [...te.labels.keys()].slice(0, testSize ?? te.labels.length);
    return { name, modality: 'text', labels: FINE_FOODS_LABELS, pool: poolIdx.map((i) => ex(tr, i)), test: testIdx.map((i) => ex(te, i)) };
  }
  throw new Error(`unknown dataset ${name}: fashion-mnist or fine-foods`);
}

/**
 * Project settings per arm; unknown arms fail fast. Any arm takes setting overrides after `+`, values as
 * JSON: `furrow+coldStartLabels=0`, `strategy:entropy+semiSupervised=false`.
 */
function armSettings(name: string): Record<string, unknown> {
  const [arm, ...overrides] = name.split('+');
  const extra = Object.fromEntries(
    overrides.map((o) => {
      const eq = o.indexOf('=');
      if (eq < 1) throw new Error(`arm ${name}: write overrides as +setting=value`);
      return [o.slice(0, eq), JSON.parse(o.slice(eq + 1))];
    }),
  );
  return { ...baseArmSettings(arm), ...extra };
}

function baseArmSettings(arm: string): Record<string, unknown> {
  if (arm === 'furrow') return {};
  if (arm === 'random') return { strategy: 'random' };
  if (arm === 'random-supervised') return { strategy: 'random', semiSupervised: false };
  if (arm === 'furrow-supervised') return { semiSupervised: false };
  if (arm.startsWith('strategy:')) return { strategy: arm.slice('strategy:'.length) };
  throw new Error(`unknown arm ${arm}`);
}

export interface CurvePoint {
  labels: number;
  accuracy: number;
  trainSeconds: number;
}

/** One arm, one seed: a fresh in-memory server, the oracle loop, the learning curve. */
async function runOne(
  ds: Dataset,
  arm: string,
  seed: number,
  checkpoints: number[],
  log: (m: string) => void,
): Promise<{ curve: CurvePoint[]; seconds: number }> {
  const t0 = performance.now();
  const h = await startHarness();
  try {
    const P = (
      await h.call('POST', '/api/projects', {
        name: `${ds.name}-${arm}-${seed}`,
        modality: ds.modality,
        labels: ds.labels,
        settings: { retrainEvery: 0, auditEvery: 0, goldFraction: 0, minLabelsToTrain: 2, seed, ...armSettings(arm) },
      })
    ).id;
    await h.ingest(
      P,
      ds.test.map((e, i) => ({ externalId: `t${i}`, split: 'gold', label: e.label, ...e.data })),
    );
    const ids = await h.ingest(
      P,
      ds.pool.map((e, i) => ({ externalId: `p${i}`, ...e.data })),
    );
    // The oracle knows each item's true label through its externalId.
    const truth = new Map([...ids].filter(([, ext]) => ext.startsWith('p')).map(([id, ext]) => [id, ds.pool[Number(ext.slice(1))].label]));
    log(`  ${arm} seed ${seed}: ${ds.pool.length} pool + ${ds.test.length} test items ingested (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
    const curve: CurvePoint[] = [];
    let labelled = 0;
    for (const target of checkpoints) {
      while (labelled < target) {
        const { items } = await h.call('GET', `/api/projects/${P}/queue?limit=${Math.min(100, target - labelled)}`);
        if (!items.length) throw new Error('the queue ran dry before the budget');
        for (const it of items) {
          await h.call('POST', `/api/projects/${P}/items/${it.id}/label`, { label: truth.get(it.id) });
          labelled++;
        }
      }
      const t1 = performance.now();
      await trainAndWait(h, P);
      const m = await h.call('GET', `/api/projects/${P}/metrics`);
      curve.push({ labels: labelled, accuracy: m.gold.accuracy, trainSeconds: Math.round((performance.now() - t1) / 100) / 10 });
      log(`  ${arm} seed ${seed}: ${labelled} labels → ${m.gold.accuracy}`);
    }
    return { curve, seconds: Math.round((performance.now() - t0) / 1000) };
  } finally {
    await h.close();
  }
}

function meanStd(xs: number[]) {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const std = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, xs.length - 1));
  return { mean: round(mean), std: round(std) };
}

/** Labels an arm needs to reach `target` accuracy (linear interpolation on its mean curve), or null. */
export function labelsToReach(curve: { labels: number; mean: number }[], target: number): number | null {
  for (let i = 0; i < curve.length; i++) {
    if (curve[i].mean >= target) {
      if (i === 0) return curve[0].labels;
      const a = curve[i - 1];
      const b = curve[i];
      return Math.round(a.labels + ((target - a.mean) / (b.mean - a.mean)) * (b.labels - a.labels));
    }
  }
  return null;
}

type Results = Record<string, { runs: { seed: number; curve: CurvePoint[]; seconds: number }[] }>;

/**
 * The runs of several earlier outputs (same dataset, checkpoints and sizes) as one result. A file may hold
 * other arms than the next (e.g. a re-run of one arm after a change that leaves the others as they were), but
 * in the end every arm must have the same seeds, each once.
 */
function mergeOutputs(files: string[]): { results: Results; checkpoints: number[]; seeds: number[]; poolSize: number; testSize: number } {
  const outs = files.map((f) => JSON.parse(fs.readFileSync(f, 'utf8')));
  const [head] = outs;
  for (const o of outs) {
    if (
      o.dataset !== args.dataset ||
      o.poolSize !== head.poolSize ||
      o.testSize !== head.testSize ||
      JSON.stringify(o.checkpoints) !== JSON.stringify(head.checkpoints)
    ) {
      throw new Error(`cannot merge: ${files.join(', ')} differ in dataset, sizes or checkpoints (or --dataset is not theirs)`);
    }
  }
  const results: Results = {};
  for (const o of outs) {
    const list: number[] = o.seedList ?? Array.from({ length: o.seeds }, (_, i) => i + 1);
    for (const [arm, curve] of Object.entries(o.curves as Record<string, { labels: number; runs: number[] }[]>)) {
      results[arm] ??= { runs: [] };
      for (const [r, seed] of list.entries()) {
        if (results[arm].runs.some((run) => run.seed === seed)) throw new Error(`arm ${arm}: seed ${seed} appears twice`);
        results[arm].runs.push({
          seed,
          curve: curve.map((p) => ({ labels: p.labels, accuracy: p.runs[r], trainSeconds: 0 })),
          seconds: o.summary[arm].secondsPerRun,
        });
      }
    }
  }
  const seedsOf = (arm: string) => results[arm].runs.map((r) => r.seed).sort((a, b) => a - b);
  const seeds = seedsOf(Object.keys(results)[0]);
  for (const arm of Object.keys(results)) {
    if (JSON.stringify(seedsOf(arm)) !== JSON.stringify(seeds)) throw new Error(`arm ${arm} has seeds ${seedsOf(arm)}, not ${seeds}`);
    results[arm].runs.sort((a, b) => a.seed - b.seed);
  }
  return { results, checkpoints: head.checkpoints, seeds, poolSize: head.poolSize, testSize: head.testSize };
}

async function main() {
  const dataset = args.dataset!;
  const budget = Number(args.budget ?? (dataset === 'fine-foods' ? 400 : 1000));
  const start = Number(args.start);
  const step = Number(args.step ?? (dataset === 'fine-foods' ? 20 : 50));
  const first = Number(args['first-seed']);
  let seeds = Array.from({ length: Number(args.seeds) }, (_, i) => i + first);
  const log = args.quiet ? () => {} : (m: string) => process.stderr.write(m + '\n');
  let checkpoints: number[] = [];
  for (let n = start; n < budget; n = n === start ? Math.ceil((start + 1) / step) * step : n + step) checkpoints.push(n);
  checkpoints.push(budget);

  const t0 = performance.now();
  let results: Results = {};
  let poolSize: number;
  let testSize: number;
  if (args.merge) {
    const merged = mergeOutputs(args.merge.split(','));
    ({ results, checkpoints, seeds, poolSize, testSize } = merged);
  } else {
    const data = await loadDataset(
      dataset,
      args.pool ? Number(args.pool) : dataset === 'fashion-mnist' ? 20_000 : undefined,
      args.test ? Number(args.test) : undefined,
      args.fixture!,
    );
    poolSize = data.pool.length;
    testSize = data.test.length;
    for (const arm of args
      .arms!.split(',')
      .map((a) => a.trim())
      .filter(Boolean)) {
      results[arm] = { runs: [] };
      for (const seed of seeds) results[arm].runs.push({ seed, ...(await runOne(data, arm, seed, checkpoints, log)) });
    }
  }
  const curves = Object.fromEntries(
    Object.entries(results).map(([arm, r]) => [
      arm,
      checkpoints.map((labels, i) => ({ labels, ...meanStd(r.runs.map((run) => run.curve[i].accuracy)), runs: r.runs.map((run) => run.curve[i].accuracy) })),
    ]),
  );
  const summary: Record<string, unknown> = {};
  for (const [arm, c] of Object.entries(curves)) {
    summary[arm] = {
      finalAccuracy: c[c.length - 1].mean,
      secondsPerRun: Math.round(results[arm].runs.reduce((a, r) => a + r.seconds, 0) / results[arm].runs.length),
    };
  }
  if (curves.furrow && curves.random) {
    const f = curves.furrow;
    const r = curves.random;
    (summary as any).furrowMinusRandom = f.map((p, i) => ({ labels: p.labels, delta: round(p.mean - r[i].mean) }));
    (summary as any).furrowNeverBelowRandom = f.every((p, i) => p.mean >= r[i].mean);
    const rFinal = r[r.length - 1].mean;
    (summary as any).labelsForRandomsFinalAccuracy = { random: budget, furrow: labelsToReach(f, rFinal), accuracy: rFinal };
  }
  const out = {
    benchmark: 'active-learning',
    dataset,
    poolSize,
    testSize,
    seeds: seeds.length,
    seedList: seeds,
    checkpoints,
    totalSeconds: Math.round((performance.now() - t0) / 1000),
    summary,
    curves,
  };
  fs.mkdirSync(args.out!, { recursive: true });
  const base = path.join(args.out!, `al-${dataset}`);
  fs.writeFileSync(`${base}.json`, JSON.stringify(out, null, 2));
  fs.writeFileSync(
    `${base}.svg`,
    renderCurvesSvg({ title: `${dataset}: test accuracy vs human labels (${seeds.length} seed${seeds.length > 1 ? 's' : ''}, mean ± sd)`, curves }),
  );
  process.stdout.write(JSON.stringify(out, null, 2) + '\n');
  log(`wrote ${base}.json and ${base}.svg`);
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
