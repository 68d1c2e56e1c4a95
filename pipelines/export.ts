import { itemsPage } from '../db/repositories/items.ts';
import type { ProjectRow } from '../db/repositories/projects.ts';
import type { PipelineContext } from './context.ts';

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
}

/** Every item of the project with its final label, page by page (constant memory for large projects). */
export async function* exportRows(ctx: PipelineContext, project: ProjectRow, pageSize = 1000): AsyncGenerator<ExportRow> {
  let after = 0;
  for (;;) {
    const page = await itemsPage(ctx.db, project.id, after, pageSize);
    if (!page.length) return;
    for (const r of page)
      yield {
        id: r.id,
        externalId: r.externalId,
        split: r.split,
        label: r.label,
        source: r.labelSource,
        predictedLabel: r.predLabel,
        confidence: r.confidence,
        modelVersion: r.predVersion,
      };
    after = page[page.length - 1].seq;
  }
}

export const CSV_COLUMNS: (keyof ExportRow)[] = ['id', 'externalId', 'split', 'label', 'source', 'predictedLabel', 'confidence', 'modelVersion'];

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
