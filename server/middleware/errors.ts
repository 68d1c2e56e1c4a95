import type { ErrorRequestHandler, RequestHandler } from 'express';
import { AppError, describeError } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import { isRetryableConflict } from '../../db/retry.ts';

/** Error codes of postgres.js / Node sockets / Postgres that mean "the database is not reachable right now". */
const DB_DOWN = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'CONNECT_TIMEOUT',
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '08006', // connection_failure
  '08003', // connection_does_not_exist
  '08001',
]);

/**
 * SQLSTATEs of values the database refuses to store, whatever the schema says: a NUL character in text
 * (22021) or in JSON (22P05), a number out of range, text that is not valid input for its type. They come
 * from the request's data, so they are the client's 400; the statement failed, so nothing was stored.
 */
const BAD_VALUE = new Set(['22021', '22P05', '22003', '22P02', '22001', '22007', '22008', '54000']);

function hasCode(e: unknown, codes: Set<string>): boolean {
  for (let cur: unknown = e, depth = 0; cur && depth < 5; depth++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string' && codes.has(code)) return true;
    cur = (cur as { cause?: unknown }).cause;
  }
  return false;
}

export function isDatabaseUnavailable(e: unknown): boolean {
  return hasCode(e, DB_DOWN);
}

export function sendError(res: Parameters<RequestHandler>[1], status: number, code: string, message: string, details?: unknown) {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.status(status).json({ error: { code, message, ...(details === undefined ? {} : { details }) } });
}

/** Maps every error to API.md's shape; a 500 answers a generic message and logs the stack. */
export function errorHandler(logger: Logger, limitLabel: string): ErrorRequestHandler {
  return (err, req, res, _next) => {
    if (err instanceof AppError) return sendError(res, err.status, err.code, err.message, err.details);
    const type = (err as { type?: string }).type;
    if (type === 'entity.too.large') return sendError(res, 413, 'payload_too_large', `The request body is larger than the limit of ${limitLabel}.`);
    if (type === 'entity.parse.failed') return sendError(res, 400, 'invalid_json', 'The request body is not valid JSON.');
    if (type === 'encoding.unsupported' || type === 'charset.unsupported')
      return sendError(res, 415, 'unsupported_media_type', 'Unsupported body encoding or charset: send UTF-8 JSON.');
    if (type === 'request.aborted') return sendError(res, 400, 'request_aborted', 'The request was aborted by the client.');
    const status = (err as { status?: number; statusCode?: number }).status ?? (err as { statusCode?: number }).statusCode;
    if (typeof status === 'number' && status >= 400 && status < 500) return sendError(res, status, 'bad_request', 'The request could not be read.');
    if (hasCode(err, BAD_VALUE))
      return sendError(
        res,
        400,
        'unstorable_value',
        'The request holds a value that cannot be stored (a NUL character, \\u0000, or a number or text out of range); nothing was changed.',
      );
    if (isDatabaseUnavailable(err)) {
      logger.warn('database unavailable', { path: req.path, requestId: res.locals.requestId, error: describeError(err) });
      res.setHeader('Retry-After', '5');
      return sendError(res, 503, 'service_unavailable', 'The database is unavailable; try again shortly.');
    }
    // Deadlocks and serialization failures are retried inside the server (db/retry.ts); one that outlived every
    // retry is still contention, not a fault: nothing was stored, and the same request may simply be sent again.
    if (isRetryableConflict(err)) {
      logger.warn('contention outlived the retries', { path: req.path, error: describeError(err) });
      res.setHeader('Retry-After', '1');
      return sendError(res, 503, 'busy', 'The database was too busy to finish this request; nothing was changed, send it again.');
    }
    logger.error('unhandled error', { method: req.method, path: req.path, requestId: res.locals.requestId, error: describeError(err, true) });
    return sendError(res, 500, 'internal_error', 'Something went wrong on our side; it has been logged.');
  };
}
