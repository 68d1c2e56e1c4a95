/**
 * Photos through the HTTP API: ingest (JSON base64, multipart, streamed NDJSON, URLs), the media route, the
 * queue's media URLs, and bad input (corrupt, truncated, wrong extension, decompression bomb, oversized
 * uploads, private URLs) refused with a 4xx that names the file and stores nothing.
 */
import { createServer, request, type Server } from 'node:http';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { createLogger } from '../../core/logger.ts';
import { queryRows } from '../../db/repositories/rows.ts';
import { releaseItemMedia } from '../../pipelines/media.ts';
import { pngBomb } from '../fixtures/images.ts';
import { ADMIN_KEY, startTestServer, type TestServer } from '../helpers.ts';

const noiseJpeg = (width: number, height: number, orientation?: number) => {
  const img = sharp({ create: { width, height, channels: 3, background: '#000', noise: { type: 'gaussian', mean: 128, sigma: 40 } } }).jpeg({ quality: 80 });
  return (orientation ? img.withMetadata({ orientation }) : img).toBuffer();
};

/** Every file under a folder (the media store's), except its temp folder, which must be empty. */
async function filesUnder(dir: string): Promise<string[]> {
  const all = (await readdir(dir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile());
  return all.map((e) => path.join(e.parentPath, e.name));
}

async function upload(s: TestServer, projectId: string, parts: { field?: string; name: string; bytes: Buffer | string }[], items?: unknown, key = ADMIN_KEY) {
  const fd = new FormData();
  if (items !== undefined) fd.append('items', JSON.stringify(items));
  for (const p of parts) fd.append(p.field ?? 'file', new Blob([typeof p.bytes === 'string' ? p.bytes : new Uint8Array(p.bytes)]), p.name);
  const res = await fetch(`${s.url}/api/projects/${projectId}/items`, { method: 'POST', body: fd, headers: { authorization: `Bearer ${key}` } });
  const text = await res.text();
  return { status: res.status, body: JSON.parse(text), text };
}

describe('photos in and out', () => {
  let s: TestServer;
  let mediaDir: string;
  let project: string;
  let annotator: string;
  let origin: Server;
  let originUrl: string;

  beforeAll(async () => {
    mediaDir = await mkdtemp(path.join(tmpdir(), 'furrow-media-it-'));
    s = await startTestServer({
      FURROW_MEDIA_DIR: mediaDir,
      FURROW_BODY_LIMIT_MB: '2',
      FURROW_UPLOAD_FILE_MB: '1',
      FURROW_UPLOAD_REQUEST_MB: '8',
      FURROW_TEST_URL_IMPORT_ALLOW_PRIVATE: '1',
    });
    const p = await s.call('POST', '/api/projects', {
      body: { name: 'photos', modality: 'image', labels: ['cat', 'dog'], settings: { imageWidth: 32, imageHeight: 32, channels: 3, goldFraction: 0 } },
    });
    project = p.body.id;
    annotator = (await s.call('POST', `/api/projects/${project}/keys`, { body: { role: 'annotator', name: 'a' } })).body.key;
    // A web server on loopback for URL import (the test knob lets the import reach it; nothing leaves 127.0.0.1).
    const photo = await noiseJpeg(300, 200);
    origin = createServer((req, res) => {
      if (req.url === '/photo.jpg') res.writeHead(200, { 'content-type': 'image/jpeg' }).end(photo);
      else if (req.url === '/moved') res.writeHead(302, { location: '/photo.jpg' }).end();
      else if (req.url === '/huge') res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': String(500 * 1024 * 1024) }).end();
      else res.writeHead(404).end();
    });
    await new Promise<void>((r) => origin.listen(0, '127.0.0.1', r));
    originUrl = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`;
  }, 120_000);
  afterAll(async () => {
    origin?.close();
    await s?.stop();
    await rm(mediaDir, { recursive: true, force: true });
  });

  it('stores a JSON base64 photo in the media store; the queue and the item carry media URLs, not bytes', async () => {
    const jpg = await noiseJpeg(1400, 1050, 6); // EXIF: turned 90 degrees
    const r = await s.call('POST', `/api/projects/${project}/items`, { body: { items: [{ externalId: 'turned', image: jpg.toString('base64') }] } });
    expect(r.status).toBe(202);
    expect(r.body.accepted).toBe(1);

    const q = await s.call('GET', `/api/projects/${project}/queue?limit=10`, { key: annotator });
    expect(q.status).toBe(200);
    const entry = q.body.items.find((i: any) => i.data.width === 1050);
    expect(entry.data).toEqual({
      thumbUrl: `/api/projects/${project}/items/${entry.id}/media?size=thumb`,
      previewUrl: `/api/projects/${project}/items/${entry.id}/media?size=preview`,
      originalUrl: `/api/projects/${project}/items/${entry.id}/media?size=original`,
      width: 1050,
      height: 1400,
    });
    expect(q.text.length).toBeLessThan(5_000);
    const item = await s.call('GET', `/api/projects/${project}/items/${entry.id}`, { key: annotator });
    expect(item.body.data).toEqual(entry.data);

    const get = (url: string, headers: Record<string, string> = {}) => fetch(s.url + url, { headers: { authorization: `Bearer ${annotator}`, ...headers } });
    const thumb = await get(entry.data.thumbUrl);
    expect(thumb.status).toBe(200);
    expect(thumb.headers.get('content-type')).toBe('image/jpeg');
    expect(thumb.headers.get('cache-control')).toContain('immutable');
    const tm = await sharp(Buffer.from(await thumb.arrayBuffer())).metadata();
    expect([tm.width, tm.height]).toEqual([192, 256]); // oriented, aspect kept
    const preview = await sharp(Buffer.from(await (await get(entry.data.previewUrl)).arrayBuffer())).metadata();
    expect([preview.width, preview.height]).toEqual([768, 1024]);
    const original = await get(entry.data.originalUrl);
    expect(original.headers.get('content-type')).toBe('image/jpeg');
    expect(Buffer.from(await original.arrayBuffer()).equals(jpg)).toBe(true);
    const again = await get(entry.data.thumbUrl, { 'if-none-match': thumb.headers.get('etag')! });
    expect(again.status).toBe(304);

    // The usual auth: no key 401, a key of another project 403, an unknown item 404.
    expect((await fetch(s.url + entry.data.thumbUrl)).status).toBe(401);
    const other = (await s.call('POST', '/api/projects', { body: { name: 'other', modality: 'image', labels: ['a', 'b'] } })).body.id;
    const otherKey = (await s.call('POST', `/api/projects/${other}/keys`, { body: { role: 'annotator', name: 'o' } })).body.key;
    expect((await fetch(s.url + entry.data.thumbUrl, { headers: { authorization: `Bearer ${otherKey}` } })).status).toBe(403);
    expect((await get(`/api/projects/${project}/items/nope/media?size=thumb`)).status).toBe(404);
  });

  it('ingests multipart files with per-file fields; externalId is the file name, so a re-upload stores nothing twice', async () => {
    const [a, b] = await Promise.all([
      noiseJpeg(640, 480),
      sharp({ create: { width: 300, height: 300, channels: 4, background: '#00ff0080' } })
        .png()
        .toBuffer(),
    ]);
    const parts = [
      { name: 'cat-1.jpg', bytes: a },
      { name: 'dog-1.png', bytes: b },
    ];
    const fields = [{ file: 'cat-1.jpg', label: 'cat', split: 'gold' }];
    const r = await upload(s, project, parts, fields);
    expect(r.status, r.text).toBe(202);
    expect(r.body).toEqual({ accepted: 2, duplicates: 0, rejected: [] });
    const again = await upload(s, project, parts, fields);
    expect(again.body).toEqual({ accepted: 0, duplicates: 2, rejected: [] });
    const exported = await s.call('GET', `/api/projects/${project}/export?format=jsonl`);
    const rows = exported.text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(rows.find((x) => x.externalId === 'cat-1.jpg')).toMatchObject({ label: 'cat', split: 'gold' });
    expect(rows.find((x) => x.externalId === 'dog-1.png')).toBeTruthy();
  });

  it('downscales a 24-megapixel photo instead of refusing it', async () => {
    const big = await sharp({ create: { width: 6000, height: 4000, channels: 3, background: '#406080' } })
      .jpeg({ quality: 40 })
      .toBuffer();
    const r = await upload(s, project, [{ name: 'big.jpg', bytes: big }]);
    expect(r.status, r.text).toBe(202);
    expect(r.body.accepted).toBe(1);
  });

  it('refuses a corrupt, truncated, mislabelled or bomb file with a 400 naming it, and stores nothing', async () => {
    const good = await noiseJpeg(320, 240);
    const png = await sharp({ create: { width: 50, height: 50, channels: 3, background: '#fff' } })
      .png()
      .toBuffer();
    const before = await filesUnder(mediaDir);
    const count = async () => (await s.call('GET', `/api/projects/${project}`)).body.counts.items;
    const itemsBefore = await count();
    for (const [bad, reason] of [
      [{ name: 'half.jpg', bytes: good.subarray(0, good.length >> 1) }, /half\.jpg.*corrupt or truncated/],
      [{ name: 'junk.jpg', bytes: Buffer.from('<html>not a photo</html>') }, /junk\.jpg.*not a readable image/],
      [{ name: 'really-a-png.jpg', bytes: png }, /really-a-png\.jpg.*image\/png.*image\/jpeg/],
      [{ name: 'bomb.png', bytes: await pngBomb(40_000, 40_000) }, /bomb\.png.*40000x40000/],
      [{ name: 'notes.exe', bytes: good }, /notes\.exe.*Not an image file name/],
    ] as const) {
      const r = await upload(s, project, [{ name: `fine-${bad.name}.jpg`, bytes: good }, bad]);
      expect(r.status, r.text).toBe(400);
      expect(r.body.error.code).toBe('invalid_items');
      expect(r.body.error.message).toMatch(reason);
      expect(r.body.error.details.rejected).toHaveLength(1);
      expect(r.body.error.details.rejected[0].index).toBe(1);
    }
    expect(await count()).toBe(itemsBefore);
    expect(await filesUnder(mediaDir)).toEqual(before);
  });

  it('releaseItemMedia keeps a picture another item still shows, and removes it with the last one', async () => {
    const pic = (await noiseJpeg(300, 300)).toString('base64');
    const r = await s.call('POST', `/api/projects/${project}/items`, {
      body: {
        items: [
          { externalId: 'twin-1', image: pic },
          { externalId: 'twin-2', image: pic },
        ],
      },
    });
    expect(r.body.accepted).toBe(2);
    const rows = await queryRows<{ id: string; data: Record<string, unknown> }>(
      s.ctx.db,
      sql`select id, data from items where project_id = ${project} and external_id in ('twin-1', 'twin-2') order by external_id`,
    );
    const mediaId = (rows[0].data.media as { id: string }).id;
    expect(await s.ctx.media.open(project, mediaId, 'original')).not.toBeNull();
    await s.ctx.db.execute(sql`delete from items where id = ${rows[0].id}`);
    await releaseItemMedia(s.ctx, project, rows[0].data);
    expect(await s.ctx.media.open(project, mediaId, 'original')).not.toBeNull();
    await s.ctx.db.execute(sql`delete from items where id = ${rows[1].id}`);
    await releaseItemMedia(s.ctx, project, rows[1].data);
    expect(await s.ctx.media.open(project, mediaId, 'original')).toBeNull();
  });

  it('refuses a 2 GB upload with 413 from its declared length, without reading it', async () => {
    const { status, body } = await new Promise<{ status: number; body: any }>((resolve, reject) => {
      const req = request(`${s.url}/api/projects/${project}/items`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'multipart/form-data; boundary=x', 'content-length': String(2 * 1024 ** 3) },
      });
      req.on('response', (res) => {
        let t = '';
        res.on('data', (c) => (t += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(t) }));
      });
      req.on('error', reject);
      req.write(Buffer.alloc(64 * 1024));
    });
    expect(status).toBe(413);
    expect(body.error.code).toBe('payload_too_large');
    expect(body.error.message).toMatch(/upload limit/);
  });

  it('refuses a file over the per-file limit with 413 naming it', async () => {
    const r = await upload(s, project, [{ name: 'huge.jpg', bytes: Buffer.alloc(1.5 * 1024 * 1024, 1) }]);
    expect(r.status).toBe(413);
    expect(r.body.error.message).toMatch(/huge\.jpg.*per-file limit/);
  });

  it('reads a .jsonl file part as items', async () => {
    const small = (
      await sharp({ create: { width: 40, height: 40, channels: 3, background: '#123456' } })
        .png()
        .toBuffer()
    ).toString('base64');
    const jsonl = [
      { externalId: 'from-jsonl-1', image: small, label: 'dog' },
      { externalId: 'from-jsonl-2', image: small },
    ]
      .map((x) => JSON.stringify(x))
      .join('\n');
    const r = await upload(s, project, [{ name: 'batch.jsonl', bytes: jsonl }]);
    expect(r.status, r.text).toBe(202);
    expect(r.body.accepted).toBe(2);
  });

  it('imports http URLs from allowed hosts only, follows no redirect and enforces the size limit', async () => {
    const ingest = (url: string) => s.call('POST', `/api/projects/${project}/items?partial=true`, { body: { items: [{ externalId: url, url }] } });
    const off = await ingest(`${originUrl}/photo.jpg`);
    expect(off.body.rejected[0].error).toMatch(/URL import is off/);
    expect(
      (
        await s.call('PATCH', `/api/projects/${project}/settings`, {
          body: {
            settings: { imageWidth: 32, imageHeight: 32, channels: 3, urlImport: { allowHosts: ['127.0.0.1'], maxBytes: 1024 * 1024, timeoutMs: 5000 } },
          },
        })
      ).status,
    ).toBe(200);
    expect((await ingest(`${originUrl}/photo.jpg`)).body).toEqual({ accepted: 1, duplicates: 0, rejected: [] });
    expect((await ingest(`${originUrl}/moved`)).body.rejected[0].error).toMatch(/redirect/);
    expect((await ingest(`${originUrl}/huge`)).body.rejected[0].error).toMatch(/maxBytes/);
    expect((await ingest('http://localhost.example.invalid/x.jpg')).body.rejected[0].error).toMatch(/not in settings.urlImport.allowHosts/);
    expect((await ingest('file:///etc/passwd')).body.rejected[0].error).toMatch(/allowHosts|http and https/);
  });
});

describe('streamed NDJSON', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer({ FURROW_BODY_LIMIT_MB: '0.05' });
  }, 120_000);
  afterAll(async () => s?.stop());

  it('takes a batch larger than the JSON body limit, and bounds each line instead', async () => {
    const p = (await s.call('POST', '/api/projects', { body: { name: 't', modality: 'text', labels: ['a', 'b'] } })).body.id;
    const lines = Array.from({ length: 2000 }, (_, i) => JSON.stringify({ externalId: `t${i}`, text: `item number ${i} with some words in it` }));
    const body = lines.join('\n');
    expect(body.length).toBeGreaterThan(0.05 * 1024 * 1024);
    const r = await s.call('POST', `/api/projects/${p}/items`, { raw: body, headers: { 'content-type': 'application/x-ndjson' } });
    expect(r.status, r.text).toBe(202);
    expect(r.body.accepted).toBe(2000);
    const long = JSON.stringify({ externalId: 'long', text: 'x'.repeat(80 * 1024) });
    const tooLong = await s.call('POST', `/api/projects/${p}/items`, { raw: `${lines[0]}\n${long}\n`, headers: { 'content-type': 'application/x-ndjson' } });
    expect(tooLong.status).toBe(413);
    expect(tooLong.body.error.message).toMatch(/line 2 is longer than the per-line limit/);
  });
});

describe('a reader that goes away mid-picture', () => {
  let s: TestServer;
  const logs: string[] = [];
  let mediaDir: string;
  beforeAll(async () => {
    mediaDir = await mkdtemp(path.join(tmpdir(), 'furrow-media-abort-'));
    s = await startTestServer({ FURROW_MEDIA_DIR: mediaDir }, { logger: createLogger('warn', (l) => logs.push(l)) });
  }, 120_000);
  afterAll(async () => {
    await s?.stop();
    await rm(mediaDir, { recursive: true, force: true });
  });

  // A review page closed while its pictures load: the server must not log that as its own failure (before the
  // fix, each aborted picture logged "unhandled error ... Premature close" at error level).
  it('is not logged as a server error, and the server keeps answering', async () => {
    const p = (await s.call('POST', '/api/projects', { body: { name: 'abort', modality: 'image', labels: ['a', 'b'], settings: { goldFraction: 0 } } })).body
      .id;
    // Noise does not compress: a PNG of 12 MB, more than loopback's socket buffers take in one go.
    const big = await sharp({ create: { width: 2000, height: 2000, channels: 3, background: '#000', noise: { type: 'gaussian', mean: 128, sigma: 60 } } })
      .png({ compressionLevel: 0 })
      .toBuffer();
    expect(big.length).toBeGreaterThan(10_000_000);
    expect((await upload(s, p, [{ name: 'big.png', bytes: big }])).status).toBe(202);
    const item = (await s.call('GET', `/api/projects/${p}/items?limit=1`)).body.items[0];
    const url = new URL(`${s.url}/api/projects/${p}/items/${item.id}/media?size=original`);
    // Cut off at different moments: before the answer starts, and after its first bytes.
    for (let i = 0; i < 12; i++) {
      await new Promise<void>((resolve) => {
        const req = request(url, { headers: { authorization: `Bearer ${ADMIN_KEY}` } }, (res) => {
          res.pause(); // read nothing more: the server's writes back up
          setTimeout(() => req.destroy(), 50);
        });
        req.on('error', () => {});
        req.on('close', () => resolve());
        if (i % 2 === 0) setTimeout(() => req.destroy(), i);
        req.end();
      });
    }
    await new Promise((r) => setTimeout(r, 300));
    expect((await s.call('GET', '/healthz')).status).toBe(200);
    expect(logs.filter((l) => l.includes('"level":"error"'))).toEqual([]);
  });
});
