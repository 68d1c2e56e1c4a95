/**
 * Opt-in import of `{"url": "https://..."}` image items. A URL a client sends makes the server open a
 * connection, so it is fenced: only hosts on the project's allow-list (settings.urlImport.allowHosts), only
 * http(s), the host's addresses checked after DNS resolution and the connection made to the checked address
 * (no rebinding between check and connect), never a private, loopback, link-local or multicast address, no
 * redirects followed, a size limit enforced while reading and a time limit on the whole fetch.
 */
import { lookup } from 'node:dns/promises';
import { createWriteStream } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { ValidationError } from '../core/errors.ts';
import type { PipelineContext } from './context.ts';
import type { ImageSource } from './media.ts';
import type { ProjectSettings } from './settings.ts';

const BLOCKED = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const)
  BLOCKED.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
  ['2001:db8::', 32],
] as const)
  BLOCKED.addSubnet(net, bits, 'ipv6');

/** True for an address an import must never reach (private, loopback, link-local, multicast, reserved). */
export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return BLOCKED.check(address, 'ipv4');
  if (family !== 6) return true;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return BLOCKED.check(mapped[1], 'ipv4');
  return BLOCKED.check(address, 'ipv6');
}

/** Whether `host` is on the allow-list: an exact name, or `*.example.com` for the subdomains of example.com. */
export function hostAllowed(host: string, allowHosts: readonly string[]): boolean {
  const h = host.toLowerCase().replace(/\.$/, '');
  return allowHosts.some((a) => {
    const rule = a.toLowerCase().replace(/\.$/, '');
    return rule.startsWith('*.') ? h.endsWith(rule.slice(1)) && h.length > rule.length - 1 : h === rule;
  });
}

function refuse(url: string, message: string, reason: string): never {
  throw new ValidationError(`${url.slice(0, 200)}: ${message}`, { reason }, 'invalid_url');
}

/**
 * Fetches an image URL to a temp file and hands it to `use` (which reads it); the temp file belongs to what
 * `use` returns (its cleanup removes it) or is removed here if `use` throws.
 *
 * @throws ValidationError (`invalid_url`) for a URL that is off, not allowed, private, redirected, too big,
 *   too slow or not answered with 200.
 */
export async function fetchImage<T>(
  ctx: Pick<PipelineContext, 'media' | 'config'>,
  settings: ProjectSettings,
  rawUrl: unknown,
  use: (file: Extract<ImageSource, { kind: 'file' }>) => Promise<T>,
): Promise<T> {
  const { allowHosts, maxBytes, timeoutMs } = settings.urlImport;
  if (typeof rawUrl !== 'string') throw new ValidationError('"url" must be a string.', { reason: 'bad_type' }, 'invalid_url');
  if (allowHosts.length === 0)
    refuse(rawUrl, 'URL import is off for this project: list the hosts it may fetch from in settings.urlImport.allowHosts.', 'url_import_off');
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    refuse(rawUrl, 'not a valid URL.', 'bad_url');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') refuse(rawUrl, 'only http and https URLs are fetched.', 'bad_scheme');
  if (url.username || url.password) refuse(rawUrl, 'URLs with credentials are not fetched.', 'bad_url');
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (!hostAllowed(host, allowHosts)) refuse(rawUrl, `host ${host} is not in settings.urlImport.allowHosts.`, 'host_not_allowed');

  const signal = AbortSignal.timeout(timeoutMs);
  let addresses: { address: string; family: number }[];
  try {
    addresses = isIP(host) ? [{ address: host, family: isIP(host) }] : await lookup(host, { all: true });
  } catch {
    refuse(rawUrl, `host ${host} could not be resolved.`, 'dns_failed');
  }
  // Every address must be public: a name that resolves to both a public and a private address is refused.
  if (!ctx.config.urlImportAllowPrivate && (addresses.length === 0 || addresses.some((a) => isPrivateAddress(a.address))))
    refuse(rawUrl, `host ${host} resolves to a private, loopback or link-local address; it is not fetched.`, 'private_address');
  const target = addresses[0];

  const temp = await ctx.media.tempFile();
  try {
    await new Promise<void>((resolve, reject) => {
      const client = url.protocol === 'https:' ? https : http;
      const req = client.get(
        url,
        {
          signal,
          // Connect to the address that was checked, not to whatever a second DNS answer says.
          lookup: ((_h: string, o: { all?: boolean }, cb: (...a: unknown[]) => void) =>
            o?.all ? cb(null, [{ address: target.address, family: target.family }]) : cb(null, target.address, target.family)) as unknown as LookupFunction,
          headers: { 'user-agent': 'furrow-url-import', accept: 'image/*' },
        },
        (res) => {
          const status = res.statusCode ?? 0;
          if (status >= 300 && status < 400) {
            res.resume();
            return reject(
              new ValidationError(
                `${rawUrl.slice(0, 200)}: answered a redirect (${status}); redirects are not followed.`,
                { reason: 'redirect' },
                'invalid_url',
              ),
            );
          }
          if (status !== 200) {
            res.resume();
            return reject(new ValidationError(`${rawUrl.slice(0, 200)}: answered ${status}, not 200.`, { reason: 'bad_status', status }, 'invalid_url'));
          }
          const declared = Number(res.headers['content-length']);
          if (Number.isFinite(declared) && declared > maxBytes) {
            res.destroy();
            return reject(
              new ValidationError(
                `${rawUrl.slice(0, 200)}: ${declared} bytes is more than settings.urlImport.maxBytes (${maxBytes}).`,
                { reason: 'too_large' },
                'invalid_url',
              ),
            );
          }
          let seen = 0;
          const limit = new Transform({
            transform(chunk: Buffer, _enc, cb) {
              seen += chunk.length;
              if (seen > maxBytes)
                cb(
                  new ValidationError(
                    `${rawUrl.slice(0, 200)}: more than settings.urlImport.maxBytes (${maxBytes}) bytes.`,
                    { reason: 'too_large' },
                    'invalid_url',
                  ),
                );
              else cb(null, chunk);
            },
          });
          pipeline(res, limit, createWriteStream(temp.path)).then(resolve, reject);
        },
      );
      req.on('error', reject);
    });
  } catch (e) {
    await temp.cleanup();
    if (e instanceof ValidationError) throw e;
    if (signal.aborted) refuse(rawUrl, `no complete answer within settings.urlImport.timeoutMs (${timeoutMs} ms).`, 'timeout');
    refuse(rawUrl, `could not be fetched (${e instanceof Error ? e.message.slice(0, 100) : 'error'}).`, 'fetch_failed');
  }
  try {
    return await use({ kind: 'file', path: temp.path, name: rawUrl, temp: true, trustBytes: true });
  } catch (e) {
    await temp.cleanup();
    throw e;
  }
}
