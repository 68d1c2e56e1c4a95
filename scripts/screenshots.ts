/**
 * Writes docs/review.png and docs/dashboard.png (1280x800): starts the service on an in-memory database
 * with the demo's data (Fashion-MNIST fixture, 1,900 pool images and 100 gold), labels a few hundred
 * items as an oracle annotator over three training rounds, then drives the two pages in Chromium.
 * First it writes docs/transcribe.png: a transcription project of clips spoken by flite in light noise,
 * pre-transcribed by the stock recogniser (needs the speech engine, flite and sox; skipped without them).
 *
 *   npx tsx scripts/screenshots.ts            # FURROW_CHROMIUM overrides /usr/bin/chromium
 *   npx tsx scripts/screenshots.ts transcribe # docs/transcribe.png only
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { loadConfig } from '../core/config.ts';
import { silentLogger } from '../core/logger.ts';
import { speechEngineAvailable } from '../models/speech/native.ts';
import { encodePngBase64 } from '../pipelines/image-decode.ts';
import { synthesizeClip } from '../pipelines/speech/synthesize.ts';
import { startServer } from '../server/main.ts';
import { FASHION_MNIST_LABELS, loadFashionFixture } from './lib/datasets.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DOCS = join(ROOT, 'docs');
const CHROMIUM = process.env.FURROW_CHROMIUM ?? '/usr/bin/chromium';
const POOL = 1900;
const GOLD = 100;
/** Human labels before each training round: a learning curve of three versions. */
const ROUNDS = [80, 160, 260];
/** What the transcription project's clips say: a produce wholesaler's phone orders, with words the stock model lacks. */
const ORDERS = [
  'please send four boxes of kohlrabi on monday',
  'we need twenty pounds of tatsoi for the market',
  'add six crates of romanesco and two boxes of kohlrabi',
  'deliver ten pounds of tatsoi on friday',
  'cancel the kohlrabi and send more romanesco',
  'can you bring three crates of leeks tomorrow morning',
  'the chard was wilted so please credit the invoice',
  'double the usual order of fennel for the weekend',
];
const ONLY_TRANSCRIBE = process.argv[2] === 'transcribe';

const log = (m: string) => process.stdout.write(`${m}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main() {
  const adminKey = `fw_shots_${randomBytes(16).toString('hex')}`;
  const config = loadConfig({
    PORT: '0',
    FURROW_DATA_DIR: 'memory://',
    FURROW_ADMIN_KEY: adminKey,
    FURROW_DEMO: '0',
    FURROW_LOG_LEVEL: 'silent',
    FURROW_JOB_POLL_MS: '200',
  });
  const srv = await startServer(config, { logger: silentLogger, announce: () => {} });
  const call = async (method: string, path: string, key: string, body?: unknown) => {
    const res = await fetch(srv.url + path, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = (await res.json()) as any;
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
  try {
    log(`server on ${srv.url}`);
    await mkdir(DOCS, { recursive: true });
    await shootTranscription(srv.url, call, adminKey);
    if (ONLY_TRANSCRIBE) return;
    const data = await loadFashionFixture('train');
    const project = await call('POST', '/api/projects', adminKey, {
      name: 'Fashion-MNIST demo',
      modality: 'image',
      labels: FASHION_MNIST_LABELS,
      settings: { minLabelsToTrain: 20, retrainEvery: 0 },
    });
    const P = project.id as string;
    const key = async (role: string, name: string) => (await call('POST', `/api/projects/${P}/keys`, adminKey, { role, name })).key as string;
    const annotator = await key('annotator', 'Maya Chen');
    const engineer = await key('engineer', 'Jonas Weber');

    const truth = new Map<string, string>();
    const items = [];
    for (let i = 0; i < POOL + GOLD; i++) {
      const label = FASHION_MNIST_LABELS[data.labels[i]];
      const gold = i < GOLD;
      const externalId = `fashion-${i}`;
      truth.set(externalId, label);
      items.push({ externalId, image: encodePngBase64(data.images[i], data.width, data.height, 1), ...(gold ? { split: 'gold', label } : {}) });
    }
    await call('POST', `/api/projects/${P}/items`, engineer, { items });
    const truthOf = new Map<string, string>();
    const truthOfItem = async (id: string) => {
      if (!truthOf.has(id)) truthOf.set(id, truth.get((await call('GET', `/api/projects/${P}/items/${id}`, annotator)).externalId)!);
      return truthOf.get(id)!;
    };
    const waitIdle = async () => {
      for (;;) {
        const { jobs } = await call('GET', `/api/projects/${P}/jobs?limit=20`, engineer);
        if (!jobs.some((j: any) => j.status === 'queued' || j.status === 'running')) return;
        await sleep(300);
      }
    };

    for (const [round, n] of ROUNDS.entries()) {
      let done = 0;
      while (done < n) {
        const q = await call('GET', `/api/projects/${P}/queue?limit=${Math.min(25, n - done)}`, annotator);
        for (const it of q.items) {
          // A realistic annotator: agrees with the truth, so disagreements with the model are real ones.
          await call('POST', `/api/projects/${P}/items/${it.id}/label`, annotator, { label: await truthOfItem(it.id) });
          done++;
        }
      }
      const t0 = Date.now();
      const { jobId } = await call('POST', `/api/projects/${P}/train`, engineer, {});
      for (;;) {
        const job = await call('GET', `/api/jobs/${jobId}`, engineer);
        if (job.status === 'failed') throw new Error(`training failed: ${job.error}`);
        if (job.status === 'succeeded') break;
        await sleep(300);
      }
      await waitIdle();
      const m = await call('GET', `/api/projects/${P}/metrics`, engineer);
      log(`round ${round + 1}: v${m.modelVersion}, gold accuracy ${m.gold.accuracy} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    }

    const browser = await launch();
    try {
      const open = async (path: string, k: string) => {
        const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1 });
        const page = await ctx.newPage();
        page.on('pageerror', (e) => log(`page error: ${e.message}`));
        await page.goto(`${srv.url}${path}#key=${encodeURIComponent(k)}`);
        return page;
      };

      // Review: a dozen decisions by keyboard (one of them undone and corrected), then the next item.
      const review = await open(`/ui/review?project=${P}`, annotator);
      const shown = (page: Page) => page.evaluate(() => document.body.dataset.item ?? '');
      const nextItem = async (page: Page, prev: string) => {
        await page.waitForFunction((p) => !!document.body.dataset.item && document.body.dataset.item !== p, prev);
        return shown(page);
      };
      let id = await nextItem(review, '');
      for (let i = 0; i < 12; i++) {
        const label = await truthOfItem(id);
        const suggested = await review.evaluate(() => document.querySelector('.label-btn.suggested')?.getAttribute('data-label') ?? null);
        const wrongOnPurpose = i === 10; // then undo it and correct it, as annotators do
        if (!wrongOnPurpose && suggested === label) await review.keyboard.press('Enter');
        else {
          const idx = wrongOnPurpose ? (FASHION_MNIST_LABELS.indexOf(label as never) + 1) % 10 : FASHION_MNIST_LABELS.indexOf(label as never);
          await review.keyboard.press(String((idx + 1) % 10));
        }
        const before = id;
        id = await nextItem(review, id);
        if (wrongOnPurpose) {
          await review.keyboard.press('u');
          await review.waitForFunction((want) => document.body.dataset.item === want, before);
          await review.keyboard.press(String((FASHION_MNIST_LABELS.indexOf(label as never) + 1) % 10));
          id = await nextItem(review, before);
        }
      }
      // Show an item on which the model is unsure, so the suggestion and its confidence are visible.
      await review.waitForFunction(() => document.body.dataset.pending === '0');
      await review.mouse.move(0, 0);
      await sleep(300);
      await review.screenshot({ path: join(DOCS, 'review.png') });
      log('wrote docs/review.png');

      // Dashboard: the engineer's view, with the next training round (on the labels just given) in flight.
      const dash = await open(`/ui/dashboard?project=${P}`, engineer);
      await dash.waitForFunction(() => !!document.body.dataset.model);
      await dash.waitForSelector('#chart-accuracy .uplot canvas');
      await dash.locator('#retrain').click();
      await dash
        .waitForFunction(() => /Training · ([2-9]\d|1\d)%/.test(document.getElementById('train-live')?.textContent ?? ''), undefined, { timeout: 120_000 })
        .catch(() => log('training finished before it could be caught in flight'));
      await dash.mouse.move(0, 0);
      await dash.screenshot({ path: join(DOCS, 'dashboard.png') });
      log('wrote docs/dashboard.png');
    } finally {
      await browser.close();
    }
  } finally {
    await srv.close();
  }
}

function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--font-render-hinting=none',
    ],
  });
}

/**
 * docs/transcribe.png: two clips transcribed by keyboard (one corrected), then the next clip with its first
 * low-confidence word selected by Alt+N and the playhead part way through.
 */
async function shootTranscription(url: string, call: (method: string, path: string, key: string, body?: unknown) => Promise<any>, adminKey: string) {
  if (!speechEngineAvailable()) {
    log('docs/transcribe.png skipped: the speech engine is not installed');
    return;
  }
  const dir = await mkdtemp(join(tmpdir(), 'furrow-shots-'));
  const items = [];
  try {
    for (const [i, text] of ORDERS.entries()) {
      const out = join(dir, `${i}.wav`);
      await synthesizeClip({ text, voice: i % 2 ? 'flite:rms' : 'flite:slt', noiseDb: 25, outPath: out });
      items.push({ externalId: `order-${i}`, audio: (await readFile(out)).toString('base64'), meta: { text } });
    }
  } catch (e) {
    log(`docs/transcribe.png skipped: cannot synthesise clips (${(e as Error).message.split('\n')[0]})`);
    return;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const project = await call('POST', '/api/projects', adminKey, {
    name: 'Phone orders',
    modality: 'audio',
    task: 'transcription',
    settings: { retrainEvery: 0 },
  });
  const P = project.id as string;
  const annotator = (await call('POST', `/api/projects/${P}/keys`, adminKey, { role: 'annotator', name: 'Maya Chen' })).key as string;
  await call('POST', `/api/projects/${P}/items`, adminKey, { items });
  for (;;) {
    const { jobs } = await call('GET', `/api/projects/${P}/jobs?limit=20`, adminKey);
    if (!jobs.some((j: any) => j.status === 'queued' || j.status === 'running')) break;
    await sleep(300);
  }
  const browser = await launch();
  try {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1 });
    const page = await ctx.newPage();
    page.on('pageerror', (e) => log(`page error: ${e.message}`));
    await page.goto(`${url}/ui/transcribe?project=${P}#key=${encodeURIComponent(annotator)}`);
    const nextItem = async (prev: string) => {
      await page.waitForFunction((p) => !!document.body.dataset.item && document.body.dataset.item !== p, prev);
      await page.waitForFunction(() => document.getElementById('wave')?.dataset.drawn === document.body.dataset.item);
      return page.evaluate(() => document.body.dataset.item ?? '');
    };
    // The annotator types what was said: the clip's text, kept in its meta for this script.
    const said = async (id: string) => (await call('GET', `/api/projects/${P}/items/${id}`, adminKey)).meta.text as string;
    let id = await nextItem('');
    for (let i = 0; i < 2; i++) {
      await page.locator('#transcript').fill(await said(id));
      await page.locator('#transcript').press('Control+Enter');
      id = await nextItem(id);
    }
    await page.waitForFunction(() => document.body.dataset.pending === '0');
    const wave = (await page.locator('#wave').boundingBox())!;
    await page.mouse.click(wave.x + wave.width * 0.42, wave.y + wave.height / 2);
    await page.keyboard.press('e');
    await page.keyboard.press('Alt+n');
    await page.waitForFunction(() => document.body.dataset.playing === 'false');
    await page.mouse.move(0, 0);
    await sleep(300);
    await page.screenshot({ path: join(DOCS, 'transcribe.png') });
    log('wrote docs/transcribe.png');
  } finally {
    await browser.close();
  }
}

await main();
