import { describe, expect, it } from 'vitest';
import { isRetryableConflict, retryOnConflict, sqlState } from './retry.ts';

const pgError = (code: string) => Object.assign(new Error(`pg ${code}`), { code });

describe('retryOnConflict', () => {
  it('finds the SQLSTATE through wrappers (drizzle puts the driver error in cause)', () => {
    expect(sqlState(new Error('Failed query', { cause: pgError('40P01') }))).toBe('40P01');
    expect(isRetryableConflict(new Error('x', { cause: pgError('40001') }))).toBe(true);
    expect(isRetryableConflict(pgError('23505'))).toBe(false);
    expect(isRetryableConflict(new Error('plain'))).toBe(false);
  });

  it('runs again after a deadlock or a serialization failure, and returns the answer of the try that worked', async () => {
    let calls = 0;
    const retries: string[] = [];
    const out = await retryOnConflict(
      async () => {
        calls++;
        if (calls === 1) throw pgError('40P01');
        if (calls === 2) throw new Error('Failed query', { cause: pgError('40001') });
        return 'done';
      },
      { baseDelayMs: 1, onRetry: (r) => retries.push(r.code) },
    );
    expect(out).toBe('done');
    expect(calls).toBe(3);
    expect(retries).toEqual(['40P01', '40001']);
  });

  it('gives up after the bounded number of tries and throws the last conflict', async () => {
    let calls = 0;
    await expect(
      retryOnConflict(
        async () => {
          calls++;
          throw pgError('40P01');
        },
        { attempts: 4, baseDelayMs: 1 },
      ),
    ).rejects.toMatchObject({ code: '40P01' });
    expect(calls).toBe(4);
  });

  it('never retries other errors', async () => {
    let calls = 0;
    await expect(
      retryOnConflict(async () => {
        calls++;
        throw pgError('23505');
      }),
    ).rejects.toMatchObject({ code: '23505' });
    expect(calls).toBe(1);
  });
});
