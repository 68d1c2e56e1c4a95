import { z } from 'zod';
import type { ProjectModality } from '../core/types.ts';
import { CANDIDATE_NAMES } from '../models/selection.ts';

/** Query strategies a project or a queue request may pick. */
export const STRATEGIES = ['random', 'least-confidence', 'margin', 'entropy', 'bald', 'diverse'] as const;
export type Strategy = (typeof STRATEGIES)[number];

/** Workforce quality (docs/quality.md): gold checks, overlap and who may be named to clients. */
export const QUALITY_DEFAULTS = {
  goldCheckShare: 0.05,
  labelsPerItem: 1,
  adaptiveOverlap: false,
  overlapShare: 0,
  maxLabelsPerItem: 5,
  showAnnotatorNames: false,
};
export const qualitySettingsSchema = z
  .object({
    goldCheckShare: z
      .number()
      .min(0)
      .max(0.5)
      .default(0.05)
      .describe(
        "Share of the items served to an annotator that are hidden gold checks (imported gold items, never twice to one key); a new annotator's first 20 items include 5.",
      ),
    labelsPerItem: z.number().int().min(1).max(10).default(1).describe('Labels from distinct annotators every pool item gets before it counts as done.'),
    adaptiveOverlap: z
      .boolean()
      .default(false)
      .describe(
        'Items whose consolidated label is uncertain compete with new items for another (distinct, blind) annotator by expected gain (wrong final labels avoided per label), up to maxLabelsPerItem.',
      ),
    overlapShare: z
      .number()
      .min(0)
      .max(1)
      .default(0)
      .describe('Share of pool items that always get at least 2 labels, to calibrate annotators against each other (0.1 is a good start).'),
    maxLabelsPerItem: z.number().int().min(1).max(10).default(5).describe('Cap on labels per item under adaptive overlap.'),
    showAnnotatorNames: z.boolean().default(false).describe('Clients see annotator names in GET /annotators (otherwise key ids only).'),
  })
  .strict()
  .refine((q) => q.maxLabelsPerItem >= q.labelsPerItem, { message: 'maxLabelsPerItem must be at least labelsPerItem', path: ['maxLabelsPerItem'] });
export type QualitySettings = z.infer<typeof qualitySettingsSchema>;

/** Audio transcription projects (docs/transcription.md). */
export const TRANSCRIPTION_DEFAULTS = {
  lmWeight: 0.5,
  maxClipSeconds: 120,
  goldCheckMaxWer: 0.1,
  mllr: false,
  autoAccept: { enabled: false, targetWer: 0.05, confidenceLevel: 0.95 },
};
export const transcriptionSettingsSchema = z
  .object({
    lmWeight: z
      .number()
      .min(0.05)
      .max(0.95)
      .default(0.5)
      .describe(
        "Weight of the project's own language model (built from its corrected transcripts at each retrain) against general English; the rest keeps phrasing the corrections never showed recognisable.",
      ),
    maxClipSeconds: z
      .number()
      .int()
      .min(1)
      .max(600)
      .default(120)
      .describe('Longest clip accepted, in seconds (the recogniser decodes a clip as one utterance; split long recordings).'),
    goldCheckMaxWer: z
      .number()
      .min(0)
      .max(1)
      .default(0.1)
      .describe("A hidden gold check passes when the annotator's transcript has at most this word error rate against the reference."),
    mllr: z
      .boolean()
      .default(false)
      .describe(
        "Also adapt the acoustic model to the corrected clips at each retrain (one global MLLR transform, sphinxtrain): helps when the project's clips share a voice or channel; the retrain keeps it only if gold WER falls.",
      ),
    autoAccept: z
      .object({
        enabled: z.boolean().default(false).describe('Accept confident pre-transcriptions without a human (marked auto).'),
        targetWer: z
          .number()
          .min(0.001)
          .max(0.5)
          .default(0.05)
          .describe("Accepted transcripts' word error rate, measured on the gold clips at least as confident, must stay under this..."),
        confidenceLevel: z.number().min(0.5).max(0.999).default(0.95).describe('...as the upper bound of a bootstrap interval at this confidence.'),
      })
      .strict()
      .default({ enabled: false, targetWer: 0.05, confidenceLevel: 0.95 }),
  })
  .strict();
export type TranscriptionSettings = z.infer<typeof transcriptionSettingsSchema>;

/**
 * A project's settings. Unknown keys are refused (a typo must not be silently ignored); every field has a
 * default so that `{}` is a complete configuration.
 */
export const projectSettingsSchema = z
  .object({
    imageWidth: z.number().int().min(4).max(512).default(28).describe('Images are resized to this width before the model sees them.'),
    imageHeight: z.number().int().min(4).max(512).default(28).describe('Images are resized to this height.'),
    channels: z
      .union([z.literal(1), z.literal(3)])
      .default(1)
      .describe('1 = grayscale, 3 = RGB.'),
    imageFit: z
      .enum(['letterbox', 'crop'])
      .default('letterbox')
      .describe(
        'How a picture of another shape becomes the model input: letterbox (whole picture, padded with black) or crop (centre crop). Fixed at creation.',
      ),
    urlImport: z
      .object({
        allowHosts: z
          .array(z.string().min(1).max(253))
          .max(100)
          .default([])
          .describe('Host names (exact, or "*.example.com" for its subdomains) that {"url": ...} items may be fetched from; empty turns URL import off.'),
        maxBytes: z
          .number()
          .int()
          .min(1024)
          .max(200 * 1024 * 1024)
          .default(50 * 1024 * 1024)
          .describe('Largest file fetched, in bytes.'),
        timeoutMs: z.number().int().min(100).max(120_000).default(15_000).describe('Longest a fetch may take, in milliseconds.'),
      })
      .strict()
      .default({ allowHosts: [], maxBytes: 50 * 1024 * 1024, timeoutMs: 15_000 })
      .describe('Opt-in import of http(s) image URLs: only listed hosts, no redirects, never private, loopback or link-local addresses.'),
    vectorDim: z.number().int().min(1).max(65536).optional().describe('Length of every vector (required for vector projects).'),
    strategy: z
      .enum(STRATEGIES)
      .optional()
      .describe(
        'How the queue ranks items for human review (default margin). Set, it is used as soon as a model exists; unset, image projects first spread their labels over the data until the model proves itself on held-out labels.',
      ),
    coldStartLabels: z
      .number()
      .int()
      .min(0)
      .max(1_000_000)
      .optional()
      .describe(
        "Until the project has this many human labels, the queue picks typical items from the regions its labels do not cover yet, not the most uncertain ones (a weak model's uncertainty is mostly noise). Default for images: until the model proves itself on held-out labels (docs/active-learning.md); 0 (uncertainty from the first model on) for text and vectors.",
      ),
    retrainEvery: z.number().int().min(0).max(1_000_000).default(50).describe('Retrain automatically after this many new human labels; 0 turns it off.'),
    goldFraction: z.number().min(0).max(0.5).default(0.1).describe('Share of the pool reserved as held-out evaluation data when no gold set was imported.'),
    minLabelsToTrain: z.number().int().min(2).max(1_000_000).default(10).describe('Training needs at least this many human labels over at least 2 classes.'),
    leaseSeconds: z
      .number()
      .int()
      .min(5)
      .max(7 * 24 * 3600)
      .optional()
      .describe('Queue lease length; defaults to the server setting (10 minutes).'),
    epochs: z.number().int().min(1).max(1000).optional().describe('Training epochs (default: chosen by the model).'),
    learningRate: z
      .number()
      .gt(0)
      .max(1e38)
      .optional()
      .describe('Adam step size (default: chosen by the model). Too large a value diverges; a diverged model is stored as rejected and never activated.'),
    autoLabel: z
      .object({
        enabled: z.boolean().default(false).describe('Label confident pool items automatically.'),
        targetAccuracy: z.number().min(0.5).max(0.999).default(0.95).describe('Machine labels must reach this accuracy on held-out human labels...'),
        confidenceLevel: z.number().min(0.5).max(0.999).default(0.95).describe('...as the lower bound of a Clopper-Pearson interval at this confidence.'),
      })
      .strict()
      .default({ enabled: false, targetAccuracy: 0.95, confidenceLevel: 0.95 }),
    auditEvery: z
      .number()
      .int()
      .min(0)
      .max(1_000_000)
      .default(200)
      .describe('Audit the human labels for likely errors after every this many new labels (cross-validated); 0 turns it off.'),
    disputeBelow: z
      .number()
      .gt(0)
      .max(1)
      .optional()
      .describe(
        "An audit disputes a label when the model gives it less than this fraction of its class's typical self-confidence (default 0.1 / (classes - 1)); higher flags more labels, catching more errors at the cost of more second reviews.",
      ),
    auditRepeats: z
      .number()
      .int()
      .min(1)
      .max(5)
      .default(2)
      .describe(
        'Times an audit repeats its 4-fold cross-validation (other folds, other seeds) and averages the out-of-sample predictions: each repeat costs 4 trainings; 2 flags fewer labels the model only happens to confuse.',
      ),
    semiSupervised: z.boolean().default(true).describe('Also learn from the unlabelled pool (confident pseudo-labels), not only from human labels.'),
    model: z
      .enum(['auto', ...CANDIDATE_NAMES])
      .default('auto')
      .describe(
        "Which model to train: 'auto' picks among the modality's candidates by k-fold cross-validation on the human labels at each retrain (images: when the labels have doubled since the last pick); or a candidate to force: text 'tfidf-lr', 'ngram-mlp', 'ngram-lex'; vectors 'linear', 'mlp'; images 'cnn', 'cnn-ensemble'.",
      ),
    seed: z
      .number()
      .int()
      .min(0)
      .max(2 ** 31 - 1)
      .default(1)
      .describe('Seed for model initialisation and sampling.'),
    quality: qualitySettingsSchema.default(QUALITY_DEFAULTS),
    transcription: transcriptionSettingsSchema.default(TRANSCRIPTION_DEFAULTS).describe('Audio transcription projects (docs/transcription.md).'),
  })
  .strict();

/**
 * coldStartLabels when the project does not set it, by modality: `proof` = until the model proves itself on
 * held-out labels (pipelines/cold-start.ts, docs/active-learning.md).
 */
export const DEFAULT_COLD_START_LABELS: Record<ProjectModality, number | 'proof'> = { image: 'proof', text: 0, vector: 0, audio: 0 };

/** The strategy of a project that does not choose one. */
export const DEFAULT_STRATEGY: Strategy = 'margin';

export type ProjectSettings = z.infer<typeof projectSettingsSchema> & {
  strategy: Strategy;
  /** Whether the project chose its strategy (an explicit strategy is used as soon as a model exists). */
  strategyChosen: boolean;
};

/** Settings as stored (defaults filled in). Stored settings are trusted: they were validated on write. */
export function resolveSettings(stored: Record<string, unknown>): ProjectSettings {
  const s = projectSettingsSchema.parse(stored);
  return { ...s, strategy: s.strategy ?? DEFAULT_STRATEGY, strategyChosen: s.strategy !== undefined };
}

/** Settings fixed at creation: stored items were decoded or checked with them. */
export const IMMUTABLE_SETTINGS = ['imageWidth', 'imageHeight', 'channels', 'imageFit', 'vectorDim'] as const;

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The keys a client actually sent, with their validated values. zod 4's `.partial()` still fills `.default()`
 * values (of the top level and of nested objects such as `autoLabel`), so a parsed patch cannot tell a key
 * sent from a default; the raw body can.
 */
function sentOnly(parsed: Record<string, unknown>, raw: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(raw)) {
    if (!(k in parsed)) continue;
    out[k] = isPlainObject(parsed[k]) && isPlainObject(raw[k]) ? sentOnly(parsed[k], raw[k]) : parsed[k];
  }
  return out;
}

function deepMerge(base: Record<string, unknown>, patch: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(patch)) out[k] = isPlainObject(v) && isPlainObject(base[k]) ? deepMerge(base[k], v) : v;
  return out;
}

/**
 * Applies a settings patch: only the keys sent change (nested objects key by key), the rest keep their stored
 * values. `parsed` is the patch as validated, `raw` the JSON the client sent. An immutable setting sent with its
 * current value is accepted; another value throws `immutable_setting`.
 */
export function applySettingsPatch(
  stored: Record<string, unknown>,
  parsed: Record<string, unknown>,
  raw: Record<string, unknown>,
  onImmutable: (key: (typeof IMMUTABLE_SETTINGS)[number]) => never,
): z.infer<typeof projectSettingsSchema> {
  const sent = sentOnly(parsed, raw);
  const current = resolveSettings(stored) as Record<string, unknown>;
  for (const k of IMMUTABLE_SETTINGS) if (k in sent && sent[k] !== current[k]) onImmutable(k);
  return projectSettingsSchema.parse(deepMerge(stored, sent));
}
