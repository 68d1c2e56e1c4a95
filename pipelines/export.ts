import { exportPage, type ExportItemRow } from '../db/repositories/export.ts';
import type { ProjectRow } from '../db/repositories/projects.ts';
import type { PipelineContext } from './context.ts';
import { mediaUrl } from './data.ts';
import { openItemMedia } from './media.ts';

/**
 * An export row (documentation of the JSONL line; the lines are written by `jsonLine` without building it).
 * Fields in this order; the data field(s) by modality.
 */
export interface ExportRow {
  id: string;
  externalId: string | null;
  split: 'pool' | 'gold';
  label: string | null;
  /** Where the final label came from: human, auto or imported; null if the item has no label yet. */
  source: 'human' | 'auto' | 'imported' | null;
  predictedLabel: string | null;
  confidence: number | null;
  modelVersion: number | null;
  /** A pool item held out for evaluation (never trained on). */
  holdout: boolean;
  meta: Record<string, unknown> | null;
  /** Every label decision, oldest first: who (keyId, null for imported and auto), when, which model version was shown. */
  labels: { label: string; source: 'human' | 'auto' | 'imported'; keyId: string | null; createdAt: string; modelVersion: number | null }[];
  /**
   * The item's consolidated label (docs/quality.md): the label the votes of its distinct annotators settle on,
   * its posterior probability (0-1), `n` the number of distinct annotators whose latest vote counts, and the
   * method (`single`: one vote, `majority`, `dawid-skene`). Null when the item has no human vote from a key
   * (unlabelled, imported, auto-labelled, gold items, transcripts). `label` equals `consolidated.label` when
   * n >= 2 and the item's label came from humans.
   */
  consolidated: { label: string; posterior: number; n: number; method: 'single' | 'majority' | 'dawid-skene' } | null;
  text?: string;
  vector?: number[];
  mediaUrl?: string;
  /** Transcription projects name `label` and `predictedLabel` so (the model's draft), and give the clip's URL. */
  transcript?: string | null;
  predictedTranscript?: string | null;
  audioUrl?: string;
  /** With include=media: the image as ingested (base64 or data: URL). */
  image?: string;
}

export interface ExportOptions {
  /** Embed each image besides its URL. */
  includeMedia?: boolean;
  /** Items read per query. */
  pageSize?: number;
}

/**
 * The image of an item for `?include=media`: the original from the media store, as base64 (or, for an item
 * stored before the media store, the base64 it was ingested with). Read here, per page, since it is async.
 */
async function embedImages(ctx: PipelineContext, projectId: string, page: ExportItemRow[]): Promise<void> {
  for (const r of page) {
    if (r.image !== null) continue;
    const opened = await openItemMedia(ctx, projectId, r.id, 'original').catch(() => null);
    if (!opened) continue;
    const parts: Buffer[] = [];
    for await (const c of opened.body) parts.push(c as Buffer);
    r.image = Buffer.concat(parts).toString('base64');
  }
}

function embeddedImage(r: Pick<ExportItemRow, 'image'>): string | null {
  return r.image;
}

const str = (s: string | null) => (s === null ? 'null' : JSON.stringify(s));
const num = (n: number | null) => (n === null || !Number.isFinite(n) ? 'null' : String(n));

/** The data field(s) of a row, by modality, as [name, JSON text] pairs. */
function dataFields(project: ProjectRow, r: ExportItemRow, opts: ExportOptions): [keyof ExportRow, string][] {
  if (project.modality === 'text') return [['text', str(r.text ?? '')]];
  if (project.modality === 'vector') return [['vector', r.vectorJson ?? 'null']];
  if (project.modality === 'audio') return [['audioUrl', str(mediaUrl(project.id, r.id, 'original'))]];
  const out: [keyof ExportRow, string][] = [['mediaUrl', str(mediaUrl(project.id, r.id, 'original'))]];
  if (opts.includeMedia) out.push(['image', str(embeddedImage(r))]);
  return out;
}

/** One row's fields in export order, each as JSON text. */
function fields(project: ProjectRow, r: ExportItemRow, opts: ExportOptions): [keyof ExportRow, string][] {
  const audio = project.modality === 'audio';
  return [
    ['id', str(r.id)],
    ['externalId', str(r.externalId)],
    ['split', str(r.split)],
    [audio ? 'transcript' : 'label', str(r.label)],
    ['source', str(r.labelSource)],
    [audio ? 'predictedTranscript' : 'predictedLabel', str(r.predLabel)],
    ['confidence', num(r.confidence)],
    ['modelVersion', num(r.predVersion)],
    ['holdout', r.holdout ? 'true' : 'false'],
    ['meta', r.metaJson ?? 'null'],
    ['labels', r.labelsJson],
    ['consolidated', r.consolidatedJson ?? 'null'],
    ...dataFields(project, r, opts),
  ];
}

/** A JSONL line, assembled from JSON texts (nested values come from the database already serialised). */
export function jsonLine(project: ProjectRow, r: ExportItemRow, opts: ExportOptions = {}): string {
  let line = '{';
  for (const [k, v] of fields(project, r, opts)) line += `${line.length > 1 ? ',' : ''}"${k}":${v}`;
  return line + '}\n';
}

/** The CSV columns of a project: the common ones, then its modality's data column(s). */
export function csvColumns(project: ProjectRow, opts: ExportOptions = {}): (keyof ExportRow)[] {
  const audio = project.modality === 'audio';
  const common: (keyof ExportRow)[] = [
    'id',
    'externalId',
    'split',
    audio ? 'transcript' : 'label',
    'source',
    audio ? 'predictedTranscript' : 'predictedLabel',
    'confidence',
    'modelVersion',
    'holdout',
    'meta',
    'labels',
    'consolidated',
  ];
  const data: (keyof ExportRow)[] =
    project.modality === 'text'
      ? ['text']
      : project.modality === 'vector'
        ? ['vector']
        : audio
          ? ['audioUrl']
          : opts.includeMedia
            ? ['mediaUrl', 'image']
            : ['mediaUrl'];
  return [...common, ...data];
}

/** A CSV row: strings as themselves, nested values (meta, labels, consolidated, vector) as their JSON text. */
function csvRow(project: ProjectRow, r: ExportItemRow, opts: ExportOptions): string {
  const values: unknown[] = [
    r.id,
    r.externalId,
    r.split,
    r.label,
    r.labelSource,
    r.predLabel,
    r.confidence,
    r.predVersion,
    r.holdout,
    r.metaJson,
    r.labelsJson,
    r.consolidatedJson,
  ];
  if (project.modality === 'text') values.push(r.text ?? '');
  else if (project.modality === 'vector') values.push(r.vectorJson);
  else if (project.modality === 'audio') values.push(mediaUrl(project.id, r.id, 'original'));
  else {
    values.push(mediaUrl(project.id, r.id, 'original'));
    if (opts.includeMedia) values.push(embeddedImage(r));
  }
  return csvLine(values);
}

/** One CSV line (RFC 4180 quoting). */
export function csvLine(values: unknown[]): string {
  return (
    values
      .map((v) => {
        if (v === null || v === undefined) return '';
        const s = String(v);
        return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
      })
      .join(',') + '\r\n'
  );
}

/**
 * The export as text chunks: a CSV header, then one chunk per page of items read in insertion order (keyset
 * pages, one query each), so memory stays flat however big the project. Pulled by the response stream: the
 * next page is read only when the client has taken the last one.
 */
export async function* exportChunks(ctx: PipelineContext, project: ProjectRow, format: 'jsonl' | 'csv', opts: ExportOptions = {}): AsyncGenerator<string> {
  const pageSize = opts.pageSize ?? 2000;
  if (format === 'csv') yield csvLine(csvColumns(project, opts));
  let after = 0;
  for (;;) {
    const page = await exportPage(ctx.db, project.id, after, pageSize, { image: opts.includeMedia && project.modality === 'image' });
    if (!page.length) return;
    if (opts.includeMedia && project.modality === 'image') await embedImages(ctx, project.id, page);
    let chunk = '';
    for (const r of page) chunk += format === 'csv' ? csvRow(project, r, opts) : jsonLine(project, r, opts);
    yield chunk;
    if (page.length < pageSize) return;
    after = page[page.length - 1].seq;
  }
}
