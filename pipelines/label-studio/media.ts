/**
 * Fetches a task's image from Label Studio the way its SDK does (`get_local_path`, shared/label-studio.md
 * §4.2): uploads (`/data/upload/...`), local files (`/data/local-files/?d=...`), cloud URIs through Label
 * Studio's presign route, direct http(s) URLs and `data:` URLs. Label Studio's key goes only to Label Studio's
 * own host: a legacy token as `Token <key>`, a personal access token (a JWT refresh token) exchanged at
 * `/api/token/refresh/` for an access token sent as `Bearer`.
 */
import { ValidationError } from '../../core/errors.ts';

export interface LabelStudioMediaOptions {
  /** Label Studio's base URL (`LABEL_STUDIO_URL`), e.g. `http://label-studio:8080`. */
  url?: string;
  /** `LABEL_STUDIO_API_KEY`: a legacy token or a personal access token. */
  apiKey?: string;
  /** Largest image accepted, in bytes. */
  maxBytes?: number;
  /** Per request, in milliseconds. */
  timeoutMs?: number;
  fetch?: typeof fetch;
}

export interface LabelStudioMedia {
  /** The bytes of the image a task data value points at; a 400 `media_unavailable` when it cannot be had. */
  fetchImage(value: string, taskId: number | string | undefined): Promise<Uint8Array>;
}

const CLOUD = /^(s3|gs|azure-blob|azure-spi):\/\//i;

/** A PAT is a JWT (three base64url parts); a legacy token is a plain hex string. */
function isJwt(token: string): boolean {
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(token);
}

function jwtExpiry(token: string): number | undefined {
  try {
    const payload = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8')) as { exp?: unknown };
    return typeof payload.exp === 'number' ? payload.exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

function unavailable(message: string): ValidationError {
  return new ValidationError(message, undefined, 'media_unavailable');
}

export function createLabelStudioMedia(opts: LabelStudioMediaOptions): LabelStudioMedia {
  const doFetch = opts.fetch ?? fetch;
  const maxBytes = opts.maxBytes ?? 50 * 1024 * 1024;
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const base = opts.url?.replace(/\/+$/, '');
  const lsOrigin = base ? new URL(base).origin : undefined;
  let access: { token: string; until: number } | undefined;

  async function authHeader(): Promise<string | undefined> {
    const key = opts.apiKey;
    if (!key || !base) return undefined;
    if (!isJwt(key)) return `Token ${key}`;
    if (access && access.until > Date.now() + 30_000) return `Bearer ${access.token}`;
    const res = await doFetch(`${base}/api/token/refresh/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ refresh: key }),
      signal: AbortSignal.timeout(timeoutMs),
    }).catch((e: unknown) => {
      throw unavailable(`Label Studio at ${base} could not be reached to refresh the personal access token: ${(e as Error).message}.`);
    });
    if (!res.ok)
      throw unavailable(`Label Studio refused to refresh LABEL_STUDIO_API_KEY (HTTP ${res.status}): check that it is a valid personal access token.`);
    const body = (await res.json().catch(() => ({}))) as { access?: unknown };
    if (typeof body.access !== 'string') throw unavailable('Label Studio answered the token refresh without an access token.');
    access = { token: body.access, until: jwtExpiry(body.access) ?? Date.now() + 4 * 60_000 };
    return `Bearer ${access.token}`;
  }

  async function get(url: string): Promise<Response> {
    const headers: Record<string, string> = {};
    if (lsOrigin && new URL(url).origin === lsOrigin) {
      const auth = await authHeader();
      if (auth) headers.authorization = auth;
    }
    try {
      return await doFetch(url, { headers, redirect: 'follow', signal: AbortSignal.timeout(timeoutMs) });
    } catch (e) {
      throw unavailable(`The image at ${url} could not be fetched: ${(e as Error).message}.`);
    }
  }

  async function body(res: Response, url: string): Promise<Uint8Array> {
    if (!res.ok) {
      const hint = res.status === 401 || res.status === 403 ? ' Set LABEL_STUDIO_API_KEY to a key Label Studio accepts.' : '';
      throw unavailable(`Fetching ${url} answered HTTP ${res.status}.${hint}`);
    }
    const declared = Number(res.headers.get('content-length') ?? '0');
    if (declared > maxBytes) throw unavailable(`The image at ${url} is ${declared} bytes, over the limit of ${maxBytes}.`);
    const chunks: Uint8Array[] = [];
    let n = 0;
    if (res.body)
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        n += chunk.byteLength;
        if (n > maxBytes) throw unavailable(`The image at ${url} is over the limit of ${maxBytes} bytes.`);
        chunks.push(chunk);
      }
    return Buffer.concat(chunks);
  }

  function needBase(value: string): string {
    if (!base) throw unavailable(`The task points at "${value}" inside Label Studio: set LABEL_STUDIO_URL (and LABEL_STUDIO_API_KEY) so Furrow can fetch it.`);
    return base;
  }

  return {
    async fetchImage(value, taskId) {
      const v = value.trim();
      if (v.startsWith('data:')) {
        const m = /^data:[^;,]*(;base64)?,(.*)$/s.exec(v);
        if (!m) throw unavailable('The data: URL is malformed.');
        return m[1] ? Buffer.from(m[2], 'base64') : Buffer.from(decodeURIComponent(m[2]), 'utf8');
      }
      if (/^https?:\/\//i.test(v)) return body(await get(v), v);
      if (v.startsWith('/data/upload/')) {
        const root = needBase(v);
        const primary = `${root}/storage-data/uploaded/?filepath=${encodeURIComponent(v.slice('/data/'.length))}`;
        const res = await get(primary);
        if (res.ok) return body(res, primary);
        return body(await get(`${root}${v}`), `${root}${v}`);
      }
      if (v.startsWith('/data/local-files/') || v.startsWith('/')) {
        const root = needBase(v);
        return body(await get(`${root}${v}`), `${root}${v}`);
      }
      if (CLOUD.test(v)) {
        const root = needBase(v);
        if (taskId === undefined) throw unavailable(`A cloud URI (${v}) is resolved through its task, and the task has no id.`);
        const url = `${root}/tasks/${encodeURIComponent(String(taskId))}/presign/?fileuri=${Buffer.from(v).toString('base64url')}`;
        return body(await get(url), url);
      }
      throw unavailable(
        `"${v.slice(0, 80)}" is not an image URL Furrow can fetch (http(s), data:, /data/upload/, /data/local-files/, s3://, gs://, azure-blob://).`,
      );
    },
  };
}
