// Furrow's browser API client: one fetch wrapper with the error shape of API.md, a timeout, and retry with
// exponential backoff for the failures that a retry can fix (no connection, 429, 502/503/504).

/** An answer that is not 2xx, or no answer at all (status 0, code `network_error`). */
export class ApiError extends Error {
  /**
   * @param {number} status HTTP status; 0 when the server could not be reached
   * @param {string} code the `error.code` of the answer
   * @param {string} message what a person can act on
   * @param {unknown} [details]
   */
  constructor(status, code, message, details) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.details = details;
  }

  /** True when sending the same request again may succeed. */
  get retryable() {
    return this.status === 0 || this.status === 429 || this.status === 502 || this.status === 503 || this.status === 504;
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Delay before retry number `attempt` (0-based): 0.5 s doubling up to `maxMs`, with ±25% jitter so that many
 * tabs that lost the connection together do not come back in lockstep.
 */
export function backoffMs(attempt, maxMs = 15_000) {
  const base = Math.min(maxMs, 500 * 2 ** attempt);
  return Math.round(base * (0.75 + Math.random() * 0.5));
}

/**
 * @param {{ key: string, timeoutMs?: number, onConnectivity?: (online: boolean) => void }} opts
 */
export function createClient({ key, timeoutMs = 15_000, onConnectivity }) {
  let online = true;
  const setOnline = (v) => {
    if (v !== online) {
      online = v;
      onConnectivity?.(v);
    }
  };

  /** One attempt; throws ApiError. */
  async function once(method, path, body) {
    const ctrl = new AbortController();
    const timer = setTimeout(() => ctrl.abort(), timeoutMs);
    let res;
    try {
      res = await fetch(path, {
        method,
        headers: {
          authorization: `Bearer ${key}`,
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: ctrl.signal,
        cache: 'no-store',
      });
    } catch (e) {
      setOnline(false);
      const timedOut = e instanceof DOMException && e.name === 'AbortError';
      throw new ApiError(0, 'network_error', timedOut ? 'The server did not answer in time.' : 'Cannot reach the server.');
    } finally {
      clearTimeout(timer);
    }
    setOnline(true);
    const text = await res.text();
    let json;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (!res.ok) {
      const err = json && typeof json === 'object' && json.error ? json.error : null;
      throw new ApiError(res.status, err?.code ?? `http_${res.status}`, err?.message ?? `The server answered ${res.status}.`, err?.details);
    }
    return json;
  }

  /**
   * @param {string} method
   * @param {string} path
   * @param {{ body?: unknown, retries?: number }} [opts] retries: how many more attempts after a retryable failure
   */
  async function request(method, path, { body, retries = method === 'GET' ? 3 : 0 } = {}) {
    for (let attempt = 0; ; attempt++) {
      try {
        return await once(method, path, body);
      } catch (e) {
        if (!(e instanceof ApiError) || !e.retryable || attempt >= retries) throw e;
        await sleep(backoffMs(attempt));
      }
    }
  }

  /**
   * An image (or any bytes) as a Blob, fetched with the key: an <img> cannot send the Authorization header,
   * so the page shows media through blob: URLs. The browser's HTTP cache applies (media answers are
   * `private, immutable`), so a picture seen once is not downloaded again.
   * @param {string} path
   * @param {AbortSignal} [signal]
   */
  async function blob(path, signal) {
    let res;
    try {
      res = await fetch(path, { headers: { authorization: `Bearer ${key}` }, signal });
    } catch (e) {
      if (signal?.aborted) throw e;
      setOnline(false);
      throw new ApiError(0, 'network_error', 'Cannot reach the server.');
    }
    setOnline(true);
    if (!res.ok) throw new ApiError(res.status, `http_${res.status}`, `The server answered ${res.status} for an image.`);
    return res.blob();
  }

  return {
    request,
    blob,
    get: (path, opts) => request('GET', path, opts),
    post: (path, body, opts) => request('POST', path, { ...opts, body: body ?? {} }),
    get online() {
      return online;
    },
  };
}

/** Human wording for an error, for a status line or a notice. */
export function describeError(e) {
  if (e instanceof ApiError) return e.message;
  return e instanceof Error ? e.message : String(e);
}
