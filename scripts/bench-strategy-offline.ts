/**
 * Which query strategy pays on a text task, measured in-process (no server, no database) so that many
 * strategies, tasks and seeds fit in minutes: the same protocol as `npm run bench:models` (20 random start
 * labels, batches of 10 chosen by the strategy, the model refitted after the start labels and at each budget,
 * accuracy on the task's test split), with one model throughout: `tfidf-lr` at C = 10, the candidate
 * cross-validation picks on the many-class text tasks. Not Furrow's whole queue (no cold start, no
 * class-balance guard, no pseudo-labels): a yardstick for the choice of strategy. Prints one JSON line per run.
 *
 *   npx tsx scripts/bench-strategy-offline.ts --tasks wordnet-nouns,manpages --seeds 1,2,3
 */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import type { ModelInput } from '../core/types.ts';
import { initBackend } from '../models/backend.ts';
import { createClassifier, type ModelSpec } from '../models/classifier.ts';
import { createPrng } from '../models/prng.ts';
import { accuracyOf, CANDIDATES, candidateSpec } from '../models/selection.ts';
import { coldStartProven } from '../pipelines/cold-start.ts';
import { uncertaintyOf } from '../pipelines/strategies.ts';

const args = new Command()
  .option('--tasks <list>', 'task file stems', 'wordnet-nouns,manpages,ui-language,fine-foods')
  .option('--dir <path>', 'data directory', '/var/tmp/furrow-bench-data')
  .option('--budgets <list>', 'label budgets', '50,100,200,300,500')
  .option('--seeds <list>', 'seeds', '1,2,3')
  .option('--strategies <list>', 'strategies', 'random,margin,margin-explore10,margin-explore50,margin-proof50,entropy,least-confidence')
  .parse()
  .opts();

const START = 20;
const BATCH = 10;

interface Row {
  text: string;
  label: string;
}

const load = (task: string, split: string): Row[] =>
  readFileSync(`${args.dir}/${task}.${split}.jsonl`, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Row);

/** The items a strategy picks among the unlabelled ones, given the model's probabilities over the pool. */
function pick(
  strategy: string,
  probs: Float32Array | null,
  k: number,
  unlabelled: number[],
  n: number,
  rnd: ReturnType<typeof createPrng>,
  gold: { n: number; accuracy: number },
): number[] {
  const shuffled = Array.from(rnd.shuffle(Int32Array.from(unlabelled)));
  if (strategy === 'random' || probs === null) return shuffled.slice(0, n);
  // margin-proof50: half random picks until the model proves itself on gold (the image cold start's rule), then 10%.
  const explore =
    strategy === 'margin-proof50'
      ? coldStartProven(gold, k, 0)
        ? 0.1
        : 0.5
      : strategy.startsWith('margin-explore')
        ? Number(strategy.slice('margin-explore'.length)) / 100
        : 0;
  const base = explore ? 'margin' : strategy;
  const nRandom = Math.round(n * explore);
  const score = (i: number) => uncertaintyOf(probs.subarray(i * k, (i + 1) * k), base as 'margin' | 'entropy' | 'least-confidence');
  const ranked = [...unlabelled].sort((a, b) => score(b) - score(a));
  const chosen = ranked.slice(0, n - nRandom);
  const taken = new Set(chosen);
  for (const i of shuffled) {
    if (chosen.length >= n) break;
    if (!taken.has(i)) chosen.push(i);
  }
  return chosen;
}

await initBackend();
const candidate = CANDIDATES.text.find((c) => c.name === 'tfidf-lr' && c.params?.C === 10)!;
const budgets = String(args.budgets).split(',').map(Number);
for (const task of String(args.tasks).split(',')) {
  const train = load(task, 'train');
  const test = load(task, 'test');
  const names = [...new Set([...train, ...test].map((r) => r.label))].sort();
  const index = new Map(names.map((l, i) => [l, i]));
  const k = names.length;
  const spec: ModelSpec = candidateSpec({ modality: 'text', labels: names }, candidate);
  const poolInputs: ModelInput[] = train.map((r) => r.text);
  const poolLabels = Int32Array.from(train, (r) => index.get(r.label)!);
  const testInputs: ModelInput[] = test.map((r) => r.text);
  const testLabels = Int32Array.from(test, (r) => index.get(r.label)!);
  for (const seed of String(args.seeds).split(',').map(Number)) {
    // The same 20 start labels for every strategy of a seed.
    const start = Array.from(
      createPrng(seed)
        .shuffle(Int32Array.from({ length: train.length }, (_, i) => i))
        .subarray(0, START),
    );
    for (const strategy of String(args.strategies).split(',')) {
      const rnd = createPrng(seed * 1009 + 7);
      const labelled = new Set(start);
      const curve: Record<number, number> = {};
      let probs: Float32Array | null = null;
      let gold = { n: test.length, accuracy: 0 };
      const refit = async () => {
        const ids = [...labelled];
        const c = createClassifier(spec, seed);
        try {
          await c.fit(
            ids.map((i) => poolInputs[i]),
            Int32Array.from(ids, (i) => poolLabels[i]),
            { seed, unlabeled: poolInputs.filter((_, i) => !labelled.has(i)).slice(0, 2000) },
          );
          probs = await c.predictProba(poolInputs);
          gold = { n: test.length, accuracy: accuracyOf(await c.predictProba(testInputs), testLabels, k) };
          return gold.accuracy;
        } finally {
          c.dispose();
        }
      };
      await refit();
      for (;;) {
        const next = budgets.find((b) => b > labelled.size);
        if (next === undefined) break;
        while (labelled.size < next) {
          const unlabelled = Array.from({ length: train.length }, (_, i) => i).filter((i) => !labelled.has(i));
          for (const i of pick(strategy, probs, k, unlabelled, Math.min(BATCH, next - labelled.size), rnd, gold)) labelled.add(i);
        }
        curve[next] = Number((await refit()).toFixed(4));
      }
      console.log(JSON.stringify({ task, seed, strategy, model: 'tfidf-lr C=10', curve }));
    }
  }
}
