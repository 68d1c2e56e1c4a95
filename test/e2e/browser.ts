/**
 * Shared set-up of the browser tests: Debian's Chromium driven by playwright-core (no downloaded browser),
 * a fixture project of Fashion-MNIST images or of tone clips to transcribe, and a page that records script
 * errors and CSP violations.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { encodePngBase64 } from '../../pipelines/image-decode.ts';
import { encodeWav } from '../../pipelines/speech/wav.ts';
import { FASHION_MNIST_LABELS, loadFashionFixture } from '../../scripts/lib/datasets.ts';
import type { TestServer } from '../helpers.ts';

export const CHROMIUM_PATH = process.env.FURROW_CHROMIUM ?? '/usr/bin/chromium';
export const hasChromium = existsSync(CHROMIUM_PATH);

/** No network here: the flags keep Chromium from trying to reach Google services at start. */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
    ],
  });
}

export interface OpenedPage {
  page: Page;
  context: BrowserContext;
  /** Uncaught exceptions and Content-Security-Policy violations seen so far. */
  problems: string[];
  /** Every console error so far (failed requests too), for pages that should log none at all. */
  consoleErrors: string[];
}

/** A fresh browser context (empty localStorage) on `path`, signed in with `key` through the `#key=` link form. */
export async function openPage(browser: Browser, baseUrl: string, path: string, key: string, viewport = { width: 1280, height: 800 }): Promise<OpenedPage> {
  const context = await browser.newContext({ viewport, deviceScaleFactor: 1 });
  const page = await context.newPage();
  const problems: string[] = [];
  const consoleErrors: string[] = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    consoleErrors.push(m.text());
    if (/Content Security Policy|Refused to/i.test(m.text())) problems.push(`csp: ${m.text()}`);
  });
  await page.goto(`${baseUrl}${path}#key=${encodeURIComponent(key)}`);
  return { page, context, problems, consoleErrors };
}

export interface ImageProject {
  projectId: string;
  keys: { engineer: string; annotator: string; client: string };
  /** externalId → true label */
  truth: Map<string, string>;
}

/** One key per role for a project (made with the admin key). */
async function roleKeys(s: TestServer, projectId: string): Promise<{ engineer: string; annotator: string; client: string }> {
  const key = async (role: string) => {
    const r = await s.call('POST', `/api/projects/${projectId}/keys`, { body: { role, name: `${role} one` } });
    if (r.status !== 201) throw new Error(`create key: ${r.status} ${r.text}`);
    return r.body.key as string;
  };
  return { engineer: await key('engineer'), annotator: await key('annotator'), client: await key('client') };
}

/** An image project: `pool` unlabelled Fashion-MNIST images and `gold` labelled ones, with one key per role. */
export async function createImageProject(
  s: TestServer,
  opts: { name: string; pool: number; gold: number; settings?: Record<string, unknown> },
): Promise<ImageProject> {
  const data = await loadFashionFixture('train');
  const project = await s.call('POST', '/api/projects', {
    body: {
      name: opts.name,
      modality: 'image',
      labels: FASHION_MNIST_LABELS,
      settings: { retrainEvery: 0, minLabelsToTrain: 10, epochs: 4, quality: { goldCheckShare: 0 }, ...opts.settings },
    },
  });
  if (project.status !== 201) throw new Error(`create project: ${project.status} ${project.text}`);
  const projectId = project.body.id as string;
  const keys = await roleKeys(s, projectId);
  const truth = new Map<string, string>();
  const items = [];
  for (let i = 0; i < opts.pool + opts.gold; i++) {
    const label = FASHION_MNIST_LABELS[data.labels[i]];
    const gold = i >= opts.pool;
    const externalId = `${gold ? 'gold' : 'pool'}-${i}`;
    truth.set(externalId, label);
    items.push({ externalId, image: encodePngBase64(data.images[i], data.width, data.height, 1), ...(gold ? { split: 'gold', label } : {}) });
  }
  const r = await s.call('POST', `/api/projects/${projectId}/items`, { key: keys.engineer, body: { items } });
  if (r.status !== 202) throw new Error(`ingest: ${r.status} ${r.text}`);
  return { projectId, keys, truth };
}

/** Labels `n` queue items over the API with their true labels, as an oracle annotator. */
export async function labelWithTruth(s: TestServer, p: ImageProject, n: number): Promise<void> {
  let done = 0;
  while (done < n) {
    const q = await s.call('GET', `/api/projects/${p.projectId}/queue?limit=${Math.min(20, n - done)}`, { key: p.keys.annotator });
    if (q.status !== 200 || q.body.items.length === 0) throw new Error(`queue: ${q.status} ${q.text}`);
    for (const it of q.body.items) {
      const detail = await s.call('GET', `/api/projects/${p.projectId}/items/${it.id}`, { key: p.keys.annotator });
      const r = await s.call('POST', `/api/projects/${p.projectId}/items/${it.id}/label`, {
        key: p.keys.annotator,
        body: { label: p.truth.get(detail.body.externalId) },
      });
      if (r.status !== 200) throw new Error(`label: ${r.status} ${r.text}`);
      done++;
    }
  }
}

/** A 16 kHz mono 16-bit WAV of a tone whose loudness swells and fades, so that its waveform has a shape. */
export function toneWav(seconds: number, hz: number): Buffer {
  const n = Math.round(16_000 * seconds);
  const samples = new Int16Array(n);
  for (let i = 0; i < n; i++)
    samples[i] = Math.round(Math.sin((2 * Math.PI * hz * i) / 16_000) * 14_000 * (0.25 + 0.75 * Math.abs(Math.sin((Math.PI * i) / (n / 2)))));
  return encodeWav({ sampleRate: 16_000, channels: 1, samples });
}

export interface AudioProject {
  projectId: string;
  keys: { engineer: string; annotator: string; client: string };
}

/**
 * An audio transcription project (it needs the speech engine: `speechEngineAvailable()`) of short tone clips:
 * `pool` to transcribe and `gold` with the reference transcript `gold`, one key per role. The recogniser hears
 * no words in a tone, so the drafts are empty.
 */
export async function createAudioProject(
  s: TestServer,
  opts: { name: string; pool: number; gold: number; settings?: Record<string, unknown> },
): Promise<AudioProject> {
  const project = await s.call('POST', '/api/projects', {
    body: {
      name: opts.name,
      modality: 'audio',
      task: 'transcription',
      settings: { retrainEvery: 0, goldFraction: 0, quality: { goldCheckShare: 0 }, ...opts.settings },
    },
  });
  if (project.status !== 201) throw new Error(`create project: ${project.status} ${project.text}`);
  const projectId = project.body.id as string;
  const keys = await roleKeys(s, projectId);
  const items = Array.from({ length: opts.pool + opts.gold }, (_, i) => {
    const gold = i >= opts.pool;
    return {
      externalId: `${gold ? 'gold' : 'clip'}-${i}`,
      audio: toneWav(1 + i * 0.25, 220 + i * 110).toString('base64'),
      ...(gold ? { split: 'gold', transcript: 'gold' } : {}),
    };
  });
  const r = await s.call('POST', `/api/projects/${projectId}/items`, { key: keys.engineer, body: { items } });
  if (r.status !== 202) throw new Error(`ingest: ${r.status} ${r.text}`);
  return { projectId, keys };
}

/** Leases one clip of an audio project and stores `transcript` for it, as its annotator; answers the item id. */
export async function transcribeOne(s: TestServer, p: AudioProject, transcript: string): Promise<string> {
  const q = await s.call('GET', `/api/projects/${p.projectId}/queue?limit=1`, { key: p.keys.annotator });
  if (q.status !== 200 || q.body.items.length === 0) throw new Error(`queue: ${q.status} ${q.text}`);
  const itemId = q.body.items[0].id as string;
  const r = await s.call('POST', `/api/projects/${p.projectId}/items/${itemId}/label`, { key: p.keys.annotator, body: { transcript } });
  if (r.status !== 200) throw new Error(`label: ${r.status} ${r.text}`);
  return itemId;
}

/** Waits until the first element of `loc` contains `text`; throws with what it saw instead. */
export async function see(loc: Locator, text: string, timeoutMs = 20_000): Promise<string> {
  const until = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    last =
      (await loc
        .first()
        .textContent({ timeout: 1_000 })
        .catch(() => null)) ?? '';
    if (last.includes(text)) return last;
    if (Date.now() > until) throw new Error(`expected ${String(loc)} to contain "${text}", it shows "${last.trim().slice(0, 300)}"`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export const visible = (loc: Locator, timeout = 20_000) => loc.first().waitFor({ state: 'visible', timeout });
export const hidden = (loc: Locator, timeout = 20_000) => loc.first().waitFor({ state: 'hidden', timeout });
