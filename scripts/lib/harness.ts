/**
 * An in-process Furrow server for benchmarks and simulations: the real service (HTTP, jobs, worker-thread
 * models, embedded database) driven over HTTP, as an outside program would. Silent, unless FURROW_HARNESS_LOG
 * is set: then the server logs warnings and errors on stderr.
 */
import { loadConfig } from '../../core/config.ts';
import { createLogger, silentLogger } from '../../core/logger.ts';
import { startServer, type RunningServer } from '../../server/main.ts';

const ADMIN = 'fw_harness_admin_key_0123456789abcdef';

export interface Harness {
  srv: RunningServer;
  /** The admin key, for requests made without `call` (raw bodies, other headers). */
  adminKey: string;
  /**
   * JSON in, JSON out (or text for export), with the admin key or `key`; throws on any 4xx/5xx with the answer
   * in the message.
   */
  call(method: string, path: string, body?: unknown, key?: string): Promise<any>;
  /** Waits until the project has no queued or running job. */
  idle(projectId: string): Promise<void>;
  /** Ingests items in chunks; returns a map from item id to externalId. */
  ingest(projectId: string, items: Record<string, unknown>[]): Promise<Map<string, string>>;
  close(): Promise<void>;
}

export async function startHarness(env: Record<string, string> = {}): Promise<Harness> {
  const config = loadConfig({
    ...process.env,
    PORT: '0',
    FURROW_DATA_DIR: 'memory://',
    FURROW_ADMIN_KEY: ADMIN,
    FURROW_DEMO: '0',
    FURROW_LOG_LEVEL: 'silent',
    FURROW_JOB_POLL_MS: '50',
    ...env,
  });
  const srv = await startServer(config, { logger: process.env.FURROW_HARNESS_LOG ? createLogger('warn') : silentLogger, announce: () => {} });
  const call = async (method: string, p: string, body?: unknown, key = ADMIN): Promise<any> => {
    const send = () =>
      fetch(srv.url + p, {
        method,
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    let r: Response;
    for (let attempt = 1; ; attempt++) {
      try {
        r = await send();
        break;
      } catch (err) {
        // On a loaded machine a kept-alive connection can be closed by the server just as the client reuses it
        // (ECONNRESET): a GET is safe to send again; anything else is not, so it fails as before.
        if (method !== 'GET' || attempt >= 5) throw err;
        await new Promise((res) => setTimeout(res, 200 * attempt));
      }
    }
    const text = await r.text();
    if (r.status >= 400) throw new Error(`${method} ${p}: ${r.status} ${text}`);
    return p.includes('/export') ? text : JSON.parse(text);
  };
  return {
    srv,
    adminKey: ADMIN,
    call,
    async idle(projectId) {
      for (;;) {
        const { jobs } = await call('GET', `/api/projects/${projectId}/jobs?limit=20`);
        if (!jobs.some((j: any) => j.status === 'queued' || j.status === 'running')) return;
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async ingest(projectId, items) {
      for (let i = 0; i < items.length; i += 2000) await call('POST', `/api/projects/${projectId}/items`, { items: items.slice(i, i + 2000) });
      const ids = new Map<string, string>();
      for (const line of (await call('GET', `/api/projects/${projectId}/export?format=jsonl`)).trim().split('\n')) {
        const r = JSON.parse(line);
        if (r.externalId) ids.set(r.id, r.externalId);
      }
      return ids;
    },
    close: () => srv.close(),
  };
}

/** Trains now and waits for the new version, its pre-labelling and auto-labelling; throws if training failed. */
export async function trainAndWait(h: Harness, projectId: string): Promise<any> {
  const { jobId } = await h.call('POST', `/api/projects/${projectId}/train`, {});
  await h.idle(projectId);
  const job = await h.call('GET', `/api/jobs/${jobId}`);
  if (job.status !== 'succeeded') throw new Error(`training failed: ${job.error}`);
  return job;
}
