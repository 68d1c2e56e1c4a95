/**
 * Request and response schemas (zod). The same objects validate requests and generate /api/openapi.json.
 */
import { z } from 'zod';
import { itemSchema, MAX_ITEMS_PER_REQUEST } from '../pipelines/ingest.ts';
import { MAX_TEXT_CHARS } from '../pipelines/inputs.ts';
import { MAX_PREDICT_ITEMS } from '../pipelines/predict.ts';
import { projectSettingsSchema, STRATEGIES } from '../pipelines/settings.ts';

const labelName = z.string().trim().min(1).max(200);

export const createProjectBody = z
  .object({
    name: z.string().trim().min(1).max(200),
    modality: z.enum(['image', 'text', 'vector', 'audio']),
    task: z
      .enum(['classification', 'transcription'])
      .optional()
      .describe('classification (image, text, vector projects; the default) or transcription (audio projects, which have no labels)'),
    labels: z
      .array(labelName)
      .min(2)
      .max(1000)
      .refine((l) => new Set(l).size === l.length, 'labels must be unique')
      .optional()
      .describe('The classes (2-1000); required for classification, absent for transcription'),
    settings: projectSettingsSchema.partial().optional(),
  })
  .strict()
  .superRefine((b, c) => {
    const transcription = b.modality === 'audio';
    if (b.task !== undefined && (b.task === 'transcription') !== transcription)
      c.addIssue({
        code: 'custom',
        path: ['task'],
        message: transcription ? 'audio projects are transcription projects' : `${b.modality} projects are classification projects`,
      });
    if (transcription && b.labels !== undefined) c.addIssue({ code: 'custom', path: ['labels'], message: 'a transcription project has no labels' });
    if (!transcription && b.labels === undefined)
      c.addIssue({ code: 'custom', path: ['labels'], message: 'a classification project needs its labels (2 or more)' });
  });

export const updateSettingsBody = z.object({ settings: projectSettingsSchema.partial() }).strict();

export const createKeyBody = z
  .object({
    role: z.enum(['engineer', 'annotator', 'client']),
    name: z.string().trim().min(1).max(200),
  })
  .strict();

// Items are validated one by one by the pipeline (so `?partial=true` can report each bad one by index, and a batch
// over MAX_ITEMS_PER_REQUEST gets its own error code); the documented shapes below say what each item must be.
export const ingestBody = z.object({ items: z.array(z.unknown()) }).strict();

/** ItemData as documented: one of the modality's shapes (checked against the project's modality on ingest). */
export const itemDataDoc = z.object({
  text: z.string().max(MAX_TEXT_CHARS).optional().describe('text projects'),
  image: z.string().optional().describe('image projects: base64 PNG or JPEG, a data: URL allowed'),
  pixels: z.array(z.number().int().min(0).max(255)).optional().describe('image projects: raw pixels, row-major HWC'),
  width: z.number().int().positive().optional().describe('with pixels'),
  height: z.number().int().positive().optional().describe('with pixels'),
  channels: z
    .union([z.literal(1), z.literal(3)])
    .optional()
    .describe('with pixels; 1 when absent'),
  vector: z.array(z.number()).optional().describe('vector projects: settings.vectorDim numbers'),
});
/** An ingested Item: the envelope of pipelines/ingest.ts (so fields added there are documented) with typed data. */
export const itemDoc = itemSchema.extend(itemDataDoc.shape);
export const ingestBodyDoc = z.object({ items: z.array(itemDoc).min(1).max(MAX_ITEMS_PER_REQUEST) }).strict();
export const ingestQuery = z.object({ partial: z.enum(['true', 'false', '1', '0']).optional() }).strict();

export const queueQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(100).default(10),
    strategy: z.enum(STRATEGIES).optional(),
    kind: z.enum(['uncertain', 'disputed']).default('uncertain').describe('disputed: human labels the model strongly disputes, for a second review'),
  })
  .strict();

export const labelBody = z.union([
  z.object({ label: z.string().min(1).max(512) }).strict(),
  z
    .object({ transcript: z.string().max(10_000).describe('Transcription projects: the corrected transcript (normalised: lower case, no punctuation)') })
    .strict(),
]);
export const trainBody = z.object({}).strict();
export const predictBody = z.object({ items: z.array(z.unknown()) }).strict();
export const predictBodyDoc = z.object({ items: z.array(itemDataDoc.strict()).min(1).max(MAX_PREDICT_ITEMS) }).strict();
export const exportQuery = z
  .object({
    format: z.enum(['jsonl', 'csv']).default('jsonl'),
    include: z.enum(['media']).optional().describe('media: embed each image (base64) besides its URL'),
  })
  .strict();
export const emptyQuery = z.object({}).strict();

// Response shapes, for the OpenAPI document.
export const errorResponse = z.object({
  error: z.object({ code: z.string(), message: z.string(), details: z.unknown().optional() }),
});
export const projectResponse = z.object({
  id: z.string(),
  name: z.string(),
  modality: z.enum(['image', 'text', 'vector', 'audio']),
  task: z.enum(['classification', 'transcription']),
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
/** A transcription project's draft: the text, its confidence (mean word posterior) and each word's times and posterior. */
const transcriptionPrediction = z.object({
  text: z.string(),
  confidence: z.number(),
  words: z.array(z.object({ word: z.string(), start: z.number().describe('seconds'), end: z.number(), confidence: z.number() })),
  modelVersion: z.number().int(),
  error: z.string().optional().describe('Why the recogniser could not transcribe the clip (it was retried once)'),
});
export const queueResponse = z.object({
  items: z.array(
    z.object({
      id: z.string(),
      externalId: z.string().nullable(),
      meta: z.record(z.string(), z.unknown()).nullable(),
      data: z.record(z.string(), z.unknown()),
      prediction: z.union([prediction.extend({ modelVersion: z.number().int() }), transcriptionPrediction]).nullable(),
      uncertainty: z.number().nullable(),
      leaseExpiresAt: z.string(),
      dispute: z.object({ label: z.string(), by: z.string().nullable(), source: z.string(), suggested: z.string(), score: z.number() }).optional(),
    }),
  ),
  retryAfterMs: z
    .number()
    .int()
    .optional()
    .describe(
      'Only with an empty list: unlabelled items remain that this key may get later (busy for a moment, or leased to others); ask again after this many milliseconds. A bare empty list means nothing is left for this key.',
    ),
});
export const labelResponse = z.union([
  z.object({ itemId: z.string(), label: z.string(), agreedWithModel: z.boolean().nullable() }),
  z.object({ itemId: z.string(), transcript: z.string(), wordEdits: z.number().int().nullable().describe("Words changed from the model's draft") }),
]);
export const jobAccepted = z.object({ jobId: z.string() });
export const jobResponse = z.object({
  id: z.string(),
  projectId: z.string(),
  kind: z.enum(['train', 'prelabel', 'audit', 'consolidate']),
  status: z.enum(['queued', 'running', 'succeeded', 'failed']),
  progress: z.number(),
  error: z.string().optional(),
  modelVersion: z.number().int().optional(),
  /** Train jobs: which model candidate was trained and why (e.g. no cross-validation was possible). */
  selection: z.object({ method: z.string(), chosen: z.string(), reason: z.string() }).optional(),
  /** Audit jobs (once started): the model candidate its cross-validation trains and where that choice came from. */
  model: z
    .object({
      candidate: z.string(),
      arch: z.string(),
      C: z.number().optional(),
      source: z.enum(['active-version', 'setting', 'default']),
      version: z.number().int().optional(),
    })
    .optional(),
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
  meta: z.record(z.string(), z.unknown()).nullable(),
  prediction: z
    .union([prediction.extend({ modelVersion: z.number().int(), uncertainty: z.number() }), transcriptionPrediction.extend({ uncertainty: z.number() })])
    .optional(),
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
const interval = z.tuple([z.number(), z.number()]).nullable().describe('95% Clopper-Pearson interval of the accuracy');
const transcriptionScore = z.object({
  n: z.number().int(),
  refWords: z.number().int(),
  wer: z.number().nullable().describe('Corpus word error rate: all word errors over all reference words'),
  cer: z.number().nullable(),
  interval: z.tuple([z.number(), z.number()]).nullable().describe('95% bootstrap interval of wer over clips'),
});
/** GET /metrics of a transcription project. */
export const transcriptionMetricsResponse = z.object({
  modelVersion: z.number().int().nullable(),
  gold: transcriptionScore,
  labels: z.object({ human: z.number(), auto: z.number(), pending: z.number(), imported: z.number() }),
  autoAccept: z
    .object({
      enabled: z.boolean(),
      threshold: z.number().nullable(),
      n: z.number().int(),
      wer: z.number().nullable(),
      upper: z.number().nullable(),
      target: z.number(),
    })
    .nullable(),
  history: z.array(
    z.object({
      version: z.number().int(),
      humanLabels: z.number().int(),
      wer: z.number().nullable(),
      cer: z.number().nullable(),
      activated: z.boolean(),
      createdAt: z.string(),
    }),
  ),
});
export const classificationMetricsResponse = z.object({
  modelVersion: z.number().int().nullable(),
  gold: goldMetrics.extend({ interval, currentGoldSet: z.boolean().describe('false while a re-score on the current gold set is pending') }),
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
  history: z.array(
    z.object({
      version: z.number().int(),
      humanLabels: z.number().int(),
      accuracy: z.number().nullable().describe('On the current gold set (when currentGoldSet)'),
      n: z.number().int(),
      interval,
      currentGoldSet: z.boolean(),
      atTraining: z.object({ n: z.number().int(), accuracy: z.number().nullable() }),
      createdAt: z.string(),
    }),
  ),
});
export const metricsResponse = z.union([classificationMetricsResponse, transcriptionMetricsResponse]);
export const modelsResponse = z.object({
  active: z.number().int().nullable(),
  goldSet: z.object({ n: z.number().int() }),
  versions: z.array(
    z.object({
      version: z.number().int(),
      status: z.enum(['ready', 'rejected']),
      active: z.boolean(),
      createdAt: z.string(),
      trainedOnLabels: z.number().int(),
      metrics: z.record(z.string(), z.unknown()),
      currentGold: z.object({ n: z.number().int(), accuracy: z.number().nullable(), interval, currentGoldSet: z.boolean() }),
      jobId: z.string().nullable(),
      /** The candidate this version is and how it was chosen (null for versions trained before model selection). */
      model: z
        .object({
          candidate: z.string(),
          arch: z.string(),
          method: z.enum(['cv', 'reused', 'forced', 'fallback']),
          reason: z.string(),
          cv: z.object({ mean: z.number(), sd: z.number(), k: z.number().int() }).nullable(),
          candidates: z.array(z.object({ candidate: z.string(), mean: z.number(), sd: z.number(), k: z.number().int() })),
        })
        .nullable(),
    }),
  ),
});
export const activateResponse = z.object({ active: z.number().int() });
export const predictResponse = z.object({ modelVersion: z.number().int(), predictions: z.array(prediction) });
export const healthResponse = z.object({ status: z.literal('ok'), db: z.string(), backend: z.string() });
export const itemSchemaDoc = itemSchema;

export const mediaQuery = z
  .object({
    size: z.enum(['thumb', 'preview', 'original']).default('preview').describe('thumb: 256 px; preview: 1024 px (JPEG); original: the file as uploaded.'),
  })
  .strict();
// Data management: listing, class changes, audit log.
const flag = z.enum(['true', 'false']).transform((v) => v === 'true');
export const listItemsQuery = z
  .object({
    status: z.enum(['pending', 'labeled', 'auto']).optional(),
    label: z.string().min(1).max(512).optional(),
    source: z.enum(['human', 'auto', 'imported']).optional(),
    split: z.enum(['pool', 'gold']).optional(),
    holdout: flag.optional(),
    disputed: flag.optional().describe('true: an open dispute from a label audit'),
    predicted: z.string().min(1).max(512).optional().describe("The active model's predicted label"),
    minConfidence: z.coerce.number().min(0).max(1).optional(),
    maxConfidence: z.coerce.number().min(0).max(1).optional(),
    q: z.string().min(1).max(200).optional().describe('Case-insensitive substring of the text or the externalId'),
    limit: z.coerce.number().int().min(1).max(500).default(50),
    cursor: z.string().min(1).max(100).optional().describe('nextCursor of the previous page'),
  })
  .strict()
  .refine((q) => q.minConfidence === undefined || q.maxConfidence === undefined || q.minConfidence <= q.maxConfidence, {
    message: 'minConfidence must not be above maxConfidence',
    path: ['minConfidence'],
  });
export const itemSummary = z.object({
  id: z.string(),
  externalId: z.string().nullable(),
  split: z.enum(['pool', 'gold']),
  status: z.enum(['pending', 'labeled', 'auto']),
  holdout: z.boolean(),
  label: z.string().nullable(),
  source: z.enum(['human', 'auto', 'imported']).nullable(),
  prediction: z.object({ label: z.string(), confidence: z.number().nullable(), modelVersion: z.number().int().nullable() }).nullable(),
  disputed: z.boolean(),
  meta: z.record(z.string(), z.unknown()).nullable(),
  text: z.string().optional(),
  thumbUrl: z.string().optional(),
  createdAt: z.string(),
});
export const listItemsResponse = z.object({ items: z.array(itemSummary), nextCursor: z.string().nullable() });
export const labelChangeBody = z
  .object({
    add: z.array(labelName).max(1000).optional(),
    rename: z.record(z.string().min(1).max(200), labelName).optional(),
  })
  .strict();
export const auditLogQuery = z.object({ limit: z.coerce.number().int().min(1).max(500).default(100), cursor: z.string().min(1).max(20).optional() }).strict();
export const auditLogResponse = z.object({
  entries: z.array(
    z.object({ id: z.string(), keyId: z.string().nullable(), action: z.string(), details: z.record(z.string(), z.unknown()), createdAt: z.string() }),
  ),
  nextCursor: z.string().nullable(),
});
