/**
 * Image items and their media: reading an image item's source (base64, raw pixels, an uploaded file, a
 * fetched URL) into model input plus the variants to store, storing them, serving them, and the media URLs
 * that queue entries, items and exports carry instead of the bytes.
 */
import { unlink, writeFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { NotFoundError, ValidationError } from '../core/errors.ts';
import { countItemsWithMedia, findItem } from '../db/repositories/items.ts';
import { DERIVED_CONTENT_TYPE, encodePng, imageModelInput, processImage } from '../media/images.ts';
import type { MediaVariant } from '../media/media-store.ts';
import type { PipelineContext } from './context.ts';
import { decodeBase64Image, decodeImageInput } from './image-decode.ts';
import type { ProjectSettings } from './settings.ts';

/** What an image item stores in `items.data`: a reference to its media, never the bytes. */
export interface MediaRef {
  /** sha256 (hex) of the original. */
  id: string;
  /** Content type of the original. */
  type: string;
  /** Size after EXIF orientation, in pixels. */
  width: number;
  height: number;
  /** Which smaller variants exist (a picture no larger than a variant has none; the original serves). */
  preview: boolean;
  thumb: boolean;
  /** Audio items (type audio/wav, 16 kHz mono): the clip's length; width and height are 0. */
  durationMs?: number;
}

/** The `data` of an image item in the API: where to get its pictures. */
export interface MediaView {
  thumbUrl: string;
  previewUrl: string;
  originalUrl: string;
  width: number;
  height: number;
}

/** Where an image item's picture comes from. */
export type ImageSource =
  | { kind: 'fields'; raw: Record<string, unknown> }
  /** A file on disk (a multipart part or a fetched URL), with the name it came under (for error messages). */
  | {
      kind: 'file';
      path: string;
      name: string;
      /** The file is a temp file this item owns: removed by the pending image's cleanup unless stored. */
      temp?: boolean;
      /** The name says nothing of the format (a URL): the bytes decide. */
      trustBytes?: boolean;
    };

/**
 * An image read and checked, not yet stored: the model input and what the item will record, with the
 * preview and thumbnail already written to temp files (a batch of thousands of photos is not held in memory).
 */
export interface PendingMedia {
  ref: MediaRef;
  input: Uint8Array;
  original: { bytes: Buffer } | { path: string };
  previewPath?: string;
  thumbPath?: string;
  /** Removes the temp files that were not stored. */
  cleanup(): Promise<void>;
}

/** Images decoded at once by one request: libuv's threadpool has 4 threads, and sharp runs there. */
export const IMAGE_CONCURRENCY = 4;

/** `fn` over `items` with at most `limit` running at once; results in order. */
export async function mapLimited<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

const EXTENSIONS: Record<string, string> = {
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  jpe: 'image/jpeg',
  png: 'image/png',
  webp: 'image/webp',
  gif: 'image/gif',
  tif: 'image/tiff',
  tiff: 'image/tiff',
};

/** The image content type a file name's extension promises: a string, null for no extension, undefined for a non-image one. */
export function typeOfFileName(name: string): string | null | undefined {
  const dot = name.lastIndexOf('.');
  if (dot <= 0 || dot === name.length - 1) return null;
  return EXTENSIONS[name.slice(dot + 1).toLowerCase()];
}

function targetOf(s: ProjectSettings) {
  return { width: s.imageWidth, height: s.imageHeight, channels: s.channels };
}

/** A raw pixel array as an image file (PNG, lossless): what is stored and shown for `{pixels, width, height}` items. */
async function pixelsToPng(raw: Record<string, unknown>): Promise<Buffer> {
  const w = raw.width;
  const h = raw.height;
  const c = raw.channels === undefined ? 1 : raw.channels;
  // The old decoder checks the array (lengths, values, the 0..1 scale rule) and gives it back at its own size.
  const target = { width: Number(w), height: Number(h), channels: c === 1 ? 1 : 3 } as const;
  const native = decodeImageInput(
    raw,
    Number.isSafeInteger(target.width) && Number.isSafeInteger(target.height) ? target : { width: 1, height: 1, channels: 1 },
  );
  return encodePng(native, target.width, target.height, target.channels);
}

function checkImageFields(raw: Record<string, unknown>): void {
  const hasImage = raw.image !== undefined && raw.image !== null;
  const hasPixels = raw.pixels !== undefined && raw.pixels !== null;
  if (hasImage && hasPixels) throw new ValidationError('Send either "image" or "pixels", not both.', { reason: 'ambiguous_input' }, 'invalid_image');
  if (!hasImage && !hasPixels)
    throw new ValidationError(
      'Image items need "image" (base64 JPEG, PNG, WebP, GIF or TIFF), "pixels" (with "width" and "height"), "url", or a file.',
      { reason: 'missing_input' },
      'invalid_image',
    );
}

/** The bytes of `{image}` or `{pixels}`, checked; the format the data: URL declared, if any. */
async function fieldBytes(raw: Record<string, unknown>): Promise<{ bytes: Buffer; declaredType?: string }> {
  checkImageFields(raw);
  if (raw.image !== undefined && raw.image !== null) return decodeBase64Image(raw.image);
  return { bytes: await pixelsToPng(raw) };
}

/**
 * Reads one image item's source into model input and the variants to store (nothing is stored yet).
 * A declared type (a data: URL's, or a file name's extension) must match the format found in the bytes.
 * Errors about a file name it (`"IMG_0042.jpg": ...`).
 *
 * @throws ValidationError (`invalid_image`) naming what is wrong.
 */
export async function prepareImage(ctx: Pick<PipelineContext, 'media'>, source: ImageSource, s: ProjectSettings): Promise<PendingMedia> {
  try {
    return await prepare(ctx, source, s);
  } catch (e) {
    if (source.kind === 'file' && e instanceof ValidationError) throw new ValidationError(`"${source.name}": ${e.message}`, e.details, e.code);
    throw e;
  }
}

async function prepare(ctx: Pick<PipelineContext, 'media'>, source: ImageSource, s: ProjectSettings): Promise<PendingMedia> {
  let input: Buffer | string;
  let declared: string | null | undefined;
  let what: string;
  const temps: string[] = [];
  if (source.kind === 'fields') {
    const f = await fieldBytes(source.raw);
    input = f.bytes;
    declared = f.declaredType ?? null;
    what = 'the data: URL says';
  } else {
    input = source.path;
    if (source.temp) temps.push(source.path);
    declared = source.trustBytes ? null : typeOfFileName(source.name);
    what = 'its file name says';
    if (declared === undefined)
      throw new ValidationError(
        'Not an image file name (JPEG, PNG, WebP, GIF or TIFF), nor .jsonl or .csv.',
        { reason: 'unsupported_format' },
        'invalid_image',
      );
  }
  const p = await processImage(input, targetOf(s), s.imageFit);
  if (declared && declared !== p.contentType)
    throw new ValidationError(
      `The bytes are ${p.contentType} but ${what} ${declared}.`,
      { reason: 'format_mismatch', declared, found: p.contentType },
      'invalid_image',
    );
  const spill = async (bytes: Buffer | undefined) => {
    if (!bytes) return undefined;
    const t = await ctx.media.tempFile();
    temps.push(t.path);
    await writeFile(t.path, bytes);
    return t.path;
  };
  const cleanup = async () => {
    await Promise.all(temps.map((f) => unlink(f).catch(() => {})));
  };
  try {
    const [previewPath, thumbPath] = await Promise.all([spill(p.preview), spill(p.thumb)]);
    return {
      ref: { id: p.sha256, type: p.contentType, width: p.width, height: p.height, preview: Boolean(p.preview), thumb: Boolean(p.thumb) },
      input: p.input,
      original: typeof input === 'string' ? { path: input } : { bytes: input },
      previewPath,
      thumbPath,
      cleanup,
    };
  } catch (e) {
    await cleanup();
    throw e;
  }
}

/** Model input of an image a client sends to /predict (nothing stored). */
export async function imageInputOf(raw: Record<string, unknown>, s: ProjectSettings): Promise<Uint8Array> {
  const f = await fieldBytes(raw);
  return imageModelInput(f.bytes, targetOf(s), s.imageFit);
}

/** Stores a prepared image's variants (the temp files are moved in) and returns the reference the item keeps. */
export async function storeMedia(ctx: Pick<PipelineContext, 'media'>, projectId: string, m: PendingMedia): Promise<MediaRef> {
  const id = m.ref.id;
  await Promise.all([
    'path' in m.original ? ctx.media.putFile(projectId, id, 'original', m.original.path) : ctx.media.put(projectId, id, 'original', m.original.bytes),
    m.previewPath ? ctx.media.putFile(projectId, id, 'preview', m.previewPath) : undefined,
    m.thumbPath ? ctx.media.putFile(projectId, id, 'thumb', m.thumbPath) : undefined,
  ]);
  return m.ref;
}

function mediaRefOf(data: Record<string, unknown>): MediaRef | undefined {
  const m = data.media as MediaRef | undefined;
  return m && typeof m === 'object' && typeof m.id === 'string' ? m : undefined;
}

/** The media URL of one variant of an item (relative to the server; send the same Authorization header). */
export function mediaUrl(projectId: string, itemId: string, size: MediaVariant): string {
  return `/api/projects/${encodeURIComponent(projectId)}/items/${encodeURIComponent(itemId)}/media?size=${size}`;
}

/**
 * An item's `data` as the API shows it: for an image item, `{thumbUrl, previewUrl, originalUrl, width,
 * height}` (items stored before the media store, with inline base64, get the same URLs); other data unchanged.
 */
export function dataView(projectId: string, itemId: string, data: Record<string, unknown>): Record<string, unknown> {
  const ref = mediaRefOf(data);
  if (!ref && typeof data.image !== 'string') return data;
  if (ref?.type.startsWith('audio/')) return { audioUrl: mediaUrl(projectId, itemId, 'original'), durationMs: ref.durationMs ?? 0 };
  const view: MediaView & Record<string, unknown> = {
    thumbUrl: mediaUrl(projectId, itemId, 'thumb'),
    previewUrl: mediaUrl(projectId, itemId, 'preview'),
    originalUrl: mediaUrl(projectId, itemId, 'original'),
    width: ref?.width ?? 0,
    height: ref?.height ?? 0,
  };
  return view;
}

/** One variant of an item's picture, opened for the media route. */
export interface OpenedMedia {
  body: Readable;
  bytes: number;
  contentType: string;
  /** Strong validator: the content's sha256 and the variant. */
  etag: string;
}

/**
 * Opens a variant of an item's picture. A variant the picture is too small to have serves the original.
 * @throws NotFoundError for an unknown item or an item without a picture.
 */
export async function openItemMedia(ctx: PipelineContext, projectId: string, itemId: string, size: MediaVariant): Promise<OpenedMedia> {
  const item = await findItem(ctx.db, projectId, itemId);
  if (!item) throw new NotFoundError('Item');
  const ref = mediaRefOf(item.data);
  if (ref) {
    const variant: MediaVariant = size !== 'original' && ref[size] ? size : 'original';
    const obj = await ctx.media.open(projectId, ref.id, variant);
    if (!obj) throw new NotFoundError("The item's media");
    return { ...obj, contentType: variant === 'original' ? ref.type : DERIVED_CONTENT_TYPE, etag: `"${ref.id.slice(0, 32)}-${variant}"` };
  }
  if (typeof item.data.image === 'string') {
    // An item stored before the media store: its base64 is the only variant.
    const { bytes } = decodeBase64Image(item.data.image);
    const type = bytes[0] === 0x89 ? 'image/png' : 'image/jpeg';
    return { body: Readable.from([bytes]), bytes: bytes.length, contentType: type, etag: `"inline-${item.id}"` };
  }
  throw new NotFoundError('Media of this item (it is not an image item)');
}

/**
 * Removes an item's media from the store unless another item of the project refers to the same picture
 * (content addressed). Call after the item's row is deleted. For the data helpers' item delete.
 */
export async function releaseItemMedia(ctx: PipelineContext, projectId: string, data: Record<string, unknown>): Promise<void> {
  const ref = mediaRefOf(data);
  if (!ref) return;
  if ((await countItemsWithMedia(ctx.db, projectId, ref.id)) === 0) await ctx.media.deleteItemMedia(projectId, ref.id);
}
