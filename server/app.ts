import express, { type Request, type Response } from 'express';
import type { z } from 'zod';
import { NotFoundError, UnauthorizedError, UnsupportedMediaTypeError, ValidationError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import type { Database } from '../db/client.ts';
import { findJob } from '../db/repositories/jobs.ts';
import { findProject, type ProjectRow } from '../db/repositories/projects.ts';
import { authenticate, authorize, type Principal } from '../pipelines/access.ts';
import type { PipelineContext } from '../pipelines/context.ts';
import { createAuthFailureLimiter, tooManyAuthFailures } from './middleware/auth-limit.ts';
import { errorHandler, sendError } from './middleware/errors.ts';
import { createIdempotencyGuard, hashBodyForIdempotency } from './middleware/idempotency.ts';
import { buildOpenApi } from './openapi.ts';
import type { Metrics } from './metrics.ts';
import { accessLog, requestLocals } from './middleware/access-log.ts';
import { route, type RouteDef } from './route.ts';
import { createLabelStudioMedia } from '../pipelines/label-studio/media.ts';
import { dataRoutes } from './routes/data.ts';
import { itemRoutes } from './routes/items.ts';
import { labelStudioRouteDocs, labelStudioRouter } from './routes/label-studio.ts';
import { labelStudioTaskRoutes } from './routes/label-studio-tasks.ts';
import { webhookRoutes } from './routes/webhooks.ts';
import { jobRouteDoc, jobView, modelRoutes } from './routes/models.ts';
import { predictRoutes } from './routes/predict.ts';
import { projectRoutes } from './routes/projects.ts';
import { qualityRoutes } from './routes/quality.ts';
import { errorResponse, healthResponse } from './schemas.ts';
import { createUiRouter } from './ui.ts';

export interface AppDeps {
  ctx: PipelineContext;
  database: Database;
  metrics: Metrics;
  logger: Logger;
  bodyLimitBytes: number;
  version: string;
}

function zodDetails(e: z.ZodError) {
  return e.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
}

function isJsonType(req: Request): boolean {
  return Boolean(req.is(['application/json', 'application/*+json']));
}

function hasBody(req: Request): boolean {
  const len = req.headers['content-length'];
  return (len !== undefined && len !== '0') || req.headers['transfer-encoding'] !== undefined;
}

/** Builds the express app (no listen): the route table, auth, validation, errors. */
export function createApp(deps: AppDeps): express.Express {
  const { ctx, logger } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  const limitLabel = `${Math.round(deps.bodyLimitBytes / 1024 / 1024)} MB`;

  app.use(accessLog({ logger, observe: deps.metrics.observeRequest }));

  // The route table: every route here is served, authenticated, validated, logged under its template and
  // documented in /api/openapi.json (with an operationId), with nothing else to register.
  let openapi: Record<string, unknown> | undefined;
  const labelStudioMedia = createLabelStudioMedia({ url: ctx.config.labelStudioUrl, apiKey: ctx.config.labelStudioApiKey, maxBytes: deps.bodyLimitBytes });
  const routes: RouteDef[] = [
    ...projectRoutes(ctx),
    ...itemRoutes(ctx),
    ...modelRoutes(ctx),
    ...predictRoutes(ctx),
    ...qualityRoutes(ctx),
    ...dataRoutes(ctx),
    ...labelStudioTaskRoutes(ctx, labelStudioMedia),
    ...webhookRoutes(ctx),
    ...systemRoutes(deps, () => openapi!),
  ];

  const jsonParser = express.json({
    limit: deps.bodyLimitBytes,
    type: ['application/json', 'application/*+json'],
    strict: false,
    verify: hashBodyForIdempotency,
  });
  const textParser = express.text({ limit: deps.bodyLimitBytes, type: ['application/x-ndjson'], verify: hashBodyForIdempotency });
  const idempotent = createIdempotencyGuard(deps.database.db, logger);
  const authFailures = createAuthFailureLimiter({ limit: ctx.config.authFailLimit, windowMs: 60_000 });
  /** authenticate, refused with 429 while this client address is over its budget of failed attempts. */
  const authenticateLimited = async (req: Request, header = req.headers.authorization): Promise<Principal> => {
    const client = req.ip ?? req.socket.remoteAddress ?? 'unknown';
    const wait = authFailures.retryAfter(client);
    if (wait > 0) {
      req.res?.setHeader('Retry-After', String(wait));
      throw tooManyAuthFailures(wait);
    }
    try {
      return await authenticate(deps.database.db, header);
    } catch (e) {
      if (e instanceof UnauthorizedError) authFailures.fail(client);
      throw e;
    }
  };

  const handle = (def: RouteDef) => async (req: Request, res: Response) => {
    requestLocals(res).route = def.path;
    let principal: Principal | null = null;
    let project: ProjectRow | null = null;
    if (def.access !== 'public') {
      principal = await authenticateLimited(req);
      requestLocals(res).keyId = principal.keyId;
      const params = req.params as Record<string, string>;
      const projectId = def.project ? params.id : undefined;
      // Check the key's project before looking the project up, so a key learns nothing of other projects.
      authorize(principal, def.access === 'project-member' ? ['engineer', 'annotator', 'client'] : def.access, projectId);
      if (projectId !== undefined) {
        project = (await findProject(ctx.db, projectId)) ?? null;
        if (!project) throw new NotFoundError('Project');
      }
    }
    let body: unknown;
    if (def.body) {
      const raw = def.rawTypes?.some((t) => req.is(t));
      if (def.streamTypes?.some((t) => req.is(t))) body = undefined;
      else if (raw) body = req.body;
      else if (hasBody(req) && !isJsonType(req)) {
        const others = [...(def.rawTypes ?? []), ...(def.streamTypes ?? [])];
        throw new UnsupportedMediaTypeError(`Send the body as application/json${others.length ? ` or ${others.join(', ')}` : ''}.`);
      } else {
        // No body at all counts as `{}`, which must pass the schema too (a route with required fields refuses it).
        const parsed = def.body.safeParse(hasBody(req) ? req.body : {});
        if (!parsed.success) throw new ValidationError('The request body is not valid.', zodDetails(parsed.error), 'invalid_body');
        body = parsed.data;
      }
    }
    let query: unknown = {};
    if (def.query) {
      const parsed = def.query.safeParse(req.query);
      if (!parsed.success) throw new ValidationError('The query string is not valid.', zodDetails(parsed.error), 'invalid_query');
      query = parsed.data;
    }
    const out = await idempotent(req, res, principal, def, () =>
      def.handler({ principal, project, body, query, params: req.params as Record<string, string>, req, res }),
    );
    if (out) res.status(out.status ?? 200).json(out.body);
  };

  for (const def of routes) {
    const parsers = def.body ? [jsonParser, ...(def.rawTypes ? [textParser] : [])] : [];
    app[def.method](def.path, ...parsers, handle(def));
  }
  // Label Studio's ML-backend protocol has its own auth (HTTP Basic) and answer shapes: its own router,
  // documented in the same document.
  app.use(
    '/label-studio/:projectId',
    labelStudioRouter({ ctx, media: labelStudioMedia, bodyLimitBytes: deps.bodyLimitBytes, authenticate: authenticateLimited }),
  );
  openapi = buildOpenApi([...routes, ...labelStudioRouteDocs()], { version: deps.version });

  app.use(createUiRouter());
  app.use((req, res) => sendError(res, 404, 'not_found', `No route ${req.method} ${req.path}.`));
  app.use(errorHandler(logger, limitLabel));
  return app;
}

/** Routes outside the projects: jobs, this document, health and metrics. */
function systemRoutes(deps: AppDeps, openapi: () => Record<string, unknown>): RouteDef[] {
  const { ctx } = deps;
  return [
    route({
      ...jobRouteDoc,
      access: ['engineer'],
      handler: async ({ principal, params }) => {
        const job = await findJob(ctx.db, params.jobId);
        if (!job) throw new NotFoundError('Job');
        authorize(principal!, ['engineer'], job.projectId);
        return { body: jobView(job) };
      },
    }),
    route({
      method: 'get',
      path: '/api/openapi.json',
      operationId: 'getOpenApi',
      summary: 'This document',
      tag: 'system',
      access: 'public',
      responses: [{ status: 200, description: 'OpenAPI 3' }],
      handler: async () => ({ body: openapi() }),
    }),
    route({
      method: 'get',
      path: '/healthz',
      operationId: 'getHealth',
      summary: 'Liveness: database and tfjs backend',
      tag: 'system',
      access: 'public',
      responses: [
        { status: 200, description: 'Healthy', schema: healthResponse },
        { status: 503, description: 'Database unavailable', schema: errorResponse },
      ],
      handler: async ({ res }) => {
        const backend = await ctx.runner.backend().catch(() => 'unavailable');
        try {
          await deps.database.ping();
          return { body: { status: 'ok', db: 'ok', backend, driver: deps.database.driver } };
        } catch {
          res.setHeader('Retry-After', '5');
          return { status: 503, body: { error: { code: 'service_unavailable', message: 'The database is unavailable.', details: { db: 'down', backend } } } };
        }
      },
    }),
    route({
      method: 'get',
      path: '/metrics',
      operationId: 'getMetrics',
      summary: 'Prometheus metrics (docs/operations.md)',
      tag: 'system',
      access: 'public',
      responses: [{ status: 200, description: 'Text exposition format', contentType: 'text/plain' }],
      handler: async ({ res }) => {
        res.type(deps.metrics.contentType).send(await deps.metrics.render());
        return undefined;
      },
    }),
  ];
}
