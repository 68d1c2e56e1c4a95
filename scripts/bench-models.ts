/**
 * The model benchmark (issue 13): Furrow's default against Furrow with random sampling and against the
 * scikit-learn peer (scripts/bench-peer.py, Debian's python3-sklearn), on the tasks `npm run bench:data` builds.
 *
 * Protocol, the same for every arm: the same 20 random pool items labelled first (drawn from the seed), then
 * batches of 10 picked by the arm's queue and answered by an oracle, the model refitted after the 20 start
 * labels and at every budget (and every `--refit-every` labels if set: 0, the default, means only at budgets,
 * which keeps Furrow's tfjs training affordable on two cores), and scored on the task's test set at each budget. Furrow runs as a user would run it: a fresh in-process server (scripts/lib/harness.ts),
 * a project with default settings (only the image geometry a user must state, automatic retraining and audits
 * off so training happens at exactly these points), the test set imported as gold, labels through the API.
 *
 *   npm run bench:models                                          # every task, arms, 3 seeds
 *   npm run bench:models -- --tasks manpages,glyphs --seeds 1 --arms furrow,furrow-random
 *   npm run bench:models -- --arms peer-margin,peer-random        # the peer only (fast)
 *   npm run bench:models -- --retrain-time --arms none            # only the retrain time at 1,000 labels
 *   npm run bench:models -- --report                              # tables and plots from the saved JSON
 *
 * Arms: `furrow` (default settings), `furrow-random` (strategy random), `peer-margin`, `peer-random` (with
 * `--peer-c X`, the peer's LogisticRegression uses C = X instead of scikit-learn's default 1, as arms `peer-*-CX`).
 * Results are merged into bench/results/models-<task>.json (a run replaces the same arm and seed), with
 * models-<task>.md (table) and models-<task>.svg (plot), and bench/results/models-summary.md for all tasks.
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { BENCH_TASKS, type BenchTask, benchDataDir, findTask, readTaskSplit, type TaskRow } from './lib/bench-tasks.ts';
import { startHarness, trainAndWait } from './lib/harness.ts';
import { renderCurvesSvg } from './lib/plot.ts';
import { round } from './lib/round.ts';
import { shuffle } from './lib/sampling.ts';

const { values: args } = parseArgs({
  options: {
    tasks: { type: 'string', default: BENCH_TASKS.map((t) => t.name).join(',') },
    seeds: { type: 'string', default: '1,2,3' },
    arms: { type: 'string', default: 'furrow,furrow-random,peer-margin,peer-random' },
    budgets: { type: 'string' },
    'refit-every': { type: 'string', default: '0' },
    'peer-c': { type: 'string', default: '1' },
    'retrain-time': { type: 'boolean', default: false },
    out: { type: 'string', default: 'bench/results' },
    data: { type: 'string' },
    report: { type: 'boolean', default: false },
    quiet: { type: 'boolean', default: false },
  },
});

const START = 20;
const BATCH = 10;
const PYTHON = process.env.FURROW_BENCH_PYTHON || '/usr/bin/python3';
const DATA = args.data ?? benchDataDir();
const log = args.quiet ? () => {} : (m: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${m}\n`);

interface Point {
  labels: number;
  accuracy: number;
  trainSeconds?: number;
}
interface Run {
  seed: number;
  curve: Point[];
  seconds: number;
  /** Furrow: what trained the last version (GET /models), so a result says which default it measured. */
  model?: unknown;
  /** Set while a run is under way (or if it was cut off): its curve stops before the last budget. */
  partial?: boolean;
}
interface TaskResult {
  benchmark: 'models';
  task: string;
  description: string;
  modality: string;
  poolSize: number;
  testSize: number;
  projectSettings: Record<string, unknown>;
  protocol: { startLabels: number; batch: number; refitEvery: number; budgets: number[] };
  arms: Record<string, ArmEntry>;
  retrainAt1000?: { seconds: number; commit?: string; date: string; model?: unknown };
}

/** The 20 pool items every arm of a seed labels first. */
export function startIndices(poolSize: number, seed: number): number[] {
  return shuffle(
    Array.from({ length: poolSize }, (_, i) => i),
    1_000_003 * seed + 17,
  ).slice(0, START);
}

function gitCommit(): string | undefined {
  try {
    return (
      execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim() +
      (execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8' }).trim() ? '+dirty' : '')
    );
  } catch {
    return undefined;
  }
}

function itemData(r: TaskRow): Record<string, unknown> {
  return r.text !== undefined ? { text: r.text } : { image: r.image };
}

function labelsOf(pool: TaskRow[], test: TaskRow[]): string[] {
  return [...new Set([...pool, ...test].map((r) => r.label))].sort();
}

/** Creates the project a new user would (defaults, gold imported) and ingests; returns ids by pool index. */
async function setUp(
  h: Awaited<ReturnType<typeof startHarness>>,
  task: BenchTask,
  pool: TaskRow[],
  test: TaskRow[],
  name: string,
  settings: Record<string, unknown>,
) {
  const P = (
    await h.call('POST', '/api/projects', { name, modality: task.modality, labels: labelsOf(pool, test), settings: { ...task.projectSettings, ...settings } })
  ).id as string;
  await h.ingest(
    P,
    test.map((r, i) => ({ externalId: `t${i}`, split: 'gold', label: r.label, ...itemData(r) })),
  );
  const ids = await h.ingest(
    P,
    pool.map((r, i) => ({ externalId: `p${i}`, ...itemData(r) })),
  );
  const idOf: string[] = [];
  const indexOf = new Map<string, number>();
  for (const [id, ext] of ids) {
    if (!ext.startsWith('p')) continue;
    idOf[Number(ext.slice(1))] = id;
    indexOf.set(id, Number(ext.slice(1)));
  }
  return { P, idOf, indexOf };
}

/** Settings of a Furrow arm: defaults, except the training schedule the protocol fixes. */
function furrowSettings(arm: string, seed: number): Record<string, unknown> {
  const fixed = { retrainEvery: 0, auditEvery: 0, goldFraction: 0, seed };
  if (arm === 'furrow') return fixed;
  if (arm === 'furrow-random') return { ...fixed, strategy: 'random' };
  throw new Error(`unknown arm ${arm}`);
}

async function runFurrow(
  task: BenchTask,
  pool: TaskRow[],
  test: TaskRow[],
  arm: string,
  seed: number,
  budgets: number[],
  refitEvery: number,
  onPoint: (r: Run) => void,
): Promise<Run> {
  const t0 = performance.now();
  const h = await startHarness();
  try {
    const { P, idOf, indexOf } = await setUp(h, task, pool, test, `${task.name}-${arm}-${seed}`, furrowSettings(arm, seed));
    log(`${task.name} ${arm} seed ${seed}: ${pool.length} pool + ${test.length} gold ingested (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
    const label = (i: number) => h.call('POST', `/api/projects/${P}/items/${idOf[i]}/label`, { label: pool[i].label });
    for (const i of startIndices(pool.length, seed)) await label(i);
    let labelled = START;
    let lastFit = -1;
    const curve: Point[] = [];
    const max = budgets[budgets.length - 1];
    for (;;) {
      const atBudget = budgets.includes(labelled);
      if (atBudget || lastFit < 0 || (refitEvery > 0 && labelled - lastFit >= refitEvery)) {
        const t1 = performance.now();
        await trainAndWait(h, P);
        lastFit = labelled;
        const trainSeconds = round((performance.now() - t1) / 1000, 1);
        if (atBudget) {
          const m = await h.call('GET', `/api/projects/${P}/metrics`);
          curve.push({ labels: labelled, accuracy: m.gold.accuracy, trainSeconds });
          log(`${task.name} ${arm} seed ${seed}: ${labelled} labels -> ${m.gold.accuracy} (train ${trainSeconds} s)`);
          // Saved at every point, marked partial, so a run cut off by a deadline still leaves its curve so far.
          onPoint({ seed, curve: [...curve], seconds: Math.round((performance.now() - t0) / 1000), partial: true });
        }
      }
      if (labelled >= max) break;
      const next = Math.min(...budgets.filter((b) => b > labelled));
      const want = Math.min(BATCH, next - labelled);
      const { items } = await h.call('GET', `/api/projects/${P}/queue?limit=${want}`);
      if (!items.length) throw new Error(`${task.name} ${arm}: the queue ran dry at ${labelled} labels`);
      for (const it of items) {
        const i = indexOf.get(it.id);
        if (i === undefined) throw new Error(`queue returned an item that is not in the pool: ${it.id}`);
        await label(i);
        labelled++;
      }
    }
    const model = await lastModel(h, P);
    return { seed, curve, seconds: Math.round((performance.now() - t0) / 1000), model };
  } finally {
    await h.close();
  }
}

async function lastModel(h: Awaited<ReturnType<typeof startHarness>>, P: string): Promise<unknown> {
  try {
    const res = await h.call('GET', `/api/projects/${P}/models`);
    const list = (res.models ?? res.versions ?? res) as any[];
    const v = Array.isArray(list) ? list[0] : list;
    if (!v || typeof v !== 'object') return undefined;
    // Keep the descriptive fields only (no weights, no per-class arrays).
    return Object.fromEntries(
      Object.entries(v).filter(([, x]) => x === null || typeof x !== 'object' || (!Array.isArray(x) && Object.keys(x as object).length <= 12)),
    );
  } catch {
    return undefined;
  }
}

/** One training on 1,000 random human labels, timed: issue 13's retrain budget. */
async function retrainTime(task: BenchTask, pool: TaskRow[], test: TaskRow[]): Promise<{ seconds: number; model?: unknown }> {
  const h = await startHarness();
  try {
    const { P, idOf } = await setUp(h, task, pool, test, `${task.name}-retrain`, { retrainEvery: 0, auditEvery: 0, goldFraction: 0 });
    for (const i of shuffle(
      Array.from({ length: pool.length }, (_, k) => k),
      99,
    ).slice(0, 1000)) {
      await h.call('POST', `/api/projects/${P}/items/${idOf[i]}/label`, { label: pool[i].label });
    }
    const t1 = performance.now();
    await trainAndWait(h, P);
    const seconds = round((performance.now() - t1) / 1000, 1);
    log(`${task.name}: retrain at 1,000 labels took ${seconds} s`);
    return { seconds, model: await lastModel(h, P) };
  } finally {
    await h.close();
  }
}

async function runPeer(
  task: BenchTask,
  poolSize: number,
  arms: string[],
  seeds: number[],
  budgets: number[],
  refitEvery: number,
): Promise<Record<string, Run[]>> {
  const spec = {
    dataDir: DATA,
    task: task.name,
    modality: task.modality,
    channels: task.projectSettings.channels ?? 1,
    size: task.projectSettings.channels === 3 ? 32 : 28,
    budgets,
    arms,
    batch: BATCH,
    refitEvery,
    C: Number(args['peer-c']),
    runs: seeds.map((seed) => ({ seed, start: startIndices(poolSize, seed) })),
  };
  const script = path.join(path.dirname(new URL(import.meta.url).pathname), 'bench-peer.py');
  const child = spawn(PYTHON, [script], { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, OMP_NUM_THREADS: '1', OPENBLAS_NUM_THREADS: '1' } });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stdin.end(JSON.stringify(spec));
  const code: number = await new Promise((r) => child.on('close', r));
  if (code !== 0)
    throw new Error(`${PYTHON} bench-peer.py exited with ${code} (Debian's python3-sklearn installed? FURROW_BENCH_PYTHON overrides the interpreter)`);
  return JSON.parse(out).arms;
}

function resultPath(task: string, ext: string) {
  return path.join(args.out!, `models-${task}.${ext}`);
}

function meanStd(xs: number[]) {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const std = xs.length > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1)) : 0;
  return { mean: round(mean), std: round(std) };
}

type ArmEntry = { runs: Run[]; commit?: string; date?: string };

/** Mean curve of an arm over its seeds (budgets every run has). */
function meanCurve(entry: ArmEntry, budgets: number[]) {
  return budgets
    .filter((b) => entry.runs.every((r) => r.curve.some((p) => p.labels === b)))
    .map((labels) => {
      const accs = entry.runs.map((r) => r.curve.find((p) => p.labels === labels)!.accuracy);
      return { labels, ...meanStd(accs), runs: accs };
    });
}

function renderTable(res: TaskResult): string {
  const arms = Object.keys(res.arms);
  const curves = Object.fromEntries(arms.map((a) => [a, meanCurve(res.arms[a] as ArmEntry, res.protocol.budgets)]));
  const seedsOf = (a: string) =>
    (res.arms[a] as ArmEntry).runs
      .map((r) => r.seed)
      .sort((x, y) => x - y)
      .join(',');
  const lines = [
    `### ${res.task}: ${res.description}`,
    '',
    `pool ${res.poolSize}, test ${res.testSize}; 20 random start labels, batches of ${res.protocol.batch}, refit ${res.protocol.refitEvery > 0 ? `every ${res.protocol.refitEvery} labels and ` : ''}after the start labels and at each budget; mean test accuracy (± sd over seeds).`,
    '',
    `| labels | ${arms.map((a) => `${a} (seeds ${seedsOf(a)})`).join(' | ')} |`,
    `|---|${arms.map(() => '---').join('|')}|`,
  ];
  for (const b of res.protocol.budgets) {
    const cells = arms.map((a) => {
      const p = curves[a].find((x) => x.labels === b);
      return p ? (p.runs.length > 1 ? `${p.mean.toFixed(3)} ± ${p.std.toFixed(3)}` : p.mean.toFixed(3)) : 'not run';
    });
    lines.push(`| ${b} | ${cells.join(' | ')} |`);
  }
  if (res.retrainAt1000)
    lines.push(
      '',
      `Retrain at 1,000 labels (Furrow default, one training, shared machine): ${res.retrainAt1000.seconds} s (commit ${res.retrainAt1000.commit ?? '?'}).`,
    );
  const f = res.arms.furrow as ArmEntry | undefined;
  if (f?.runs.length)
    lines.push(
      '',
      `Furrow arms measured at commit ${f.commit ?? '?'}; seconds per Furrow default run: ${Math.round(f.runs.reduce((a, r) => a + r.seconds, 0) / f.runs.length)}.`,
    );
  return lines.join('\n') + '\n';
}

function writeOutputs(res: TaskResult) {
  fs.mkdirSync(args.out!, { recursive: true });
  fs.writeFileSync(resultPath(res.task, 'json'), JSON.stringify(res, null, 2) + '\n');
  fs.writeFileSync(resultPath(res.task, 'md'), renderTable(res));
  const curves = Object.fromEntries(
    Object.entries(res.arms)
      .map(([a, e]) => [a, meanCurve(e as ArmEntry, res.protocol.budgets)])
      .filter(([, c]) => (c as unknown[]).length > 0),
  );
  if (Object.keys(curves).length)
    fs.writeFileSync(
      resultPath(res.task, 'svg'),
      renderCurvesSvg({ title: `${res.task}: test accuracy vs human labels (mean ± sd over seeds)`, curves: curves as any }),
    );
}

function writeSummary() {
  const parts = ['# Model benchmark results (generated by `npm run bench:models`)', ''];
  for (const t of BENCH_TASKS) {
    const f = resultPath(t.name, 'json');
    if (fs.existsSync(f)) parts.push(renderTable(JSON.parse(fs.readFileSync(f, 'utf8'))));
    else parts.push(`### ${t.name}: not run`, '');
  }
  fs.writeFileSync(path.join(args.out!, 'models-summary.md'), parts.join('\n'));
}

function load(task: BenchTask, poolSize: number, testSize: number, budgets: number[], refitEvery: number): TaskResult {
  const f = resultPath(task.name, 'json');
  const fresh: TaskResult = {
    benchmark: 'models',
    task: task.name,
    description: task.description,
    modality: task.modality,
    poolSize,
    testSize,
    projectSettings: task.projectSettings,
    protocol: { startLabels: START, batch: BATCH, refitEvery, budgets },
    arms: {},
  };
  if (!fs.existsSync(f)) return fresh;
  const old = JSON.parse(fs.readFileSync(f, 'utf8')) as TaskResult;
  const same = old.poolSize === poolSize && old.testSize === testSize && old.protocol.refitEvery === refitEvery && old.protocol.batch === BATCH;
  if (!same) {
    log(`${f}: other sizes or protocol; starting it afresh`);
    return fresh;
  }
  old.protocol.budgets = [...new Set([...old.protocol.budgets, ...budgets])].sort((a, b) => a - b);
  return old;
}

function merge(res: TaskResult, arm: string, runs: Run[], commit: string | undefined) {
  const entry = (res.arms[arm] as ArmEntry | undefined) ?? { runs: [] };
  const seeds = new Set(runs.map((r) => r.seed));
  entry.runs = [...entry.runs.filter((r) => !seeds.has(r.seed)), ...runs].sort((a, b) => a.seed - b.seed);
  entry.commit = commit;
  entry.date = new Date().toISOString();
  res.arms[arm] = entry;
}

async function main() {
  const tasks = args.tasks!.split(',').map((t) => findTask(t.trim()));
  if (args.report) {
    for (const t of tasks) if (fs.existsSync(resultPath(t.name, 'json'))) writeOutputs(JSON.parse(fs.readFileSync(resultPath(t.name, 'json'), 'utf8')));
    writeSummary();
    return;
  }
  const seeds = args.seeds!.split(',').map(Number);
  const arms = args
    .arms!.split(',')
    .map((a) => a.trim())
    .filter((a) => a && a !== 'none');
  for (const a of arms) if (!['furrow', 'furrow-random', 'peer-margin', 'peer-random'].includes(a)) throw new Error(`unknown arm ${a}`);
  const refitEvery = Number(args['refit-every']);
  const commit = gitCommit();
  for (const task of tasks) {
    const pool = readTaskSplit(task.name, 'train', DATA);
    const test = readTaskSplit(task.name, 'test', DATA);
    const budgets = args.budgets ? args.budgets.split(',').map(Number) : task.budgets;
    const res = load(task, pool.length, test.length, budgets, refitEvery);
    // Other bench:models processes may be writing other arms of this task: re-read the file and put only this
    // process's arms (and retrain time) on top of it.
    const touched = new Set<string>();
    const save = () => {
      const disk = load(task, pool.length, test.length, budgets, refitEvery);
      for (const a of touched) disk.arms[a] = res.arms[a];
      if (res.retrainAt1000) disk.retrainAt1000 = res.retrainAt1000;
      writeOutputs(disk);
      writeSummary();
    };
    const peerArms = arms.filter((a) => a.startsWith('peer-')).map((a) => a.slice(5));
    if (peerArms.length) {
      const t0 = performance.now();
      const out = await runPeer(task, pool.length, peerArms, seeds, budgets, refitEvery);
      // scikit-learn's default C is 1; another C is a separate arm, named for it.
      const suffix = Number(args['peer-c']) === 1 ? '' : `-C${args['peer-c']}`;
      for (const a of peerArms) {
        merge(res, `peer-${a}${suffix}`, out[a], undefined);
        touched.add(`peer-${a}${suffix}`);
      }
      log(`${task.name}: peer done (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
      save();
    }
    for (const arm of arms.filter((a) => !a.startsWith('peer-'))) {
      for (const seed of seeds) {
        const run = await runFurrow(task, pool, test, arm, seed, budgets, refitEvery, (partial) => {
          merge(res, arm, [partial], commit);
          touched.add(arm);
          save();
        });
        merge(res, arm, [run], commit);
        save();
      }
    }
    if (args['retrain-time']) {
      res.retrainAt1000 = { ...(await retrainTime(task, pool, test)), commit, date: new Date().toISOString() };
      save();
    }
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
