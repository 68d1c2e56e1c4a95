import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { backoffMs, checkWebhookUrl, signature } from './webhooks.ts';

describe('webhooks', () => {
  it('backs off 10 s doubling up to an hour, with ±20% jitter', () => {
    expect([1, 2, 3, 4].map((n) => backoffMs(n, 10_000, () => 0.5))).toEqual([10_000, 20_000, 40_000, 80_000]);
    expect(backoffMs(30, 10_000, () => 0.5)).toBe(3_600_000);
    expect(backoffMs(1, 10_000, () => 0)).toBe(8_000);
    expect(backoffMs(1, 10_000, () => 0.999999)).toBe(12_000);
  });

  it('signs "<t>.<body>" with HMAC-SHA256', () => {
    const at = new Date('2026-12-04T12:00:00Z');
    const t = at.getTime() / 1000;
    expect(signature('s3cret', '{"a":1}', at)).toBe(`t=${t},v1=${createHmac('sha256', 's3cret').update(`${t}.{"a":1}`).digest('hex')}`);
  });

  it('refuses private addresses by literal, and allows them when told to', async () => {
    await expect(checkWebhookUrl('http://192.168.1.5/x', false)).rejects.toThrow(/private or local/);
    await expect(checkWebhookUrl('http://[fe80::1]/x', false)).rejects.toThrow(/private or local/);
    await expect(checkWebhookUrl('http://[::ffff:127.0.0.1]/x', false)).rejects.toThrow(/private or local/);
    expect((await checkWebhookUrl('http://192.168.1.5/x', true)).host).toBe('192.168.1.5');
    expect((await checkWebhookUrl('https://93.184.216.34/hook', false)).protocol).toBe('https:');
  });
});
