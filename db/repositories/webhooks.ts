import { randomUUID } from 'node:crypto';
import { and, arrayContains, desc, eq, sql } from 'drizzle-orm';
import type { DbOrTx } from '../client.ts';
import { webhookDeliveries, webhooks } from '../schema.ts';
import { queryRows } from './rows.ts';

export type WebhookRow = typeof webhooks.$inferSelect;
export type DeliveryRow = typeof webhookDeliveries.$inferSelect;

export async function insertWebhook(db: DbOrTx, w: { projectId: string; url: string; events: string[]; secret: string }): Promise<WebhookRow> {
  const [row] = await db
    .insert(webhooks)
    .values({ id: randomUUID(), ...w })
    .returning();
  return row;
}

export async function listWebhooks(db: DbOrTx, projectId: string): Promise<WebhookRow[]> {
  return db.select().from(webhooks).where(eq(webhooks.projectId, projectId)).orderBy(webhooks.createdAt);
}

export async function deleteWebhook(db: DbOrTx, projectId: string, id: string): Promise<boolean> {
  const rows = await db
    .delete(webhooks)
    .where(and(eq(webhooks.projectId, projectId), eq(webhooks.id, id)))
    .returning({ id: webhooks.id });
  return rows.length > 0;
}

/** Queues one delivery per webhook of the project subscribed to `event` (in the caller's transaction). */
export async function queueDeliveries(db: DbOrTx, projectId: string, event: string, payload: Record<string, unknown>): Promise<number> {
  const subscribers = await db
    .select({ id: webhooks.id })
    .from(webhooks)
    .where(and(eq(webhooks.projectId, projectId), arrayContains(webhooks.events, [event])));
  if (!subscribers.length) return 0;
  await db
    .insert(webhookDeliveries)
    .values(subscribers.map((s) => ({ id: randomUUID(), webhookId: s.id, projectId, event, payload, status: 'pending' as const })));
  return subscribers.length;
}

/**
 * Claims up to `limit` due deliveries for this process: their next attempt is pushed `leaseMs` ahead, so a
 * process that dies mid-delivery leaves them to be tried again, and two processes never send the same one.
 */
export async function claimDueDeliveries(db: DbOrTx, limit: number, leaseMs: number): Promise<(DeliveryRow & { url: string; secret: string })[]> {
  return queryRows<DeliveryRow & { url: string; secret: string }>(
    db,
    sql`with due as (
          select id from webhook_deliveries where status = 'pending' and next_attempt_at <= now()
          order by next_attempt_at limit ${limit} for update skip locked)
        update webhook_deliveries d set next_attempt_at = now() + make_interval(secs => ${leaseMs / 1000}), attempts = d.attempts + 1
        from due, webhooks w where d.id = due.id and w.id = d.webhook_id
        returning d.id, d.webhook_id as "webhookId", d.project_id as "projectId", d.event, d.payload, d.status, d.attempts,
                  d.created_at as "createdAt", w.url, w.secret`,
  );
}

export async function recordAttempt(
  db: DbOrTx,
  id: string,
  r: { delivered: boolean; statusCode: number | null; error: string | null; retryAt: Date | null },
): Promise<void> {
  await db
    .update(webhookDeliveries)
    .set({
      status: r.delivered ? 'delivered' : r.retryAt ? 'pending' : 'failed',
      lastStatusCode: r.statusCode,
      lastError: r.error,
      ...(r.delivered ? { deliveredAt: new Date() } : {}),
      ...(r.retryAt ? { nextAttemptAt: r.retryAt } : {}),
    })
    .where(eq(webhookDeliveries.id, id));
}

export async function listDeliveries(db: DbOrTx, projectId: string, webhookId: string, limit: number): Promise<DeliveryRow[]> {
  return db
    .select()
    .from(webhookDeliveries)
    .where(and(eq(webhookDeliveries.projectId, projectId), eq(webhookDeliveries.webhookId, webhookId)))
    .orderBy(desc(webhookDeliveries.createdAt))
    .limit(limit);
}
