import { randomUUID } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import type { Logger } from '../../core/logger.ts';

/** An `x-request-id` from the client is kept when it looks like an id: 1-128 visible ASCII letters, digits, `._:-`. */
const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** What the route layer tells the access log about a request (in `res.locals`). */
export interface RequestLocals {
  requestId: string;
  /** The route template that answered (`/api/projects/:id`), set by the route table's handler. */
  route?: string;
  /** The id (never the secret) of the key that was authenticated. */
  keyId?: string;
}

export function requestLocals(res: Response): RequestLocals {
  return res.locals as RequestLocals;
}

/** The route template of an answered request: the route table's, else express's matched route; never the raw path. */
function routeTemplate(req: Request, res: Response): string {
  const set = requestLocals(res).route;
  if (set) return set;
  const path: unknown = req.route?.path;
  if (typeof path === 'string') return req.baseUrl + path;
  if (Array.isArray(path) && typeof path[0] === 'string') return req.baseUrl + path[0]; // ['/ui', '/ui/']: the first names them all
  // Answered by middleware without a route (the UI's static files), or by nothing (404): a fixed name either way.
  return res.statusCode < 400 ? '(static)' : '(unmatched)';
}

/**
 * Gives every request an id (the client's `x-request-id` if sane, else a new UUID), echoes it in the answer's
 * `x-request-id` header, and when the answer is done writes one access-log line at info (method, route
 * template, status, duration, bytes sent, key id, request id) and hands the same facts to `observe` (metrics).
 */
export function accessLog(opts: { logger: Logger; observe?: (method: string, route: string, status: number, seconds: number) => void }): RequestHandler {
  return (req, res, next) => {
    const start = process.hrtime.bigint();
    const given = req.headers['x-request-id'];
    const requestId = typeof given === 'string' && SANE_REQUEST_ID.test(given) ? given : randomUUID();
    requestLocals(res).requestId = requestId;
    res.setHeader('x-request-id', requestId);

    // Body bytes as written (streams such as the export carry no Content-Length).
    let bytes = 0;
    const count = (chunk: unknown, encoding?: unknown) => {
      if (typeof chunk === 'string') bytes += Buffer.byteLength(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
      else if (chunk instanceof Uint8Array) bytes += chunk.byteLength;
    };
    const write = res.write;
    const end = res.end;
    res.write = function (this: Response, chunk: unknown, ...rest: unknown[]) {
      count(chunk, rest[0]);
      return (write as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
    } as typeof res.write;
    res.end = function (this: Response, chunk?: unknown, ...rest: unknown[]) {
      if (typeof chunk !== 'function') count(chunk, rest[0]);
      return (end as (...a: unknown[]) => Response).call(this, chunk, ...rest);
    } as typeof res.end;

    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      const route = routeTemplate(req, res);
      // A client that went away before the answer was complete is logged with the status it would have had.
      const aborted = !res.writableFinished;
      opts.observe?.(req.method, route, res.statusCode, seconds);
      opts.logger.info('request', {
        method: req.method,
        route,
        status: res.statusCode,
        durationMs: Math.round(seconds * 1e4) / 10,
        bytes,
        keyId: requestLocals(res).keyId ?? null,
        requestId,
        ...(aborted ? { aborted: true } : {}),
      });
    };
    res.once('finish', finish);
    res.once('close', finish);
    next();
  };
}
