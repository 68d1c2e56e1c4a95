/**
 * Loaders for the two development datasets (see /work/shared/datasets/README.md and fixtures/README.md):
 * Fashion-MNIST as gzip IDX files and the fine-foods reviews as JSON lines. Pure Node (no tfjs), used by
 * scripts, benchmarks and tests. The committed fixtures are read with the same parsers as the full sets.
 */
import { access, readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FASHION_MNIST_LABELS, IDX_UBYTE, parseIdx, readIdxGz } from '../../pipelines/fashion-mnist.ts';

// The IDX parser and the class names live with the demo loader in pipelines/ (the server needs them, and
// nothing outside scripts/ may import scripts/); re-exported here for the scripts.
export { FASHION_MNIST_LABELS, parseIdx };
export type { IdxArray } from '../../pipelines/fashion-mnist.ts';

/** The repository root, found from this file's location so scripts work from any working directory. */
const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** fine-foods labels: `great` (a 5-star review) or `other`. */
export const FINE_FOODS_LABELS = ['great', 'other'] as const;

/** Where the Debian package `dataset-fashion-mnist` installs the IDX files. */
export const DEFAULT_FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

/** Fashion-MNIST as loaded: `images[i]` is 784 bytes (28x28, row-major, 0 = black background), `labels[i]` 0..9. */
export interface FashionMnist {
  images: Uint8Array[];
  labels: number[];
  width: 28;
  height: 28;
}

/** fine-foods as loaded: `labels[i]` is one of {@link FINE_FOODS_LABELS}. */
export interface FineFoods {
  texts: string[];
  labels: string[];
}

/** Which half of a dataset; Fashion-MNIST calls its test files `t10k-*`. */
export type Split = 'train' | 'test';

/**
 * Encodes unsigned bytes as an (uncompressed) IDX file; the inverse of {@link parseIdx}.
 * @throws RangeError if `data.length` is not the product of `dims`.
 */
export function encodeIdx(dims: readonly number[], data: Uint8Array): Buffer {
  const expected = dims.reduce((a, b) => a * b, 1);
  if (dims.length === 0 || dims.length > 255 || data.length !== expected) {
    throw new RangeError(`encodeIdx: ${data.length} bytes do not fill dims ${dims.join('x')}.`);
  }
  const header = Buffer.alloc(4 + 4 * dims.length);
  header[2] = IDX_UBYTE;
  header[3] = dims.length;
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([header, data]);
}

/** File names of a Fashion-MNIST split, as published (and as the fixtures repeat them). */
export function fashionMnistFiles(split: Split): { images: string; labels: string } {
  const prefix = split === 'train' ? 'train' : 't10k';
  return { images: `${prefix}-images-idx3-ubyte.gz`, labels: `${prefix}-labels-idx1-ubyte.gz` };
}

/**
 * Loads a Fashion-MNIST split from gzip IDX files in `opts.dir`, else `$FASHION_MNIST_DIR`, else
 * {@link DEFAULT_FASHION_MNIST_DIR}. The full set is 60,000 train / 10,000 test images.
 * @throws Error naming the missing path and how to install it, or describing a malformed file.
 */
export async function loadFashionMnist(split: Split, opts: { dir?: string } = {}): Promise<FashionMnist> {
  const dir = opts.dir ?? process.env.FASHION_MNIST_DIR ?? DEFAULT_FASHION_MNIST_DIR;
  const names = fashionMnistFiles(split);
  const imagesPath = join(dir, names.images);
  const labelsPath = join(dir, names.labels);
  for (const path of [imagesPath, labelsPath]) {
    await mustExist(
      path,
      `Fashion-MNIST file ${path} was not found. Install the dataset with ` +
        '`apt-get install dataset-fashion-mnist` or set FASHION_MNIST_DIR to a directory holding the IDX .gz files.',
    );
  }
  const [imageIdx, labelIdx] = await Promise.all([readIdxGz(imagesPath), readIdxGz(labelsPath)]);

  if (imageIdx.dims.length !== 3 || imageIdx.dims[1] !== 28 || imageIdx.dims[2] !== 28) {
    throw new Error(`${imagesPath}: expected N x 28 x 28 images, found dims ${imageIdx.dims.join('x')}.`);
  }
  if (labelIdx.dims.length !== 1) {
    throw new Error(`${labelsPath}: expected a 1-D label file, found dims ${labelIdx.dims.join('x')}.`);
  }
  const n = imageIdx.dims[0];
  if (labelIdx.dims[0] !== n) {
    throw new Error(`${dir}: ${n} images but ${labelIdx.dims[0]} labels in split ${split}.`);
  }
  const labels = Array.from(labelIdx.data);
  const bad = labels.findIndex((l) => l >= FASHION_MNIST_LABELS.length);
  if (bad >= 0) throw new Error(`${labelsPath}: label ${labels[bad]} at index ${bad} is not a class id 0..9.`);

  const size = 28 * 28;
  const images: Uint8Array[] = [];
  // Views into one buffer: 60,000 separate allocations would cost more than the decode itself.
  for (let i = 0; i < n; i++) images.push(imageIdx.data.subarray(i * size, (i + 1) * size));
  return { images, labels, width: 28, height: 28 };
}

/** File name of a fine-foods split. */
export function fineFoodsFile(split: Split): string {
  return `fine-foods.${split}.jsonl`;
}

/**
 * Loads a fine-foods split (`fine-foods.{split}.jsonl`, one `{"text", "label"}` object a line) from
 * `opts.dir`, else `$FINE_FOODS_DIR`, else `<repo>/../shared/datasets`.
 * @throws Error naming the missing path, or the first malformed line.
 */
export async function loadFineFoods(split: Split, opts: { dir?: string } = {}): Promise<FineFoods> {
  const dir = opts.dir ?? process.env.FINE_FOODS_DIR ?? resolve(REPO_ROOT, '../shared/datasets');
  const path = join(dir, fineFoodsFile(split));
  await mustExist(path, `fine-foods file ${path} was not found. Set FINE_FOODS_DIR to the directory holding fine-foods.{train,test}.jsonl.`);
  return parseFineFoods(await readFile(path, 'utf8'), path);
}

/**
 * Parses fine-foods JSON lines; blank lines are skipped.
 * @param source named in error messages.
 */
export function parseFineFoods(text: string, source = 'fine-foods'): FineFoods {
  const texts: string[] = [];
  const labels: string[] = [];
  const allowed: readonly string[] = FINE_FOODS_LABELS;
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let row: unknown;
    try {
      row = JSON.parse(line);
    } catch (err) {
      throw new Error(`${source}:${i + 1}: not valid JSON (${(err as Error).message}).`);
    }
    const { text: t, label } = (row ?? {}) as { text?: unknown; label?: unknown };
    if (typeof t !== 'string' || typeof label !== 'string' || !allowed.includes(label)) {
      throw new Error(`${source}:${i + 1}: expected {"text": string, "label": ${FINE_FOODS_LABELS.join('|')}}.`);
    }
    texts.push(t);
    labels.push(label);
  });
  return { texts, labels };
}

/** Absolute path of the committed fixtures directory, `<repo>/fixtures`. */
export function fixtureDir(): string {
  return join(REPO_ROOT, 'fixtures');
}

/** The committed Fashion-MNIST fixture: 3,000 train / 1,000 test images, balanced across the 10 classes. */
export function loadFashionFixture(split: Split): Promise<FashionMnist> {
  return loadFashionMnist(split, { dir: join(fixtureDir(), 'fashion-mnist') });
}

/** The committed fine-foods fixture: 1,500 train / 400 test reviews, in the source's class ratio. */
export function loadFineFoodsFixture(split: Split): Promise<FineFoods> {
  return loadFineFoods(split, { dir: join(fixtureDir(), 'fine-foods') });
}

async function mustExist(path: string, message: string): Promise<void> {
  try {
    await access(path);
  } catch {
    throw new Error(message);
  }
}
