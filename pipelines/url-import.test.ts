import { describe, expect, it } from 'vitest';
import { ValidationError } from '../core/errors.ts';
import { createMemoryMediaStore } from '../media/media-store.ts';
import { resolveSettings } from './settings.ts';
import { fetchImage, hostAllowed, isPrivateAddress } from './url-import.ts';

describe('URL import fence', () => {
  it('knows private, loopback, link-local and mapped addresses', () => {
    for (const a of [
      '127.0.0.1',
      '10.1.2.3',
      '172.16.0.1',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '::1',
      'fe80::1',
      'fd00::1',
      '::ffff:127.0.0.1',
      '::ffff:10.0.0.1',
      'not an ip',
    ])
      expect(isPrivateAddress(a), a).toBe(true);
    for (const a of ['93.184.216.34', '8.8.8.8', '2606:4700:4700::1111', '::ffff:8.8.8.8']) expect(isPrivateAddress(a), a).toBe(false);
  });

  it('matches hosts exactly or by *. subdomain', () => {
    expect(hostAllowed('images.example.com', ['images.example.com'])).toBe(true);
    expect(hostAllowed('a.cdn.example.com', ['*.cdn.example.com'])).toBe(true);
    expect(hostAllowed('cdn.example.com', ['*.cdn.example.com'])).toBe(false);
    expect(hostAllowed('evilcdn.example.com', ['*.cdn.example.com'])).toBe(false);
    expect(hostAllowed('images.example.com.evil.org', ['images.example.com'])).toBe(false);
  });

  it('refuses an allowed host that is a private address, before any connection (no test knob)', async () => {
    const ctx = { media: createMemoryMediaStore(), config: { urlImportAllowPrivate: false } } as unknown as Parameters<typeof fetchImage>[0];
    const settings = resolveSettings({ urlImport: { allowHosts: ['127.0.0.1', 'localhost'] } });
    for (const url of ['http://127.0.0.1:9/x.jpg', 'http://localhost:9/x.jpg', 'http://[::1]:9/x.jpg']) {
      const e = await fetchImage(ctx, settings, url, async () => 'used').catch((err: unknown) => err);
      expect(e, url).toBeInstanceOf(ValidationError);
      expect(((e as ValidationError).details as { reason: string }).reason, url).toMatch(/private_address|host_not_allowed/);
    }
  });
});
