/**
 * Reads what `furrow import` sends: a folder of images or text files, a .jsonl/.ndjson or .csv of items, or
 * a Label Studio JSON export. Every item gets an externalId (the file's path in the folder, or file:line), so
 * an interrupted import run again stores nothing twice.
 */
import { createReadStream } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { parse } from 'csv-parse';

export const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg', '.webp', '.gif', '.tif', '.tiff']);
export const TEXT_EXTENSIONS = new Set(['.txt', '.md']);
/** Clips for transcription projects (the server converts them with sox). */
export const AUDIO_EXTENSIONS = new Set(['.wav', '.flac', '.ogg', '.mp3', '.aiff', '.aif']);
const isItemFile = (name: string) => {
  const ext = path.extname(name).toLowerCase();
  return IMAGE_EXTENSIONS.has(ext) || TEXT_EXTENSIONS.has(ext) || AUDIO_EXTENSIONS.has(ext);
};

export type ImportSource =
  | { kind: 'folder'; files: string[]; root: string }
  | { kind: 'jsonl'; file: string }
  | { kind: 'csv'; file: string }
  | { kind: 'label-studio'; file: string };

async function walk(dir: string, out: string[]): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => a.name.localeCompare(b.name));
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    const p = path.join(dir, e.name);
    if (e.isDirectory()) await walk(p, out);
    else if (e.isFile() && isItemFile(e.name)) out.push(p);
  }
}

/** What kind of import a path is, by what it is and its extension. */
export async function detectSource(p: string): Promise<ImportSource> {
  const st = await stat(p).catch(() => null);
  if (!st) throw new Error(`${p}: no such file or folder`);
  if (st.isDirectory()) {
    const files: string[] = [];
    await walk(p, files);
    return { kind: 'folder', files, root: p };
  }
  const ext = path.extname(p).toLowerCase();
  if (ext === '.jsonl' || ext === '.ndjson') return { kind: 'jsonl', file: p };
  if (ext === '.csv') return { kind: 'csv', file: p };
  if (ext === '.json') return { kind: 'label-studio', file: p };
  throw new Error(`${p}: import takes a folder, a .jsonl/.ndjson, a .csv, or a Label Studio .json export`);
}

/** The number of items a source will send (for the progress bar). */
export async function countItems(src: ImportSource): Promise<number> {
  if (src.kind === 'folder') return src.files.length;
  if (src.kind === 'label-studio') return ((await readLabelStudio(src.file)) as unknown[]).length;
  let n = 0;
  for await (const _ of src.kind === 'jsonl' ? jsonlItems(src.file) : csvItems(src.file)) n++;
  return n;
}

/** One item of a folder: an image (base64) or a text file; the label is the parent folder's name if asked. */
export async function folderItem(root: string, file: string, opts: { labelsFromFolders?: boolean; labels?: Set<string> }): Promise<Record<string, unknown>> {
  const rel = path.relative(root, file).split(path.sep).join('/');
  const item: Record<string, unknown> = { externalId: rel };
  const ext = path.extname(file).toLowerCase();
  if (IMAGE_EXTENSIONS.has(ext)) item.image = (await readFile(file)).toString('base64');
  else if (AUDIO_EXTENSIONS.has(ext)) item.audio = (await readFile(file)).toString('base64');
  else item.text = await readFile(file, 'utf8');
  if (opts.labelsFromFolders) {
    const parent = path.basename(path.dirname(file));
    if (!opts.labels || opts.labels.has(parent)) item.label = parent;
  }
  return item;
}

/** The items of a .jsonl file; a line without externalId gets `<file>:<line>`. */
export async function* jsonlItems(file: string): AsyncGenerator<Record<string, unknown>> {
  const rl = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
  let line = 0;
  const base = path.basename(file);
  for await (const text of rl) {
    line++;
    if (!text.trim()) continue;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw new Error(`${base}:${line}: not valid JSON`);
    }
    if (!value || typeof value !== 'object' || Array.isArray(value)) throw new Error(`${base}:${line}: an item must be a JSON object`);
    const item = value as Record<string, unknown>;
    yield item.externalId === undefined ? { ...item, externalId: `${base}:${line}` } : item;
  }
}

/**
 * The items of a .csv with a header row. Columns: text, image (a path relative to the CSV, or base64),
 * vector (a JSON array), label, split, externalId, meta (JSON); empty cells are left out.
 */
export async function* csvItems(file: string): AsyncGenerator<Record<string, unknown>> {
  const base = path.basename(file);
  const dir = path.dirname(file);
  const parser = createReadStream(file).pipe(parse({ columns: true, skip_empty_lines: true, bom: true, trim: false }));
  let row = 1;
  for await (const rec of parser as AsyncIterable<Record<string, string>>) {
    row++;
    const item: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(rec)) {
      if (v === '' || v === undefined) continue;
      if (k === 'vector' || k === 'meta') {
        try {
          item[k] = JSON.parse(v);
        } catch {
          throw new Error(`${base}:${row}: column ${k} must hold JSON`);
        }
      } else if (k === 'image' && IMAGE_EXTENSIONS.has(path.extname(v).toLowerCase())) item.image = (await readFile(path.resolve(dir, v))).toString('base64');
      else if (k === 'audio' && AUDIO_EXTENSIONS.has(path.extname(v).toLowerCase())) item.audio = (await readFile(path.resolve(dir, v))).toString('base64');
      else item[k] = v;
    }
    if (item.externalId === undefined) item.externalId = `${base}:${row}`;
    yield item;
  }
}

export async function readLabelStudio(file: string): Promise<unknown> {
  const value = JSON.parse(await readFile(file, 'utf8')) as unknown;
  if (!Array.isArray(value)) throw new Error(`${path.basename(file)}: a Label Studio export is a JSON list of tasks`);
  return value;
}
