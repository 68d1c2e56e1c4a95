/**
 * Outgoing webhooks. A project registers URLs for events; each event is queued as a delivery row in the same
 * transaction as the change it reports (so a rolled-back training sends nothing), and a dispatcher loop posts
 * it, signed with HMAC-SHA256 of `<timestamp>.<body>` under the webhook's secret, retrying with exponential
 * backoff and jitter until it gets a 2xx or gives up; every attempt is recorded.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { describeError, ValidationError } from '../core/errors.ts';
import type { DbOrTx } from '../db/client.ts';
import { claimDueDeliveries, queueDeliveries, recordAttempt } from '../db/repositories/webhooks.ts';
import type { PipelineContext } from './context.ts';
import { isPrivateAddress } from './url-import.ts';

export const WEBHOOK_EVENTS = ['version.activated', 'job.finished', 'label.disputed'] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

/** Attempts before a delivery is marked failed (about 2 hours of backoff in all). */
export const MAX_ATTEMPTS = 8;

/** Queues `event` for the project's subscribers; call it inside the transaction that makes the change. */
export async function emitWebhookEvent(db: DbOrTx, projectId: string, event: WebhookEvent, data: Record<string, unknown>): Promise<void> {
  await queueDeliveries(db, projectId, event, { event, projectId, occurredAt: new Date().toISOString(), data });
}

export function newWebhookSecret(): string {
  return `whsec_${randomBytes(24).toString('base64url')}`;
}

/** The `X-Furrow-Signature` header: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`. */
export function signature(secret: string, body: string, at: Date): string {
  const t = Math.floor(at.getTime() / 1000);
  return `t=${t},v1=${createHmac('sha256', secret).update(`${t}.${body}`).digest('hex')}`;
}

/**
 * An http(s) URL whose host resolves only to public addresses, unless private ones are allowed
 * (FURROW_WEBHOOK_ALLOW_PRIVATE, for receivers inside the team's own network). Checked when a webhook is
 * registered and again before every delivery, since DNS can change.
 */
export async function checkWebhookUrl(raw: string, allowPrivate: boolean): Promise<URL> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ValidationError('The webhook url is not a valid URL.', undefined, 'invalid_webhook_url');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new ValidationError('A webhook url must be http:// or https://.', undefined, 'invalid_webhook_url');
  if (url.username || url.password)
    throw new ValidationError('Put no credentials in a webhook url: the signature authenticates Furrow.', undefined, 'invalid_webhook_url');
  if (allowPrivate) return url;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const addresses = isIP(host) ? [host] : (await lookup(host, { all: true }).catch(() => [])).map((a) => a.address);
  if (addresses.length === 0) throw new ValidationError(`The webhook host ${host} does not resolve.`, undefined, 'invalid_webhook_url');
  if (addresses.some(isPrivateAddress))
    throw new ValidationError(
      `The webhook host ${host} resolves to a private or local address; set FURROW_WEBHOOK_ALLOW_PRIVATE=1 to allow receivers inside your network.`,
      undefined,
      'invalid_webhook_url',
    );
  return url;
}

/** The wait before attempt `n + 1` after `n` failed ones: `baseMs` (10 s) doubling up to an hour, ±20% jitter. */
export function backoffMs(attempts: number, baseMs = 10_000, random = Math.random): number {
  const base = Math.min(3_600_000, baseMs * 2 ** Math.max(0, attempts - 1));
  return Math.round(base * (0.8 + 0.4 * random()));
}

export interface WebhookDispatcher {
  start(): void;
  wake(): void;
  stop(): Promise<void>;
}

export function createWebhookDispatcher(
  ctx: PipelineContext,
  opts: { pollMs: number; allowPrivate: boolean; retryBaseMs?: number; timeoutMs?: number; fetch?: typeof fetch },
): WebhookDispatcher {
  const doFetch = opts.fetch ?? fetch;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  let stopped = true;
  let loop: Promise<void> | undefined;
  let wakeUp: (() => void) | undefined;

  async function deliver(d: Awaited<ReturnType<typeof claimDueDeliveries>>[number]): Promise<void> {
    const body = JSON.stringify({ id: d.id, ...d.payload });
    let statusCode: number | null = null;
    let error: string | null = null;
    try {
      await checkWebhookUrl(d.url, opts.allowPrivate);
      const res = await doFetch(d.url, {
        method: 'POST',
        redirect: 'manual',
        signal: AbortSignal.timeout(timeoutMs),
        headers: {
          'content-type': 'application/json',
          'user-agent': 'Furrow-Webhooks',
          'x-furrow-event': d.event,
          'x-furrow-delivery': d.id,
          'x-furrow-signature': signature(d.secret, body, new Date()),
        },
        body,
      });
      statusCode = res.status;
      await res.body?.cancel().catch(() => {});
      if (res.status < 200 || res.status >= 300) error = `HTTP ${res.status}`;
    } catch (e) {
      error = e instanceof ValidationError ? e.message : describeError(e);
    }
    const delivered = error === null;
    const retryAt = !delivered && d.attempts < MAX_ATTEMPTS ? new Date(Date.now() + backoffMs(d.attempts, opts.retryBaseMs)) : null;
    await recordAttempt(ctx.db, d.id, { delivered, statusCode, error, retryAt });
    if (!delivered) ctx.logger.warn('webhook delivery failed', { deliveryId: d.id, event: d.event, attempt: d.attempts, error, willRetry: retryAt !== null });
  }

  async function run(): Promise<void> {
    while (!stopped) {
      try {
        const due = await ctx.db.transaction((tx) => claimDueDeliveries(tx, 10, timeoutMs + 30_000));
        if (due.length) {
          await Promise.all(due.map(deliver));
          continue;
        }
      } catch (e) {
        ctx.logger.warn('webhook loop error (will retry)', { error: describeError(e) });
      }
      if (stopped) break;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, opts.pollMs);
        wakeUp = () => {
          clearTimeout(t);
          resolve();
        };
      });
      wakeUp = undefined;
    }
  }

  return {
    start() {
      if (!stopped) return;
      stopped = false;
      loop = run();
    },
    wake() {
      wakeUp?.();
    },
    async stop() {
      stopped = true;
      wakeUp?.();
      await loop;
    },
  };
}
