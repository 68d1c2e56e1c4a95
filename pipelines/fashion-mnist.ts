/**
 * Fashion-MNIST as gzip IDX files: the class names, the IDX parser, and the committed fixture the demo project
 * is built from. Pure Node. Scripts and benchmarks reach the same code through scripts/lib/datasets.ts; the
 * server imports it from here (nothing outside scripts/ imports scripts/).
 */
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { gunzip as gunzipCb } from 'node:zlib';
import type { DemoImages } from './demo.ts';

const gunzip = promisify(gunzipCb);

/** Fashion-MNIST class names; a label id is an index into this list. */
export const FASHION_MNIST_LABELS = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'] as const;

/** A parsed IDX array: `dims` as stored, `data` the row-major unsigned bytes. */
export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

/** IDX type code for unsigned bytes, the only element type Fashion-MNIST uses. */
export const IDX_UBYTE = 0x08;

/**
 * Parses an (uncompressed) IDX file of unsigned bytes: magic `00 00 08 <ndims>`, then `ndims` big-endian
 * uint32 sizes, then the data. Checks that the data length matches the sizes exactly.
 * @param source named in error messages.
 * @throws Error if the magic number, element type or length is wrong.
 */
export function parseIdx(bytes: Uint8Array, source = 'IDX data'): IdxArray {
  if (bytes.length < 4 || bytes[0] !== 0 || bytes[1] !== 0) {
    throw new Error(`${source}: not an IDX file (bad magic number).`);
  }
  if (bytes[2] !== IDX_UBYTE) {
    throw new Error(`${source}: IDX element type 0x${bytes[2].toString(16)} is not unsigned byte (0x08).`);
  }
  const ndims = bytes[3];
  const headerLength = 4 + 4 * ndims;
  if (ndims === 0 || bytes.length < headerLength) {
    throw new Error(`${source}: IDX header is truncated or declares no dimensions.`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  for (let i = 0; i < ndims; i++) dims.push(view.getUint32(4 + 4 * i, false));
  const expected = dims.reduce((a, b) => a * b, 1);
  const actual = bytes.length - headerLength;
  if (actual !== expected) {
    throw new Error(`${source}: IDX dims ${dims.join('x')} need ${expected} data bytes, found ${actual}.`);
  }
  return { dims, data: bytes.subarray(headerLength) };
}

/** Reads and parses a gzip IDX file. */
export async function readIdxGz(path: string): Promise<IdxArray> {
  let raw: Buffer;
  try {
    raw = await gunzip(await readFile(path));
  } catch (err) {
    throw new Error(`${path}: not a readable gzip file (${(err as Error).message}).`, { cause: err });
  }
  return parseIdx(raw, path);
}

/** The committed fixture's training split (`fixtures/fashion-mnist`, 3,000 images), as the demo project takes it. */
export async function loadDemoImages(): Promise<DemoImages> {
  const dir = join(resolve(dirname(fileURLToPath(import.meta.url)), '..'), 'fixtures', 'fashion-mnist');
  const [images, labels] = await Promise.all([readIdxGz(join(dir, 'train-images-idx3-ubyte.gz')), readIdxGz(join(dir, 'train-labels-idx1-ubyte.gz'))]);
  const [n, height, width] = images.dims;
  const size = width * height;
  return {
    images: Array.from({ length: n }, (_, i) => images.data.subarray(i * size, (i + 1) * size)),
    labels: Array.from(labels.data),
    labelNames: FASHION_MNIST_LABELS,
    width,
    height,
  };
}
