import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../core/errors.ts';
import { pngBomb } from '../test/fixtures/images.ts';
import { MAX_DECODED_PIXELS, PREVIEW_MAX_SIDE, processImage, THUMB_MAX_SIDE } from './images.ts';

/** A wide picture: left half white, right half mid-grey. */
const wide = () =>
  sharp({ create: { width: 80, height: 40, channels: 3, background: '#ffffff' } })
    .composite([{ input: { create: { width: 40, height: 40, channels: 3, background: '#808080' } }, left: 40, top: 0 }])
    .png()
    .toBuffer();

async function rejection(p: Promise<unknown>): Promise<{ reason: string; message: string }> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(ValidationError);
  return { reason: ((e as ValidationError).details as { reason: string }).reason, message: (e as Error).message };
}

describe('processImage (sharp)', () => {
  it('letterboxes by default: the whole picture, padded with black above and below', async () => {
    const out = await processImage(await wide(), { width: 8, height: 8, channels: 1 }, 'letterbox');
    expect(out.input.length).toBe(64);
    const row = (y: number) => Array.from(out.input.subarray(y * 8, y * 8 + 8));
    expect(row(0)).toEqual(new Array(8).fill(0));
    expect(row(7)).toEqual(new Array(8).fill(0));
    expect(row(4)[0]).toBeGreaterThan(240);
    expect(row(4)[7]).toBeGreaterThan(110);
    expect(row(4)[7]).toBeLessThan(145);
  });

  it("gives a picture already at the model size back byte for byte (gray and RGB): the benchmarks' inputs do not change", async () => {
    for (const channels of [1, 3] as const) {
      const px = new Uint8Array(28 * 28 * channels).map((_, i) => (i * 37 + (i >> 5)) % 256);
      const png = await sharp(Buffer.from(px), { raw: { width: 28, height: 28, channels } })
        .png()
        .toBuffer();
      for (const fit of ['letterbox', 'crop'] as const) expect((await processImage(png, { width: 28, height: 28, channels }, fit)).input).toEqual(px);
    }
  });

  it('crops the centre with imageFit crop: no padding, both halves present', async () => {
    const out = await processImage(await wide(), { width: 8, height: 8, channels: 3 }, 'crop');
    expect(out.input.length).toBe(8 * 8 * 3);
    expect(Math.min(...out.input)).toBeGreaterThan(100);
    expect(out.input[0]).toBeGreaterThan(240); // left column: white
    expect(out.input[7 * 3]).toBeLessThan(145); // right column: grey
  });

  it('applies EXIF orientation: a 60x20 photo tagged "rotate 90" is 20x60, and so are its preview and thumbnail', async () => {
    const jpg = await sharp({ create: { width: 600, height: 200, channels: 3, background: '#3366cc' } })
      .jpeg()
      .withMetadata({ orientation: 6 })
      .toBuffer();
    const out = await processImage(jpg, { width: 28, height: 28, channels: 3 }, 'letterbox');
    expect([out.width, out.height]).toEqual([200, 600]);
    expect(out.contentType).toBe('image/jpeg');
    const thumb = await sharp(out.thumb!).metadata();
    expect(thumb.format).toBe('jpeg');
    expect(thumb.height).toBe(THUMB_MAX_SIDE);
    expect(thumb.width).toBeLessThan(THUMB_MAX_SIDE);
    expect(out.preview).toBeUndefined(); // 600 px is under the preview size: the original serves
  });

  it('downscales a 24-megapixel photo instead of refusing it; the preview is at most 1024 px', async () => {
    const jpg = await sharp({ create: { width: 6000, height: 4000, channels: 3, background: '#808080' } })
      .jpeg({ quality: 50 })
      .toBuffer();
    const out = await processImage(jpg, { width: 32, height: 32, channels: 3 }, 'letterbox');
    expect([out.width, out.height]).toEqual([6000, 4000]);
    const preview = await sharp(out.preview!).metadata();
    expect([preview.width, preview.height]).toEqual([PREVIEW_MAX_SIDE, 683]);
  });

  it('accepts WebP, GIF and TIFF', async () => {
    const base = sharp({ create: { width: 30, height: 30, channels: 3, background: '#ff0000' } });
    for (const [fmt, type] of [
      ['webp', 'image/webp'],
      ['gif', 'image/gif'],
      ['tiff', 'image/tiff'],
    ] as const) {
      const out = await processImage(await base.clone().toFormat(fmt).toBuffer(), { width: 10, height: 10, channels: 3 }, 'letterbox');
      expect(out.contentType).toBe(type);
      expect(out.input[0]).toBeGreaterThan(200); // red
    }
  });

  it('refuses a truncated JPEG, junk bytes and a decompression bomb with a reason', async () => {
    const jpg = await sharp({ create: { width: 400, height: 300, channels: 3, background: '#000', noise: { type: 'gaussian', mean: 128, sigma: 40 } } })
      .jpeg()
      .toBuffer();
    const target = { width: 8, height: 8, channels: 1 } as const;
    expect((await rejection(processImage(jpg.subarray(0, jpg.length >> 1), target, 'letterbox'))).reason).toBe('corrupt_image');
    expect((await rejection(processImage(Buffer.from('not an image at all'), target, 'letterbox'))).reason).toBe('corrupt_image');
    const bomb = await rejection(processImage(await pngBomb(30_000, 30_000), target, 'letterbox'));
    expect(bomb.reason).toBe('too_many_pixels');
    expect(bomb.message).toContain(String(MAX_DECODED_PIXELS));
  });
});
