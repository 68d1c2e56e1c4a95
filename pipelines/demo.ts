import { countAdminKeys } from '../db/repositories/keys.ts';
import { insertProject, listProjects } from '../db/repositories/projects.ts';
import { createProjectKey } from './access.ts';
import type { PipelineContext } from './context.ts';
import { encodePngBase64 } from './image-decode.ts';
import { ingestItems } from './ingest.ts';
import { projectSettingsSchema } from './settings.ts';

export interface DemoImages {
  images: Uint8Array[];
  labels: number[];
  labelNames: readonly string[];
  width: number;
  height: number;
}

/**
 * Creates the demo project on an empty database: Fashion-MNIST images from the committed fixture, `gold`
 * of them imported as the labelled gold set, the rest unlabelled in the pool, plus an annotator and an
 * engineer key. Returns null when the database already holds a project.
 */
export async function createDemoProject(
  ctx: PipelineContext,
  data: DemoImages,
  opts: { poolSize: number; gold: number },
): Promise<{ projectId: string; keys: { role: string; key: string }[] } | null> {
  if ((await listProjects(ctx.db)).length > 0) return null;
  if ((await countAdminKeys(ctx.db)) === 0) return null;
  const project = await insertProject(ctx.db, {
    name: 'Fashion-MNIST demo',
    modality: 'image',
    labels: [...data.labelNames],
    settings: projectSettingsSchema.parse({ imageWidth: data.width, imageHeight: data.height, channels: 1, minLabelsToTrain: 20, retrainEvery: 50 }),
  });
  const n = Math.min(data.images.length, opts.poolSize + opts.gold);
  const items = [];
  for (let i = 0; i < n; i++) {
    const isGold = i < opts.gold;
    items.push({
      externalId: `fashion-${i}`,
      image: encodePngBase64(data.images[i], data.width, data.height, 1),
      ...(isGold ? { split: 'gold' as const, label: data.labelNames[data.labels[i]] } : {}),
    });
  }
  await ingestItems(ctx, project, items);
  const keys = [];
  for (const role of ['annotator', 'engineer'] as const) {
    const k = await createProjectKey(ctx.db, project.id, role, `demo ${role}`);
    keys.push({ role, key: k.key });
  }
  return { projectId: project.id, keys };
}
