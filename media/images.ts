/**
 * Encoded images (JPEG, PNG, WebP, GIF, TIFF) through sharp (libvips): decoding, EXIF auto-orientation and
 * resizing run in libuv's threadpool, so the event loop keeps answering other requests while a batch of
 * 12-megapixel photos is read. This module and ingest's decoding step are the only places that import sharp.
 *
 * Input is untrusted: every failure is a `ValidationError` (code `invalid_image`, `details.reason` says which
 * check failed), and the decoded size is bounded before decoding (a decompression bomb is refused from its
 * header, and libvips' own `limitInputPixels` stays as a second line of defence).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import sharp, { type Metadata, type Raw, type Sharp } from 'sharp';
import { ValidationError } from '../core/errors.ts';

/** How a picture is fitted into the model's input size: letterbox (pad, keep all of it) or centre crop. */
export type ImageFit = 'letterbox' | 'crop';

/** The model's input geometry. */
export interface ImageTarget {
  width: number;
  height: number;
  channels: 1 | 3;
}

/**
 * Largest decoded image accepted, in pixels (100 megapixels: a 24-megapixel phone photo and a 50-megapixel
 * camera frame pass and are downscaled; a file declaring 30,000 x 30,000 is refused before decoding).
 */
export const MAX_DECODED_PIXELS = 100_000_000;
/** Longest side of the preview served to the review page, in pixels. */
export const PREVIEW_MAX_SIDE = 1024;
/** Longest side of the thumbnail, in pixels. */
export const THUMB_MAX_SIDE = 256;
/**
 * Content type of previews and thumbnails. JPEG rather than WebP: encoding a 1024 px preview costs about 8 ms
 * of CPU as JPEG and 30-75 ms as WebP, against about 65 ms to decode a 12-megapixel photo, so WebP would cost a
 * third to a half of ingest throughput for previews a little smaller.
 */
export const DERIVED_CONTENT_TYPE = 'image/jpeg';

const FORMATS: Record<string, string> = {
  jpeg: 'image/jpeg',
  png: 'image/png',
  webp: 'image/webp',
  gif: 'image/gif',
  tiff: 'image/tiff',
};

/** An encoded image read and checked: the model input, the variants to store, and what the item records. */
export interface ProcessedImage {
  /** sha256 (hex) of the original bytes: the media id (content addressed). */
  sha256: string;
  /** Content type of the original, from its bytes (not from a file name or a declared type). */
  contentType: string;
  /** Size after EXIF orientation. */
  width: number;
  height: number;
  /** Row-major HWC uint8, `target.width * target.height * target.channels` bytes. */
  input: Uint8Array;
  /** JPEG, longest side PREVIEW_MAX_SIDE; absent when the original is no larger (the original serves). */
  preview?: Buffer;
  /** JPEG, longest side THUMB_MAX_SIDE; absent when the original is no larger. */
  thumb?: Buffer;
}

function reject(reason: string, message: string, extra?: Record<string, unknown>): never {
  throw new ValidationError(message, { reason, ...extra }, 'invalid_image');
}

function errorText(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.replace(/\s+/g, ' ').replace(/\.$/, '').slice(0, 200);
}

/** The content type of a supported image format name as sharp reports it, or undefined. */
export function contentTypeOfFormat(format: string | undefined): string | undefined {
  return format ? FORMATS[format] : undefined;
}

/** sha256 (hex) of a buffer or of a file's bytes (streamed). */
export async function sha256Of(source: Buffer | string): Promise<string> {
  const hash = createHash('sha256');
  if (typeof source !== 'string') return hash.update(source).digest('hex');
  for await (const chunk of createReadStream(source)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Reads the header only, so that a decompression bomb is refused before any pixel is decoded, and an
 * unsupported or unreadable file is named as such.
 */
async function checkHeader(source: Buffer | string): Promise<{ format: string; width: number; height: number }> {
  let meta: Metadata;
  try {
    meta = await sharp(source, { limitInputPixels: false }).metadata();
  } catch (err) {
    reject('corrupt_image', `The file is not a readable image (JPEG, PNG, WebP, GIF or TIFF): ${errorText(err)}.`);
  }
  const contentType = contentTypeOfFormat(meta.format);
  if (!contentType) reject('unsupported_format', `Images must be JPEG, PNG, WebP, GIF or TIFF; this file is ${meta.format ?? 'of an unknown format'}.`);
  const width = meta.width ?? 0;
  const height = meta.pageHeight && meta.pages && meta.pages > 1 ? meta.pageHeight : (meta.height ?? 0);
  if (width <= 0 || height <= 0) reject('bad_header', `The ${meta.format} header declares an empty image (${width}x${height}).`);
  if (width * height > MAX_DECODED_PIXELS) {
    reject('too_many_pixels', `The ${meta.format} header declares ${width}x${height} pixels, more than the limit of ${MAX_DECODED_PIXELS} (100 megapixels).`, {
      width,
      height,
      maxPixels: MAX_DECODED_PIXELS,
    });
  }
  // EXIF orientations 5-8 turn the picture by 90 degrees: the item's size is the one a person sees.
  const turned = (meta.orientation ?? 1) >= 5;
  return { format: meta.format as string, width: turned ? height : width, height: turned ? width : height };
}

/** Decoding options shared by every pipeline: refuse truncated or corrupt data, bound the pixels, first frame only. */
function open(source: Buffer | string | { raw: Raw; data: Buffer }) {
  if (typeof source === 'string' || Buffer.isBuffer(source)) return sharp(source, { failOn: 'error', limitInputPixels: MAX_DECODED_PIXELS, animated: false });
  return sharp(source.data, { raw: source.raw });
}

/** Model input from a decoded (already oriented) raster or an encoded image, fitted as the project says. */
async function modelInput(image: Sharp, target: ImageTarget, fit: ImageFit): Promise<Uint8Array> {
  // Transparency reads as a white page (as the old decoder did), then the picture is fitted: letterbox pads
  // with black, crop keeps the centre.
  let p = image
    .flatten({ background: '#ffffff' })
    .resize(target.width, target.height, fit === 'crop' ? { fit: 'cover', position: 'centre' } : { fit: 'contain', background: '#000000' });
  p = target.channels === 1 ? p.toColourspace('b-w') : p.toColourspace('srgb');
  const { data, info } = await p.removeAlpha().raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  if (info.width !== target.width || info.height !== target.height || info.channels !== target.channels) {
    throw new Error(`sharp produced ${info.width}x${info.height}x${info.channels}, wanted ${target.width}x${target.height}x${target.channels}`);
  }
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

async function decodeOrReject<T>(what: () => Promise<T>): Promise<T> {
  try {
    return await what();
  } catch (err) {
    if (err instanceof ValidationError) throw err;
    const text = errorText(err);
    if (/pixel limit/i.test(text)) reject('too_many_pixels', `The image has more than ${MAX_DECODED_PIXELS} pixels (100 megapixels).`);
    reject('corrupt_image', `The image could not be decoded (corrupt or truncated): ${text}.`);
  }
}

/**
 * Reads an encoded image (a Buffer, or the path of a file on disk) and makes the model input, the preview
 * and the thumbnail. The original is decoded once, shrunk on load to the preview size and EXIF-oriented; the
 * smaller variants come from that raster. A picture no larger than a variant gets none (the original serves).
 *
 * @throws ValidationError (`invalid_image`) for a corrupt, truncated, unsupported or oversized image.
 */
export async function processImage(source: Buffer | string, target: ImageTarget, fit: ImageFit): Promise<ProcessedImage> {
  const header = await checkHeader(source);
  const [sha256, body] = await Promise.all([
    sha256Of(source),
    decodeOrReject(async () => {
      const longest = Math.max(header.width, header.height);
      if (longest <= THUMB_MAX_SIDE) return { input: await modelInput(open(source).rotate(), target, fit) };
      const { data, info } = await open(source)
        .rotate()
        .resize(PREVIEW_MAX_SIDE, PREVIEW_MAX_SIDE, { fit: 'inside', withoutEnlargement: true })
        .raw({ depth: 'uchar' })
        .toBuffer({ resolveWithObject: true });
      const raster = { data, raw: { width: info.width, height: info.height, channels: info.channels } };
      const [input, preview, thumb] = await Promise.all([
        modelInput(open(raster), target, fit),
        longest > PREVIEW_MAX_SIDE ? open(raster).flatten({ background: '#ffffff' }).jpeg({ quality: 82 }).toBuffer() : Promise.resolve(undefined),
        open(raster).resize(THUMB_MAX_SIDE, THUMB_MAX_SIDE, { fit: 'inside' }).flatten({ background: '#ffffff' }).jpeg({ quality: 75 }).toBuffer(),
      ]);
      return { input, preview, thumb };
    }),
  ]);
  return { sha256, contentType: FORMATS[header.format], width: header.width, height: header.height, ...body };
}

/** Model input only (no variants), for predictions on images a client sends and nothing stores. */
export async function imageModelInput(source: Buffer, target: ImageTarget, fit: ImageFit): Promise<Uint8Array> {
  await checkHeader(source);
  return decodeOrReject(() => modelInput(open(source).rotate(), target, fit));
}

/** Encodes HWC uint8 pixels (1, 3 or 4 channels) as a lossless PNG. */
export async function encodePng(pixels: Uint8Array, width: number, height: number, channels: 1 | 3 | 4): Promise<Buffer> {
  return sharp(Buffer.from(pixels.buffer, pixels.byteOffset, pixels.byteLength), { raw: { width, height, channels } })
    .png()
    .toBuffer();
}
