/**
 * Text model accuracy against label count on fine-foods (great vs other, 65.8% "great"): for each arch,
 * random labelled subsets of the train split at several sizes and seeds, test-split accuracy and train
 * seconds (the fit call, which for 'ngram-lex-v2' includes featurising the unlabelled pool). Prints JSON.
 *
 *   npx tsx scripts/bench-text-model.ts [--sizes 20,50,100,200,500,1000] [--seeds 1,2,3]
 *     [--archs ngram-mlp-v1,ngram-lex-v2,ngram-lex-v2/no-pool]
 *
 * 'ngram-lex-v2' gets the whole train split (labelled and not) as FitOptions.unlabeled, as a pipeline
 * passing its unlabelled pool would; 'ngram-lex-v2/no-pool' gets none, as pipelines/train.ts does today.
 */
import { parseArgs } from 'node:util';
import { initBackend } from '../models/backend.ts';
import type { FitOptions } from '../models/classifier.ts';
import { createPrng } from '../models/prng.ts';
import { createTextNgram } from '../models/text-ngram.ts';
import { FINE_FOODS_LABELS, loadFineFoods } from './lib/datasets.ts';

const { values: args } = parseArgs({
  options: {
    sizes: { type: 'string', default: '20,50,100,200,500,1000' },
    seeds: { type: 'string', default: '1,2,3' },
    archs: { type: 'string', default: 'ngram-mlp-v1,ngram-lex-v2,ngram-lex-v2/no-pool' },
  },
});
const list = (s: string): number[] => s.split(',').map(Number);
const sizes = list(args.sizes);
const seeds = list(args.seeds);
const archs = args.archs.split(',');

const backend = await initBackend('wasm');
const train = await loadFineFoods('train');
const test = await loadFineFoods('test');
const labels: string[] = [...FINE_FOODS_LABELS];
const ids = (ls: string[]): Int32Array => Int32Array.from(ls, (l) => labels.indexOf(l));
const trainY = ids(train.labels);
const testY = ids(test.labels);
const majority = Math.max(...labels.map((_, c) => testY.filter((y) => y === c).length)) / testY.length;

/** The first n of a seeded shuffle of the train split. */
function sample(n: number, seed: number): Int32Array {
  const order = Int32Array.from({ length: train.texts.length }, (_, i) => i);
  return createPrng(seed * 7919 + n)
    .shuffle(order)
    .slice(0, n);
}

const mean = (a: number[]): number => a.reduce((s, x) => s + x, 0) / a.length;
const sd = (a: number[]): number => (a.length < 2 ? 0 : Math.sqrt(a.reduce((s, x) => s + (x - mean(a)) ** 2, 0) / (a.length - 1)));
const r3 = (x: number): number => Math.round(x * 1000) / 1000;

const results: Record<string, Record<string, { accuracy: number; sd: number; runs: number[]; trainSeconds: number }>> = {};
for (const name of archs) {
  const [arch, variant] = name.split('/');
  results[name] = {};
  for (const n of sizes) {
    const runs: number[] = [];
    const seconds: number[] = [];
    for (const seed of seeds) {
      const rows = sample(n, seed);
      const model = createTextNgram({ modality: 'text', labels, arch }, seed);
      const opts: FitOptions = { seed };
      if (arch !== 'ngram-mlp-v1' && variant !== 'no-pool') opts.unlabeled = train.texts;
      const t0 = performance.now();
      await model.fit(
        Array.from(rows, (i) => train.texts[i]),
        Int32Array.from(rows, (i) => trainY[i]),
        opts,
      );
      seconds.push((performance.now() - t0) / 1000);
      const p = await model.predictProba(test.texts);
      model.dispose();
      let correct = 0;
      for (let i = 0; i < testY.length; i++) if ((p[2 * i + 1] > p[2 * i] ? 1 : 0) === testY[i]) correct++;
      runs.push(correct / testY.length);
    }
    results[name][n] = { accuracy: r3(mean(runs)), sd: r3(sd(runs)), runs: runs.map(r3), trainSeconds: Math.round(mean(seconds) * 100) / 100 };
    process.stderr.write(`${name} n=${n}: ${r3(mean(runs))} ± ${r3(sd(runs))} (${mean(seconds).toFixed(2)} s)\n`);
  }
}

process.stdout.write(
  JSON.stringify(
    {
      benchmark: 'text-model',
      dataset: 'fine-foods',
      backend,
      majority: r3(majority),
      trainSize: train.texts.length,
      testSize: test.texts.length,
      seeds,
      results,
    },
    null,
    2,
  ) + '\n',
);
