import { findVersion, loadWeights } from '../db/repositories/models.ts';
import type { ModelRef } from '../models/model-runner.ts';
import type { PipelineContext } from './context.ts';

/** A reference the model runner can cache by key; the weights are read from the database only on a miss. */
export function versionRef(ctx: PipelineContext, projectId: string, version: number): ModelRef {
  return {
    key: `${projectId}:v${version}`,
    load: async () => {
      const w = await loadWeights(ctx.db, projectId, version);
      if (!w) throw new Error(`model version ${version} of project ${projectId} has no weights`);
      return w;
    },
  };
}

/**
 * How many classes a stored version predicts (its spec's labels): fewer than the project has once a class was
 * added after it was trained. `fallback` when the spec does not say.
 */
export async function versionClassCount(ctx: PipelineContext, projectId: string, version: number, fallback: number): Promise<number> {
  const v = await findVersion(ctx.db, projectId, version);
  const labels = (v?.spec as { labels?: unknown } | undefined)?.labels;
  return Array.isArray(labels) && labels.length >= 2 ? labels.length : fallback;
}
