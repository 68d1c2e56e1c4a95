/**
 * `Idempotency-Key` on POST routes: the first request with a key runs and its successful answer is stored;
 * a retry with the same key and the same request (method, path, query, content type, body bytes) gets that
 * answer again, byte for byte, with `Idempotent-Replayed: true`, and nothing runs twice. Keys are scoped to
 * the calling API key. The same key on a different request answers 422; while the first request is still
 * running, 409 with `Retry-After`. Failed requests (4xx/5xx) are not stored: they changed nothing, so a retry
 * runs again. Answers that carry a secret (a new API key) are not stored; their retry answers 409.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Request, Response } from 'express';
import { AppError, ConflictError, describeError, ValidationError } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import type { Db } from '../../db/client.ts';
import { claimIdempotencyKey, completeIdempotencyKey, purgeIdempotencyKeys, releaseIdempotencyKey } from '../../db/repositories/idempotency.ts';
import type { Principal } from '../../pipelines/access.ts';
import type { RouteDef, RouteResult } from '../route.ts';

export const IDEMPOTENCY_HEADER = 'idempotency-key';
/** Visible ASCII, 1 to 255 characters (a UUID fits; so does any client's own scheme). */
const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

interface BodyHashed {
  furrowBodySha256?: string;
}

/**
 * A body parser `verify` hook: hashes the raw body bytes of requests that carry an Idempotency-Key (parsed
 * bodies are not hashed: re-serialising deep JSON could throw, and key order is not the client's).
 */
export function hashBodyForIdempotency(req: IncomingMessage, _res: ServerResponse, buf: Buffer): void {
  if (req.headers[IDEMPOTENCY_HEADER] !== undefined) (req as IncomingMessage & BodyHashed).furrowBodySha256 = createHash('sha256').update(buf).digest('hex');
}

export interface IdempotencyOptions {
  /** A claimed key whose request has not answered after this long is taken to be abandoned (its process died). */
  pendingTimeoutMs?: number;
  /** Stored answers are kept this long. */
  ttlMs?: number;
}

export type IdempotencyGuard = (
  req: Request,
  res: Response,
  principal: Principal | null,
  def: Pick<RouteDef, 'method' | 'secretInAnswer'>,
  run: () => Promise<RouteResult>,
) => Promise<RouteResult>;

export function createIdempotencyGuard(db: Db, logger: Logger, opts: IdempotencyOptions = {}): IdempotencyGuard {
  const pendingTimeoutMs = opts.pendingTimeoutMs ?? 60_000;
  const ttlMs = opts.ttlMs ?? 24 * 3600_000;
  let lastPurge = 0;

  return async (req, res, principal, def, run) => {
    const header = req.headers[IDEMPOTENCY_HEADER];
    if (def.method !== 'post' || header === undefined || !principal) return run();
    const key = Array.isArray(header) ? header.join(',') : header;
    if (!KEY_PATTERN.test(key))
      throw new ValidationError(
        'The Idempotency-Key header must be 1 to 255 visible ASCII characters (a UUID, for example).',
        undefined,
        'invalid_idempotency_key',
      );

    if (Date.now() - lastPurge > 10 * 60_000) {
      lastPurge = Date.now();
      purgeIdempotencyKeys(db, new Date(Date.now() - ttlMs)).catch((e) => logger.warn('idempotency purge failed', { error: describeError(e) }));
    }

    const bodyHash = (req as Request & BodyHashed).furrowBodySha256 ?? '';
    const fingerprint = createHash('sha256')
      .update(`${req.method} ${req.originalUrl}\n${req.headers['content-type'] ?? ''}\n${bodyHash}`)
      .digest('hex');
    const claim = await claimIdempotencyKey(db, {
      keyId: principal.keyId,
      idempotencyKey: key,
      fingerprint,
      staleBefore: new Date(Date.now() - pendingTimeoutMs),
    });
    if (claim.state === 'mismatch')
      throw new AppError(422, 'idempotency_key_reused', 'This Idempotency-Key was already used for a different request; use a new key for a new request.');
    if (claim.state === 'in_progress') {
      res.setHeader('Retry-After', '1');
      throw new ConflictError('A request with this Idempotency-Key is still running; retry shortly to get its answer.', 'idempotency_in_progress');
    }
    if (claim.state === 'replay') {
      res.setHeader('Idempotent-Replayed', 'true');
      res.status(claim.status).type('application/json; charset=utf-8').send(claim.body);
      return undefined;
    }

    let out: RouteResult;
    try {
      out = await run();
    } catch (e) {
      await releaseIdempotencyKey(db, principal.keyId, key).catch((err) => logger.warn('could not free an idempotency key', { error: describeError(err) }));
      throw e;
    }
    const status = out?.status ?? 200;
    if (!out || status < 200 || status >= 300) {
      await releaseIdempotencyKey(db, principal.keyId, key).catch((err) => logger.warn('could not free an idempotency key', { error: describeError(err) }));
      return out;
    }
    const stored = def.secretInAnswer
      ? {
          status: 409,
          body: JSON.stringify({
            error: {
              code: 'idempotent_replay_withheld',
              message:
                'This request was already carried out; its answer held a secret, which is shown only once and not stored. Revoke what it created and ask again if the secret was lost.',
              details: { id: (out.body as { id?: unknown })?.id ?? null },
            },
          }),
        }
      : { status, body: JSON.stringify(out.body) };
    // The work is done: a failure to record it must not turn the answer into an error. The claim then stays
    // pending until pendingTimeoutMs, so quick retries still do not run the work twice.
    await completeIdempotencyKey(db, principal.keyId, key, stored.status, stored.body).catch((err) =>
      logger.warn('could not store an idempotent answer', { error: describeError(err) }),
    );
    return out;
  };
}
