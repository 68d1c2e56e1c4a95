import { z } from 'zod';
import { NotFoundError } from '../../core/errors.ts';
import { deleteWebhook, insertWebhook, listDeliveries, listWebhooks, type DeliveryRow, type WebhookRow } from '../../db/repositories/webhooks.ts';
import type { PipelineContext } from '../../pipelines/context.ts';
import { checkWebhookUrl, newWebhookSecret, WEBHOOK_EVENTS } from '../../pipelines/webhooks.ts';
import { route, type RouteDef } from '../route.ts';

const createBody = z
  .object({
    url: z.string().min(1).max(2048),
    events: z.array(z.enum(WEBHOOK_EVENTS)).min(1).max(WEBHOOK_EVENTS.length),
    secret: z.string().min(16).max(256).optional().describe('The signing secret; a random one is made (and shown once) when left out'),
  })
  .strict();
const webhookView = z.object({ id: z.string(), url: z.string(), events: z.array(z.string()), createdAt: z.string() });
const deliveryView = z.object({
  id: z.string(),
  event: z.string(),
  status: z.enum(['pending', 'delivered', 'failed']),
  attempts: z.number().int(),
  lastStatusCode: z.number().int().nullable(),
  lastError: z.string().nullable(),
  createdAt: z.string(),
  deliveredAt: z.string().nullable(),
  nextAttemptAt: z.string().nullable(),
});
const deliveriesQuery = z.object({ limit: z.coerce.number().int().min(1).max(500).default(50) }).strict();

function view(w: WebhookRow) {
  return { id: w.id, url: w.url, events: w.events, createdAt: w.createdAt.toISOString() };
}

function deliveryOf(d: DeliveryRow) {
  return {
    id: d.id,
    event: d.event,
    status: d.status,
    attempts: d.attempts,
    lastStatusCode: d.lastStatusCode,
    lastError: d.lastError,
    createdAt: d.createdAt.toISOString(),
    deliveredAt: d.deliveredAt?.toISOString() ?? null,
    nextAttemptAt: d.status === 'pending' ? d.nextAttemptAt.toISOString() : null,
  };
}

export function webhookRoutes(ctx: PipelineContext): RouteDef[] {
  return [
    route({
      method: 'post',
      path: '/api/projects/:id/webhooks',
      summary: `Register a URL for events (${WEBHOOK_EVENTS.join(', ')}); deliveries are signed with HMAC-SHA256 and retried with backoff`,
      tag: 'webhooks',
      access: ['engineer'],
      project: true,
      body: createBody,
      secretInAnswer: true,
      responses: [{ status: 201, description: 'The webhook, with its secret (shown only here)', schema: webhookView.extend({ secret: z.string() }) }],
      handler: async ({ project, body }) => {
        const url = await checkWebhookUrl(body.url, ctx.config.webhookAllowPrivate);
        const secret = body.secret ?? newWebhookSecret();
        const row = await insertWebhook(ctx.db, { projectId: project!.id, url: url.toString(), events: [...new Set(body.events)], secret });
        return { status: 201, body: { ...view(row), secret } };
      },
    }),
    route({
      method: 'get',
      path: '/api/projects/:id/webhooks',
      summary: "The project's webhooks (without secrets)",
      tag: 'webhooks',
      access: ['engineer'],
      project: true,
      responses: [{ status: 200, description: 'Webhooks', schema: z.object({ webhooks: z.array(webhookView) }) }],
      handler: async ({ project }) => ({ body: { webhooks: (await listWebhooks(ctx.db, project!.id)).map(view) } }),
    }),
    route({
      method: 'delete',
      path: '/api/projects/:id/webhooks/:webhookId',
      summary: 'Remove a webhook and its delivery records',
      tag: 'webhooks',
      access: ['engineer'],
      project: true,
      responses: [{ status: 204, description: 'Removed' }],
      handler: async ({ project, params }) => {
        if (!(await deleteWebhook(ctx.db, project!.id, params.webhookId))) throw new NotFoundError('Webhook');
        return { status: 204, body: undefined };
      },
    }),
    route({
      method: 'get',
      path: '/api/projects/:id/webhooks/:webhookId/deliveries',
      summary: 'Recent deliveries of a webhook, newest first: status, attempts, the last answer or error',
      tag: 'webhooks',
      access: ['engineer'],
      project: true,
      query: deliveriesQuery,
      responses: [{ status: 200, description: 'Deliveries', schema: z.object({ deliveries: z.array(deliveryView) }) }],
      handler: async ({ project, params, query }) => {
        const hooks = await listWebhooks(ctx.db, project!.id);
        if (!hooks.some((h) => h.id === params.webhookId)) throw new NotFoundError('Webhook');
        return { body: { deliveries: (await listDeliveries(ctx.db, project!.id, params.webhookId, query.limit)).map(deliveryOf) } };
      },
    }),
  ];
}
