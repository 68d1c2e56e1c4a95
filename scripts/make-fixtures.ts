/**
 * Regenerates the committed fixtures under fixtures/ (described in fixtures/README.md) from the full datasets:
 *
 *   npm run fixtures               # write fixtures/
 *   npm run fixtures -- --check    # regenerate in memory and fail if anything differs from what is committed
 *
 * Sources: Fashion-MNIST from $FASHION_MNIST_DIR or /usr/share/datasets/fashion-mnist (Debian package
 * dataset-fashion-mnist); fine-foods from $FINE_FOODS_DIR or <repo>/../shared/datasets. Samples are seeded and
 * class-stratified, and gzip output carries no timestamp, so a rerun reproduces the same bytes.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { encodeIdx, fashionMnistFiles, fineFoodsFile, fixtureDir, loadFashionMnist, parseFineFoods, type Split } from './lib/datasets.ts';
import { stratifiedSample, type SampleSize } from './lib/sampling.ts';

/** Fixed seeds: changing one changes the committed fixtures. */
const SEEDS = { fashionTrain: 20_240_601, fashionTest: 20_240_602, fineFoodsTrain: 20_240_603, fineFoodsTest: 20_240_604 };
const FASHION_SIZES: Record<Split, SampleSize> = { train: { perClass: 300 }, test: { perClass: 100 } };
const FINE_FOODS_SIZES: Record<Split, SampleSize> = { train: { total: 1500 }, test: { total: 400 } };

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

async function fashionFixture(split: Split): Promise<Map<string, Buffer>> {
  const full = await loadFashionMnist(split);
  const seed = split === 'train' ? SEEDS.fashionTrain : SEEDS.fashionTest;
  const picked = stratifiedSample(full.labels, FASHION_SIZES[split], seed);
  const images = Buffer.concat(picked.map((i) => full.images[i]));
  const labels = Uint8Array.from(picked.map((i) => full.labels[i]));
  const names = fashionMnistFiles(split);
  const gz = (b: Buffer) => gzipSync(b, { level: 9 });
  return new Map([
    [join('fashion-mnist', names.images), gz(encodeIdx([picked.length, 28, 28], images))],
    [join('fashion-mnist', names.labels), gz(encodeIdx([picked.length], labels))],
  ]);
}

async function fineFoodsFixture(split: Split): Promise<Map<string, Buffer>> {
  const dir = process.env.FINE_FOODS_DIR ?? resolve(REPO_ROOT, '../shared/datasets');
  const path = join(dir, fineFoodsFile(split));
  const text = await readFile(path, 'utf8');
  // Copy the source lines verbatim rather than re-serialising, so a fixture line is greppable in the source.
  const lines = text.split('\n').filter((line) => line.trim() !== '');
  const { labels } = parseFineFoods(text, path);
  if (labels.length !== lines.length) throw new Error(`${path}: line count mismatch while sampling.`);
  const seed = split === 'train' ? SEEDS.fineFoodsTrain : SEEDS.fineFoodsTest;
  const picked = stratifiedSample(labels, FINE_FOODS_SIZES[split], seed);
  const body = picked.map((i) => `${lines[i]}\n`).join('');
  return new Map([[join('fine-foods', fineFoodsFile(split)), Buffer.from(body, 'utf8')]]);
}

async function main(): Promise<void> {
  const check = process.argv.includes('--check');
  const outputs = new Map<string, Buffer>();
  for (const split of ['train', 'test'] as const) {
    for (const [k, v] of await fashionFixture(split)) outputs.set(k, v);
    for (const [k, v] of await fineFoodsFixture(split)) outputs.set(k, v);
  }
  const root = fixtureDir();
  let differences = 0;
  for (const [name, bytes] of outputs) {
    const path = join(root, name);
    const shown = relative(REPO_ROOT, path);
    if (check) {
      const current = await readFile(path).catch(() => null);
      const same = current?.equals(bytes);
      if (!same) differences++;
      console.log(`${same ? 'same' : 'DIFFERS'}  ${shown}`);
    } else {
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, bytes);
      console.log(`wrote ${shown} (${bytes.length} bytes)`);
    }
  }
  if (differences > 0) {
    console.error(`${differences} fixture file(s) differ from a fresh regeneration.`);
    process.exitCode = 1;
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
