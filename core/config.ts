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
  /** Failed authentications allowed per client address per minute (and in a burst); 0 turns the limit off. */
  authFailLimit: number;
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
  FURROW_AUTH_FAIL_LIMIT: z.coerce.number().int().min(0).max(1_000_000).default(30),
});

/** Parses `env` into a Config; throws one Error listing every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = envSchema.safeParse(env);
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
    authFailLimit: e.FURROW_AUTH_FAIL_LIMIT,
  };
}
