/**
 * Model candidates and the cross-validated choice on random labels (no queue), in-process:
 *
 *   npx tsx scripts/bench-candidates.ts --task wordnet-nouns --budgets 100,200,300,500 --seeds 1,2,3
 *
 * Reads /var/tmp/furrow-bench-data/<task>.{train,test}.jsonl (lines {"text"|"image", "label"}; images are
 * base64 PNGs of 28x28 gray). For each budget and seed: draws that many random pool labels, fits every
 * candidate of the modality on them (the rest of the pool as unlabelled data, as a project's retrain
 * has it) and scores it on the test split; then runs the selection rule (models/selection.ts) on the same
 * labels and reports which candidate it picked and that candidate's test accuracy ("auto"), with times.
 * Prints one JSON object per line and a summary object at the end.
 */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { PNG } from 'pngjs';
import type { Modality, ModelInput } from '../core/types.ts';
import { initBackend } from '../models/backend.ts';
import { createClassifier, type ModelSpec } from '../models/classifier.ts';
import { createPrng } from '../models/prng.ts';
import {
  accuracyOf,
  CANDIDATES,
  candidatesFor,
  candidateKey,
  candidateSpec,
  crossValidate,
  CV_MAX_LABELS,
  defaultFoldsFor,
  IMAGE_MAX_FOLDS,
  MAX_FOLDS,
} from '../models/selection.ts';

const args = new Command()
  .option('--task <name>', 'task file stem', 'fine-foods')
  .option('--dir <path>', 'data directory', '/var/tmp/furrow-bench-data')
  .option('--budgets <list>', 'label budgets', '100,200,300,500')
  .option('--seeds <list>', 'seeds', '1')
  .option('--candidates <list>', 'candidate keys to fit (default all)', '')
  .option('--no-select', 'skip the cross-validated selection')
  .option('--unlabeled <n>', 'pool items passed as unlabelled data', '4000')
  .parse()
  .opts();

interface Row {
  text?: string;
  image?: string;
  label: string;
}

function load(split: string): Row[] {
  return readFileSync(`${args.dir}/${args.task}.${split}.jsonl`, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Row);
}

function decodeImage(b64: string): Uint8Array {
  const png = PNG.sync.read(Buffer.from(b64.replace(/^data:image\/png;base64,/, ''), 'base64'));
  const out = new Uint8Array(png.width * png.height);
  for (let i = 0; i < out.length; i++) out[i] = png.data[i * 4];
  return out;
}

const train = load('train');
const test = load('test');
const modality: Modality = train[0].text !== undefined ? 'text' : 'image';
const labelNames = [...new Set([...train, ...test].map((r) => r.label))].sort();
const index = new Map(labelNames.map((l, i) => [l, i]));
const toInput = (r: Row): ModelInput => (modality === 'text' ? r.text! : decodeImage(r.image!));
const poolInputs = train.map(toInput);
const poolLabels = Int32Array.from(train, (r) => index.get(r.label)!);
const testInputs = test.map(toInput);
const testLabels = Int32Array.from(test, (r) => index.get(r.label)!);
const base: ModelSpec = modality === 'text' ? { modality, labels: labelNames } : { modality, labels: labelNames, width: 28, height: 28, channels: 1 };
const k = labelNames.length;

await initBackend();
const wanted = args.candidates ? new Set(String(args.candidates).split(',')) : undefined;
const candidates = CANDIDATES[modality].filter((c) => !wanted || wanted.has(candidateKey(c)) || wanted.has(c.name));
const results: Record<string, unknown>[] = [];

for (const budget of String(args.budgets).split(',').map(Number)) {
  for (const seed of String(args.seeds).split(',').map(Number)) {
    const order = createPrng(seed * 7919 + budget).shuffle(Int32Array.from({ length: train.length }, (_, i) => i));
    const picked = order.subarray(0, budget);
    const rest = order.subarray(budget, budget + Number(args.unlabeled));
    const inputs = Array.from(picked, (i) => poolInputs[i]);
    const labels = Int32Array.from(picked, (i) => poolLabels[i]);
    const unlabeled = Array.from(rest, (i) => poolInputs[i]);
    const fitAndScore = async (
      spec: ModelSpec,
      tr: { inputs: ModelInput[]; labels: Int32Array },
      te: ModelInput[],
      opts: { epochs?: number; seed?: number },
      pool = unlabeled,
    ) => {
      const c = createClassifier(spec, opts.seed ?? seed);
      try {
        await c.fit(tr.inputs, tr.labels, { ...opts, unlabeled: pool });
        return await c.predictProba(te);
      } finally {
        c.dispose();
      }
    };
    const row: Record<string, unknown> = { task: args.task, budget, seed };
    for (const cand of candidates) {
      const t0 = Date.now();
      const probs = await fitAndScore(candidateSpec(base, cand), { inputs, labels }, testInputs, { seed });
      row[candidateKey(cand)] = { accuracy: +accuracyOf(probs, testLabels, k).toFixed(4), seconds: +((Date.now() - t0) / 1000).toFixed(1) };
    }
    if (args.select) {
      const cpu0 = process.cpuUsage();
      const sel = await crossValidate({
        base,
        candidates: candidatesFor(modality, k),
        inputs,
        labels,
        maxFolds: modality === 'image' ? IMAGE_MAX_FOLDS : MAX_FOLDS,
        maxLabels: CV_MAX_LABELS[modality],
        seed,
        foldsFor: defaultFoldsFor(modality, Math.min(labels.length, CV_MAX_LABELS[modality])),
        run: (spec, tr, te, opts) => fitAndScore(spec, tr, te, opts, unlabeled.slice(0, 2000)),
      });
      const cpu = process.cpuUsage(cpu0);
      const chosen = row[sel.chosen] as { accuracy: number } | undefined;
      row.auto = {
        chosen: sel.chosen,
        accuracy: chosen?.accuracy ?? null,
        cvSeconds: +sel.seconds.toFixed(1),
        cvCpuSeconds: +((cpu.user + cpu.system) / 1e6).toFixed(1),
        k: sel.k,
        scores: Object.fromEntries(sel.scores.map((s) => [s.candidate, +s.mean.toFixed(3)])),
      };
    }
    console.log(JSON.stringify(row));
    results.push(row);
  }
}
