/**
 * Retries of transactions PostgreSQL aborted because of contention, so that a client never sees one.
 *
 * PostgreSQL aborts a transaction with `40P01 deadlock_detected` when it is one side of a lock cycle, and
 * with `40001 serialization_failure` under REPEATABLE READ or SERIALIZABLE when a concurrent write made its
 * snapshot unusable. Either way the transaction was rolled back as a whole and nothing it did is left, so
 * running the same transaction again from the start is safe, provided its body only touches the database
 * (no messages sent, no files written): call this only with such bodies.
 *
 * The lock order that keeps deadlocks from happening in the first place is written down in docs/team.md
 * ("Lock order"); the retry is the safety net for what that order cannot rule out (index page locks,
 * foreign-key checks, other programs on the same database).
 */
import type { Db, Tx } from './client.ts';

/** SQLSTATEs that mean "rolled back because of a concurrent transaction; the same work may be tried again". */
export const RETRYABLE_SQLSTATES: ReadonlySet<string> = new Set(['40P01', '40001']);

export interface RetryOptions {
  /** Tries in all, the first included (default 6). */
  attempts?: number;
  /** The first retry waits a random time up to this many milliseconds; each later one up to twice as long (default 10). */
  baseDelayMs?: number;
  /** The longest wait between two tries, in milliseconds (default 250). */
  maxDelayMs?: number;
  /** Told about every retry (for a log line or a metric); `attempt` counts from 1. */
  onRetry?: (info: { attempt: number; code: string; delayMs: number }) => void;
}

/** The SQLSTATE of a database error, looking through drivers' and drizzle's wrappers (`cause`). */
export function sqlState(e: unknown): string | undefined {
  for (let cur: unknown = e, depth = 0; cur && typeof cur === 'object' && depth < 5; cur = (cur as { cause?: unknown }).cause, depth++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
  }
  return undefined;
}

/** True when `e` is a deadlock or a serialization failure: the transaction was rolled back and may be run again. */
export function isRetryableConflict(e: unknown): boolean {
  const code = sqlState(e);
  return code !== undefined && RETRYABLE_SQLSTATES.has(code);
}

/**
 * Runs `fn`, and again (at most `attempts` times in all) while it fails with a deadlock or a serialization
 * failure, after a random wait ("full jitter": uniform up to an exponentially growing cap, so two
 * transactions that just deadlocked do not meet again at the same instant). Any other error, or the last
 * conflict, is thrown as is.
 */
export async function retryOnConflict<T>(fn: () => Promise<T>, opts: RetryOptions = {}): Promise<T> {
  const attempts = Math.max(1, opts.attempts ?? 6);
  const base = opts.baseDelayMs ?? 10;
  const cap = opts.maxDelayMs ?? 250;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (attempt >= attempts || !isRetryableConflict(e)) throw e;
      const delayMs = Math.random() * Math.min(cap, base * 2 ** (attempt - 1));
      opts.onRetry?.({ attempt, code: sqlState(e)!, delayMs });
      await new Promise((r) => setTimeout(r, delayMs));
    }
  }
}

type TxConfig = Parameters<Db['transaction']>[1];

/**
 * `db.transaction(body, config)`, retried on deadlock and serialization failure (see retryOnConflict). The
 * body runs again from the start on a retry, so it must only use the database.
 */
export function transactionWithRetry<T>(db: Db, body: (tx: Tx) => Promise<T>, config?: TxConfig, opts?: RetryOptions): Promise<T> {
  return retryOnConflict(() => db.transaction(body, config), opts);
}
