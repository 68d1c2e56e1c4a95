/**
 * Label Studio's task JSON in and out (shared/label-studio.md §5), so a team can move a project either way
 * without losing labels or their history: import of an export (tasks with `annotations` and `predictions`),
 * export as Label Studio JSON, JSON-MIN and CSV, and the `label_config` that matches a Furrow project.
 */
import { ValidationError } from '../../core/errors.ts';
import { applyHumanLabel, insertLabelRows, itemsPage, predictionsFor, type ItemRow, type LabelRow } from '../../db/repositories/items.ts';
import { dateImportedLabels, itemsByExternalId, labelsOfItems } from '../../db/repositories/label-studio.ts';
import type { ProjectRow } from '../../db/repositories/projects.ts';
import type { PipelineContext } from '../context.ts';
import { ingestItems, MAX_ITEMS_PER_REQUEST } from '../ingest.ts';
import { externalIdOf, modelVersionName, type LabelStudioAnnotation } from './backend.ts';
import { findChoicesControl, type ChoicesControl } from './label-config.ts';
import type { LabelStudioMedia } from './media.ts';

/** The names Furrow uses in configs and exports it writes: `<Text name="text" value="$text">` and so on. */
export function defaultControl(project: Pick<ProjectRow, 'modality' | 'labels'>): ChoicesControl {
  // A transcription project's transcript is a <TextArea> on the <Audio> (exports only: Label Studio's own
  // transcription projects look like this, so an export opens there as is).
  if (project.modality === 'audio') return { fromName: 'transcription', toName: 'audio', dataKey: 'audio', objectType: 'Audio', labels: [] };
  const image = project.modality === 'image';
  return {
    fromName: 'label',
    toName: image ? 'image' : 'text',
    dataKey: image ? 'image' : 'text',
    objectType: image ? 'Image' : 'Text',
    labels: project.labels,
  };
}

function xmlAttr(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** The `label_config` to paste into a new Label Studio project for this Furrow project. */
export function labelConfigFor(project: Pick<ProjectRow, 'modality' | 'labels'>): string {
  if (project.modality === 'audio')
    return '<View>\n  <Audio name="audio" value="$audio"/>\n  <TextArea name="transcription" toName="audio" editable="true" maxSubmissions="1" rows="3"/>\n</View>';
  if (project.modality !== 'image' && project.modality !== 'text')
    throw new ValidationError(`Label Studio has no object tag for ${project.modality} items.`, undefined, 'label_config_mismatch');
  const c = defaultControl(project);
  const choices = project.labels.map((l) => `    <Choice value="${xmlAttr(l)}"/>`).join('\n');
  return `<View>\n  <${c.objectType} name="${c.toName}" value="$${c.dataKey}"/>\n  <Choices name="${c.fromName}" toName="${c.toName}" choice="single" showInLine="true">\n${choices}\n  </Choices>\n</View>`;
}

interface ImportTask {
  id?: number | string;
  data?: Record<string, unknown>;
  meta?: { externalId?: unknown };
  annotations?: (LabelStudioAnnotation & { created_at?: string; updated_at?: string; ground_truth?: boolean })[];
}

export interface ImportResult {
  tasks: number;
  accepted: number;
  duplicates: number;
  labels: number;
  rejected: { index: number; error: string }[];
}

/** A task's choices, oldest annotation first (cancelled ones and those without a choice dropped). */
function choicesOf(task: ImportTask, control: ChoicesControl | null): { label: string; at?: Date; groundTruth: boolean }[] {
  const out: { label: string; at?: Date; groundTruth: boolean; order: number }[] = [];
  (task.annotations ?? []).forEach((a, order) => {
    if (!a || typeof a !== 'object' || a.was_cancelled) return;
    for (const r of a.result ?? []) {
      if (r?.type !== 'choices' || (control && r.from_name !== control.fromName)) continue;
      const choice = Array.isArray(r.value?.choices) ? r.value.choices[0] : undefined;
      if (typeof choice !== 'string') continue;
      const t = Date.parse(a.updated_at ?? a.created_at ?? '');
      out.push({ label: choice, at: Number.isFinite(t) ? new Date(t) : undefined, groundTruth: a.ground_truth === true, order });
      break;
    }
  });
  out.sort((x, y) => (x.at?.getTime() ?? 0) - (y.at?.getTime() ?? 0) || x.order - y.order);
  return out;
}

/**
 * Imports a Label Studio JSON export. Each task becomes an item (`externalId` `ls-task-<id>`, so a repeated
 * import adds nothing); its annotations become label rows in time order, the newest being the item's label;
 * a `ground_truth` annotation makes the task a gold item. Predictions are not imported: Furrow predicts again.
 * All or nothing unless `partial`, like any ingest.
 */
export async function importTasks(
  ctx: PipelineContext,
  media: LabelStudioMedia,
  project: ProjectRow,
  raw: unknown[],
  opts: { partial?: boolean; labelConfig?: string } = {},
): Promise<ImportResult> {
  if (raw.length === 0) throw new ValidationError('The file holds no tasks.', undefined, 'empty_batch');
  if (raw.length > MAX_ITEMS_PER_REQUEST)
    throw new ValidationError(`Import at most ${MAX_ITEMS_PER_REQUEST} tasks per request; split the file.`, undefined, 'batch_too_large');
  if (project.modality !== 'text' && project.modality !== 'image')
    throw new ValidationError(`Label Studio tasks cannot fill a ${project.modality} project.`, undefined, 'label_config_mismatch');
  const control = opts.labelConfig ? findChoicesControl(opts.labelConfig) : null;
  const dataKey = control?.dataKey ?? defaultControl(project).dataKey;
  const labels = new Set(project.labels);
  const rejected: { index: number; error: string }[] = [];
  const prepared: { index: number; item: Record<string, unknown>; firstAt?: Date; history: { label: string; at?: Date }[] }[] = [];
  await Promise.all(
    raw.map(async (value, index) => {
      const task = value as ImportTask;
      try {
        if (!task || typeof task !== 'object' || Array.isArray(task) || !task.data || typeof task.data !== 'object')
          throw new ValidationError('A task must be an object with "data".');
        const v = task.data[dataKey] ?? Object.values(task.data).find((x) => typeof x === 'string');
        if (typeof v !== 'string' || v === '') throw new ValidationError(`The task has no "${dataKey}" in its data.`);
        const history = choicesOf(task, control);
        const unknown = history.find((h) => !labels.has(h.label));
        if (unknown) throw new ValidationError(`Unknown label "${unknown.label}"; this project's labels are: ${project.labels.join(', ')}.`);
        const item: Record<string, unknown> = {};
        // A task keeps the id Label Studio gave it; one that came from Furrow without one keeps its externalId.
        if (task.id !== undefined && task.id !== null) item.externalId = externalIdOf(task.id);
        else if (typeof task.meta?.externalId === 'string' && task.meta.externalId !== '') item.externalId = task.meta.externalId;
        if (project.modality === 'text') item.text = v;
        else item.image = Buffer.from(await media.fetchImage(v, task.id)).toString('base64');
        const gold = history.filter((h) => h.groundTruth).at(-1);
        const first = gold ?? history[0];
        if (gold) item.split = 'gold';
        if (first) item.label = first.label;
        prepared.push({ index, item, firstAt: first?.at, history: gold ? [] : history.slice(1) });
      } catch (e) {
        rejected.push({ index, error: e instanceof ValidationError ? e.message : 'The task could not be read.' });
      }
    }),
  );
  rejected.sort((a, b) => a.index - b.index);
  if (rejected.length && !opts.partial)
    throw new ValidationError(
      `${rejected.length} of ${raw.length} tasks are invalid; nothing was stored. Fix them, or send ?partial=true.`,
      { rejected },
      'invalid_items',
    );
  prepared.sort((a, b) => a.index - b.index);
  const before = await itemsByExternalId(
    ctx.db,
    project.id,
    prepared.flatMap((p) => (typeof p.item.externalId === 'string' ? [p.item.externalId] : [])),
  );
  const fresh = prepared.filter((p) => typeof p.item.externalId !== 'string' || !before.has(p.item.externalId));
  const res = fresh.length
    ? await ingestItems(
        ctx,
        project,
        fresh.map((p) => p.item),
        { partial: opts.partial },
      )
    : { accepted: 0, duplicates: 0, rejected: [] };
  // The first annotation keeps its time; later ones are the rest of the history, oldest first, the newest
  // being the item's label.
  const dated = fresh.filter((p) => (p.firstAt || p.history.length) && typeof p.item.externalId === 'string');
  const later = dated.filter((p) => p.history.length);
  let extra = 0;
  if (dated.length) {
    const stored = await itemsByExternalId(
      ctx.db,
      project.id,
      dated.map((p) => p.item.externalId as string),
    );
    await ctx.db.transaction(async (tx) => {
      await dateImportedLabels(
        tx,
        project.id,
        dated.flatMap((p) => {
          const row = stored.get(p.item.externalId as string);
          return row && p.firstAt && row.labelSource === 'imported' ? [{ itemId: row.id, at: p.firstAt }] : [];
        }),
      );
      for (const p of later) {
        const row = stored.get(p.item.externalId as string);
        if (row?.labelSource !== 'imported') continue;
        await insertLabelRows(
          tx,
          p.history.map((h) => ({ projectId: project.id, itemId: row.id, label: h.label, source: 'imported' as const, ...(h.at ? { createdAt: h.at } : {}) })),
        );
        await applyHumanLabel(tx, row.id, p.history[p.history.length - 1].label, 'imported');
        extra += p.history.length;
      }
    });
  }
  const labelled = fresh.filter((p) => p.item.label !== undefined).length;
  return {
    tasks: raw.length,
    accepted: res.accepted,
    duplicates: prepared.length - fresh.length + res.duplicates,
    labels: Math.min(labelled, res.accepted) + extra,
    rejected: [...rejected, ...res.rejected.map((r) => ({ index: fresh[r.index]?.index ?? r.index, error: r.error }))],
  };
}

/**
 * Label Studio's task id for an item that came from Label Studio; other items have none (Label Studio gives
 * them one on import, and any number of ours could clash with its own), and carry their externalId in meta.
 */
function taskIdOf(row: ItemRow): number | string | undefined {
  const m = /^ls-task-(.+)$/.exec(row.externalId ?? '');
  if (!m) return undefined;
  return /^\d+$/.test(m[1]) ? Number(m[1]) : m[1];
}

function dataOf(project: ProjectRow, row: ItemRow, control: ChoicesControl): Record<string, unknown> {
  const value = project.modality === 'text' ? row.data.text : `/api/projects/${project.id}/items/${row.id}/media?size=original`;
  return { [control.dataKey]: value };
}

function resultOf(
  control: ChoicesControl,
  label: string,
): { from_name: string; to_name: string; type: string; value: { choices?: string[]; text?: string[] } }[] {
  if (control.objectType === 'Audio') return [{ from_name: control.fromName, to_name: control.toName, type: 'textarea', value: { text: [label] } }];
  return [{ from_name: control.fromName, to_name: control.toName, type: 'choices', value: { choices: [label] } }];
}

export interface LabelStudioTaskOut {
  id?: number | string;
  data: Record<string, unknown>;
  meta: Record<string, unknown>;
  created_at: string;
  annotations: {
    id: number;
    result: ReturnType<typeof resultOf>;
    was_cancelled: false;
    ground_truth: boolean;
    created_at: string;
    updated_at: string;
    lead_time: null;
    task?: number | string;
    completed_by: string | null;
  }[];
  predictions: { model_version: string; score: number; result: ReturnType<typeof resultOf> }[];
}

/** Every item as a Label Studio task with its human and imported label rows as annotations, page by page. */
export async function* exportTasks(ctx: PipelineContext, project: ProjectRow, pageSize = 500): AsyncGenerator<LabelStudioTaskOut> {
  const control = defaultControl(project);
  let after = 0;
  for (;;) {
    const page = await itemsPage(ctx.db, project.id, after, pageSize);
    if (!page.length) return;
    const history = await labelsOfItems(
      ctx.db,
      page.map((r) => r.id),
    );
    // A transcription's text is on its prediction row, not on the item.
    const drafts = new Map<string, string>();
    if (project.modality === 'audio')
      for (const v of new Set(page.map((r) => r.predVersion).filter((v): v is number => v !== null)))
        for (const [id, p] of await predictionsFor(
          ctx.db,
          page.filter((r) => r.predVersion === v).map((r) => r.id),
          v,
        ))
          drafts.set(id, p.label);
    for (const row of page) {
      const id = taskIdOf(row);
      const rows: LabelRow[] = (history.get(row.id) ?? []).filter((l) => l.source !== 'auto');
      yield {
        ...(id === undefined ? {} : { id }),
        data: dataOf(project, row, control),
        meta: { furrowItemId: row.id, externalId: row.externalId ?? `furrow-item-${row.id}`, split: row.split },
        created_at: row.createdAt.toISOString(),
        annotations: rows.map((l) => ({
          id: l.id,
          result: resultOf(control, l.label),
          was_cancelled: false,
          ground_truth: row.split === 'gold',
          created_at: l.createdAt.toISOString(),
          updated_at: l.createdAt.toISOString(),
          lead_time: null,
          ...(id === undefined ? {} : { task: id }),
          completed_by: l.keyId,
        })),
        predictions:
          row.predVersion !== null && (row.predLabel ?? drafts.get(row.id)) !== undefined && (row.predLabel ?? drafts.get(row.id)) !== null
            ? [
                {
                  model_version: modelVersionName({ activeVersion: row.predVersion }),
                  score: Math.round((1 - (row.uncertainty ?? 1)) * 1e4) / 1e4,
                  result: resultOf(control, (row.predLabel ?? drafts.get(row.id)) as string),
                },
              ]
            : [],
      };
    }
    after = page[page.length - 1].seq;
  }
}

/**
 * JSON-MIN records (§5.3): one per annotation, newest first; a task without annotations gets one record with
 * its data only. The control's value is the bare choice.
 */
export function minRecords(project: ProjectRow, task: LabelStudioTaskOut): Record<string, unknown>[] {
  const control = defaultControl(project);
  const id = task.id ?? task.meta.furrowItemId;
  if (task.annotations.length === 0) return [{ ...task.data, id }];
  return [...task.annotations].reverse().map((a) => ({
    ...task.data,
    id,
    [control.fromName]: a.result[0].value.choices?.[0] ?? a.result[0].value.text?.[0],
    annotator: a.completed_by,
    annotation_id: a.id,
    created_at: a.created_at,
    updated_at: a.updated_at,
    lead_time: a.lead_time,
  }));
}

/** The CSV columns of a JSON-MIN record, sorted as Label Studio's converter sorts them. */
export function minColumns(project: ProjectRow): string[] {
  const control = defaultControl(project);
  return [control.dataKey, 'id', control.fromName, 'annotator', 'annotation_id', 'created_at', 'updated_at', 'lead_time'].sort();
}

/** A CSV line quoted as Python's QUOTE_NONNUMERIC: strings quoted, numbers bare, other values as JSON text. */
export function nonNumericCsvLine(values: unknown[]): string {
  return (
    values
      .map((v) => {
        if (v === null || v === undefined) return '""';
        if (typeof v === 'number') return String(v);
        const s = typeof v === 'string' ? v : JSON.stringify(v);
        return `"${s.replace(/"/g, '""')}"`;
      })
      .join(',') + '\r\n'
  );
}
