/**
 * Workforce-quality benchmark with seeded simulated annotators (no data is downloaded): every goal of issue 17,
 * each figure printed beside its goal and, where ../shared/workforce-quality.md §4.4 measured one, the reference.
 *  - consolidation: majority vote (ties as expected value) vs Dawid-Skene with one-coin shrinkage (Furrow's) and
 *    plain Dawid-Skene, on the documented scenarios (2,000 items, 3 labels per item);
 *  - adaptive overlap ("ask 2, add one until a label leads by 2, cap 5") vs a fixed 3 labels per item;
 *  - the pause rule over 100 seeded runs of 200 gold checks;
 *  - annotator accuracy estimates (EM, no gold) at ~200 labels each, 3x overlap;
 *  - a full consolidation of 100,000 labels (10 classes, 1,000 annotators): indexing, EM and agreement, timed;
 *  - new item or another label: a fixed budget of labels spent by expected gain vs the adaptive half-batch rule,
 *    delivered-label accuracy per label (simulateBudget).
 * Prints JSON and writes bench/results/quality.json.
 *
 *   npm run bench:quality [-- --seeds 10] [--runs 100] [--out bench/results/quality.json]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { createPrng } from '../models/prng.ts';
import { agreement } from '../pipelines/quality/agreement.ts';
import { accuracyAgainst, dawidSkene, majorityVoteExpectedAccuracy } from '../pipelines/quality/consolidate.ts';
import { annotatorStatus, DEFAULT_PAUSE_RULE, type PauseRule } from '../pipelines/quality/gold.ts';
import { DEFAULT_ANNOTATOR_ACCURACY, MIN_RELABEL_GAIN, newItemGain, oneCoinPosterior, relabelGain } from '../pipelines/quality/gain.ts';
import { needsAnotherLabel } from '../pipelines/quality/overlap.ts';
import { type ScenarioName, scenario, simulate, simulateAdaptive, simulateBudget, uniformPool } from '../pipelines/quality/simulate.ts';
import { indexVotes, type LabelRow } from '../pipelines/quality/votes.ts';
import { round } from './lib/round.ts';

const { values: args } = parseArgs({
  options: {
    seeds: { type: 'string', default: '10' },
    runs: { type: 'string', default: '100' },
    out: { type: 'string', default: 'bench/results/quality.json' },
  },
});
const seedCount = Number(args.seeds);
const seeds = Array.from({ length: seedCount }, (_, i) => i + 1);
const runs = Number(args.runs);
const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
const pts = (x: number) => round(100 * x, 2);

// 1. Consolidation on the documented scenarios.
const REFERENCE: Record<ScenarioName, { mv: number; dsShrink: number | null; ds: number }> = {
  'homogeneous-3': { mv: 0.906, dsShrink: null, ds: 0.904 },
  'pool10-binary': { mv: 0.885, dsShrink: 0.884, ds: 0.884 },
  clickers: { mv: 0.815, dsShrink: 0.863, ds: 0.861 },
  'blind-spot': { mv: 0.929, dsShrink: 0.97, ds: 0.97 },
  sparse: { mv: 0.924, dsShrink: 0.926, ds: 0.86 },
  'skill-spread': { mv: 0.834, dsShrink: 0.854, ds: 0.852 },
};
/** Goal: consolidated - majority >= this many points. */
const GOAL_GAIN: Record<ScenarioName, number | null> = {
  'homogeneous-3': -0.5,
  'pool10-binary': null,
  clickers: 4,
  'blind-spot': 3.5,
  sparse: -0.5,
  'skill-spread': 2,
};
const consolidation: Record<string, unknown> = {};
for (const name of Object.keys(REFERENCE) as ScenarioName[]) {
  const mv: number[] = [];
  const ds: number[] = [];
  const plain: number[] = [];
  for (const seed of seeds) {
    const sim = simulate(scenario(name, seed));
    mv.push(majorityVoteExpectedAccuracy(sim.votes, sim.truth));
    ds.push(accuracyAgainst(dawidSkene(sim.votes).label, sim.truth));
    plain.push(accuracyAgainst(dawidSkene(sim.votes, { shrink: 0 }).label, sim.truth));
  }
  const gainPts = pts(mean(ds) - mean(mv));
  const ref = REFERENCE[name];
  const goal = GOAL_GAIN[name];
  consolidation[name] = {
    seeds: seeds.length,
    majority: round(mean(mv)),
    consolidated: round(mean(ds)),
    plainDawidSkene: round(mean(plain)),
    gainPoints: gainPts,
    goal: goal === null ? null : `consolidated >= majority ${goal >= 0 ? '+' : '-'} ${Math.abs(goal)} pts`,
    met: goal === null ? null : gainPts >= goal,
    reference: ref,
    differenceFromReferencePoints: ref.dsShrink === null ? null : pts(mean(ds) - ref.dsShrink),
  };
}

// 2. Adaptive overlap.
{
  const fixedMv: number[] = [];
  const fixedDs: number[] = [];
  const adMv: number[] = [];
  const adDs: number[] = [];
  const perItem: number[] = [];
  for (const seed of seeds) {
    const pool = uniformPool(createPrng(seed * 7919 + 17), 10, 0.7, 0.9);
    const fixed = simulate({ seed, items: 2000, classes: 2, pool, labelsPerItem: 3 });
    fixedMv.push(majorityVoteExpectedAccuracy(fixed.votes, fixed.truth));
    fixedDs.push(accuracyAgainst(dawidSkene(fixed.votes).label, fixed.truth));
    const ad = simulateAdaptive({ seed, items: 2000, classes: 2, pool, needsAnother: (c) => needsAnotherLabel(c) });
    adMv.push(majorityVoteExpectedAccuracy(ad.votes, ad.truth));
    adDs.push(accuracyAgainst(dawidSkene(ad.votes).label, ad.truth));
    perItem.push(ad.votes.item.length / ad.votes.items);
  }
  consolidation.adaptiveOverlap = {
    seeds: seeds.length,
    fixed3: { majority: round(mean(fixedMv)), consolidated: round(mean(fixedDs)), reference: 0.894 },
    adaptive: {
      majority: round(mean(adMv)),
      consolidated: round(mean(adDs)),
      labelsPerItem: round(mean(perItem), 3),
      reference: { accuracy: 0.926, labelsPerItem: 2.74 },
    },
    goal: 'adaptive >= 0.92 at <= 2.8 labels per item',
    met: mean(adDs) >= 0.92 && mean(perItem) <= 2.8,
  };
}

// 3. The pause rule: `runs` seeded runs of 200 gold checks per simulated annotator.
function pauseFigures(rule: PauseRule) {
  const checks = 200;
  const run = (accuracy: number, seed: number) => {
    const rng = createPrng(seed);
    return annotatorStatus(
      Array.from({ length: checks }, () => rng.next() < accuracy),
      rule,
    ).pausedAtCheck;
  };
  const clicker = (accuracy: number, offset: number) => {
    const at = Array.from({ length: runs }, (_, r) => run(accuracy, offset + r));
    const paused = at.filter((x): x is number => x !== null).sort((a, b) => a - b);
    return {
      pausedWithin30: round(at.filter((x) => x !== null && x <= 30).length / runs, 3),
      pausedWithin60: round(at.filter((x) => x !== null && x <= 60).length / runs, 3),
      medianChecksToPause: paused.length ? paused[Math.floor(paused.length / 2)] : null,
      worstChecksToPause: paused.length === runs ? paused[paused.length - 1] : null,
    };
  };
  const wrongly = (accuracy: number) => round(Array.from({ length: runs }, (_, r) => run(accuracy, 1_000_000 + r)).filter((x) => x !== null).length / runs, 3);
  return {
    rule,
    randomClicker4Classes: clicker(0.25, 1),
    randomClicker2Classes: clicker(0.5, 1),
    wronglyPausedAt075: wrongly(0.75),
    wronglyPausedAt080: wrongly(0.8),
  };
}
const pause = pauseFigures(DEFAULT_PAUSE_RULE);
const pauseWith95 = pauseFigures({ ...DEFAULT_PAUSE_RULE, z: 1.96 });
const pauseResult = {
  runs,
  goldChecksPerRun: 200,
  furrow: pause,
  sameRuleWith95PercentInterval: pauseWith95,
  goal: 'a random clicker paused within 30 gold checks; accuracy >= 0.75 wrongly paused in <= 1% of runs',
  met: pause.randomClicker4Classes.pausedWithin30 === 1 && pause.wronglyPausedAt075 <= 0.01,
  note: 'A 2-class random clicker (accuracy 0.5) cannot be paused within 30 checks in every run at a 1% false-pause rate: at n = 30 the best fixed test still misses ~30% of them.',
};

// 4. Annotator accuracy estimates at ~200 labels each, 3x overlap (no gold).
const mae: { vsTrue: number; vsRealised: number }[] = [];
let labelsEach = 0;
for (const seed of seeds) {
  const pool = uniformPool(createPrng(seed), 30, 0.7, 0.9);
  const sim = simulate({ seed, items: 2000, classes: 2, pool, labelsPerItem: 3 });
  const fit = dawidSkene(sim.votes);
  let e = 0;
  let r = 0;
  pool.forEach((p, a) => {
    if (p.kind === 'uniform') e += Math.abs(fit.accuracy[a] - p.accuracy);
    r += Math.abs(fit.accuracy[a] - sim.realisedAccuracy[a]);
  });
  mae.push({ vsTrue: e / pool.length, vsRealised: r / pool.length });
  labelsEach += sim.votes.item.length / pool.length / seeds.length;
}
const accuracyEstimates = {
  seeds: seeds.length,
  setting: '2 classes, 30 annotators at U(0.7, 0.9), 2,000 items x 3 labels',
  labelsPerAnnotator: round(labelsEach, 1),
  maeVsTrueAccuracy: round(mean(mae.map((m) => m.vsTrue))),
  maeVsRealisedAccuracy: round(mean(mae.map((m) => m.vsRealised))),
  worstSeedVsTrue: round(Math.max(...mae.map((m) => m.vsTrue))),
  goal: 'MAE <= 0.035 vs the truth',
  met: mean(mae.map((m) => m.vsTrue)) <= 0.035,
};

// 5. A full consolidation of 100,000 labels, 10 classes, 1,000 annotators (from label rows, as the job does).
const K = 10;
const pool = uniformPool(createPrng(42), 1000, 0.7, 0.9);
const big = simulate({ seed: 42, items: 33_334, classes: K, pool, labelsPerItem: 3 });
const classNames = Array.from({ length: K }, (_, k) => `c${k}`);
const rows: LabelRow[] = Array.from(big.votes.item, (i, j) => ({
  itemId: `item-${i}`,
  annotatorId: `key-${big.votes.annotator[j]}`,
  label: classNames[big.votes.label[j]],
}));
const timings: { index: number; em: number; agreement: number; total: number; cpu: number; iterations: number }[] = [];
for (let rep = 0; rep < 3; rep++) {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const indexed = indexVotes(rows, classNames);
  const t1 = performance.now();
  const fit = dawidSkene(indexed.votes);
  const t2 = performance.now();
  agreement(indexed.votes);
  const t3 = performance.now();
  const cpu = process.cpuUsage(cpu0);
  timings.push({ index: t1 - t0, em: t2 - t1, agreement: t3 - t2, total: t3 - t0, cpu: (cpu.user + cpu.system) / 1000, iterations: fit.iterations });
}
timings.sort((a, b) => a.total - b.total);
const median = timings[1];
const speed = {
  labels: rows.length,
  classes: K,
  annotators: pool.length,
  medianOf3Ms: { indexRows: round(median.index, 0), dawidSkene: round(median.em, 0), agreement: round(median.agreement, 0), total: round(median.total, 0) },
  // The wall clock of a shared machine counts other processes' time; CPU time is this process's own work.
  cpuMsOfThatRun: round(median.cpu, 0),
  emIterations: median.iterations,
  goal: '< 3 s',
  met: median.total < 3000,
  metOnCpuTime: median.cpu < 3000,
};

// 6. New item or another label: a fixed budget of labels on 2,000 model-scored items (simulateBudget).
const allocation: Record<string, unknown> = {};
for (const [name, lo, hi] of [
  ['pool10-0.7-0.9', 0.7, 0.9],
  ['pool10-0.55-0.95', 0.55, 0.95],
] as const)
  for (const budget of [1000, 3000, 6000]) {
    const row: Record<string, unknown> = {};
    let modelOnly = 0;
    for (const policy of ['adaptive-half', 'expected-gain'] as const) {
      const r = seeds.map((seed) =>
        simulateBudget({
          seed,
          items: 2000,
          pool: uniformPool(createPrng(seed * 7919 + 17), 10, lo, hi),
          budget,
          batch: 10,
          cap: 5,
          policy,
          // The queue's own functions, with the accuracy it assumes before a fit (0.8).
          newGain: (c) => newItemGain(c, 2, DEFAULT_ANNOTATOR_ACCURACY),
          relabelGain: (c, n) => {
            const g = relabelGain(oneCoinPosterior(c, DEFAULT_ANNOTATOR_ACCURACY), n, { accuracy: DEFAULT_ANNOTATOR_ACCURACY, classes: 2, cap: 5 });
            return g >= MIN_RELABEL_GAIN ? g : 0;
          },
          needsAnother: (c, shares) => needsAnotherLabel(c, undefined, shares),
        }),
      );
      modelOnly = mean(r.map((x) => x.modelOnly));
      const final = mean(r.map((x) => x.finalAccuracy));
      row[policy] = {
        finalAccuracy: round(final),
        labelledItemAccuracy: round(mean(r.map((x) => x.labelledAccuracy))),
        labelledItems: round(mean(r.map((x) => x.labelledItems)), 1),
        labelsPerLabelledItem: round(budget / mean(r.map((x) => x.labelledItems)), 3),
        wrongLabelsAvoidedPer100Labels: round((100 * (final - modelOnly) * 2000) / budget, 2),
      };
    }
    allocation[`${name}/budget-${budget}`] = { seeds: seeds.length, modelOnly: round(modelOnly), ...row };
  }
const newOrAnother = {
  setting:
    '2 classes, 2,000 items scored by a calibrated model (confidence 0.5 + 0.5 sqrt(U), mean 0.83, not retrained), pool of 10 annotators, batches of 10, cap 5; an unlabelled item keeps the model label, a labelled one its majority (ties 1/2)',
  results: allocation,
};

const result = {
  consolidation,
  pauseRule: pauseResult,
  annotatorAccuracy: accuracyEstimates,
  fullConsolidation: speed,
  newItemOrAnotherLabel: newOrAnother,
  node: process.version,
};
const json = JSON.stringify(result, null, 2);
console.log(json);
mkdirSync(dirname(args.out), { recursive: true });
writeFileSync(args.out, `${json}\n`);
