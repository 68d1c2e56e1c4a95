/**
 * The tasks of the model benchmark (`npm run bench:data` builds them, `npm run bench:models` runs them) and
 * where their files live. A task is two JSON-lines files, `<task>.train.jsonl` (the unlabelled pool) and
 * `<task>.test.jsonl` (the gold set), one `{"text", "label"}` or `{"image": <base64 PNG>, "label"}` a line, plus
 * `<task>.meta.json` (what it was built from, class counts).
 */
import fs from 'node:fs';
import path from 'node:path';

export interface BenchTask {
  name: string;
  modality: 'text' | 'image';
  /** What it is, for the docs and the result files. */
  description: string;
  /**
   * Project settings the task needs as input geometry (what a user must state about their images: size and
   * colour), never a model choice: everything else is Furrow's default.
   */
  projectSettings: Record<string, unknown>;
  /** Budgets (labels) at which every arm is scored. */
  budgets: number[];
}

const TEXT_BUDGETS = [50, 100, 200, 300, 500];
const IMAGE_BUDGETS = [50, 100, 200, 300, 500, 1000];

export const BENCH_TASKS: BenchTask[] = [
  {
    name: 'fine-foods',
    modality: 'text',
    description: 'Amazon fine-food reviews: 5 stars (great) or not (other); 2 classes',
    projectSettings: {},
    budgets: TEXT_BUDGETS,
  },
  {
    name: 'wordnet-nouns',
    modality: 'text',
    description: 'WordNet 3.0 noun glosses -> lexicographer file (noun.animal, noun.artifact, ...); 26 classes',
    projectSettings: {},
    budgets: TEXT_BUDGETS,
  },
  {
    name: 'manpages',
    modality: 'text',
    description: 'man-page one-line descriptions (whatis) -> manual section 1, 2, 3, 4, 5, 7, 8',
    projectSettings: {},
    budgets: TEXT_BUDGETS,
  },
  {
    name: 'ui-language',
    modality: 'text',
    description: "translated program messages from Debian's gettext catalogues -> language; 12 classes",
    projectSettings: {},
    budgets: TEXT_BUDGETS,
  },
  {
    name: 'fashion-mnist',
    modality: 'image',
    description: 'Fashion-MNIST 28x28 gray clothing images; 10 classes',
    projectSettings: {},
    budgets: IMAGE_BUDGETS,
  },
  {
    name: 'icons',
    modality: 'image',
    description: 'icons of Debian icon themes (Adwaita, Papirus, hicolor) in mixed sizes -> context folder; RGB',
    projectSettings: { channels: 3, imageWidth: 32, imageHeight: 32 },
    budgets: IMAGE_BUDGETS,
  },
  {
    name: 'glyphs',
    modality: 'image',
    description: 'capital letters in the fonts Debian ships, random rotation, scale, offset and noise; 26 classes',
    projectSettings: {},
    budgets: IMAGE_BUDGETS,
  },
];

export function benchDataDir(): string {
  return process.env.FURROW_BENCH_DATA || '/var/tmp/furrow-bench-data';
}

export function findTask(name: string): BenchTask {
  const t = BENCH_TASKS.find((x) => x.name === name);
  if (!t) throw new Error(`unknown task ${name}: one of ${BENCH_TASKS.map((x) => x.name).join(', ')}`);
  return t;
}

export interface TaskRow {
  text?: string;
  image?: string;
  label: string;
}

/** Reads `<dir>/<task>.<split>.jsonl`; throws naming the file and the command that builds it. */
export function readTaskSplit(task: string, split: 'train' | 'test', dir = benchDataDir()): TaskRow[] {
  const file = path.join(dir, `${task}.${split}.jsonl`);
  if (!fs.existsSync(file)) throw new Error(`${file} not found: build it with \`npm run bench:data -- --tasks ${task}\` (see docs/benchmarks-models.md).`);
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l, i) => {
      const row = JSON.parse(l) as TaskRow;
      if (typeof row.label !== 'string' || (typeof row.text !== 'string' && typeof row.image !== 'string'))
        throw new Error(`${file}:${i + 1}: expected {"text"|"image", "label"}`);
      return row;
    });
}
