import { describe, expect, it } from 'vitest';
import { createAuthFailureLimiter } from './auth-limit.ts';

describe('auth failure limiter (token bucket per client)', () => {
  it('allows `limit` failures in a burst, then asks to wait until one token has refilled', () => {
    let t = 0;
    const l = createAuthFailureLimiter({ limit: 3, windowMs: 60_000, now: () => t });
    for (let i = 0; i < 3; i++) {
      expect(l.retryAfter('a')).toBe(0);
      l.fail('a');
    }
    expect(l.retryAfter('a')).toBe(20); // one token per 20 s
    expect(l.retryAfter('b')).toBe(0); // another client is not affected
    t += 19_000;
    expect(l.retryAfter('a')).toBe(1);
    t += 1_000;
    expect(l.retryAfter('a')).toBe(0);
    l.fail('a');
    expect(l.retryAfter('a')).toBeGreaterThan(0);
  });

  it('forgets clients whose bucket is full again, and never tracks more than maxClients', () => {
    let t = 0;
    const l = createAuthFailureLimiter({ limit: 2, windowMs: 1_000, maxClients: 10, now: () => t });
    for (let i = 0; i < 100; i++) l.fail(`c${i}`);
    expect(l.size()).toBeLessThanOrEqual(10);
    t += 5_000;
    l.fail('late');
    expect(l.size()).toBe(1);
  });

  it('a limit of 0 turns it off', () => {
    const l = createAuthFailureLimiter({ limit: 0, windowMs: 60_000 });
    for (let i = 0; i < 100; i++) l.fail('a');
    expect(l.retryAfter('a')).toBe(0);
    expect(l.size()).toBe(0);
  });
});
