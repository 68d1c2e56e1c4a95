/**
 * How well auto-labelling thresholds chosen on a small gold set hold on the pool, without the service around
 * it (minutes, where `bench:autolabel` takes hours): the image model is trained on `--labels` random
 * Fashion-MNIST train labels and predicts a pool of 20,000 other train images; then, `--resamples` times, a
 * random gold set of each `--gold` size is drawn from the pool, thresholds are chosen on it, and the rest of the
 * pool is auto-labelled with them and scored against the true labels. Side by side in one run:
 *  - `furrow`: planAutoLabel, the service's planner (global threshold, adjusted per class where the gold says so);
 *  - `global`: the one global threshold alone;
 *  - `oracle`: the most a single confidence threshold could auto-label at the target, chosen with the pool's
 *    true labels (what no planner can beat without a better model).
 * Prints JSON: per gold size and planner, the mean share of the pool auto-labelled, the mean real accuracy of the
 * auto labels, and how often it fell below the target (the bounds are one-sided 95% bounds, so about 5% at most).
 *
 *   npx tsx scripts/bench-autolabel-plan.ts [--labels 3000,6000] [--seeds 1] [--gold 300,600] [--resamples 60] [--target 0.95]
 */
import { parseArgs } from 'node:util';
import { initBackend } from '../models/backend.ts';
import { createClassifier } from '../models/classifier.ts';
import { createPrng } from '../models/prng.ts';
import { goldPreds, lowestSafeThreshold, MIN_GOLD_FOR_AUTOLABEL, passesThreshold, planAutoLabel } from '../pipelines/autolabel.ts';
import { FASHION_MNIST_LABELS, loadFashionMnist } from './lib/datasets.ts';
import { round } from './lib/round.ts';

const { values: args } = parseArgs({
  options: {
    labels: { type: 'string', default: '3000,6000' },
    seeds: { type: 'string', default: '1' },
    gold: { type: 'string', default: '300,600' },
    resamples: { type: 'string', default: '60' },
    target: { type: 'string', default: '0.95' },
    pool: { type: 'string', default: '20000' },
  },
});
const target = Number(args.target);
const level = 0.95;
const labels = [...FASHION_MNIST_LABELS];
const k = labels.length;
const list = (s: string) => s.split(',').map(Number);

type Planner = (probs: Float32Array, truth: Int32Array) => Record<string, number>;
const PLANNERS: Record<string, Planner> = {
  furrow: (probs, truth) => planAutoLabel(probs, truth, labels, { enabled: true, targetAccuracy: target, level }).thresholds,
  global: (probs, truth) => {
    const t = lowestSafeThreshold(goldPreds(probs, truth, k), target, level, MIN_GOLD_FOR_AUTOLABEL);
    return t ? Object.fromEntries(labels.map((l) => [l, t.threshold])) : {};
  },
};

const backend = await initBackend();
const train = await loadFashionMnist('train');
const runs = [];
for (const n of list(args.labels)) {
  for (let seed = 1; seed <= Number(args.seeds); seed++) {
    const prng = createPrng(seed * 31337);
    const rows = prng.shuffle(Int32Array.from({ length: train.labels.length }, (_, i) => i));
    const trainRows = rows.slice(0, n);
    const pool = rows.slice(n, n + Number(args.pool));
    const model = createClassifier({ modality: 'image', labels, width: 28, height: 28, channels: 1 }, seed);
    await model.fit(
      [...trainRows].map((i) => train.images[i]),
      Int32Array.from(trainRows, (i) => train.labels[i]),
      { seed },
    );
    const probs = await model.predictProba([...pool].map((i) => train.images[i]));
    model.dispose();
    const truth = Int32Array.from(pool, (i) => train.labels[i]);
    const all = goldPreds(probs, truth, k);
    process.stderr.write(`${n} labels, seed ${seed}: model trained, pool predicted\n`);

    // The oracle: the largest share above one confidence threshold whose real accuracy reaches the target.
    const sorted = [...all].sort((a, b) => b.confidence - a.confidence);
    let right = 0;
    let oracle = 0;
    sorted.forEach((p, i) => {
      if (p.correct) right++;
      if (right / (i + 1) >= target) oracle = i + 1;
    });

    const byGold: Record<string, Record<string, { coverage: number; realAccuracy: number; belowTarget: number }>> = {};
    for (const g of list(args.gold)) {
      const sums = Object.fromEntries(Object.keys(PLANNERS).map((p) => [p, { coverage: 0, realAccuracy: 0, belowTarget: 0 }]));
      const resamples = Number(args.resamples);
      for (let r = 0; r < resamples; r++) {
        const perm = createPrng(1000 * seed + r).shuffle(Int32Array.from({ length: pool.length }, (_, i) => i));
        const gold = perm.subarray(0, g);
        const rest = perm.subarray(g);
        const gp = new Float32Array(g * k);
        gold.forEach((i, j) => gp.set(probs.subarray(i * k, (i + 1) * k), j * k));
        const gt = Int32Array.from(gold, (i) => truth[i]);
        for (const [name, plan] of Object.entries(PLANNERS)) {
          const thresholds = plan(gp, gt);
          let chosen = 0;
          let ok = 0;
          for (const i of rest) {
            if (passesThreshold(thresholds, labels, all[i])) {
              chosen++;
              if (all[i].correct) ok++;
            }
          }
          const s = sums[name];
          s.coverage += chosen / rest.length / resamples;
          s.realAccuracy += (chosen ? ok / chosen : 1) / resamples;
          if (chosen && ok / chosen < target) s.belowTarget += 1 / resamples;
        }
      }
      byGold[`gold${g}`] = Object.fromEntries(
        Object.entries(sums).map(([name, s]) => [
          name,
          { coverage: round(s.coverage), realAccuracy: round(s.realAccuracy), belowTarget: round(s.belowTarget) },
        ]),
      );
    }
    const modelAccuracy = all.filter((p) => p.correct).length / all.length;
    runs.push({ labels: n, seed, modelAccuracy: round(modelAccuracy), oracleCoverage: round(oracle / all.length), ...byGold });
  }
}
process.stdout.write(
  JSON.stringify(
    { benchmark: 'autolabel-plan', dataset: 'fashion-mnist', backend, target, level, pool: Number(args.pool), resamples: Number(args.resamples), runs },
    null,
    2,
  ) + '\n',
);
