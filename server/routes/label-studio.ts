/**
 * The Label Studio ML-backend protocol at `/label-studio/:projectId` (the URL a user pastes into Label
 * Studio's Model settings). HTTP Basic with an engineer key of the project as the password (any user name);
 * `Authorization: Bearer <key>` works too, for the project webhook, whose headers can be set in Label Studio
 * but which carries no Basic auth. Answers are in the shapes Label Studio reads (shared/label-studio.md);
 * errors carry both Label Studio's `detail` and Furrow's error shape.
 */
import express, { type Request, type Response, type Router } from 'express';
import { AppError, ForbiddenError, NotFoundError, UnauthorizedError, ValidationError } from '../../core/errors.ts';
import { findProject, type ProjectRow } from '../../db/repositories/projects.ts';
import { authorize, type Principal } from '../../pipelines/access.ts';
import type { PipelineContext } from '../../pipelines/context.ts';
import { jobStatus, legacyTrain, predict, setup, versions, webhook, type BackendDeps } from '../../pipelines/label-studio/backend.ts';
import type { LabelStudioMedia } from '../../pipelines/label-studio/media.ts';
import { requestLocals } from '../middleware/access-log.ts';
import { route, type RouteDef } from '../route.ts';

export interface LabelStudioRouterDeps {
  ctx: PipelineContext;
  media: LabelStudioMedia;
  bodyLimitBytes: number;
  /** Resolves "Bearer <key>" to a principal (the app's rate-limited authenticate). */
  authenticate: (req: Request, header: string) => Promise<Principal>;
}

const REALM = 'Basic realm="Furrow", charset="UTF-8"';

/** The key a Label Studio request carries: the Basic password, or a Bearer/Token header. */
export function keyOfAuthorization(header: string | undefined): string | null {
  if (!header) return null;
  const basic = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (basic) {
    const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const password = colon >= 0 ? decoded.slice(colon + 1) : decoded;
    return password || null;
  }
  const token = /^(?:Bearer|Token)\s+(\S{1,512})\s*$/i.exec(header);
  return token ? token[1] : null;
}

function send(res: Response, status: number, body: unknown): void {
  res.status(status).json(body);
}

function sendFailure(res: Response, status: number, code: string, message: string, details?: unknown): void {
  if (status === 401) res.setHeader('WWW-Authenticate', REALM);
  send(res, status, { status, detail: message, error: { code, message, ...(details === undefined ? {} : { details }) } });
}

export function labelStudioRouter(deps: LabelStudioRouterDeps): Router {
  const router = express.Router({ mergeParams: true });
  const backend: BackendDeps = { ctx: deps.ctx, media: deps.media };
  router.use(express.json({ limit: deps.bodyLimitBytes, type: () => true }));

  /** Authenticates the call and loads the project of the URL; the handler gets both. */
  const handle =
    (path: string, fn: (input: { project: ProjectRow; principal: Principal; body: Record<string, unknown>; res: Response }) => Promise<void>) =>
    async (req: Request, res: Response) => {
      requestLocals(res).route = `/label-studio/:projectId${path}`;
      try {
        const key = keyOfAuthorization(req.headers.authorization);
        if (!key) throw new UnauthorizedError('Furrow needs HTTP Basic auth: any user name, and an engineer key of this project as the password.');
        const principal = await deps.authenticate(req, `Bearer ${key}`);
        const projectId = String(req.params.projectId);
        authorize(principal, ['engineer'], projectId);
        const project = await findProject(deps.ctx.db, projectId);
        if (!project) throw new NotFoundError('Project');
        if (project.modality === 'audio')
          throw new ValidationError(
            "Furrow's Label Studio ML backend serves classification projects; a transcription project's tasks go through GET /api/projects/:id/label-studio/export.",
            undefined,
            'not_supported',
          );
        const body = req.body !== null && typeof req.body === 'object' && !Array.isArray(req.body) ? (req.body as Record<string, unknown>) : {};
        await fn({ project, principal, body, res });
      } catch (e) {
        if (e instanceof AppError) return sendFailure(res, e.status, e.code, e.message, e.details);
        throw e;
      }
    };

  const health = handle('/health', async ({ res }) => send(res, 200, { status: 'UP', model_class: 'Furrow' }));
  router.get('/', health);
  router.get('/health', health);

  router.post(
    '/setup',
    handle('/setup', async ({ project, body, res }) => send(res, 200, setup(project, body))),
  );

  router.post(
    '/predict',
    handle('/predict', async ({ project, body, res }) => send(res, 200, await predict(backend, project, body))),
  );

  router.post(
    '/webhook',
    handle('/webhook', async ({ project, principal, body, res }) => {
      const out = await webhook(backend, project, { id: principal.keyId, role: principal.role }, body);
      send(res, out.status, out.body);
    }),
  );

  router.post(
    '/train',
    handle('/train', async ({ project, principal, body, res }) => {
      const out = await legacyTrain(backend, project, { id: principal.keyId, role: principal.role }, body);
      send(res, out.status, out.body);
    }),
  );

  router.get(
    '/versions',
    handle('/versions', async ({ project, res }) => send(res, 200, await versions(backend, project))),
  );

  router.post(
    '/job_status',
    handle('/job_status', async ({ project, body, res }) => {
      const status = await jobStatus(backend, project, body);
      if (!status) return sendFailure(res, 410, 'job_gone', 'No such training job for this project.');
      send(res, 200, status);
    }),
  );

  // Body parse errors and unknown paths under the prefix answer in the same shape.
  router.use((req: Request, res: Response) => sendFailure(res, 404, 'not_found', `No Label Studio route ${req.method} ${req.path}.`));
  router.use((err: unknown, _req: Request, res: Response, _next: express.NextFunction) => {
    const type = (err as { type?: string }).type;
    if (type === 'entity.parse.failed') return sendFailure(res, 400, 'invalid_json', 'The request body is not valid JSON.');
    if (type === 'entity.too.large') return sendFailure(res, 413, 'payload_too_large', 'The request body is over the limit.');
    if (err instanceof ValidationError || err instanceof ForbiddenError) return sendFailure(res, err.status, err.code, err.message);
    _next(err);
  });
  return router;
}

/**
 * The protocol's routes for /api/openapi.json. They are served by labelStudioRouter above (HTTP Basic, Label
 * Studio's answer shapes), not through the route table, so these definitions only describe them.
 */
export function labelStudioRouteDocs(): RouteDef[] {
  const doc = (method: 'get' | 'post', path: string, summary: string) =>
    route({
      method,
      path: `/label-studio/:projectId${path}`,
      summary,
      tag: 'label-studio',
      access: 'public',
      basicAuth: true,
      responses: [
        { status: 200, description: "Label Studio's answer (docs/label-studio.md)" },
        { status: 400, description: "Bad input, with Label Studio's `detail` beside the error shape" },
      ],
      handler: async () => {
        throw new Error('served by labelStudioRouter');
      },
    });
  return [
    doc('get', '/health', 'Label Studio ML backend: health (no model loaded)'),
    doc('post', '/setup', "Label Studio ML backend: check the label_config against the project, answer the version's name"),
    doc('post', '/predict', 'Label Studio ML backend: one prediction per task, score = 1 - uncertainty; tasks are stored as pool items'),
    doc('post', '/webhook', 'Label Studio ML backend: annotations become labels, START_TRAINING queues a training job'),
    doc('post', '/train', 'Label Studio ML backend: legacy Start training with the exported labelled tasks'),
    doc('get', '/versions', 'Label Studio ML backend: the ready versions, newest first'),
    doc('post', '/job_status', 'Label Studio ML backend: the status of a training job'),
  ];
}
