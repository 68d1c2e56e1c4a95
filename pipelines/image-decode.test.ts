import { deflateSync } from 'node:zlib';
import jpeg from 'jpeg-js';
import pngjs from 'pngjs';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../core/errors.ts';
import { decodeImageInput, encodePngBase64, MAX_IMAGE_PIXELS, type ImageRejection } from './image-decode.ts';

const { PNG } = pngjs;

const GRAY28 = { width: 28, height: 28, channels: 1 } as const;

/** Deterministic test pattern: a gradient plus a checkerboard, so channel or axis mix-ups show. */
function pattern(width: number, height: number, channels: number): Uint8Array {
  const out = new Uint8Array(width * height * channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < channels; c++) {
        out[(y * width + x) * channels + c] = (x * 7 + y * 3 + c * 60 + ((x ^ y) & 1) * 40) % 256;
      }
    }
  }
  return out;
}

function rgbaPngBase64(rgba: Uint8Array, width: number, height: number): string {
  const png = new PNG({ width, height });
  png.data = Buffer.from(rgba);
  return PNG.sync.write(png, { colorType: 6 }).toString('base64');
}

function jpegBytes(width: number, height: number, quality = 95): Buffer {
  // Smooth content: JPEG is lossy on checkerboards, and the test is about decoding, not codec quality.
  const rgba = Buffer.alloc(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      rgba[i] = x * 6;
      rgba[i + 1] = y * 6;
      rgba[i + 2] = 128;
      rgba[i + 3] = 255;
    }
  }
  return jpeg.encode({ width, height, data: rgba }, quality).data;
}

function expectRejection(fn: () => unknown, reason: ImageRejection, message?: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught, `expected a ValidationError (${reason})`).toBeInstanceOf(ValidationError);
  const err = caught as ValidationError;
  expect(err.status).toBe(400);
  expect(err.code).toBe('invalid_image');
  expect((err.details as { reason: string }).reason).toBe(reason);
  if (message) expect(err.message).toMatch(message);
}

/** A PNG that is only a signature and an IHDR chunk declaring the given size (no image data at all). */
function pngHeaderOnly(width: number, height: number, interlace = 0): Buffer {
  const ihdr = Buffer.alloc(25);
  ihdr.writeUInt32BE(13, 0);
  ihdr.write('IHDR', 4, 'latin1');
  ihdr.writeUInt32BE(width, 8);
  ihdr.writeUInt32BE(height, 12);
  ihdr[16] = 8; // bit depth
  ihdr[17] = 0; // gray
  ihdr[20] = interlace;
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), ihdr]);
}

function pngChunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  return Buffer.concat([head, data, Buffer.alloc(4)]); // CRC left zero: the check under test runs first
}

describe('encodePngBase64 / decodeImageInput round trips', () => {
  it('round-trips a grayscale PNG exactly', () => {
    const px = pattern(28, 28, 1);
    const b64 = encodePngBase64(px, 28, 28, 1);
    expect(b64.startsWith('iVBORw0KGgo')).toBe(true); // PNG signature in base64
    expect(decodeImageInput({ image: b64 }, GRAY28)).toEqual(px);
  });

  it('round-trips an RGB PNG exactly', () => {
    const px = pattern(20, 12, 3);
    const b64 = encodePngBase64(px, 20, 12, 3);
    expect(decodeImageInput({ image: b64 }, { width: 20, height: 12, channels: 3 })).toEqual(px);
  });

  it('accepts a data: URL', () => {
    const px = pattern(28, 28, 1);
    const url = `data:image/png;base64,${encodePngBase64(px, 28, 28, 1)}`;
    expect(decodeImageInput({ image: url }, GRAY28)).toEqual(px);
  });

  it('ignores whitespace in base64 (line-wrapped MIME style)', () => {
    const px = pattern(28, 28, 1);
    const wrapped = encodePngBase64(px, 28, 28, 1).replace(/(.{76})/g, '$1\r\n');
    expect(decodeImageInput({ image: wrapped }, GRAY28)).toEqual(px);
  });

  it('rejects bad arguments to the encoder', () => {
    expect(() => encodePngBase64(new Uint8Array(5), 2, 2, 1)).toThrow(RangeError);
    expect(() => encodePngBase64(new Uint8Array(0), 0, 2, 1)).toThrow(RangeError);
  });
});

describe('JPEG', () => {
  it('decodes a JPEG (RGB), within codec error', () => {
    const file = jpegBytes(32, 32);
    const out = decodeImageInput({ image: file.toString('base64') }, { width: 32, height: 32, channels: 3 });
    let err = 0;
    for (let y = 0; y < 32; y++) {
      for (let x = 0; x < 32; x++) {
        const i = (y * 32 + x) * 3;
        err += Math.abs(out[i] - x * 6) + Math.abs(out[i + 1] - y * 6) + Math.abs(out[i + 2] - 128);
      }
    }
    expect(err / (32 * 32 * 3)).toBeLessThan(3);
  });

  it('decodes a JPEG data: URL to gray with BT.601 luma', () => {
    const file = jpegBytes(16, 16);
    const url = `data:image/jpeg;base64,${file.toString('base64')}`;
    const out = decodeImageInput({ image: url }, { width: 16, height: 16, channels: 1 });
    const expected = 0.299 * (5 * 6) + 0.587 * (9 * 6) + 0.114 * 128; // pixel (x=5, y=9)
    expect(Math.abs(out[9 * 16 + 5] - expected)).toBeLessThan(6);
  });
});

describe('colour conversion', () => {
  it('converts RGB to gray with BT.601 luma', () => {
    const px = [255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30];
    const out = decodeImageInput({ pixels: px, width: 2, height: 2, channels: 3 }, { width: 2, height: 2, channels: 1 });
    expect(Array.from(out)).toEqual([76, 150, 29, Math.round(0.299 * 10 + 0.587 * 20 + 0.114 * 30)]);
  });

  it('converts gray to RGB by repetition', () => {
    const out = decodeImageInput({ pixels: [7, 200], width: 2, height: 1 }, { width: 2, height: 1, channels: 3 });
    expect(Array.from(out)).toEqual([7, 7, 7, 200, 200, 200]);
  });

  it('composites alpha over white (PNG and RGBA pixels)', () => {
    const rgba = new Uint8Array([0, 0, 0, 0, 0, 0, 0, 255, 0, 0, 0, 128, 200, 100, 50, 255]);
    const expected = [255, 0, 127, Math.round(0.299 * 200 + 0.587 * 100 + 0.114 * 50)];
    const target = { width: 2, height: 2, channels: 1 } as const;
    expect(Array.from(decodeImageInput({ image: rgbaPngBase64(rgba, 2, 2) }, target))).toEqual(expected);
    expect(Array.from(decodeImageInput({ pixels: Array.from(rgba), width: 2, height: 2, channels: 4 }, target))).toEqual(expected);
  });
});

describe('pixels scale rule', () => {
  it('reads all-within-0..1 arrays as 0..1 intensities', () => {
    const out = decodeImageInput({ pixels: [0, 0.5, 1, 0.25], width: 2, height: 2 }, { width: 2, height: 2, channels: 1 });
    expect(Array.from(out)).toEqual([0, 128, 255, 64]);
  });

  it('reads anything with a value above 1 as 0..255', () => {
    const out = decodeImageInput({ pixels: [0, 1, 200, 255], width: 2, height: 2 }, { width: 2, height: 2, channels: 1 });
    expect(Array.from(out)).toEqual([0, 1, 200, 255]);
  });

  it('accepts typed arrays from internal callers', () => {
    const px = pattern(28, 28, 1);
    expect(decodeImageInput({ pixels: px, width: 28, height: 28 }, GRAY28)).toEqual(px);
  });
});

describe('resizing', () => {
  it('shrinks 56x56 to 28x28 by area averaging', () => {
    const src = new Uint8Array(56 * 56);
    const expected = new Uint8Array(28 * 28);
    for (let by = 0; by < 28; by++) {
      for (let bx = 0; bx < 28; bx++) {
        // Each 2x2 block holds base-20, base, base, base+20: its mean is exactly `base`.
        const base = 20 + ((bx * 5 + by * 3) % 200);
        const block = [base - 20, base, base, base + 20];
        src[2 * by * 56 + 2 * bx] = block[0];
        src[2 * by * 56 + 2 * bx + 1] = block[1];
        src[(2 * by + 1) * 56 + 2 * bx] = block[2];
        src[(2 * by + 1) * 56 + 2 * bx + 1] = block[3];
        expected[by * 28 + bx] = base;
      }
    }
    const fromPng = decodeImageInput({ image: encodePngBase64(src, 56, 56, 1) }, GRAY28);
    expect(fromPng).toEqual(expected);
    const fromPixels = decodeImageInput({ pixels: Array.from(src), width: 56, height: 56 }, GRAY28);
    expect(fromPixels).toEqual(expected);
  });

  it('weights partial overlaps when shrinking by a non-integer factor', () => {
    const out = decodeImageInput({ pixels: [0, 90, 180], width: 3, height: 1 }, { width: 2, height: 1, channels: 1 });
    expect(Array.from(out)).toEqual([30, 150]);
  });

  it('enlarges bilinearly with aligned pixel centres', () => {
    const out = decodeImageInput({ pixels: [0, 255], width: 2, height: 1 }, { width: 4, height: 1, channels: 1 });
    expect(Array.from(out)).toEqual([0, 64, 191, 255]);
  });

  it('handles one axis shrinking while the other grows, and RGB targets', () => {
    const px = pattern(40, 10, 3);
    const out = decodeImageInput({ image: encodePngBase64(px, 40, 10, 3) }, { width: 20, height: 30, channels: 3 });
    expect(out.length).toBe(20 * 30 * 3);
  });

  it('keeps a constant image constant', () => {
    const out = decodeImageInput({ pixels: new Array(37 * 23).fill(123), width: 37, height: 23 }, GRAY28);
    expect(new Set(out)).toEqual(new Set([123]));
  });
});

describe('rejections', () => {
  const png = () => Buffer.from(encodePngBase64(pattern(28, 28, 1), 28, 28, 1), 'base64');

  it('neither or both of image and pixels', () => {
    expectRejection(() => decodeImageInput({}, GRAY28), 'missing_input');
    expectRejection(() => decodeImageInput({ image: png().toString('base64'), pixels: [0], width: 1, height: 1 }, GRAY28), 'ambiguous_input');
  });

  it('image that is not a string', () => {
    expectRejection(() => decodeImageInput({ image: 42 as unknown as string }, GRAY28), 'bad_type');
  });

  it('malformed base64', () => {
    expectRejection(() => decodeImageInput({ image: 'iVBORw0K$$GgoAAAA' }, GRAY28), 'malformed_base64', /position 8/);
    expectRejection(() => decodeImageInput({ image: 'iVBO=Rw0' }, GRAY28), 'malformed_base64');
    expectRejection(() => decodeImageInput({ image: '' }, GRAY28), 'malformed_base64');
    expectRejection(() => decodeImageInput({ image: 'data:image/png;base64,' }, GRAY28), 'malformed_base64');
  });

  it('truncated base64', () => {
    const b64 = png().toString('base64');
    expectRejection(() => decodeImageInput({ image: b64.slice(0, b64.length - 3) }, GRAY28), 'malformed_base64', /multiple of 4/);
  });

  it('base64 cut on a 4-character boundary: a truncated PNG or JPEG', () => {
    const pngBytes = png();
    expectRejection(() => decodeImageInput({ image: pngBytes.subarray(0, 60).toString('base64') }, GRAY28), 'corrupt_image', /PNG/);
    const jpg = jpegBytes(32, 32);
    expectRejection(() => decodeImageInput({ image: jpg.subarray(0, Math.floor(jpg.length / 2)).toString('base64') }, GRAY28), 'corrupt_image', /JPEG/);
  });

  it('a file that is neither PNG nor JPEG', () => {
    const gif = Buffer.from('GIF89a\x01\x00\x01\x00\x00\x00\x00;', 'latin1');
    expectRejection(() => decodeImageInput({ image: gif.toString('base64') }, GRAY28), 'unsupported_format');
    expectRejection(() => decodeImageInput({ image: Buffer.from('hello world!').toString('base64') }, GRAY28), 'unsupported_format');
  });

  it('a data: URL of another type, or not base64', () => {
    const b64 = png().toString('base64');
    expectRejection(() => decodeImageInput({ image: `data:image/gif;base64,${b64}` }, GRAY28), 'bad_data_url');
    expectRejection(() => decodeImageInput({ image: `data:image/png,${b64}` }, GRAY28), 'bad_data_url');
    expectRejection(() => decodeImageInput({ image: `data:image/png;base64` }, GRAY28), 'bad_data_url');
  });

  it('a PNG header declaring more than the pixel limit, before decoding', () => {
    const bomb = pngHeaderOnly(5000, 5000);
    expectRejection(() => decodeImageInput({ image: bomb.toString('base64') }, GRAY28), 'too_many_pixels', /5000x5000/);
    // Exactly at the limit passes the header check (and then fails only because there is no data).
    const atLimit = pngHeaderOnly(4096, MAX_IMAGE_PIXELS / 4096);
    expectRejection(() => decodeImageInput({ image: atLimit.toString('base64') }, GRAY28), 'corrupt_image');
  });

  it('a JPEG SOF header declaring more than the pixel limit, before decoding', () => {
    const app0 = Buffer.from([0xff, 0xe0, 0x00, 0x10, ...Buffer.from('JFIF\0', 'latin1'), 1, 1, 0, 0, 1, 0, 1, 0, 0]);
    const sof0 = Buffer.from([0xff, 0xc0, 0x00, 0x0b, 8, 0xea, 0x60, 0xea, 0x60, 1, 1, 0x11, 0]); // 60000x60000
    const bomb = Buffer.concat([Buffer.from([0xff, 0xd8]), app0, sof0]);
    expectRejection(() => decodeImageInput({ image: bomb.toString('base64') }, GRAY28), 'too_many_pixels', /60000x60000/);
  });

  it('a JPEG without a frame header', () => {
    const noSof = Buffer.from([0xff, 0xd8, 0xff, 0xd9]);
    expectRejection(() => decodeImageInput({ image: noSof.toString('base64') }, GRAY28), 'bad_header');
  });

  it('an interlaced PNG whose data inflates beyond its declared size', () => {
    const head = pngHeaderOnly(64, 64, 1);
    const idat = pngChunk('IDAT', deflateSync(Buffer.alloc(8 * 1024 * 1024)));
    const file = Buffer.concat([head, idat, pngChunk('IEND', Buffer.alloc(0))]);
    expectRejection(() => decodeImageInput({ image: file.toString('base64') }, GRAY28), 'too_many_pixels');
  });

  it('pixels of the wrong length', () => {
    expectRejection(() => decodeImageInput({ pixels: [1, 2, 3], width: 2, height: 2 }, GRAY28), 'bad_pixels_length', /needs 4/);
    expectRejection(
      () => decodeImageInput({ pixels: new Array(12).fill(0), width: 2, height: 2 }, GRAY28), // 3 channels' worth, channels omitted
      'bad_pixels_length',
    );
  });

  it('NaN, Infinity, out-of-range and non-number values', () => {
    const base = { width: 2, height: 2 };
    expectRejection(() => decodeImageInput({ ...base, pixels: [0, NaN, 0, 0] }, GRAY28), 'bad_pixel_value', /\[1\]/);
    expectRejection(() => decodeImageInput({ ...base, pixels: [0, 0, Infinity, 0] }, GRAY28), 'bad_pixel_value', /\[2\]/);
    expectRejection(() => decodeImageInput({ ...base, pixels: [0, 0, 0, 256] }, GRAY28), 'bad_pixel_value', /outside/);
    expectRejection(() => decodeImageInput({ ...base, pixels: [-1, 0, 0, 0] }, GRAY28), 'bad_pixel_value', /outside/);
    expectRejection(() => decodeImageInput({ ...base, pixels: [0, '1', 0, 0] }, GRAY28), 'bad_pixel_value');
    expectRejection(() => decodeImageInput({ ...base, pixels: [0, null, 0, 0] }, GRAY28), 'bad_pixel_value');
  });

  it('bad width, height, channels or pixels type', () => {
    expectRejection(() => decodeImageInput({ pixels: [0, 0], width: 2 }, GRAY28), 'bad_dimensions');
    expectRejection(() => decodeImageInput({ pixels: [0, 0], width: 2.5, height: 1 }, GRAY28), 'bad_dimensions');
    expectRejection(() => decodeImageInput({ pixels: [0, 0], width: '2', height: 1 }, GRAY28), 'bad_dimensions');
    expectRejection(() => decodeImageInput({ pixels: [0, 0], width: 1, height: 1, channels: 2 }, GRAY28), 'bad_channels');
    expectRejection(() => decodeImageInput({ pixels: '0,0', width: 2, height: 1 }, GRAY28), 'bad_type');
    expectRejection(() => decodeImageInput({ pixels: [0], width: 5000, height: 5000 }, GRAY28), 'too_many_pixels');
  });

  it('treats a bad target as a programming error, not bad input', () => {
    expect(() => decodeImageInput({ pixels: [0], width: 1, height: 1 }, { width: 0, height: 28, channels: 1 })).toThrow(RangeError);
  });
});
