/**
 * Streamed ingest bodies: `multipart/form-data` (image files, `.jsonl`/`.csv` files of items, and an `items`
 * part with per-file fields) and NDJSON without the JSON body limit. Nothing is read whole into memory:
 * image parts stream to temp files and are decoded (off the event loop) while the rest of the upload
 * arrives; NDJSON is split line by line with a per-line limit. Sizes are checked as bytes arrive, and a
 * request that declares more than the limit is refused before its body is read.
 */
import { createWriteStream } from 'node:fs';
import { unlink } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import type { Request, Response } from 'express';
import busboy from 'busboy';
import { AppError, ValidationError } from '../core/errors.ts';
import type { ProjectRow } from '../db/repositories/projects.ts';
import type { PipelineContext } from '../pipelines/context.ts';
import { MAX_ITEMS_PER_REQUEST } from '../pipelines/ingest.ts';
import { IMAGE_CONCURRENCY, prepareImage, type PendingMedia } from '../pipelines/media.ts';
import { resolveSettings } from '../pipelines/settings.ts';
import { prepareAudio } from '../pipelines/speech/audio.ts';

/** What a streamed body turned into: items for ingestItems, plus the images already being read. */
export interface StreamedBatch {
  items: unknown[];
  preRejected: { index: number; error: string }[];
  pending: Map<number, Promise<PendingMedia>>;
  /** Temp files the upload made; remove them all when the request is over (stored ones were moved). */
  tempFiles: string[];
}

/** Removes files, ignoring those already gone (stored ones were moved into the media store). */
export async function removeFiles(files: string[]): Promise<void> {
  await Promise.all(files.map((f) => unlink(f).catch(() => {})));
}

function mb(bytes: number): string {
  return `${Math.round((bytes / 1024 / 1024) * 10) / 10} MB`;
}

function tooLarge(res: Response, message: string, details?: unknown): AppError {
  // The rest of the body is not read: the connection closes after the answer.
  res.setHeader('Connection', 'close');
  return new AppError(413, 'payload_too_large', message, details);
}

/** Refuses a request whose declared length is over the limit before reading any of it. */
export function checkDeclaredLength(req: Request, res: Response, limit: number): void {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit)
    throw tooLarge(
      res,
      `The request declares ${mb(declared)}, more than the upload limit of ${mb(limit)} (FURROW_UPLOAD_REQUEST_MB); send it in several requests.`,
      {
        limitBytes: limit,
      },
    );
}

/** Splits a byte stream into lines, each at most `lineLimit` bytes; `onLine` gets each non-empty line. */
async function forEachLine(
  source: AsyncIterable<Buffer | string>,
  lineLimit: number,
  onLine: (line: string, lineNo: number) => void,
  tooLong: (lineNo: number) => Error,
): Promise<void> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let lineNo = 0;
  const flush = (tail: Buffer) => {
    const line = Buffer.concat([...pending, tail]).toString('utf8');
    pending = [];
    pendingBytes = 0;
    lineNo++;
    if (line.trim() !== '') onLine(line.replace(/\r$/, ''), lineNo);
  };
  for await (const chunk of source) {
    let buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    for (let nl = buf.indexOf(10); nl >= 0; nl = buf.indexOf(10)) {
      if (pendingBytes + nl > lineLimit) throw tooLong(lineNo + 1);
      flush(buf.subarray(0, nl));
      buf = buf.subarray(nl + 1);
    }
    pendingBytes += buf.length;
    if (pendingBytes > lineLimit) throw tooLong(lineNo + 1);
    if (buf.length) pending.push(buf);
  }
  if (pendingBytes) flush(Buffer.alloc(0));
}

/** Counts the bytes of the request as they arrive and fails the stream past `limit`. */
function guardTotal(req: Request, res: Response, limit: number, onOver: (e: AppError) => void): void {
  let seen = 0;
  req.on('data', (chunk: Buffer) => {
    seen += chunk.length;
    if (seen > limit)
      onOver(
        tooLarge(res, `The request is larger than the upload limit of ${mb(limit)} (FURROW_UPLOAD_REQUEST_MB); send it in several requests.`, {
          limitBytes: limit,
        }),
      );
  });
}

/**
 * NDJSON, one item a line, streamed: no limit on the body beyond the upload limit, each line at most
 * `lineLimit` bytes. An unparsable line keeps its place and is reported with its index.
 */
export async function readNdjson(req: Request, res: Response, lineLimit: number, requestLimit: number): Promise<StreamedBatch> {
  checkDeclaredLength(req, res, requestLimit);
  const items: unknown[] = [];
  const preRejected: StreamedBatch['preRejected'] = [];
  let over: AppError | undefined;
  guardTotal(req, res, requestLimit, (e) => {
    over = e;
    req.destroy();
  });
  try {
    await forEachLine(
      req,
      lineLimit,
      (line) => {
        if (items.length >= MAX_ITEMS_PER_REQUEST)
          throw new ValidationError(`A batch holds at most ${MAX_ITEMS_PER_REQUEST} items; split it.`, undefined, 'batch_too_large');
        try {
          items.push(JSON.parse(line));
        } catch {
          preRejected.push({ index: items.length, error: 'This line is not valid JSON.' });
          items.push(undefined);
        }
      },
      (n) => tooLarge(res, `NDJSON line ${n} is longer than the per-line limit of ${mb(lineLimit)} (FURROW_BODY_LIMIT_MB).`),
    );
  } catch (e) {
    throw over ?? e;
  }
  if (over) throw over;
  return { items, preRejected, pending: new Map(), tempFiles: [] };
}

/** Parses CSV text (RFC 4180: quoted fields, doubled quotes, CRLF or LF) into rows of fields. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"' && field === '') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      field = '';
      if (row.some((f) => f !== '')) rows.push(row);
      row = [];
    } else field += c;
  }
  row.push(field);
  if (row.some((f) => f !== '')) rows.push(row);
  return rows;
}

/** Items from a CSV with a header row: columns externalId, split, label, text, vector (JSON), meta (JSON), image, url. */
function csvItems(text: string, name: string): unknown[] {
  const rows = parseCsv(text.replace(/^\uFEFF/, ''));
  if (rows.length === 0) return [];
  const header = rows[0].map((h) => h.trim());
  return rows.slice(1).map((r) => {
    const item: Record<string, unknown> = {};
    header.forEach((h, i) => {
      const v = r[i];
      if (v === undefined || v === '') return;
      if (h === 'vector' || h === 'meta' || h === 'pixels') {
        try {
          item[h] = JSON.parse(v);
        } catch {
          throw new ValidationError(`${name}: column "${h}" must hold JSON.`, undefined, 'invalid_csv');
        }
      } else item[h] = v;
    });
    return item;
  });
}

/** Per-file fields from the `items` part: `[{file, ...fields}]` or `{"<file name>": {...fields}}`. */
function parseItemsPart(text: string): Map<string, Record<string, unknown>> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ValidationError('The "items" part is not valid JSON.', undefined, 'invalid_items_part');
  }
  const out = new Map<string, Record<string, unknown>>();
  const bad = () =>
    new ValidationError('The "items" part must be [{"file": "<name>", ...fields}] or {"<name>": {...fields}}.', undefined, 'invalid_items_part');
  if (Array.isArray(parsed)) {
    for (const e of parsed) {
      if (!e || typeof e !== 'object' || Array.isArray(e) || typeof (e as { file?: unknown }).file !== 'string') throw bad();
      const { file, ...fields } = e as Record<string, unknown>;
      out.set(file as string, fields);
    }
  } else if (parsed && typeof parsed === 'object') {
    for (const [file, fields] of Object.entries(parsed)) {
      if (!fields || typeof fields !== 'object' || Array.isArray(fields)) throw bad();
      out.set(file, fields as Record<string, unknown>);
    }
  } else throw bad();
  return out;
}

function baseName(name: string): string {
  return name.split(/[\\/]/).pop() ?? name;
}

/**
 * Reads a multipart ingest: image file parts stream to temp files and start decoding as each one ends (at
 * most IMAGE_CONCURRENCY at once); `.jsonl`/`.ndjson`/`.csv` parts become items; an `items` part (a field or a
 * file) gives per-file fields matched by file name. A file's externalId defaults to its name, so uploading
 * the same files again stores nothing twice.
 */
export async function readMultipart(ctx: PipelineContext, project: ProjectRow, req: Request, res: Response): Promise<StreamedBatch> {
  const { uploadFileLimitBytes: fileLimit, uploadRequestLimitBytes: requestLimit, bodyLimitBytes: partLimit } = ctx.config;
  checkDeclaredLength(req, res, requestLimit);
  const settings = resolveSettings(project.settings);
  const batch: StreamedBatch = { items: [], preRejected: [], pending: new Map(), tempFiles: [] };
  const files: { index: number; name: string }[] = [];
  let itemsPart: string | undefined;
  let running = 0;
  const waiting: (() => void)[] = [];
  const slot = async () => {
    while (running >= IMAGE_CONCURRENCY) await new Promise<void>((r) => waiting.push(r));
    running++;
  };
  const release = () => {
    running--;
    waiting.shift()?.();
  };

  let bb: busboy.Busboy;
  try {
    bb = busboy({ headers: req.headers, limits: { fileSize: fileLimit, files: MAX_ITEMS_PER_REQUEST, fields: 16, fieldSize: partLimit } });
  } catch (e) {
    throw new ValidationError(`The multipart body cannot be read: ${e instanceof Error ? e.message : 'bad header'}.`, undefined, 'invalid_multipart');
  }
  const work: Promise<unknown>[] = [];
  const done = new Promise<void>((resolve, reject) => {
    let failed = false;
    const fail = (e: unknown) => {
      if (failed) return;
      failed = true;
      req.unpipe(bb);
      req.resume();
      reject(e);
    };
    guardTotal(req, res, requestLimit, (e) => {
      fail(e);
      req.destroy();
    });
    const readText = (stream: NodeJS.ReadableStream, what: string): Promise<string> =>
      new Promise((ok, ko) => {
        const parts: Buffer[] = [];
        let size = 0;
        stream.on('data', (c: Buffer) => {
          size += c.length;
          if (size > partLimit) ko(tooLarge(res, `${what} is larger than ${mb(partLimit)} (FURROW_BODY_LIMIT_MB); send items as NDJSON instead.`));
          else parts.push(c);
        });
        stream.on('end', () => ok(Buffer.concat(parts).toString('utf8')));
        stream.on('error', ko);
      });
    bb.on('field', (name, value, info) => {
      if (name !== 'items')
        return fail(new ValidationError(`Unknown form field "${name}": send files and an optional "items" field.`, undefined, 'invalid_multipart'));
      if (info.valueTruncated) return fail(tooLarge(res, `The "items" field is larger than ${mb(partLimit)}.`));
      itemsPart = value;
    });
    bb.on('file', (field, stream, info) => {
      const name = baseName(info.filename ?? field);
      const lower = name.toLowerCase();
      if (field === 'items' && !/\.(jsonl|ndjson|csv)$/.test(lower)) {
        work.push(readText(stream, 'The "items" part').then((t) => (itemsPart = t), fail));
        return;
      }
      if (/\.(jsonl|ndjson)$/.test(lower)) {
        const lines: unknown[] = [];
        work.push(
          forEachLine(
            stream as AsyncIterable<Buffer>,
            partLimit,
            (line) => {
              try {
                lines.push(JSON.parse(line));
              } catch {
                lines.push({ __invalid: `${name}: a line is not valid JSON.` });
              }
            },
            (n) => tooLarge(res, `${name}: line ${n} is longer than ${mb(partLimit)}.`),
          ).then(() => {
            for (const v of lines) {
              if (v && typeof v === 'object' && '__invalid' in v)
                batch.preRejected.push({ index: batch.items.length, error: String((v as { __invalid: string }).__invalid) });
              batch.items.push(v);
            }
          }, fail),
        );
        return;
      }
      if (lower.endsWith('.csv')) {
        work.push(readText(stream, name).then((t) => batch.items.push(...csvItems(t, name)), fail));
        return;
      }
      const index = batch.items.length;
      batch.items.push({});
      files.push({ index, name });
      work.push(
        (async () => {
          const temp = await ctx.media.tempFile();
          batch.tempFiles.push(temp.path);
          let truncated = false;
          stream.on('limit', () => (truncated = true));
          await pipeline(stream, createWriteStream(temp.path));
          if (truncated)
            throw tooLarge(res, `"${name}" is larger than the per-file limit of ${mb(fileLimit)} (FURROW_UPLOAD_FILE_MB).`, {
              file: name,
              limitBytes: fileLimit,
            });
          await slot();
          const file = { kind: 'file', path: temp.path, name, temp: true } as const;
          const p = (
            project.modality === 'audio'
              ? prepareAudio(ctx, file, { maxClipSeconds: settings.transcription.maxClipSeconds })
              : prepareImage(ctx, file, settings)
          ).finally(release);
          p.catch(() => {}); // awaited by ingest; this only keeps an early failure from being "unhandled"
          batch.pending.set(index, p);
        })().catch(fail),
      );
    });
    bb.on('filesLimit', () => fail(new ValidationError(`At most ${MAX_ITEMS_PER_REQUEST} files per request.`, undefined, 'batch_too_large')));
    bb.on('error', (e) =>
      fail(new ValidationError(`The multipart body cannot be read: ${e instanceof Error ? e.message : 'malformed'}.`, undefined, 'invalid_multipart')),
    );
    bb.on('close', () => Promise.all(work).then(() => (failed ? undefined : resolve()), fail));
    req.pipe(bb);
  });
  try {
    await done;
  } catch (e) {
    await Promise.all(
      [...batch.pending.values()].map((p) =>
        p.then(
          (m) => m.cleanup(),
          () => {},
        ),
      ),
    );
    throw e;
  }
  const fields = itemsPart === undefined ? new Map<string, Record<string, unknown>>() : parseItemsPart(itemsPart);
  const unknownNames = [...fields.keys()].filter((f) => !files.some((x) => x.name === f));
  if (unknownNames.length)
    throw new ValidationError(
      `The "items" part names files that were not sent: ${unknownNames.slice(0, 5).join(', ')}.`,
      { files: unknownNames.slice(0, 50) },
      'invalid_items_part',
    );
  for (const f of files) batch.items[f.index] = { externalId: f.name, ...fields.get(f.name) };
  if (batch.items.length === 0)
    throw new ValidationError('The upload holds no files: send image files, or a .jsonl or .csv of items.', undefined, 'empty_batch');
  return batch;
}
