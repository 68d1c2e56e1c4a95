/**
 * The typed Furrow client: `openapi-fetch` over the paths generated from the server's OpenAPI document
 * (api-types.ts). Errors come back as `FurrowError` with the server's error code and message.
 */
import createClient, { type Client } from 'openapi-fetch';
import type { paths } from './api-types.ts';

export type FurrowClient = Client<paths>;

export class FurrowError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

export function createFurrowClient(opts: { url: string; key?: string; fetch?: typeof fetch }): FurrowClient {
  return createClient<paths>({
    baseUrl: opts.url.replace(/\/+$/, ''),
    headers: opts.key ? { authorization: `Bearer ${opts.key}` } : {},
    ...(opts.fetch ? { fetch: opts.fetch } : {}),
  });
}

/** The data of an openapi-fetch answer, or a FurrowError carrying the server's error shape. */
export function ok<T>(res: { data?: T; error?: unknown; response: Response }): T {
  if (res.error !== undefined || !res.response.ok) {
    const e = (res.error as { error?: { code?: string; message?: string; details?: unknown } } | undefined)?.error;
    throw new FurrowError(res.response.status, e?.code ?? 'http_error', e?.message ?? `HTTP ${res.response.status}`, e?.details);
  }
  return res.data as T;
}
