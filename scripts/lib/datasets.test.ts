import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_FASHION_MNIST_DIR,
  encodeIdx,
  FASHION_MNIST_LABELS,
  FINE_FOODS_LABELS,
  fixtureDir,
  loadFashionFixture,
  loadFashionMnist,
  loadFineFoods,
  loadFineFoodsFixture,
  parseFineFoods,
  parseIdx,
} from './datasets.ts';
import { mulberry32, shuffle, stratifiedSample } from './sampling.ts';

function countBy<T>(values: readonly T[]): Map<T, number> {
  const counts = new Map<T, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return counts;
}

describe('label lists', () => {
  it('names the ten Fashion-MNIST classes in id order, and the two fine-foods classes', () => {
    expect(FASHION_MNIST_LABELS).toEqual(['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot']);
    expect(FINE_FOODS_LABELS).toEqual(['great', 'other']);
  });
});

describe('Fashion-MNIST fixture', () => {
  it('fixtureDir is <repo>/fixtures', () => {
    expect(isAbsolute(fixtureDir())).toBe(true);
    expect(fixtureDir()).toBe(resolve(import.meta.dirname, '../../fixtures'));
  });

  it.each([
    ['train', 3000, 300],
    ['test', 1000, 100],
  ] as const)('%s split: %i images, %i of each class', async (split, total, perClass) => {
    const ds = await loadFashionFixture(split);
    expect(ds.width).toBe(28);
    expect(ds.height).toBe(28);
    expect(ds.images).toHaveLength(total);
    expect(ds.labels).toHaveLength(total);
    expect(ds.images.every((img) => img.length === 784)).toBe(true);
    const counts = countBy(ds.labels);
    expect([...counts.keys()].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect([...counts.values()].every((c) => c === perClass)).toBe(true);
    // Real images, not blanks: Fashion-MNIST items fill a good part of the frame with bright pixels.
    const mean = ds.images[0].reduce((a, b) => a + b, 0) / 784;
    expect(mean).toBeGreaterThan(5);
    expect(Math.max(...ds.images[0])).toBeGreaterThan(100);
  });
});

describe('fine-foods fixture', () => {
  it.each([
    ['train', 1500, 975],
    ['test', 400, 263],
  ] as const)('%s split: %i reviews, %i great', async (split, total, great) => {
    const ds = await loadFineFoodsFixture(split);
    expect(ds.texts).toHaveLength(total);
    expect(ds.labels).toHaveLength(total);
    expect(countBy(ds.labels).get('great')).toBe(great);
    expect(countBy(ds.labels).get('other')).toBe(total - great);
    expect(ds.texts.every((t) => t.length > 0)).toBe(true);
  });
});

describe('IDX parsing', () => {
  it('round-trips through encodeIdx', () => {
    const data = Uint8Array.from({ length: 2 * 3 * 4 }, (_, i) => i);
    const parsed = parseIdx(encodeIdx([2, 3, 4], data));
    expect(parsed.dims).toEqual([2, 3, 4]);
    expect(Array.from(parsed.data)).toEqual(Array.from(data));
  });

  it('rejects a bad magic number, element type or length', () => {
    const good = encodeIdx([4], new Uint8Array(4));
    expect(() => parseIdx(Uint8Array.from([1, 0, 8, 1, 0, 0, 0, 0]))).toThrow(/magic/);
    const floats = Buffer.from(good);
    floats[2] = 0x0d;
    expect(() => parseIdx(floats)).toThrow(/element type/);
    expect(() => parseIdx(good.subarray(0, good.length - 1))).toThrow(/need 4 data bytes, found 3/);
    expect(() => parseIdx(good.subarray(0, 6))).toThrow(/truncated/);
    expect(() => encodeIdx([2, 2], new Uint8Array(3))).toThrow(RangeError);
  });
});

describe('loader errors', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'furrow-datasets-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('says how to install Fashion-MNIST when the files are missing', async () => {
    const missing = join(dir, 'nowhere');
    await expect(loadFashionMnist('train', { dir: missing })).rejects.toThrow(/apt-get install dataset-fashion-mnist/);
    await expect(loadFashionMnist('test', { dir: missing })).rejects.toThrow(/FASHION_MNIST_DIR/);
  });

  it('says where fine-foods was looked for when missing', async () => {
    await expect(loadFineFoods('train', { dir: join(dir, 'nowhere') })).rejects.toThrow(/FINE_FOODS_DIR/);
  });

  it('rejects image and label files that disagree, bad class ids and wrong image sizes', async () => {
    const write = (name: string, idx: Buffer) => writeFile(join(dir, name), gzipSync(idx));
    await write('train-images-idx3-ubyte.gz', encodeIdx([3, 28, 28], new Uint8Array(3 * 784)));
    await write('train-labels-idx1-ubyte.gz', encodeIdx([2], new Uint8Array(2)));
    await expect(loadFashionMnist('train', { dir })).rejects.toThrow(/3 images but 2 labels/);

    await write('train-labels-idx1-ubyte.gz', encodeIdx([3], Uint8Array.from([0, 10, 1])));
    await expect(loadFashionMnist('train', { dir })).rejects.toThrow(/label 10 at index 1/);

    await write('t10k-images-idx3-ubyte.gz', encodeIdx([1, 32, 32], new Uint8Array(1024)));
    await write('t10k-labels-idx1-ubyte.gz', encodeIdx([1], new Uint8Array(1)));
    await expect(loadFashionMnist('test', { dir })).rejects.toThrow(/28 x 28/);
  });

  it('rejects a file that is not gzip', async () => {
    const sub = join(dir, 'plain');
    await mkdir(sub);
    await writeFile(join(sub, 'train-images-idx3-ubyte.gz'), encodeIdx([1, 28, 28], new Uint8Array(784)));
    await writeFile(join(sub, 'train-labels-idx1-ubyte.gz'), gzipSync(encodeIdx([1], new Uint8Array(1))));
    await expect(loadFashionMnist('train', { dir: sub })).rejects.toThrow(/not a readable gzip file/);
  });

  it('names the line of a malformed fine-foods row', () => {
    const ok = '{"text": "good", "label": "great"}\n\n{"text": "meh", "label": "other"}\n';
    expect(parseFineFoods(ok)).toEqual({ texts: ['good', 'meh'], labels: ['great', 'other'] });
    expect(() => parseFineFoods(`${ok}{"text": "x", "label": "bad"}\n`, 'f.jsonl')).toThrow(/f\.jsonl:4/);
    expect(() => parseFineFoods('{"text": 1, "label": "great"}')).toThrow(/:1:/);
    expect(() => parseFineFoods('not json')).toThrow(/not valid JSON/);
  });
});

describe('full datasets on this machine', () => {
  const fashionDir = process.env.FASHION_MNIST_DIR ?? DEFAULT_FASHION_MNIST_DIR;
  const hasFashion = existsSync(join(fashionDir, 'train-images-idx3-ubyte.gz'));
  const fineFoodsDir = process.env.FINE_FOODS_DIR ?? resolve(import.meta.dirname, '../../../shared/datasets');
  const hasFineFoods = existsSync(join(fineFoodsDir, 'fine-foods.train.jsonl'));

  it.skipIf(!hasFashion)('loads the system Fashion-MNIST: 60,000 + 10,000, balanced', async () => {
    const train = await loadFashionMnist('train', { dir: fashionDir });
    const test = await loadFashionMnist('test', { dir: fashionDir });
    expect(train.images).toHaveLength(60_000);
    expect(test.images).toHaveLength(10_000);
    expect([...countBy(train.labels).values()]).toEqual(new Array(10).fill(6000));
    expect([...countBy(test.labels).values()]).toEqual(new Array(10).fill(1000));

    // Every fixture image is an image of the official split with the same label.
    const key = (img: Uint8Array) => Buffer.from(img.buffer, img.byteOffset, img.byteLength).toString('latin1');
    for (const [split, full] of [
      ['train', train],
      ['test', test],
    ] as const) {
      const labelOf = new Map(full.images.map((img, i) => [key(img), full.labels[i]]));
      const fixture = await loadFashionFixture(split);
      expect(fixture.images.every((img, i) => labelOf.get(key(img)) === fixture.labels[i])).toBe(true);
    }
  });

  it.skipIf(!hasFineFoods)('loads the shared fine-foods set: 4,000 + 1,000', async () => {
    const train = await loadFineFoods('train', { dir: fineFoodsDir });
    const test = await loadFineFoods('test', { dir: fineFoodsDir });
    expect(train.texts).toHaveLength(4000);
    expect(test.texts).toHaveLength(1000);
    const fixture = await loadFineFoodsFixture('train');
    const source = new Set(train.texts);
    expect(fixture.texts.every((t) => source.has(t))).toBe(true);
  });
});

// sampling.ts lives beside this file; its tests are here to keep scripts/lib to one test file.
describe('sampling', () => {
  it('mulberry32 is deterministic and uniform enough on [0, 1)', () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const xs = Array.from({ length: 10_000 }, () => a());
    expect(Array.from({ length: 10_000 }, () => b())).toEqual(xs);
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.02);
    expect(mulberry32(43)()).not.toBe(mulberry32(42)());
  });

  it('shuffle returns a seeded permutation and leaves the input alone', () => {
    const input = Array.from({ length: 50 }, (_, i) => i);
    const s1 = shuffle(input, 7);
    expect(shuffle(input, 7)).toEqual(s1);
    expect(s1).not.toEqual(input);
    expect([...s1].sort((a, b) => a - b)).toEqual(input);
    expect(input[0]).toBe(0);
    expect(shuffle(input, 8)).not.toEqual(s1);
  });

  it('stratifiedSample takes n per class, as sorted indices, reproducibly', () => {
    const labels = Array.from({ length: 100 }, (_, i) => ['a', 'b', 'c'][i % 3]);
    const idx = stratifiedSample(labels, { perClass: 5 }, 1);
    expect(idx).toHaveLength(15);
    expect([...idx].sort((a, b) => a - b)).toEqual(idx);
    expect(new Set(idx).size).toBe(15);
    expect(countBy(idx.map((i) => labels[i]))).toEqual(
      new Map([
        ['a', 5],
        ['b', 5],
        ['c', 5],
      ]),
    );
    expect(stratifiedSample(labels, 5, 1)).toEqual(idx);
    expect(stratifiedSample(labels, { perClass: 5 }, 2)).not.toEqual(idx);
  });

  it('stratifiedSample with a total keeps the class ratio and the exact total', () => {
    const labels = shuffle([...new Array<string>(650).fill('great'), ...new Array<string>(350).fill('other')], 3);
    const idx = stratifiedSample(labels, { total: 101 }, 9);
    expect(idx).toHaveLength(101);
    const counts = countBy(idx.map((i) => labels[i]));
    expect(counts.get('great')).toBe(66); // 65.65 rounds up: the larger remainder
    expect(counts.get('other')).toBe(35);
  });

  it('stratifiedSample refuses quotas it cannot fill', () => {
    expect(() => stratifiedSample([0, 0, 1], { perClass: 2 }, 1)).toThrow(/class 1 has 1 items/);
    expect(() => stratifiedSample([0, 1], { total: 3 }, 1)).toThrow(RangeError);
    expect(() => stratifiedSample([0, 1], { perClass: -1 }, 1)).toThrow(RangeError);
  });
});
