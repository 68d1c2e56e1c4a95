import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../core/logger.ts';
import { errorHandler } from '../../server/middleware/errors.ts';

/** A deadlock that outlived the server's retries is contention, not a fault: 503 with Retry-After, never 500. */
describe('a conflict that outlives the retries', () => {
  it.each(['40P01', '40001'])('%s answers 503 busy with Retry-After, in the error shape', (code) => {
    const sent: { status?: number; body?: unknown; headers: Record<string, string> } = { headers: {} };
    const res = {
      headersSent: false,
      setHeader: (k: string, v: string) => (sent.headers[k.toLowerCase()] = v),
      status(s: number) {
        sent.status = s;
        return this;
      },
      json(b: unknown) {
        sent.body = b;
        return this;
      },
    };
    const err = new Error('Failed query', { cause: Object.assign(new Error('deadlock detected'), { code }) });
    errorHandler(silentLogger, '16 MB')(err, { method: 'POST', path: '/x' } as never, res as never, () => {});
    expect(sent.status).toBe(503);
    expect(sent.headers['retry-after']).toBe('1');
    expect(sent.body).toMatchObject({ error: { code: 'busy' } });
  });
});
