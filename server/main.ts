/**
 * Composition root: config → database (migrations) → model runner → job runner → HTTP. Graceful on SIGTERM.
 */
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
import { EmbeddingCache } from '../pipelines/embedding-cache.ts';
import { createJobRunner } from '../pipelines/jobs.ts';
import { createApp } from './app.ts';
import { createMetricsRegistry } from './prometheus.ts';

export interface RunningServer {
  url: string;
  port: number;
  close(): Promise<void>;
  ctx: PipelineContext;
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
  const metrics = createMetricsRegistry();
  metrics.describe('furrow_http_requests_total', 'counter', 'HTTP requests by route and status');
  metrics.describe('furrow_http_request_seconds_sum', 'counter', 'Total seconds spent answering, by route');
  let jobs: ReturnType<typeof createJobRunner> | undefined;
  const ctx: PipelineContext = {
    db: database.db,
    runner,
    config,
    logger,
    work: createWorkQueue(),
    embeddings: new EmbeddingCache(),
    onJobQueued: () => jobs?.wake(),
  };
  jobs = createJobRunner(ctx, { workerId: `${process.pid}-${randomUUID().slice(0, 8)}`, pollMs: config.jobPollMs });

  const announce: string[] = [];
  const admin = await ensureAdminKey(database.db, config.adminKey);
  if (admin?.generated) announce.push(`Admin key (shown once, store it now): ${admin.secret}`);
  if (config.demo && opts.loadDemo) {
    const demo = await createDemoProject(ctx, await opts.loadDemo(), { poolSize: 1900, gold: 100 });
    if (demo) {
      announce.push(`Demo project ${demo.projectId}: 1,900 Fashion-MNIST images to label, 100 gold.`);
      for (const k of demo.keys) announce.push(`  ${k.role} key: ${k.key}`);
    }
  }
  jobs.start();
  const backend = await runner.backend();
  logger.info('tfjs backend', { backend });

  const app = createApp({ ctx, database, metrics, logger, bodyLimitBytes: config.bodyLimitBytes, version: '0.1.0' });
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
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${config.host}:${port}`;
  announce.push(`Furrow is listening on ${url} (backend ${backend}, database ${database.driver}).`);
  (opts.announce ?? ((l) => process.stdout.write(l.join('\n') + '\n')))(announce);

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
        await Promise.race([jobs!.stop(), new Promise((r) => setTimeout(r, 5_000))]);
        await runner.close();
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
  const { loadFashionFixture, FASHION_MNIST_LABELS } = await import('../scripts/lib/datasets.ts');
  const srv = await startServer(config, {
    loadDemo: async () => {
      const d = await loadFashionFixture('train');
      return { images: d.images, labels: d.labels, labelNames: FASHION_MNIST_LABELS, width: d.width, height: d.height };
    },
  });
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
