import { exportPage, type ExportItemRow } from '../db/repositories/export.ts';
import type { ProjectRow } from '../db/repositories/projects.ts';
import type { PipelineContext } from './context.ts';
import { mediaUrl } from './data.ts';

/** One label decision on an item, in the order they were made. */
export interface ExportLabel {
  label: string;
  source: 'human' | 'auto' | 'imported';
  /** The API key that gave a human label; null for imported and auto labels. */
  keyId: string | null;
  createdAt: string;
  /** The model version whose prediction was shown (human) or applied (auto); null before any model. */
  modelVersion: number | null;
}

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
  labels: ExportLabel[];
  /** The data, by modality: text, vector, or an image's media URL (and, with include=media, the image itself). */
  text?: string;
  vector?: number[];
  mediaUrl?: string;
  image?: string;
}

export interface ExportOptions {
  /** Embed each image (base64, as ingested) besides its URL. */
  includeMedia?: boolean;
  /** Items read per query. */
  pageSize?: number;
}

/**
 * The image of an item as stored, for `?include=media`: the base64 or data: URL sent at ingest. The media store
 * (when images move out of the item row) replaces this call site with a read of the original.
 */
export function embeddedImage(data: Record<string, unknown>): string | undefined {
  return typeof data.image === 'string' ? data.image : undefined;
}

function toRow(project: ProjectRow, r: ExportItemRow, opts: ExportOptions): ExportRow {
  const row: ExportRow = {
    id: r.id,
    externalId: r.externalId,
    split: r.split,
    label: r.label,
    source: r.labelSource,
    predictedLabel: r.predLabel,
    confidence: r.confidence,
    modelVersion: r.predVersion,
    holdout: r.holdout,
    meta: r.meta,
    labels: r.labels,
  };
  if (project.modality === 'text') row.text = typeof r.data.text === 'string' ? r.data.text : '';
  else if (project.modality === 'vector') row.vector = r.data.vector as number[];
  else {
    row.mediaUrl = mediaUrl(project.id, r.id, 'original');
    if (opts.includeMedia) row.image = embeddedImage(r.data);
  }
  return row;
}

/**
 * Every item of the project with its data, final label and label history, one page (one query) at a time in
 * insertion order: memory stays flat however big the project is. Yields arrays, so the caller can serialise
 * and write a page at a time.
 */
export async function* exportPages(ctx: PipelineContext, project: ProjectRow, opts: ExportOptions = {}): AsyncGenerator<ExportRow[]> {
  const pageSize = opts.pageSize ?? 1000;
  let after = 0;
  for (;;) {
    const page = await exportPage(ctx.db, project.id, after, pageSize);
    if (!page.length) return;
    yield page.map((r) => toRow(project, r, opts));
    if (page.length < pageSize) return;
    after = page[page.length - 1].seq;
  }
}

/** Every item of the project, one row at a time (see exportPages). */
export async function* exportRows(ctx: PipelineContext, project: ProjectRow, opts: ExportOptions = {}): AsyncGenerator<ExportRow> {
  for await (const page of exportPages(ctx, project, opts)) yield* page;
}

export const CSV_COLUMNS: (keyof ExportRow)[] = [
  'id',
  'externalId',
  'split',
  'label',
  'source',
  'predictedLabel',
  'confidence',
  'modelVersion',
  'holdout',
  'text',
  'vector',
  'mediaUrl',
  'image',
  'meta',
  'labels',
];

/** The CSV columns of a project: only its modality's data column(s). */
export function csvColumns(project: ProjectRow, opts: ExportOptions = {}): (keyof ExportRow)[] {
  const data: (keyof ExportRow)[] =
    project.modality === 'text' ? ['text'] : project.modality === 'vector' ? ['vector'] : opts.includeMedia ? ['mediaUrl', 'image'] : ['mediaUrl'];
  return CSV_COLUMNS.filter((c) => !['text', 'vector', 'mediaUrl', 'image'].includes(c) || data.includes(c));
}

/** A CSV cell: nested values (meta, labels, vector) as JSON text. */
function cell(v: unknown): unknown {
  return v !== null && typeof v === 'object' ? JSON.stringify(v) : v;
}

/** One CSV line (RFC 4180 quoting). */
export function csvLine(values: unknown[]): string {
  return (
    values
      .map((v) => {
        if (v === null || v === undefined) return '';
        const s = String(cell(v));
        return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
      })
      .join(',') + '\r\n'
  );
}

/** The export as text chunks (a header, then one chunk per page), for streaming to a response. */
export async function* exportChunks(ctx: PipelineContext, project: ProjectRow, format: 'jsonl' | 'csv', opts: ExportOptions = {}): AsyncGenerator<string> {
  const columns = csvColumns(project, opts);
  if (format === 'csv') yield csvLine(columns);
  for await (const page of exportPages(ctx, project, opts)) {
    let chunk = '';
    for (const row of page) chunk += format === 'csv' ? csvLine(columns.map((c) => row[c])) : JSON.stringify(row) + '\n';
    yield chunk;
  }
}
