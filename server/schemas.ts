/**
 * Request and response schemas (zod). The same objects validate requests and generate /api/openapi.json.
 */
import { z } from 'zod';
import { itemSchema } from '../pipelines/ingest.ts';
import { projectSettingsSchema, STRATEGIES } from '../pipelines/settings.ts';

const labelName = z.string().trim().min(1).max(200);

export const createProjectBody = z
  .object({
    name: z.string().trim().min(1).max(200),
    modality: z.enum(['image', 'text', 'vector']),
    labels: z
      .array(labelName)
      .min(2)
      .max(1000)
      .refine((l) => new Set(l).size === l.length, 'labels must be unique'),
    settings: projectSettingsSchema.partial().optional(),
  })
  .strict();

export const updateSettingsBody = z.object({ settings: projectSettingsSchema.partial() }).strict();

export const createKeyBody = z
  .object({
    role: z.enum(['engineer', 'annotator', 'client']),
    name: z.string().trim().min(1).max(200),
  })
  .strict();

export const ingestBody = z.object({ items: z.array(z.unknown()).max(100_000) }).strict();
export const ingestQuery = z.object({ partial: z.enum(['true', 'false', '1', '0']).optional() }).strict();

export const queueQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(100).default(10),
    strategy: z.enum(STRATEGIES).optional(),
    kind: z.enum(['uncertain', 'disputed']).default('uncertain').describe('disputed: human labels the model strongly disputes, for a second review'),
  })
  .strict();

export const labelBody = z.object({ label: z.string().min(1).max(512) }).strict();
export const trainBody = z.object({}).strict();
export const predictBody = z.object({ items: z.array(z.unknown()) }).strict();
export const exportQuery = z.object({ format: z.enum(['jsonl', 'csv']).default('jsonl') }).strict();
export const emptyQuery = z.object({}).strict();

// Response shapes, for the OpenAPI document.
export const errorResponse = z.object({
  error: z.object({ code: z.string(), message: z.string(), details: z.unknown().optional() }),
});
export const projectResponse = z.object({
  id: z.string(),
  name: z.string(),
  modality: z.enum(['image', 'text', 'vector']),
  labels: z.array(z.string()),
  settings: z.record(z.string(), z.unknown()),
  activeVersion: z.number().int().nullable(),
  counts: z.object({ items: z.number(), labeled: z.number(), autoLabeled: z.number(), pending: z.number() }).optional(),
});
export const keyResponse = z.object({ id: z.string(), role: z.string(), name: z.string(), key: z.string(), projectId: z.string() });
export const ingestResponse = z.object({
  accepted: z.number().int(),
  duplicates: z.number().int(),
  rejected: z.array(z.object({ index: z.number().int(), error: z.string() })),
});
const prediction = z.object({ label: z.string(), confidence: z.number(), probs: z.record(z.string(), z.number()) });
export const queueResponse = z.object({
  items: z.array(
    z.object({
      id: z.string(),
      data: z.record(z.string(), z.unknown()),
      prediction: prediction.extend({ modelVersion: z.number().int() }).nullable(),
      uncertainty: z.number().nullable(),
      leaseExpiresAt: z.string(),
      dispute: z.object({ label: z.string(), by: z.string().nullable(), source: z.string(), suggested: z.string(), score: z.number() }).optional(),
    }),
  ),
});
export const labelResponse = z.object({ itemId: z.string(), label: z.string(), agreedWithModel: z.boolean().nullable() });
export const jobAccepted = z.object({ jobId: z.string() });
export const jobResponse = z.object({
  id: z.string(),
  projectId: z.string(),
  kind: z.enum(['train', 'prelabel', 'audit', 'consolidate']),
  status: z.enum(['queued', 'running', 'succeeded', 'failed']),
  progress: z.number(),
  error: z.string().optional(),
  modelVersion: z.number().int().optional(),
  createdAt: z.string(),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
});
export const itemResponse = z.object({
  id: z.string(),
  externalId: z.string().nullable(),
  split: z.enum(['pool', 'gold']),
  status: z.enum(['pending', 'labeled', 'auto']),
  data: z.record(z.string(), z.unknown()),
  prediction: prediction.extend({ modelVersion: z.number().int(), uncertainty: z.number() }).optional(),
  labels: z.array(
    z.object({
      label: z.string(),
      source: z.enum(['human', 'auto', 'imported']),
      keyId: z.string().nullable(),
      agreedWithModel: z.boolean().nullable(),
      createdAt: z.string(),
    }),
  ),
});
const goldMetrics = z.object({
  n: z.number().int(),
  accuracy: z.number().nullable(),
  perClass: z.record(z.string(), z.object({ precision: z.number(), recall: z.number(), f1: z.number(), support: z.number() })),
  confusion: z.array(z.array(z.number())),
  ece: z.number().nullable(),
  calibration: z.array(
    z.object({ lower: z.number(), upper: z.number(), confidence: z.number().nullable(), accuracy: z.number().nullable(), n: z.number().int() }),
  ),
});
export const metricsResponse = z.object({
  modelVersion: z.number().int().nullable(),
  gold: goldMetrics,
  confusedPairs: z.array(z.object({ label: z.string(), predicted: z.string(), count: z.number().int(), rate: z.number(), text: z.string() })),
  autoLabel: z.object({
    enabled: z.boolean(),
    targetAccuracy: z.number(),
    confidenceLevel: z.number(),
    items: z.number().int(),
    thresholds: z.record(z.string(), z.number()),
    estimatedAccuracy: z.number().nullable(),
    interval: z.tuple([z.number(), z.number()]).nullable(),
    goldItemsAboveThreshold: z.number().int(),
    reason: z.string().optional(),
  }),
  labels: z.object({ human: z.number(), auto: z.number(), pending: z.number(), imported: z.number(), disputed: z.number() }),
  history: z.array(z.object({ version: z.number().int(), humanLabels: z.number().int(), accuracy: z.number().nullable(), createdAt: z.string() })),
});
export const modelsResponse = z.object({
  active: z.number().int().nullable(),
  versions: z.array(
    z.object({
      version: z.number().int(),
      status: z.enum(['ready', 'rejected']),
      active: z.boolean(),
      createdAt: z.string(),
      trainedOnLabels: z.number().int(),
      metrics: z.record(z.string(), z.unknown()),
      jobId: z.string().nullable(),
    }),
  ),
});
export const activateResponse = z.object({ active: z.number().int() });
export const predictResponse = z.object({ modelVersion: z.number().int(), predictions: z.array(prediction) });
export const healthResponse = z.object({ status: z.literal('ok'), db: z.string(), backend: z.string() });
export const itemSchemaDoc = itemSchema;
