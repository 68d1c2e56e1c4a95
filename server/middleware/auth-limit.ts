/**
 * Rate limit on authentication failures, per client address: a token bucket of `limit` failures that refills
 * at `limit` per `windowMs`. While a client's bucket is empty every request of it that needs a key answers
 * 429 with `Retry-After`, whatever key it sends, so keys cannot be guessed at speed. Successful requests
 * cost nothing. In-process state: each server process keeps its own buckets.
 */
import { AppError } from '../../core/errors.ts';

export interface AuthFailureLimiter {
  /** Seconds until `client` may try again; 0 when it may now. */
  retryAfter(client: string): number;
  /** Records one failed authentication of `client`. */
  fail(client: string): void;
  /** Clients currently tracked (bounded by maxClients). */
  size(): number;
}

export interface AuthFailureLimiterOptions {
  /** Failures allowed in a burst, and per window on average; 0 turns the limit off. */
  limit: number;
  windowMs: number;
  /** Most clients tracked at once; beyond it the fullest buckets are forgotten first. */
  maxClients?: number;
  now?: () => number;
}

export function createAuthFailureLimiter(opts: AuthFailureLimiterOptions): AuthFailureLimiter {
  const { limit, windowMs } = opts;
  const maxClients = opts.maxClients ?? 10_000;
  const now = opts.now ?? Date.now;
  const perMs = limit / windowMs;
  const buckets = new Map<string, { tokens: number; at: number }>();

  const level = (client: string, t: number): number => {
    const b = buckets.get(client);
    if (!b) return limit;
    const tokens = Math.min(limit, b.tokens + (t - b.at) * perMs);
    if (tokens >= limit) buckets.delete(client);
    return tokens;
  };

  const prune = (t: number) => {
    for (const c of [...buckets.keys()]) level(c, t);
    if (buckets.size < maxClients) return;
    // Still full of clients that keep failing: forget those closest to a full bucket.
    const sorted = [...buckets.entries()].sort((a, b) => b[1].tokens - a[1].tokens);
    for (const [c] of sorted.slice(0, buckets.size - maxClients + 1)) buckets.delete(c);
  };

  return {
    retryAfter(client) {
      if (limit <= 0) return 0;
      const tokens = level(client, now());
      return tokens >= 1 ? 0 : Math.max(1, Math.ceil((1 - tokens) / perMs / 1000));
    },
    fail(client) {
      if (limit <= 0) return;
      const t = now();
      const tokens = level(client, t);
      if (!buckets.has(client) && buckets.size >= maxClients) prune(t);
      buckets.set(client, { tokens: Math.max(0, tokens - 1), at: t });
    },
    size: () => buckets.size,
  };
}

/** The 429 answered to a client over its failure budget. */
export function tooManyAuthFailures(retryAfterSeconds: number): AppError {
  return new AppError(
    429,
    'too_many_auth_failures',
    `Too many requests with a missing or invalid API key from this address; try again in ${retryAfterSeconds} s.`,
    { retryAfterSeconds },
  );
}
