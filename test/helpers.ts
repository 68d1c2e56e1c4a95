import { randomBytes } from 'node:crypto';
import { loadConfig, type Config } from '../core/config.ts';
import { createLogger, silentLogger, type LogLevel } from '../core/logger.ts';
import { startServer, type RunningServer } from '../server/main.ts';

export const ADMIN_KEY = 'fw_test_admin_key_0123456789abcdef';

/**
 * A fresh, empty database for one test file: PGlite in memory by default, or a new database on the
 * PostgreSQL server of DATABASE_URL (created here, dropped in cleanup), so the suite runs on both drivers.
 */
export async function freshDatabaseUrl(): Promise<{ url: string | undefined; cleanup: () => Promise<void> }> {
  const base = process.env.DATABASE_URL;
  if (!base) return { url: undefined, cleanup: async () => {} };
  const { default: postgres } = await import('postgres');
  const name = `furrow_t_${Date.now()}_${randomBytes(4).toString('hex')}`;
  const admin = postgres(base, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  const u = new URL(base);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    cleanup: async () => {
      await admin.unsafe(`drop database if exists ${name} with (force)`).catch(() => {});
      await admin.end({ timeout: 5 });
    },
  };
}

export interface TestServer extends RunningServer {
  config: Config;
  /** fetch against the server with an optional key; JSON bodies are encoded. */
  call(
    method: string,
    path: string,
    opts?: { key?: string | null; body?: unknown; raw?: string | Buffer; headers?: Record<string, string> },
  ): Promise<{ status: number; body: any; text: string; headers: Headers }>;
  stop(): Promise<void>;
}

/** A server on a fresh database (see freshDatabaseUrl); `env` overrides the test defaults, `opts` the silent logger. */
export async function startTestServer(
  env: Record<string, string> = {},
  opts: Pick<NonNullable<Parameters<typeof startServer>[1]>, 'logger' | 'announce'> = {},
): Promise<TestServer> {
  const db = await freshDatabaseUrl();
  const config = loadConfig({
    PORT: '0',
    FURROW_DATA_DIR: 'memory://',
    FURROW_ADMIN_KEY: ADMIN_KEY,
    FURROW_DEMO: '0',
    FURROW_LOG_LEVEL: 'silent',
    FURROW_JOB_POLL_MS: '100',
    // Every test client comes from 127.0.0.1 and many tests send bad keys on purpose; the limit is tested on its own.
    FURROW_AUTH_FAIL_LIMIT: '0',
    ...(db.url ? { DATABASE_URL: db.url } : {}),
    ...env,
  });
  // FURROW_TEST_LOG=warn (or info, debug) shows the servers' logs while debugging a test; silent otherwise.
  const logger = process.env.FURROW_TEST_LOG ? createLogger(process.env.FURROW_TEST_LOG as LogLevel) : silentLogger;
  const srv = await startServer(config, { logger, announce: () => {}, ...opts });
  const call: TestServer['call'] = async (method, path, opts = {}) => {
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    const key = opts.key === undefined ? ADMIN_KEY : opts.key;
    if (key) headers.authorization = `Bearer ${key}`;
    let body: string | Buffer | undefined;
    if (opts.raw !== undefined) body = opts.raw;
    else if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers['content-type'] ??= 'application/json';
    }
    const res = await fetch(srv.url + path, { method, headers, body: body as BodyInit | undefined });
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    return { status: res.status, body: parsed, text, headers: res.headers };
  };
  return {
    ...srv,
    config,
    call,
    stop: async () => {
      await srv.close();
      await db.cleanup();
    },
  };
}

/** Polls a job until it ends; throws on timeout. */
export async function waitForJob(s: TestServer, jobId: string, key?: string, timeoutMs = 180_000): Promise<any> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const r = await s.call('GET', `/api/jobs/${jobId}`, { key });
    if (r.status !== 200) throw new Error(`job ${jobId}: ${r.status} ${r.text}`);
    if (r.body.status === 'succeeded' || r.body.status === 'failed') return r.body;
    if (Date.now() > until) throw new Error(`job ${jobId} did not finish: ${JSON.stringify(r.body)}`);
    await new Promise((res) => setTimeout(res, 200));
  }
}

/** Waits until no prelabel/train job of the project is queued or running. */
export async function waitForIdle(s: TestServer, projectId: string, timeoutMs = 180_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const r = await s.call('GET', `/api/projects/${projectId}/jobs?limit=50`);
    if (r.status !== 200) throw new Error(`jobs: ${r.status} ${r.text}`);
    if (!r.body.jobs.some((j: any) => j.status === 'queued' || j.status === 'running')) return;
    if (Date.now() > until) throw new Error('project did not become idle');
    await new Promise((res) => setTimeout(res, 200));
  }
}
