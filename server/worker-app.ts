/**
 * The HTTP side of a FURROW_ROLE=worker process: no API, only what an orchestrator and Prometheus ask of it
 * (/healthz, /metrics). Everything else answers 404 in the error shape, saying where the API is.
 */
import express from 'express';
import type { Logger } from '../core/logger.ts';
import type { Database } from '../db/client.ts';
import type { PipelineContext } from '../pipelines/context.ts';
import { errorHandler, sendError } from './middleware/errors.ts';
import type { Metrics } from './metrics.ts';
import { accessLog, requestLocals } from './middleware/access-log.ts';

export function createWorkerApp(deps: { ctx: PipelineContext; database: Database; metrics: Metrics; logger: Logger }): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(accessLog({ logger: deps.logger, observe: deps.metrics.observeRequest }));
  app.get('/healthz', async (_req, res) => {
    requestLocals(res).route = '/healthz';
    const backend = await deps.ctx.runner.backend().catch(() => 'unavailable');
    try {
      await deps.database.ping();
      res.json({ status: 'ok', db: 'ok', backend, driver: deps.database.driver, role: 'worker' });
    } catch {
      res.setHeader('Retry-After', '5');
      res.status(503).json({ error: { code: 'service_unavailable', message: 'The database is unavailable.', details: { db: 'down', backend } } });
    }
  });
  app.get('/metrics', async (_req, res) => {
    requestLocals(res).route = '/metrics';
    res.type(deps.metrics.contentType).send(await deps.metrics.render());
  });
  app.use((req, res) =>
    sendError(res, 404, 'not_found', `No route ${req.method} ${req.path}: this is a worker process (FURROW_ROLE=worker); send API requests to an API process.`),
  );
  app.use(errorHandler(deps.logger, ''));
  return app;
}
