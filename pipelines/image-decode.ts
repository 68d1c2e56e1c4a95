/**
 * Turns the image part of an `ItemData` (API.md) into the model-ready bytes the image model expects:
 * a row-major HWC `Uint8Array` of exactly `target.height * target.width * target.channels` bytes.
 *
 * Input is untrusted (it comes straight from request bodies), so every failure is a `ValidationError`
 * (code `invalid_image`, `details.reason` says which check failed) and image dimensions are read from the
 * file header and bounded before any decompression happens.
 *
 * Pure: no tfjs, no I/O, no module state.
 */
import { inflateSync } from 'node:zlib';
import jpeg from 'jpeg-js';
import pngjs from 'pngjs';
import { ValidationError } from '../core/errors.ts';

// pngjs is CommonJS; a default import is the interop form that works under both tsx and tsc (NodeNext).
const { PNG } = pngjs;

/**
 * Largest image accepted, in pixels (4096 x 4096 = 16,777,216, "16 megapixels"). Checked against the
 * dimensions a PNG IHDR or JPEG SOF header declares, before decoding, so that a small file declaring a huge
 * image (a decompression bomb) is refused without allocating its bitmap. Also applies to raw `pixels`.
 */
export const MAX_IMAGE_PIXELS = 4096 * 4096;

/** The image fields of an `ItemData`; everything is `unknown` because it comes from a parsed request body. */
export interface ImageInputData {
  /** Base64 PNG or JPEG, optionally as a `data:image/png;base64,` / `data:image/jpeg;base64,` URL. */
  image?: string;
  /** Flat row-major HWC intensities, `width * height * channels` long. */
  pixels?: unknown;
  width?: unknown;
  height?: unknown;
  /** 1 (gray, the default), 3 (RGB) or 4 (RGBA, composited over white). */
  channels?: unknown;
}

/** The model's input geometry. */
export interface ImageTarget {
  width: number;
  height: number;
  channels: 1 | 3;
}

/** Why an input was refused; stable strings for clients and tests (`details.reason`). */
export type ImageRejection =
  | 'missing_input'
  | 'ambiguous_input'
  | 'bad_type'
  | 'bad_data_url'
  | 'malformed_base64'
  | 'unsupported_format'
  | 'bad_header'
  | 'too_many_pixels'
  | 'corrupt_image'
  | 'bad_dimensions'
  | 'bad_channels'
  | 'bad_pixels_length'
  | 'bad_pixel_value';

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const JPEG_MAGIC = [0xff, 0xd8, 0xff];

/** A source image in any channel count we accept; `data[i] * scale` is the 0..255 intensity. */
interface Raster {
  width: number;
  height: number;
  channels: 1 | 3 | 4;
  data: ArrayLike<number>;
  scale: number;
}

function reject(reason: ImageRejection, message: string, extra?: Record<string, unknown>): never {
  throw new ValidationError(message, { reason, ...extra }, 'invalid_image');
}

/**
 * Decodes `{image}` or `{pixels, width, height, channels?}` into HWC uint8 of the target size.
 *
 * - `image`: base64 (RFC 4648 standard alphabet, padding required, whitespace ignored) of a PNG or JPEG,
 *   optionally wrapped in a `data:image/png;base64,` or `data:image/jpeg;base64,` URL. The format is taken
 *   from the file's magic bytes, not from the URL's declared type.
 * - `pixels`: a flat array of `width * height * channels` finite numbers, row-major HWC, `channels` 1 (default),
 *   3 or 4. Scale rule: if every value is within 0..1 the array is read as 0..1 intensities (multiplied by
 *   255); otherwise every value must be within 0..255. An image whose values are all 0 or 1 is therefore read
 *   as black and white, never as near-black 0..255.
 *
 * Colour handling: alpha is composited over white, RGB becomes gray with BT.601 luma
 * (0.299 R + 0.587 G + 0.114 B), gray becomes RGB by repetition. Resizing is area averaging along an axis that
 * shrinks and bilinear (pixel centres aligned) along an axis that grows; values are rounded at the end.
 *
 * @throws ValidationError (code `invalid_image`, `details.reason` an {@link ImageRejection}) for bad input.
 * @throws RangeError if `target` itself is invalid (a programming error, not bad input).
 */
export function decodeImageInput(data: ImageInputData, target: ImageTarget): Uint8Array {
  checkTarget(target);
  if (typeof data !== 'object' || data === null) {
    reject('bad_type', 'Image item data must be an object with "image" or "pixels".');
  }
  const hasImage = data.image !== undefined && data.image !== null;
  const hasPixels = data.pixels !== undefined && data.pixels !== null;
  if (hasImage && hasPixels) {
    reject('ambiguous_input', 'Send either "image" or "pixels", not both.');
  }
  if (!hasImage && !hasPixels) {
    reject('missing_input', 'Image items need "image" (base64 PNG or JPEG) or "pixels" (with "width" and "height").');
  }
  const raster = hasImage ? decodeEncodedImage(data.image) : rasterFromPixels(data);
  const resized = resize(raster, target.width, target.height, target.channels);
  const out = new Uint8Array(resized.length);
  for (let i = 0; i < resized.length; i++) {
    const v = Math.round(resized[i]);
    out[i] = v < 0 ? 0 : Math.min(v, 255);
  }
  return out;
}

/**
 * Encodes HWC uint8 pixels as a PNG (8-bit gray for 1 channel, 8-bit RGB for 3) and returns plain base64,
 * without a `data:` prefix. Used to build fixtures, the demo project and web UI payloads.
 *
 * @throws RangeError if the dimensions are not positive integers or `pixels` has the wrong length.
 */
export function encodePngBase64(pixels: Uint8Array, width: number, height: number, channels: 1 | 3): string {
  if (!isPositiveInt(width) || !isPositiveInt(height)) {
    throw new RangeError(`encodePngBase64: width and height must be positive integers, got ${width}x${height}.`);
  }
  if (channels !== 1 && channels !== 3) {
    throw new RangeError(`encodePngBase64: channels must be 1 or 3, got ${String(channels)}.`);
  }
  if (pixels.length !== width * height * channels) {
    throw new RangeError(`encodePngBase64: expected ${width * height * channels} bytes for ${width}x${height}x${channels}, got ${pixels.length}.`);
  }
  const png = new PNG({ width, height });
  png.data = Buffer.from(pixels.buffer, pixels.byteOffset, pixels.byteLength);
  const colorType = channels === 1 ? 0 : 2;
  const file = PNG.sync.write(png, { colorType, inputColorType: colorType, inputHasAlpha: false });
  return file.toString('base64');
}

function checkTarget(target: ImageTarget): void {
  if (!isPositiveInt(target.width) || !isPositiveInt(target.height) || (target.channels !== 1 && target.channels !== 3)) {
    throw new RangeError(`decodeImageInput: bad target ${JSON.stringify(target)}; want positive integer width/height and channels 1 or 3.`);
  }
}

function isPositiveInt(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n > 0;
}

// ---------------------------------------------------------------------------------------------------------
// Encoded images (base64 PNG / JPEG)

function decodeEncodedImage(image: unknown): Raster {
  if (typeof image !== 'string') {
    reject('bad_type', '"image" must be a base64 string (PNG or JPEG), optionally a data: URL.');
  }
  const bytes = decodeBase64Strict(stripDataUrl(image));
  if (startsWith(bytes, PNG_MAGIC)) return decodePng(bytes);
  if (startsWith(bytes, JPEG_MAGIC)) return decodeJpeg(bytes);
  reject('unsupported_format', '"image" is not a PNG or JPEG file (its first bytes match neither format).');
}

function stripDataUrl(image: string): string {
  return splitDataUrl(image, /^data:(image\/(?:png|jpeg|jpg|pjpeg))((?:;[^;,]*)*)$/, 'Only data:image/png;base64 and data:image/jpeg;base64 URLs are accepted.')
    .payload;
}

function splitDataUrl(image: string, pattern: RegExp, refusal: string): { payload: string; declared?: string } {
  if (!/^\s*data:/i.test(image)) return { payload: image };
  const comma = image.indexOf(',');
  if (comma < 0) reject('bad_data_url', 'The data: URL in "image" has no "," before its payload.');
  const header = image.slice(0, comma).trim().toLowerCase();
  const match = pattern.exec(header);
  if (!match) reject('bad_data_url', refusal, { declared: header.slice(0, 64) });
  if (!match[2].split(';').includes('base64')) {
    reject('bad_data_url', 'The data: URL in "image" must be base64-encoded (";base64,").');
  }
  return { payload: image.slice(comma + 1), declared: match[1] };
}

/**
 * The bytes of an `image` field (base64, optionally a data: URL of a JPEG, PNG, WebP, GIF or TIFF), strictly
 * checked, for decoding with sharp. `declaredType` is the data: URL's type (normalised: image/jpg and
 * image/pjpeg read as image/jpeg), which the caller checks against the format found in the bytes.
 */
export function decodeBase64Image(image: unknown): { bytes: Buffer; declaredType?: string } {
  if (typeof image !== 'string') {
    reject('bad_type', '"image" must be a base64 string (JPEG, PNG, WebP, GIF or TIFF), optionally a data: URL.');
  }
  const { payload, declared } = splitDataUrl(
    image,
    /^data:(image\/(?:png|jpeg|jpg|pjpeg|webp|gif|tiff))((?:;[^;,]*)*)$/,
    'Only data:image/{jpeg,png,webp,gif,tiff};base64 URLs are accepted.',
  );
  const declaredType = declared === 'image/jpg' || declared === 'image/pjpeg' ? 'image/jpeg' : declared;
  return { bytes: decodeBase64Strict(payload), declaredType };
}

/**
 * Node's own base64 decoder silently skips characters it does not know and accepts any length, which
 * would turn a truncated or mangled upload into a plausible-looking but wrong file. Check first.
 */
function decodeBase64Strict(text: string): Buffer {
  const compact = text.replace(/\s+/g, '');
  if (compact.length === 0) reject('malformed_base64', '"image" is empty.');
  const bad = compact.search(/[^A-Za-z0-9+/=]/);
  if (bad >= 0) {
    reject('malformed_base64', `"image" is not valid base64: unexpected character at position ${bad}.`, {
      position: bad,
    });
  }
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(compact)) {
    reject('malformed_base64', '"image" is not valid base64: "=" padding may only appear at the end.');
  }
  if (compact.length % 4 !== 0) {
    reject('malformed_base64', `"image" is not valid base64: its length (${compact.length}) is not a multiple of 4, so it is truncated or unpadded.`);
  }
  return Buffer.from(compact, 'base64');
}

function startsWith(bytes: Uint8Array, magic: readonly number[]): boolean {
  if (bytes.length < magic.length) return false;
  return magic.every((b, i) => bytes[i] === b);
}

function checkDeclaredSize(format: 'PNG' | 'JPEG', width: number, height: number): void {
  if (width === 0 || height === 0) {
    reject('bad_header', `The ${format} header declares an empty image (${width}x${height}).`, { width, height });
  }
  if (width * height > MAX_IMAGE_PIXELS) {
    reject('too_many_pixels', `The ${format} header declares ${width}x${height} pixels, more than the limit of ${MAX_IMAGE_PIXELS} (4096x4096).`, {
      width,
      height,
      maxPixels: MAX_IMAGE_PIXELS,
    });
  }
}

function decodePng(bytes: Buffer): Raster {
  // The IHDR chunk must come first: 8 magic + 4 length + "IHDR" + 13 data + 4 CRC.
  if (bytes.length < 33 || bytes.toString('latin1', 12, 16) !== 'IHDR' || bytes.readUInt32BE(8) !== 13) {
    reject('bad_header', 'The PNG is truncated or has no IHDR header.');
  }
  const width = bytes.readUInt32BE(16);
  const height = bytes.readUInt32BE(20);
  checkDeclaredSize('PNG', width, height);
  const interlaced = bytes[28] === 1;
  if (interlaced) checkInterlacedInflateBound(bytes, width, height);
  let png: { width: number; height: number; data: Buffer };
  try {
    png = PNG.sync.read(bytes);
  } catch (err) {
    reject('corrupt_image', `The PNG could not be decoded (corrupt or truncated): ${errorText(err)}.`);
  }
  if (png.data.length !== png.width * png.height * 4) {
    reject('corrupt_image', 'The PNG decoded to an unexpected number of bytes.');
  }
  return { width: png.width, height: png.height, channels: 4, data: png.data, scale: 1 };
}

/**
 * pngjs bounds its inflate output by the IHDR size for plain PNGs but not for interlaced ones, where a tiny
 * IDAT could still expand without limit. Inflate the IDAT stream once with a hard cap before handing it over.
 */
function checkInterlacedInflateBound(bytes: Buffer, width: number, height: number): void {
  const parts: Buffer[] = [];
  let off = 8;
  while (off + 12 <= bytes.length) {
    const len = bytes.readUInt32BE(off);
    const type = bytes.toString('latin1', off + 4, off + 8);
    if (off + 12 + len > bytes.length) break;
    if (type === 'IDAT') parts.push(bytes.subarray(off + 8, off + 8 + len));
    if (type === 'IEND') break;
    off += 12 + len;
  }
  // Worst case: 16-bit RGBA (8 bytes a pixel), plus a filter byte per row of each of the 7 Adam7 passes.
  const bound = width * height * 8 + 7 * (height + 1) + 1024;
  try {
    inflateSync(Buffer.concat(parts), { maxOutputLength: bound });
  } catch (err) {
    const tooLarge = (err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE' || err instanceof RangeError;
    reject(
      tooLarge ? 'too_many_pixels' : 'corrupt_image',
      tooLarge ? 'The PNG image data expands to more than its header declares.' : `The PNG could not be decoded (corrupt or truncated): ${errorText(err)}.`,
    );
  }
}

/** Reads the frame size from the first SOFn segment, walking the marker segments before it. */
function readJpegSize(bytes: Buffer): { width: number; height: number } {
  const truncated = (): never => reject('bad_header', 'The JPEG is truncated before its frame (SOF) header.');
  let off = 2;
  for (;;) {
    if (off >= bytes.length) return truncated();
    if (bytes[off] !== 0xff) {
      reject('bad_header', `The JPEG is malformed: expected a marker at byte ${off}.`);
    }
    while (off < bytes.length && bytes[off] === 0xff) off++;
    if (off >= bytes.length) return truncated();
    const marker = bytes[off++];
    // Markers without a length field: TEM, RSTn, SOI.
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd8)) continue;
    if (marker === 0xd9 || marker === 0xda) {
      reject('bad_header', 'The JPEG has no frame (SOF) header before its image data.');
    }
    if (off + 2 > bytes.length) return truncated();
    const segmentLength = bytes.readUInt16BE(off);
    if (segmentLength < 2) reject('bad_header', `The JPEG is malformed: bad segment length at byte ${off}.`);
    const isSof = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isSof) {
      if (off + 7 > bytes.length) return truncated();
      return { height: bytes.readUInt16BE(off + 3), width: bytes.readUInt16BE(off + 5) };
    }
    off += segmentLength;
  }
}

function decodeJpeg(bytes: Buffer): Raster {
  const { width, height } = readJpegSize(bytes);
  checkDeclaredSize('JPEG', width, height);
  let img: { width: number; height: number; data: Uint8Array };
  try {
    img = jpeg.decode(bytes, {
      useTArray: true,
      formatAsRGBA: true,
      // jpeg-js keeps its own limits; set them to ours as a second line of defence.
      maxResolutionInMP: Math.ceil(MAX_IMAGE_PIXELS / 1e6),
      maxMemoryUsageInMB: 512,
    });
  } catch (err) {
    reject('corrupt_image', `The JPEG could not be decoded (corrupt or truncated): ${errorText(err)}.`);
  }
  if (img.data.length !== img.width * img.height * 4) {
    reject('corrupt_image', 'The JPEG decoded to an unexpected number of bytes.');
  }
  return { width: img.width, height: img.height, channels: 4, data: img.data, scale: 1 };
}

function errorText(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.replace(/\.$/, '').slice(0, 200);
}

// ---------------------------------------------------------------------------------------------------------
// Raw pixels

function rasterFromPixels(data: ImageInputData): Raster {
  const { pixels, width, height } = data;
  const channels = data.channels ?? 1;
  if (!isPositiveInt(width) || !isPositiveInt(height)) {
    reject('bad_dimensions', '"pixels" needs "width" and "height" as positive integers.', {
      width: describe(width),
      height: describe(height),
    });
  }
  if (channels !== 1 && channels !== 3 && channels !== 4) {
    reject('bad_channels', '"channels" must be 1 (gray), 3 (RGB) or 4 (RGBA).', { channels: describe(channels) });
  }
  if (width * height > MAX_IMAGE_PIXELS) {
    reject('too_many_pixels', `${width}x${height} pixels is more than the limit of ${MAX_IMAGE_PIXELS} (4096x4096).`, {
      width,
      height,
      maxPixels: MAX_IMAGE_PIXELS,
    });
  }
  const isArrayLike = Array.isArray(pixels) || (ArrayBuffer.isView(pixels) && !(pixels instanceof DataView));
  if (!isArrayLike) reject('bad_type', '"pixels" must be an array of numbers.');
  const values = pixels as ArrayLike<unknown>;
  const expected = width * height * channels;
  if (values.length !== expected) {
    reject('bad_pixels_length', `"pixels" has ${values.length} values; ${width}x${height}x${channels} needs ${expected}.`, { expected, actual: values.length });
  }
  let max = 0;
  for (let i = 0; i < expected; i++) {
    const v = values[i];
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      reject('bad_pixel_value', `"pixels"[${i}] is not a finite number.`, { index: i });
    }
    if (v < 0 || v > 255) {
      reject('bad_pixel_value', `"pixels"[${i}] = ${v} is outside 0..255.`, { index: i });
    }
    if (v > max) max = v;
  }
  // Documented rule: all values within 0..1 means 0..1 intensities.
  return { width, height, channels, data: values as ArrayLike<number>, scale: max <= 1 ? 255 : 1 };
}

function describe(value: unknown): string {
  return value === undefined ? 'missing' : (JSON.stringify(value)?.slice(0, 32) ?? typeof value);
}

// ---------------------------------------------------------------------------------------------------------
// Colour and geometry

/**
 * Converts source row `y` to the target channel count, in 0..255 floats, into `out` (`width * channels` long).
 * Done a row at a time so that a large source never exists as a whole float bitmap.
 */
function convertRow(raster: Raster, y: number, channels: 1 | 3, out: Float32Array): void {
  const { width, data, scale } = raster;
  const sc = raster.channels;
  for (let x = 0; x < width; x++) {
    const s = (y * width + x) * sc;
    let r: number;
    let g: number;
    let b: number;
    if (sc === 1) {
      r = g = b = data[s] * scale;
    } else {
      r = data[s] * scale;
      g = data[s + 1] * scale;
      b = data[s + 2] * scale;
      if (sc === 4) {
        // Over white: transparent areas read as background, matching how the image looks on a page.
        const a = (data[s + 3] * scale) / 255;
        const white = 255 * (1 - a);
        r = r * a + white;
        g = g * a + white;
        b = b * a + white;
      }
    }
    if (channels === 1) {
      out[x] = sc === 1 ? r : 0.299 * r + 0.587 * g + 0.114 * b;
    } else {
      out[x * 3] = r;
      out[x * 3 + 1] = g;
      out[x * 3 + 2] = b;
    }
  }
}

/** Sparse 1-D resampling matrix: output `i` is the sum of `weight[k] * src[index[k]]` for k in `start[i]..start[i+1]`. */
interface AxisWeights {
  start: Int32Array;
  index: Int32Array;
  weight: Float64Array;
}

function axisWeights(src: number, dst: number): AxisWeights {
  const start = new Int32Array(dst + 1);
  const index: number[] = [];
  const weight: number[] = [];
  const scale = src / dst;
  for (let i = 0; i < dst; i++) {
    start[i] = index.length;
    if (dst < src) {
      // Area averaging: output pixel i covers source span [i*scale, (i+1)*scale).
      const lo = i * scale;
      const hi = (i + 1) * scale;
      const last = Math.min(src, Math.ceil(hi - 1e-9));
      for (let j = Math.floor(lo); j < last; j++) {
        const overlap = Math.min(hi, j + 1) - Math.max(lo, j);
        if (overlap > 1e-9) {
          index.push(j);
          weight.push(overlap / scale);
        }
      }
    } else if (dst > src) {
      // Bilinear with pixel centres aligned (the half-pixel convention), edges clamped.
      const x = Math.min(Math.max((i + 0.5) * scale - 0.5, 0), src - 1);
      const x0 = Math.floor(x);
      const x1 = Math.min(x0 + 1, src - 1);
      const t = x - x0;
      index.push(x0);
      weight.push(1 - t);
      if (t > 0 && x1 !== x0) {
        index.push(x1);
        weight.push(t);
      }
    } else {
      index.push(i);
      weight.push(1);
    }
  }
  start[dst] = index.length;
  return { start, index: Int32Array.from(index), weight: Float64Array.from(weight) };
}

/**
 * Separable resize, exact for both box and bilinear filters: each source row is converted and resampled
 * horizontally first (so the intermediate is `srcH x dstW`), then columns are resampled vertically.
 */
function resize(raster: Raster, dstW: number, dstH: number, c: 1 | 3): Float32Array {
  const srcW = raster.width;
  const srcH = raster.height;
  const wx = axisWeights(srcW, dstW);
  const wy = axisWeights(srcH, dstH);
  const row = new Float32Array(srcW * c);
  const mid = new Float32Array(srcH * dstW * c);
  for (let y = 0; y < srcH; y++) {
    convertRow(raster, y, c, row);
    const rowOut = y * dstW * c;
    for (let x = 0; x < dstW; x++) {
      for (let ch = 0; ch < c; ch++) {
        let acc = 0;
        for (let k = wx.start[x]; k < wx.start[x + 1]; k++) acc += wx.weight[k] * row[wx.index[k] * c + ch];
        mid[rowOut + x * c + ch] = acc;
      }
    }
  }
  const out = new Float32Array(dstH * dstW * c);
  const stride = dstW * c;
  for (let y = 0; y < dstH; y++) {
    for (let k = wy.start[y]; k < wy.start[y + 1]; k++) {
      const w = wy.weight[k];
      const rowIn = wy.index[k] * stride;
      const rowOut = y * stride;
      for (let i = 0; i < stride; i++) out[rowOut + i] += w * mid[rowIn + i];
    }
  }
  return out;
}
