/**
 * The HTTP side of a FURROW_ROLE=worker process: no API, only what an orchestrator and Prometheus ask of it
 * (/healthz, /metrics). Everything else answers 404 in the error shape, saying where the API is.
 */
import express, { type Request } from 'express';
import type { Logger } from '../core/logger.ts';
import type { Database } from '../db/client.ts';
import type { PipelineContext } from '../pipelines/context.ts';
import { errorHandler, sendError } from './middleware/errors.ts';
import type { MetricsRegistry } from './prometheus.ts';

export function createWorkerApp(deps: { ctx: PipelineContext; database: Database; metrics: MetricsRegistry; logger: Logger }): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.get('/healthz', async (req, res) => {
    (req as Request & { furrowRoute?: string }).furrowRoute = '/healthz';
    const backend = await deps.ctx.runner.backend().catch(() => 'unavailable');
    try {
      await deps.database.ping();
      res.json({ status: 'ok', db: 'ok', backend, driver: deps.database.driver, role: 'worker' });
    } catch {
      res.setHeader('Retry-After', '5');
      res.status(503).json({ error: { code: 'service_unavailable', message: 'The database is unavailable.', details: { db: 'down', backend } } });
    }
  });
  app.get('/metrics', (_req, res) => {
    res.type('text/plain; version=0.0.4').send(deps.metrics.render());
  });
  app.use((req, res) =>
    sendError(res, 404, 'not_found', `No route ${req.method} ${req.path}: this is a worker process (FURROW_ROLE=worker); send API requests to an API process.`),
  );
  app.use(errorHandler(deps.logger, ''));
  return app;
}
