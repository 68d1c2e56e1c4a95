/**
 * Photo ingest benchmark (issue 14, defects 3 and 4): 12-megapixel JPEGs uploaded as multipart to a Furrow
 * server running in its own process, while this process polls /healthz; then the size of a 12-photo queue
 * page and of what the review page loads for it. Prints one JSON object.
 *
 *   npx tsx scripts/bench-photos.ts [--photos 200] [--distinct 24] [--batch 10] [--parallel 2]
 *
 * The photos are 4000x3000 noise over gradients (so they do not compress to nothing: about 3-4 MB each);
 * `--distinct` of them are made and uploaded under different names in turn (making 200 takes minutes).
 * With Debian's Chromium installed (`FURROW_CHROMIUM`, default /usr/bin/chromium), it also opens the review page
 * `--page-loads` times (a fresh browser context each, so nothing is cached) and times the first photo on screen.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import sharp from 'sharp';

const args = process.argv.slice(2);
const arg = (name: string, def: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const PHOTOS = arg('photos', 200);
const DISTINCT = arg('distinct', 24);
const BATCH = arg('batch', 10);
const PARALLEL = arg('parallel', 2);
const PAGE_LOADS = arg('page-loads', 5);
const CHROMIUM = process.env.FURROW_CHROMIUM ?? '/usr/bin/chromium';
const ADMIN = 'fw_bench_admin_key_0123456789abcdef';

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

async function makePhoto(i: number): Promise<Buffer> {
  const w = 4000;
  const h = 3000;
  // A gradient (differs per photo) under gaussian noise: JPEG cannot shrink it much, like a real photo's texture.
  const gradient = Buffer.from(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}"><defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="hsl(${(i * 47) % 360},70%,60%)"/><stop offset="1" stop-color="hsl(${(i * 47 + 150) % 360},60%,30%)"/></linearGradient></defs><rect width="100%" height="100%" fill="url(#g)"/></svg>`,
  );
  const noise = await sharp({ create: { width: w, height: h, channels: 3, background: '#000', noise: { type: 'gaussian', mean: 128, sigma: 18 } } })
    .png({ compressionLevel: 0 })
    .toBuffer();
  return sharp(gradient)
    .composite([{ input: noise, blend: 'overlay' }])
    .jpeg({ quality: 88 })
    .toBuffer();
}

/** User + system CPU seconds of a process (all threads), from /proc (Linux). */
async function cpuSeconds(pid: number | undefined): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] : NaN;
};
const r1 = (x: number) => Math.round(x * 10) / 10;

/**
 * Milliseconds from navigating to the review page (a fresh context: empty cache and storage) to the first
 * photo painted in the stage (an <img> with its pixels decoded), over `PAGE_LOADS` loads; null without Chromium.
 */
async function firstPhotoOnReviewPage(base: string, key: string) {
  if (!existsSync(CHROMIUM)) return null;
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-dev-shm-usage'],
  });
  try {
    const fromNavigation: number[] = [];
    const afterLoad: number[] = [];
    for (let i = 0; i < PAGE_LOADS; i++) {
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      const page = await context.newPage();
      await page.goto(`${base}/ui/review#key=${encodeURIComponent(key)}`, { waitUntil: 'commit' });
      // Timed by the page's own clock (0 = navigation start), checked every animation frame.
      const shown = await page.waitForFunction(() => {
        const img = document.querySelector('.media-frame img') as HTMLImageElement | null;
        if (img === null || !img.complete || img.naturalWidth === 0) return false;
        const nav = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming | undefined;
        return { at: performance.now(), load: nav?.loadEventEnd || nav?.domContentLoadedEventEnd || 0 };
      });
      const { at, load } = (await shown.jsonValue()) as { at: number; load: number };
      fromNavigation.push(at);
      afterLoad.push(at - load);
      await context.close();
    }
    return {
      loads: fromNavigation.length,
      firstPhotoMsFromNavigationMedian: r1(pct(fromNavigation, 50)),
      firstPhotoMsFromNavigationMax: r1(Math.max(...fromNavigation)),
      firstPhotoMsAfterLoadEventMedian: r1(pct(afterLoad, 50)),
      firstPhotoMsAfterLoadEventMax: r1(Math.max(...afterLoad)),
    };
  } finally {
    await browser.close();
  }
}

async function main() {
  const made = performance.now();
  const photos: Buffer[] = [];
  for (let i = 0; i < DISTINCT; i++) photos.push(await makePhoto(i));
  const makeSeconds = (performance.now() - made) / 1000;

  const dataDir = await mkdtemp(path.join(tmpdir(), 'furrow-bench-photos-'));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const server = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    env: { ...process.env, PORT: String(port), FURROW_DATA_DIR: dataDir, FURROW_ADMIN_KEY: ADMIN, FURROW_DEMO: '0', FURROW_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  try {
    for (let i = 0; ; i++) {
      if ((await fetch(`${base}/healthz`).catch(() => null))?.ok) break;
      if (i > 600) throw new Error('server did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
    const call = async (method: string, p: string, body?: unknown, key = ADMIN) => {
      const res = await fetch(base + p, {
        method,
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: res.status, text: await res.text() };
    };
    const project = JSON.parse(
      (
        await call('POST', '/api/projects', {
          name: 'photos',
          modality: 'image',
          labels: ['a', 'b'],
          settings: { imageWidth: 64, imageHeight: 64, channels: 3 },
        })
      ).text,
    ).id;
    const annotator = JSON.parse((await call('POST', `/api/projects/${project}/keys`, { role: 'annotator', name: 'a' })).text).key;

    // /healthz every 20 ms while the upload runs.
    const health: number[] = [];
    let polling = true;
    const poller = (async () => {
      while (polling) {
        const t = performance.now();
        await fetch(`${base}/healthz`).then((r) => r.arrayBuffer());
        health.push(performance.now() - t);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();

    let next = 0;
    let bytes = 0;
    const cpuBefore = await cpuSeconds(server.pid);
    const started = performance.now();
    const uploader = async () => {
      for (;;) {
        const first = next;
        if (first >= PHOTOS) return;
        next = Math.min(PHOTOS, first + BATCH);
        const fd = new FormData();
        for (let i = first; i < next; i++) {
          const photo = photos[i % DISTINCT];
          bytes += photo.length;
          fd.append('file', new Blob([new Uint8Array(photo)]), `photo-${i}.jpg`);
        }
        const res = await fetch(`${base}/api/projects/${project}/items`, { method: 'POST', body: fd, headers: { authorization: `Bearer ${ADMIN}` } });
        const text = await res.text();
        if (res.status !== 202) throw new Error(`upload: ${res.status} ${text.slice(0, 300)}`);
      }
    };
    await Promise.all(Array.from({ length: PARALLEL }, uploader));
    const seconds = (performance.now() - started) / 1000;
    const serverCpu = (await cpuSeconds(server.pid)) - cpuBefore;
    polling = false;
    await poller;

    // What an annotator's first page costs: the queue answer, then 12 thumbnails and 12 previews.
    const q = await fetch(`${base}/api/projects/${project}/queue?limit=12`, { headers: { authorization: `Bearer ${annotator}` } });
    const qText = await q.text();
    const items = JSON.parse(qText).items as { data: { thumbUrl: string; previewUrl: string } }[];
    const size = async (u: string) => (await (await fetch(base + u, { headers: { authorization: `Bearer ${annotator}` } })).arrayBuffer()).byteLength;
    const thumbs = (await Promise.all(items.map((i) => size(i.data.thumbUrl)))).reduce((a, b) => a + b, 0);
    const previews = (await Promise.all(items.map((i) => size(i.data.previewUrl)))).reduce((a, b) => a + b, 0);
    const firstPaint = performance.now();
    await size(items[0].data.thumbUrl);
    const firstThumbMs = performance.now() - firstPaint;

    const reviewPage = await firstPhotoOnReviewPage(base, annotator);

    console.log(
      JSON.stringify(
        {
          photos: PHOTOS,
          distinctPhotos: DISTINCT,
          megapixels: 12,
          meanPhotoMB: r1(photos.reduce((a, p) => a + p.length, 0) / DISTINCT / 1e6),
          uploadMB: r1(bytes / 1e6),
          batch: BATCH,
          parallelRequests: PARALLEL,
          seconds: r1(seconds),
          photosPerSecond: r1(PHOTOS / seconds),
          // Contention-free view: the server's own CPU time (all its threads) per photo, and what two idle cores give.
          serverCpuMsPerPhoto: Math.round((serverCpu * 1000) / PHOTOS),
          photosPerSecondOnTwoIdleCores: r1((2 * PHOTOS) / serverCpu),
          loadAverage1m: r1((await import('node:os')).loadavg()[0]),
          healthz: { n: health.length, p50Ms: r1(pct(health, 50)), p99Ms: r1(pct(health, 99)), maxMs: r1(Math.max(...health)) },
          queuePage12: {
            jsonKB: r1(qText.length / 1024),
            thumbsKB: r1(thumbs / 1024),
            previewsKB: r1(previews / 1024),
            totalKB: r1((qText.length + thumbs + previews) / 1024),
          },
          firstThumbMs: r1(firstThumbMs),
          reviewPage,
          makeSeconds: r1(makeSeconds),
          cores: (await import('node:os')).availableParallelism(),
          note: "the machine's 2 cores are shared with other work; the server runs in its own process",
        },
        null,
        1,
      ),
    );
  } finally {
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
    await rm(dataDir, { recursive: true, force: true });
  }
}

await main();
