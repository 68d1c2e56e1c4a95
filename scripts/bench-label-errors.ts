/**
 * Label-error detection rules compared on Fashion-MNIST with known flips: a seeded random sample of the train
 * split, `--flip` of its labels changed to another class at random, out-of-sample probabilities from k-fold
 * cross-validation with the service's image model (as pipelines/audit.ts computes them), then precision and
 * recall of each rule on the flipped labels. Prints JSON.
 *
 *   npx tsx scripts/bench-label-errors.ts [--labels 3000] [--flip 0.05] [--folds 4] [--seeds 1] [--repeats 2]
 *
 * With --repeats R > 1 the cross-validation is repeated R times (other folds, other seeds) and each rule is also
 * scored on the mean of the R out-of-sample probabilities (`rulesMeanOfRepeats`), beside the first repeat alone.
 */
import { parseArgs } from 'node:util';
import { initBackend } from '../models/backend.ts';
import { createClassifier } from '../models/classifier.ts';
import { createPrng } from '../models/prng.ts';
import { crossValidationFolds, findLabelIssues, type LabelIssueOptions } from '../pipelines/label-errors.ts';
import { FASHION_MNIST_LABELS, loadFashionMnist } from './lib/datasets.ts';
import { round } from './lib/round.ts';

const { values: args } = parseArgs({
  options: {
    labels: { type: 'string', default: '3000' },
    flip: { type: 'string', default: '0.05' },
    folds: { type: 'string', default: '4' },
    seeds: { type: 'string', default: '1' },
    repeats: { type: 'string', default: '1' },
  },
});
const n = Number(args.labels);
const folds = Number(args.folds);
const k = FASHION_MNIST_LABELS.length;
const RULES: Record<string, LabelIssueOptions> = {
  'confident-joint': { farBelow: 1 },
  'confident-joint, p(given) < 0.5 t': { farBelow: 0.5 },
  'confident-joint, p(given) < 0.25 t': { farBelow: 0.25 },
  'confident-joint, p(given) < 0.1 t': { farBelow: 0.1 },
  'confident-joint, p(given) < 0.05 t': { farBelow: 0.05 },
  'confident-joint, p(given) < 0.02 t': { farBelow: 0.02 },
  'confident-joint, p(given) < 0.01 t': { farBelow: 0.01 },
  'confident-joint, score >= 0.5': { farBelow: 1, minScore: 0.5 },
  'confident-joint, score >= 0.7': { farBelow: 1, minScore: 0.7 },
  'confident-joint, score >= 0.8': { farBelow: 1, minScore: 0.8 },
  'confident-joint, score >= 0.9': { farBelow: 1, minScore: 0.9 },
  'confident-joint, p(given) < 0.1 t, score >= 0.7': { farBelow: 0.1, minScore: 0.7 },
};

const backend = await initBackend();
const train = await loadFashionMnist('train');
const runs = [];
for (let seed = 1; seed <= Number(args.seeds); seed++) {
  const prng = createPrng(seed * 104729);
  const rows = prng.shuffle(Int32Array.from({ length: train.labels.length }, (_, i) => i)).slice(0, n);
  const given = Int32Array.from(rows, (i) => train.labels[i]);
  const flipped = new Set<number>();
  for (let i = 0; i < n; i++) {
    if (prng.next() < Number(args.flip)) {
      given[i] = (given[i] + 1 + Math.floor(prng.next() * (k - 1))) % k;
      flipped.add(i);
    }
  }
  const repeats = Math.max(1, Number(args.repeats));
  const perRepeat: Float32Array[] = [];
  for (let r = 0; r < repeats; r++) {
    const fold = crossValidationFolds(n, folds, r, seed * 7919 + r);
    const probs = new Float32Array(n * k);
    for (let f = 0; f < folds; f++) {
      const tr = [...rows.keys()].filter((i) => fold[i] !== f);
      const held = [...rows.keys()].filter((i) => fold[i] === f);
      const s = seed * 10 + f + 1000 * r;
      const model = createClassifier({ modality: 'image', labels: [...FASHION_MNIST_LABELS], width: 28, height: 28, channels: 1 }, s);
      await model.fit(
        tr.map((i) => train.images[rows[i]]),
        Int32Array.from(tr, (i) => given[i]),
        { seed: s },
      );
      const p = await model.predictProba(held.map((i) => train.images[rows[i]]));
      model.dispose();
      held.forEach((i, j) => probs.set(p.subarray(j * k, (j + 1) * k), i * k));
      process.stderr.write(`seed ${seed}: repeat ${r + 1}/${repeats}, fold ${f + 1}/${folds}\n`);
    }
    perRepeat.push(probs);
  }
  const probs = perRepeat[0];
  const mean = new Float32Array(n * k);
  for (const p of perRepeat) for (let i = 0; i < mean.length; i++) mean[i] += p[i] / repeats;
  let correct = 0;
  for (let i = 0; i < n; i++) {
    let b = 0;
    for (let c = 1; c < k; c++) if (probs[i * k + c] > probs[i * k + b]) b = c;
    if (b === train.labels[rows[i]]) correct++;
  }
  const score = (p: Float32Array) =>
    Object.fromEntries(
      Object.entries(RULES).map(([name, opts]) => {
        const issues = findLabelIssues(p, given, k, opts);
        const hits = issues.filter((x) => flipped.has(x.index)).length;
        return [name, { flagged: issues.length, hits, precision: issues.length ? round(hits / issues.length) : null, recall: round(hits / flipped.size) }];
      }),
    );
  const rules = score(probs);
  const rulesMeanOfRepeats = repeats > 1 ? score(mean) : undefined;
  runs.push({ seed, labels: n, flipped: flipped.size, outOfSampleAccuracy: round(correct / n), rules, rulesMeanOfRepeats });
}
process.stdout.write(JSON.stringify({ benchmark: 'label-errors', dataset: 'fashion-mnist', backend, folds, runs }, null, 2) + '\n');
