/**
 * Furrow's one schema, used over both drivers (PGlite and postgres.js). Migrations under db/migrations are
 * generated from this file by drizzle-kit (`npm run db:generate`) and applied on start.
 */
import { sql } from 'drizzle-orm';
import { bigserial, boolean, customType, index, integer, jsonb, pgTable, primaryKey, real, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';

/** bytea as Uint8Array on both drivers (postgres.js hands back a Buffer, which is one). */
export const bytea = customType<{ data: Uint8Array; driverData: Uint8Array }>({
  dataType: () => 'bytea',
  toDriver: (v) => (Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength)),
  fromDriver: (v) => (v instanceof Uint8Array ? v : new Uint8Array(v as ArrayBuffer)),
});

const tsz = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

export const projects = pgTable('projects', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  modality: text('modality').$type<'image' | 'text' | 'vector' | 'audio'>().notNull(),
  labels: jsonb('labels').$type<string[]>().notNull(),
  settings: jsonb('settings').$type<Record<string, unknown>>().notNull(),
  /** The model version that serves predictions; null before the first training. */
  activeVersion: integer('active_version'),
  createdAt: tsz('created_at').notNull().defaultNow(),
});

export const apiKeys = pgTable(
  'api_keys',
  {
    id: text('id').primaryKey(),
    /** null for admin keys (all projects). */
    projectId: text('project_id').references(() => projects.id, { onDelete: 'cascade' }),
    role: text('role').$type<'admin' | 'engineer' | 'annotator' | 'client'>().notNull(),
    name: text('name').notNull(),
    /** sha256 of the secret, hex. Keys are 256-bit random, so a fast hash is enough. */
    keyHash: text('key_hash').notNull(),
    /** First characters of the key, safe to show and log. */
    prefix: text('prefix').notNull(),
    createdAt: tsz('created_at').notNull().defaultNow(),
    revokedAt: tsz('revoked_at'),
  },
  (t) => [uniqueIndex('api_keys_hash_idx').on(t.keyHash)],
);

export const items = pgTable(
  'items',
  {
    id: text('id').primaryKey(),
    /** Insertion order, for stable batching and export. */
    seq: bigserial('seq', { mode: 'number' }).notNull(),
    projectId: text('project_id')
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    externalId: text('external_id'),
    split: text('split').$type<'pool' | 'gold'>().notNull(),
    /** A pool item reserved as held-out evaluation data (settings.goldFraction): labelled by humans, never trained on. */
    holdout: boolean('holdout').notNull().default(false),
    status: text('status').$type<'pending' | 'labeled' | 'auto'>().notNull(),
    /** The item as ingested (ItemData). */
    data: jsonb('data').$type<Record<string, unknown>>().notNull(),
    /** The caller's metadata (a JSON object, at most 16 KB serialised), returned as given. */
    meta: jsonb('meta').$type<Record<string, unknown>>(),
    /** Model-ready bytes: HWC uint8 for images at the project's size, float32 for vectors; null for text. */
    input: bytea('input'),
    /** The item's current label and where it came from; history is in `labels`. */
    label: text('label'),
    labelSource: text('label_source').$type<'human' | 'auto' | 'imported'>(),
    /** Uniform random number for the cold-start (class-agnostic) sample. */
    rand: real('rand').notNull(),
    predVersion: integer('pred_version'),
    predLabel: text('pred_label'),
    confidence: real('confidence'),
    uncertainty: real('uncertainty'),
    /** Label-error detection: the label the model suggests instead of the human one, how strongly, since when. */
    disputedLabel: text('disputed_label'),
    disputeScore: real('dispute_score'),
    disputedAt: tsz('disputed_at'),
    /** A second annotator decided on a disputed label; the decision stands and is not disputed again. */
    reviewed: boolean('reviewed').notNull().default(false),
    leasedBy: text('leased_by'),
    leaseExpiresAt: tsz('lease_expires_at'),
    createdAt: tsz('created_at').notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('items_project_external_idx').on(t.projectId, t.externalId),
    // The queue's hot reads, each an index range scan whatever the project's size (test/team/queue-cost.test.ts
    // EXPLAINs them on 200,000 items): servable items by uncertainty, by the seeded random rank, by predicted
    // class and confidence (the class-balance guard); this key's own leases; and the labelled items the
    // queue counts (held-out share, labels per class), so those counts cost the labels, not the items.
    index('items_queue_idx').on(t.projectId, t.status, t.split, t.holdout, t.uncertainty.desc().nullsLast(), t.rand),
    index('items_queue_random_idx').on(t.projectId, t.status, t.split, t.holdout, t.rand, t.seq),
    index('items_queue_class_idx').on(t.projectId, t.status, t.split, t.holdout, t.predLabel, t.confidence.desc().nullsFirst(), t.rand),
    index('items_leased_idx').on(t.projectId, t.leasedBy).where(sql`${t.leasedBy} is not null`),
    index('items_labelled_idx').on(t.projectId, t.split, t.status, t.holdout, t.labelSource, t.label).where(sql`${t.label} is not null`),
    index('items_project_seq_idx').on(t.projectId, t.seq),
    index('items_disputed_idx').on(t.projectId, t.disputedAt),
    // Browsing by label (GET /items?label=) walks this in seq order instead of filtering the whole project.
    index('items_project_label_idx').on(t.projectId, t.label, t.seq),
  ],
);

export const predictions = pgTable(
  'predictions',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    projectId: text('project_id')
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    itemId: text('item_id')
      .notNull()
      .references(() => items.id, { onDelete: 'cascade' }),
    modelVersion: integer('model_version').notNull(),
    /** Class probabilities in the project's label order; empty for transcriptions. */
    probs: real('probs').array().notNull(),
    /** The predicted class, or a transcription's text. */
    label: text('label').notNull(),
    /** Transcriptions: per word {word, start, end, confidence} (seconds, word posterior); null for classes. */
    words: jsonb('words').$type<{ word: string; start: number; end: number; confidence: number }[]>(),
    /** Transcriptions: why the recogniser could not transcribe the clip (it was retried once); null when it did. */
    error: text('error'),
    confidence: real('confidence').notNull(),
    uncertainty: real('uncertainty').notNull(),
    createdAt: tsz('created_at').notNull().defaultNow(),
  },
  (t) => [uniqueIndex('predictions_item_version_idx').on(t.itemId, t.modelVersion)],
);

export const labels = pgTable(
  'labels',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    projectId: text('project_id')
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    itemId: text('item_id')
      .notNull()
      .references(() => items.id, { onDelete: 'cascade' }),
    label: text('label').notNull(),
    source: text('source').$type<'human' | 'auto' | 'imported'>().notNull(),
    /** The key that gave a human label (null for imported and auto labels). */
    keyId: text('key_id'),
    /** The model's label for the item when this decision was made, and whether they agreed. */
    predictedLabel: text('predicted_label'),
    agreedWithModel: boolean('agreed_with_model'),
    modelVersion: integer('model_version'),
    createdAt: tsz('created_at').notNull().defaultNow(),
  },
  (t) => [index('labels_item_idx').on(t.itemId, t.id), index('labels_project_idx').on(t.projectId, t.source)],
);

export const modelVersions = pgTable(
  'model_versions',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    projectId: text('project_id')
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    version: integer('version').notNull(),
    /** Only complete, evaluated versions are written: 'ready' may be activated, 'rejected' may not. */
    status: text('status').$type<'ready' | 'rejected'>().notNull(),
    spec: jsonb('spec').$type<Record<string, unknown>>().notNull(),
    weights: bytea('weights').notNull(),
    metrics: jsonb('metrics').$type<Record<string, unknown>>().notNull(),
    trainedOnLabels: integer('trained_on_labels').notNull(),
    jobId: text('job_id'),
    createdAt: tsz('created_at').notNull().defaultNow(),
  },
  (t) => [uniqueIndex('model_versions_project_version_idx').on(t.projectId, t.version)],
);

export const jobs = pgTable(
  'jobs',
  {
    id: text('id').primaryKey(),
    projectId: text('project_id')
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    kind: text('kind').$type<'train' | 'prelabel' | 'audit' | 'consolidate'>().notNull(),
    status: text('status').$type<'queued' | 'running' | 'succeeded' | 'failed'>().notNull(),
    progress: real('progress').notNull().default(0),
    error: text('error'),
    modelVersion: integer('model_version'),
    payload: jsonb('payload').$type<Record<string, unknown>>().notNull().default(sql`'{}'::jsonb`),
    attempts: integer('attempts').notNull().default(0),
    /** Which process runs it, and when it last said it was alive (a stale heartbeat means a dead worker). */
    lockedBy: text('locked_by'),
    heartbeatAt: tsz('heartbeat_at'),
    createdAt: tsz('created_at').notNull().defaultNow(),
    startedAt: tsz('started_at'),
    finishedAt: tsz('finished_at'),
  },
  (t) => [index('jobs_status_idx').on(t.status, t.createdAt), index('jobs_project_idx').on(t.projectId, t.kind, t.status)],
);

/**
 * Answers to POST requests that carried an `Idempotency-Key` header, per calling API key: a retry with the
 * same key and the same request gets the stored answer instead of doing the work again. `status` is null
 * while the first request is still running. Rows older than a day are purged.
 */
export const idempotencyKeys = pgTable(
  'idempotency_keys',
  {
    keyId: text('key_id')
      .notNull()
      .references(() => apiKeys.id, { onDelete: 'cascade' }),
    idempotencyKey: text('idempotency_key').notNull(),
    /** sha256 (hex) of method, path, query string, content type and body: the same key on another request is refused. */
    fingerprint: text('fingerprint').notNull(),
    status: integer('status'),
    /** The answer's JSON text, byte for byte (jsonb would reorder its keys). */
    body: text('body'),
    createdAt: tsz('created_at').notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.keyId, t.idempotencyKey] }), index('idempotency_keys_created_idx').on(t.createdAt)],
);

/**
 * Gold checks (docs/quality.md): an imported gold item served to one annotator as an ordinary item. One row per
 * (item, key): a gold item is never served twice to the same key. `answer` is null until the key answers.
 */
export const goldChecks = pgTable(
  'gold_checks',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    projectId: text('project_id')
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    itemId: text('item_id')
      .notNull()
      .references(() => items.id, { onDelete: 'cascade' }),
    keyId: text('key_id').notNull(),
    servedAt: tsz('served_at').notNull().defaultNow(),
    expiresAt: tsz('expires_at').notNull(),
    answer: text('answer'),
    correct: boolean('correct'),
    answeredAt: tsz('answered_at'),
  },
  (t) => [uniqueIndex('gold_checks_item_key_idx').on(t.itemId, t.keyId), index('gold_checks_project_key_idx').on(t.projectId, t.keyId, t.answeredAt)],
);

/** Per item with human votes: the consolidated label (docs/quality.md), kept beside the raw label rows. */
export const consolidatedLabels = pgTable(
  'consolidated_labels',
  {
    itemId: text('item_id')
      .primaryKey()
      .references(() => items.id, { onDelete: 'cascade' }),
    projectId: text('project_id')
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    label: text('label').notNull(),
    posterior: real('posterior').notNull(),
    /** Distinct annotators whose (latest) vote counts. */
    n: integer('n').notNull(),
    method: text('method').$type<'single' | 'majority' | 'dawid-skene'>().notNull(),
    /** Whether overlap wants one more distinct annotator on this item. */
    needsMore: boolean('needs_more').notNull().default(false),
    /**
     * Expected wrong final labels one more label avoids (pipelines/quality/gain.ts); REQUIRED_GAIN (1) when the
     * settings require the label; 0 when no more is wanted. The queue ranks another label against new items by it.
     */
    gain: real('gain').notNull().default(0),
    fitId: integer('fit_id'),
    updatedAt: tsz('updated_at').notNull().defaultNow(),
  },
  (t) => [
    index('consolidated_needs_more_idx').on(t.projectId, t.needsMore),
    // The queue reads the items most worth another label first, whatever the number of labelled items.
    index('consolidated_gain_idx').on(t.projectId, t.gain.desc()).where(sql`${t.needsMore}`),
  ],
);

/** A full consolidation (the `consolidate` job): EM parameters per key and the agreement figures. */
export const qualityFits = pgTable(
  'quality_fits',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    projectId: text('project_id')
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    labels: integer('labels').notNull(),
    /** {classes, priors, annotators: {keyId: {confusion, accuracy, labels, overlap}}, agreement, flaggedGold, iterations, converged}. */
    params: jsonb('params').$type<Record<string, unknown>>().notNull(),
    createdAt: tsz('created_at').notNull().defaultNow(),
  },
  (t) => [index('quality_fits_project_idx').on(t.projectId, t.id)],
);

/**
 * Label Studio annotations Furrow stored as labels, so that `ANNOTATIONS_DELETED` (which carries only the
 * annotation ids) can find the item it labelled.
 */
export const labelStudioAnnotations = pgTable(
  'label_studio_annotations',
  {
    projectId: text('project_id')
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    annotationId: text('annotation_id').notNull(),
    itemId: text('item_id')
      .notNull()
      .references(() => items.id, { onDelete: 'cascade' }),
    label: text('label').notNull(),
    createdAt: tsz('created_at').notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.projectId, t.annotationId] }), index('label_studio_annotations_item_idx').on(t.itemId)],
);

/** Outgoing webhooks: a project's subscribers to events, each signed with its own secret (HMAC-SHA256). */
export const webhooks = pgTable(
  'webhooks',
  {
    id: text('id').primaryKey(),
    projectId: text('project_id')
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    url: text('url').notNull(),
    events: text('events').array().notNull(),
    /** The signing secret: kept as is, since every delivery is signed with it; shown once at creation. */
    secret: text('secret').notNull(),
    createdAt: tsz('created_at').notNull().defaultNow(),
  },
  (t) => [index('webhooks_project_idx').on(t.projectId)],
);

/** Every delivery of an event to a webhook, with its attempts: the record a team checks when a call went missing. */
export const webhookDeliveries = pgTable(
  'webhook_deliveries',
  {
    id: text('id').primaryKey(),
    webhookId: text('webhook_id')
      .notNull()
      .references(() => webhooks.id, { onDelete: 'cascade' }),
    projectId: text('project_id')
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    event: text('event').notNull(),
    payload: jsonb('payload').$type<Record<string, unknown>>().notNull(),
    status: text('status').$type<'pending' | 'delivered' | 'failed'>().notNull(),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: tsz('next_attempt_at').notNull().defaultNow(),
    lastStatusCode: integer('last_status_code'),
    lastError: text('last_error'),
    createdAt: tsz('created_at').notNull().defaultNow(),
    deliveredAt: tsz('delivered_at'),
  },
  (t) => [index('webhook_deliveries_due_idx').on(t.status, t.nextAttemptAt), index('webhook_deliveries_hook_idx').on(t.webhookId, t.createdAt)],
);

/**
 * Who changed what, when: deletes, class additions and renames. No foreign key to projects, so the record of a
 * deleted project's deletion outlives it.
 */
export const auditLog = pgTable(
  'audit_log',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    projectId: text('project_id').notNull(),
    /** The API key that made the change. */
    keyId: text('key_id'),
    action: text('action').notNull(),
    details: jsonb('details').$type<Record<string, unknown>>().notNull().default(sql`'{}'::jsonb`),
    createdAt: tsz('created_at').notNull().defaultNow(),
  },
  (t) => [index('audit_log_project_idx').on(t.projectId, t.id)],
);
