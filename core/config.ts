import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';

/** Typed service configuration, parsed once from the environment (fail fast, every bad variable listed). */
export interface Config {
  port: number;
  host: string;
  /** postgres.js connection string; unset means embedded PGlite. */
  databaseUrl?: string;
  /** PGlite data directory and other local state. `memory://` keeps PGlite in memory (tests). */
  dataDir: string;
  adminKey?: string;
  demo: boolean;
  /** Largest accepted request body, in bytes. */
  bodyLimitBytes: number;
  /** Preferred tfjs backend ('tensorflow' | 'wasm' | 'cpu'); unset tries them in that order. */
  tfBackend?: 'tensorflow' | 'wasm' | 'cpu';
  /** How long a queue lease lasts, in seconds. */
  leaseSeconds: number;
  logLevel: 'debug' | 'info' | 'warn' | 'error' | 'silent';
  /** How often the job runner polls the jobs table, in milliseconds. */
  jobPollMs: number;
  /** Speech recogniser worker processes per loaded model (transcription projects). */
  speechWorkers: number;
  /** Failed authentications allowed per client address per minute (and in a burst); 0 turns the limit off. */
  authFailLimit: number;
  /** Label Studio's base URL and API key, for fetching task images in the ML-backend adapter. */
  labelStudioUrl?: string;
  labelStudioApiKey?: string;
  /** Outgoing webhooks may go to private and loopback addresses (receivers inside the team's network). */
  webhookAllowPrivate: boolean;
  /** The first retry of a failed webhook delivery waits this long (ms); each next one twice as long, up to an hour. */
  webhookRetryBaseMs: number;
  /** Folder of the media store (originals, previews, thumbnails); `memory://` keeps them in memory (tests). */
  mediaDir: string;
  /** Largest file in a multipart upload, in bytes. */
  uploadFileLimitBytes: number;
  /** Largest multipart or NDJSON request, in bytes (NDJSON: each line is bounded by bodyLimitBytes instead of the body). */
  uploadRequestLimitBytes: number;
  /**
   * Test-only: URL import may reach loopback and private addresses (still only hosts on the project's
   * allow-list). Never set in production: it is what stops an import from reaching inside the network.
   */
  urlImportAllowPrivate: boolean;
  /**
   * What this process does (FURROW_ROLE): `all` serves the API and runs every job (one process, the default);
   * `api` serves HTTP and inference and never claims a job; `worker` claims every job and serves only
   * /healthz and /metrics. `api` and `worker` need PostgreSQL (PGlite is one process).
   */
  role: 'all' | 'api' | 'worker';
}

const boolish = z.enum(['0', '1', 'true', 'false', 'yes', 'no']).transform((v) => v === '1' || v === 'true' || v === 'yes');

const envSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  HOST: z.string().min(1).default('127.0.0.1'),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
    .optional()
    .or(z.literal('').transform(() => undefined)),
  FURROW_DATA_DIR: z.string().min(1).default('./data'),
  FURROW_ADMIN_KEY: z.string().min(16, 'must be at least 16 characters').optional(),
  FURROW_DEMO: boolish.default(true),
  FURROW_BODY_LIMIT_MB: z.coerce.number().positive().max(1024).default(16),
  FURROW_TF_BACKEND: z.enum(['tensorflow', 'wasm', 'cpu']).optional(),
  FURROW_LEASE_SECONDS: z.coerce
    .number()
    .int()
    .min(1)
    .max(7 * 24 * 3600)
    .default(600),
  FURROW_LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info'),
  FURROW_JOB_POLL_MS: z.coerce.number().int().min(10).max(60_000).default(1000),
  FURROW_SPEECH_WORKERS: z.coerce.number().int().min(1).max(64).optional(),
  FURROW_AUTH_FAIL_LIMIT: z.coerce.number().int().min(0).max(1_000_000).default(30),
  LABEL_STUDIO_URL: z
    .string()
    .regex(/^https?:\/\/[^/]/, 'must be an http:// or https:// URL')
    .optional(),
  LABEL_STUDIO_API_KEY: z.string().min(1).optional(),
  FURROW_WEBHOOK_ALLOW_PRIVATE: boolish.default(false),
  FURROW_WEBHOOK_RETRY_BASE_MS: z.coerce.number().int().min(10).max(3_600_000).default(10_000),
  FURROW_MEDIA_DIR: z.string().min(1).optional(),
  FURROW_UPLOAD_FILE_MB: z.coerce.number().positive().max(4096).default(100),
  FURROW_UPLOAD_REQUEST_MB: z.coerce.number().positive().max(65536).default(1024),
  FURROW_TEST_URL_IMPORT_ALLOW_PRIVATE: boolish.default(false),
  FURROW_ROLE: z.enum(['all', 'api', 'worker']).default('all'),
});

/** FURROW_MEDIA_DIR, else `<FURROW_DATA_DIR>/media`; in memory when the data directory is (tests). */
function mediaDirOf(mediaDir: string | undefined, dataDir: string): string {
  if (mediaDir) return mediaDir.startsWith('memory://') ? mediaDir : path.resolve(mediaDir);
  return dataDir.startsWith('memory://') ? 'memory://' : path.resolve(dataDir, 'media');
}

/** Parses `env` into a Config; throws one Error listing every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = envSchema
    .superRefine((e, c) => {
      // PGlite lives inside one process: a separate API or worker process could not reach the same database.
      if (e.FURROW_ROLE !== 'all' && !e.DATABASE_URL)
        c.addIssue({
          code: 'custom',
          path: ['FURROW_ROLE'],
          message: `"${e.FURROW_ROLE}" needs PostgreSQL (set DATABASE_URL): the embedded PGlite database serves one process, so without DATABASE_URL leave FURROW_ROLE unset (all)`,
        });
    })
    .safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new Error(`Invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  return {
    port: e.PORT,
    host: e.HOST,
    databaseUrl: e.DATABASE_URL,
    dataDir: e.FURROW_DATA_DIR.startsWith('memory://') ? e.FURROW_DATA_DIR : path.resolve(e.FURROW_DATA_DIR),
    adminKey: e.FURROW_ADMIN_KEY,
    demo: e.FURROW_DEMO,
    bodyLimitBytes: Math.round(e.FURROW_BODY_LIMIT_MB * 1024 * 1024),
    tfBackend: e.FURROW_TF_BACKEND,
    leaseSeconds: e.FURROW_LEASE_SECONDS,
    logLevel: e.FURROW_LOG_LEVEL,
    jobPollMs: e.FURROW_JOB_POLL_MS,
    speechWorkers: e.FURROW_SPEECH_WORKERS ?? Math.max(1, Math.min(4, os.availableParallelism())),
    authFailLimit: e.FURROW_AUTH_FAIL_LIMIT,
    labelStudioUrl: e.LABEL_STUDIO_URL,
    labelStudioApiKey: e.LABEL_STUDIO_API_KEY,
    webhookAllowPrivate: e.FURROW_WEBHOOK_ALLOW_PRIVATE,
    webhookRetryBaseMs: e.FURROW_WEBHOOK_RETRY_BASE_MS,
    mediaDir: mediaDirOf(e.FURROW_MEDIA_DIR, e.FURROW_DATA_DIR),
    uploadFileLimitBytes: Math.round(e.FURROW_UPLOAD_FILE_MB * 1024 * 1024),
    uploadRequestLimitBytes: Math.round(e.FURROW_UPLOAD_REQUEST_MB * 1024 * 1024),
    urlImportAllowPrivate: e.FURROW_TEST_URL_IMPORT_ALLOW_PRIVATE,
    role: e.FURROW_ROLE,
  };
}
