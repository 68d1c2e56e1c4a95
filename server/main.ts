/**
 * Composition root: config → database (migrations) → model runner → job runner → HTTP. Graceful on SIGTERM.
 * FURROW_ROLE picks the parts: `all` (one process does everything), `api` (HTTP and inference, claims no
 * job) or `worker` (claims every job; HTTP only for /healthz and /metrics). See docs/team.md.
 */
import { createFolderMediaStore, createMemoryMediaStore, type MediaStore } from '../media/media-store.ts';
import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { loadConfig, type Config } from '../core/config.ts';
import { createLogger, type Logger } from '../core/logger.ts';
import { createWorkQueue } from '../core/sliced.ts';
import { openDatabase } from '../db/client.ts';
import { createModelRunner } from '../models/model-runner.ts';
import { ensureAdminKey } from '../pipelines/access.ts';
import type { PipelineContext } from '../pipelines/context.ts';
import { createDemoProject } from '../pipelines/demo.ts';
import { loadDemoImages } from '../pipelines/fashion-mnist.ts';
import { EmbeddingCache } from '../pipelines/embedding-cache.ts';
import { createJobRunner } from '../pipelines/jobs.ts';
import { createWebhookDispatcher } from '../pipelines/webhooks.ts';
import { createApp } from './app.ts';
import { createMetrics } from './metrics.ts';
import { createWorkerApp } from './worker-app.ts';
import os from 'node:os';
import path from 'node:path';
import { speechEngineAvailable } from '../models/speech/native.ts';
import { createPocketsphinxPool } from '../models/speech/recognizer.ts';
import { createSpeechEngine } from '../pipelines/speech/engine.ts';
import { createTranscriptionDemo } from '../pipelines/speech/demo.ts';
import { describeError } from '../core/errors.ts';
import { sqlState } from '../db/retry.ts';

/** NOTIFY channel: a job was queued; workers wake their claim loops at once instead of at the next poll. */
export const JOBS_CHANNEL = 'furrow_jobs';

export interface RunningServer {
  url: string;
  port: number;
  close(): Promise<void>;
  ctx: PipelineContext;
}

/** The media store FURROW_MEDIA_DIR names: a folder, or memory for `memory://` (tests). */
function createMediaStore(dir: string): MediaStore {
  return dir.startsWith('memory://') ? createMemoryMediaStore() : createFolderMediaStore(dir);
}

/** Starts the whole service; `announce` receives the one-time secrets (admin key, demo keys) to print. */
export async function startServer(
  config: Config,
  opts: { logger?: Logger; announce?: (lines: string[]) => void; loadDemo?: () => Promise<Parameters<typeof createDemoProject>[1]> } = {},
): Promise<RunningServer> {
  const logger = opts.logger ?? createLogger(config.logLevel);
  const database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  logger.info('database ready', { driver: database.driver });
  const runner = createModelRunner({ backend: config.tfBackend });
  const metrics = createMetrics({ db: database.db, logger });
  const runsJobs = config.role !== 'api';
  const servesApi = config.role !== 'worker';
  let jobs: ReturnType<typeof createJobRunner> | undefined;
  let hooks: ReturnType<typeof createWebhookDispatcher> | undefined;
  const onJobQueued = () => {
    jobs?.wake();
    // Other processes (workers) learn of the job at once; their polling stays as the fallback.
    database.notify?.(JOBS_CHANNEL, '').catch((e) => logger.warn('could not notify workers of a queued job', { error: describeError(e) }));
  };
  const ctx: PipelineContext = {
    db: database.db,
    runner,
    config,
    logger,
    work: createWorkQueue(),
    embeddings: new EmbeddingCache(),
    media: createMediaStore(config.mediaDir),
    speech: speechEngineAvailable()
      ? createSpeechEngine({
          workDir: path.join(os.tmpdir(), `furrow-speech-models-${process.pid}`),
          poolSize: config.speechWorkers,
          createRecognizer: (model, workDir) => createPocketsphinxPool({ size: config.speechWorkers, workDir, model }),
        })
      : null,
    onJobQueued,
    onWebhookQueued: () => hooks?.wake(),
  };
  // Webhook deliveries go out from the processes that run jobs (most events come from jobs).
  hooks = runsJobs
    ? createWebhookDispatcher(ctx, { pollMs: config.jobPollMs, allowPrivate: config.webhookAllowPrivate, retryBaseMs: config.webhookRetryBaseMs })
    : undefined;
  jobs = runsJobs ? createJobRunner(ctx, { workerId: `${process.pid}-${randomUUID().slice(0, 8)}`, pollMs: config.jobPollMs }) : undefined;
  const listener = runsJobs && database.listen ? await database.listen(JOBS_CHANNEL, () => jobs?.wake()) : undefined;

  const print = opts.announce ?? ((l) => process.stdout.write(l.join('\n') + '\n'));
  // Secrets are printed as soon as they exist, before listening: a start that fails later (port in use) must
  // not take the only copy of the first admin key with it.
  if (servesApi) {
    // Two API processes starting at once on an empty database may both find no admin key: the same
    // FURROW_ADMIN_KEY inserted twice violates the unique hash, and the one that lost has nothing to do.
    const admin = await ensureAdminKey(database.db, config.adminKey).catch((e) => {
      if (sqlState(e) === '23505') return null;
      throw e;
    });
    if (admin?.generated) print([`Admin key (shown once, store it now): ${admin.secret}`, 'Lost it? Stop the server and run: npm run admin-key -- --reset']);
  }
  let demoAudio: Promise<void> | undefined;
  if (servesApi && config.demo && opts.loadDemo) {
    const demo = await createDemoProject(ctx, await opts.loadDemo(), { poolSize: 1900, gold: 100 });
    if (demo) {
      print([`Demo project ${demo.projectId}: 1,900 Fashion-MNIST images to label, 100 gold.`, ...demo.keys.map((k) => `  ${k.role} key: ${k.key}`)]);
      // The transcription demo's clips are synthesised first (a few seconds a dozen): in the background, so the
      // server listens at once; its keys are printed when it is ready.
      demoAudio = createTranscriptionDemo(ctx, { pool: 60, gold: 20 })
        .then((d) => {
          if (d)
            print([
              `Demo project ${d.projectId}: 60 spoken phone orders to transcribe at /ui/transcribe, 20 gold.`,
              ...d.keys.map((k) => `  ${k.role} key: ${k.key}`),
            ]);
        })
        .catch((e) => logger.warn('transcription demo not created', { error: describeError(e) }));
    }
  }
  jobs?.start();
  hooks?.start();
  const backend = await runner.backend();
  logger.info('tfjs backend', { backend, role: config.role });

  const app = servesApi
    ? createApp({ ctx, database, metrics, logger, bodyLimitBytes: config.bodyLimitBytes, version: '0.1.0' })
    : createWorkerApp({ ctx, database, metrics, logger });
  const server = app.listen(config.port, config.host);
  // Keep idle keep-alive sockets open longer than clients and proxies do (60 s is common), so a client never
  // reuses a socket the server is closing at that instant (ECONNRESET on a healthy server).
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  // Requests node's HTTP parser refuses (bad request line or headers, headers over the size limit) never reach
  // express; answer them in the error shape too instead of node's bare 400.
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const [status, code, message] =
      err.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'headers_too_large', 'The request headers are larger than the server accepts.']
        : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? [408, 'request_timeout', 'The request took too long to arrive.']
          : [400, 'bad_request', 'The HTTP request could not be parsed.'];
    const body = JSON.stringify({ error: { code, message } });
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('listening', resolve);
      server.once('error', reject);
    });
  } catch (e) {
    // Port in use, no permission: release what was started so the process can exit with the error.
    await listener?.unlisten().catch(() => {});
    await Promise.race([Promise.all([jobs?.stop(), hooks?.stop()]), new Promise((r) => setTimeout(r, 5_000))]);
    await runner.close();
    await ctx.speech?.close();
    await database.close();
    throw e;
  }
  const port = (server.address() as AddressInfo).port;
  const url = `http://${config.host}:${port}`;
  print([`Furrow is listening on ${url} (backend ${backend}, database ${database.driver}, role ${config.role}).`]);

  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    ctx,
    close() {
      closing ??= (async () => {
        // Stop taking connections, let in-flight requests finish, then stop jobs, workers and the database.
        await new Promise<void>((resolve) => {
          // Keep-alive clients would otherwise go on sending requests over their open connections (and keep
          // the server from closing): every answer from now on closes its connection, and connections that
          // fall idle after their last answer are closed too.
          server.prependListener('request', (_req, res) => res.setHeader('Connection', 'close'));
          const sweep = setInterval(() => server.closeIdleConnections(), 100);
          server.close(() => {
            clearInterval(sweep);
            resolve();
          });
          server.closeIdleConnections();
          setTimeout(() => server.closeAllConnections(), 10_000).unref();
        });
        await listener?.unlisten().catch(() => {});
        await demoAudio;
        await Promise.race([Promise.all([jobs?.stop(), hooks?.stop()]), new Promise((r) => setTimeout(r, 5_000))]);
        await runner.close();
        await ctx.speech?.close();
        await database.close();
      })();
      return closing;
    },
  };
}

async function main() {
  let config: Config;
  try {
    config = loadConfig();
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    process.exit(2);
  }
  let srv: RunningServer;
  try {
    srv = await startServer(config, { loadDemo: loadDemoImages });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    process.stderr.write(
      err.code === 'EADDRINUSE'
        ? `Port ${config.port} on ${config.host} is in use: set PORT to another one.\n`
        : `Furrow could not start: ${err.stack ?? err.message}\n`,
    );
    process.exit(1);
  }
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`${signal}: shutting down gracefully\n`);
    srv.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
