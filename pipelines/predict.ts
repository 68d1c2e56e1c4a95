import { ConflictError, ValidationError } from '../core/errors.ts';
import { forEachSliced } from '../core/sliced.ts';
import type { ModelInput } from '../core/types.ts';
import type { ProjectRow } from '../db/repositories/projects.ts';
import type { PipelineContext } from './context.ts';
import { checkImageItemFields, modelInputOf, prepareItemData } from './inputs.ts';
import { IMAGE_CONCURRENCY, imageInputOf, mapLimited } from './media.ts';
import { versionRef } from './model-ref.ts';
import { resolveSettings } from './settings.ts';
import { argmax } from './strategies.ts';

export const MAX_PREDICT_ITEMS = 1_000;

/** Predicts labels for items sent by a client with the active version; nothing is stored. */
export async function predictItems(ctx: PipelineContext, project: ProjectRow, raw: unknown[]) {
  if (raw.length === 0) throw new ValidationError('Send at least one item to predict.', undefined, 'empty_batch');
  if (raw.length > MAX_PREDICT_ITEMS) throw new ValidationError(`At most ${MAX_PREDICT_ITEMS} items per request.`, undefined, 'batch_too_large');
  const settings = resolveSettings(project.settings);
  const rejected: { index: number; error: string }[] = [];
  const inputs: ModelInput[] = [];
  if (project.modality === 'image') {
    // sharp decodes in libuv's threadpool: a few at a time, the event loop stays free.
    const decoded = await mapLimited(raw, IMAGE_CONCURRENCY, async (r, index) => {
      try {
        if (r === null || typeof r !== 'object' || Array.isArray(r)) throw new ValidationError('An item must be a JSON object.');
        checkImageItemFields(r as Record<string, unknown>);
        return await imageInputOf(r as Record<string, unknown>, settings);
      } catch (e) {
        rejected.push({ index, error: e instanceof ValidationError ? e.message : 'The item could not be read.' });
        return undefined;
      }
    });
    for (const d of decoded) if (d) inputs.push(d);
  } else {
    await ctx.work.add(() =>
      forEachSliced(raw, (r, index) => {
        try {
          if (r === null || typeof r !== 'object' || Array.isArray(r)) throw new ValidationError('An item must be a JSON object.');
          inputs.push(modelInputOf(prepareItemData(r as Record<string, unknown>, project.modality, settings), project.modality));
        } catch (e) {
          rejected.push({ index, error: e instanceof ValidationError ? e.message : 'The item could not be read.' });
        }
      }),
    );
  }
  if (rejected.length) throw new ValidationError(`${rejected.length} of ${raw.length} items are invalid.`, { rejected }, 'invalid_items');
  const version = project.activeVersion;
  if (version === null) throw new ConflictError('This project has no trained model yet: label some items and train first.', 'no_model');
  const probs = await ctx.runner.predict(versionRef(ctx, project.id, version), inputs);
  // A version trained before a class was added predicts only the classes it knew (the first k; new ones score 0).
  const k = probs.length / raw.length;
  return {
    modelVersion: version,
    predictions: raw.map((_, i) => {
      const p = probs.subarray(i * k, (i + 1) * k);
      const best = argmax(p);
      return { label: project.labels[best], confidence: p[best], probs: Object.fromEntries(project.labels.map((l, j) => [l, p[j] ?? 0])) };
    }),
  };
}
