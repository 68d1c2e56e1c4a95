import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { speechEngineAvailable } from '../../models/speech/native.ts';
import { startTestServer, waitForIdle, type TestServer } from '../helpers.ts';
import { type AudioProject, createAudioProject, hasChromium, launchBrowser, type OpenedPage, openPage, see, transcribeOne, visible } from './browser.ts';

/** The Data page: filter, page with the cursor, open an item, relabel it, all by keyboard. */
describe.skipIf(!hasChromium)('the Data page in Chromium', () => {
  let s: TestServer;
  let browser: Browser;
  let P: string;
  let engineer: string;
  const opened: OpenedPage[] = [];

  beforeAll(async () => {
    s = await startTestServer();
    browser = await launchBrowser();
    P = (await s.call('POST', '/api/projects', { body: { name: 'Data e2e', modality: 'text', labels: ['spam', 'ham'], settings: { goldFraction: 0 } } })).body
      .id;
    engineer = (await s.call('POST', `/api/projects/${P}/keys`, { body: { role: 'engineer', name: 'eng' } })).body.key;
    const items = Array.from({ length: 70 }, (_, i) => ({
      externalId: `m${i}`,
      text: i % 10 === 0 ? `win a prize now ${i}` : `meeting notes ${i}`,
      meta: { n: i },
    }));
    expect((await s.call('POST', `/api/projects/${P}/items`, { key: engineer, body: { items } })).status).toBe(202);
  });
  afterAll(async () => {
    for (const o of opened) expect(o.problems, 'script errors or CSP violations').toEqual([]);
    await browser?.close();
    await s?.stop();
  });

  it('pages, filters, opens and relabels an item with the keyboard', async () => {
    const o = await openPage(browser, s.url, `/ui/data?project=${P}`, engineer);
    opened.push(o);
    const { page } = o;
    await page.locator('#rows tr').nth(49).waitFor();
    expect(await page.locator('#rows tr').count()).toBe(50);
    await page.locator('#more').click();
    await page.locator('#rows tr').nth(69).waitFor();
    await page.waitForFunction(() => (document.getElementById('more') as HTMLButtonElement).hidden);

    await page.keyboard.press('/');
    await page.keyboard.type('prize');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.querySelectorAll('#rows tr').length === 7);
    expect(new URL(page.url()).searchParams.get('q')).toBe('prize');

    await page.locator('#rows tr').first().focus();
    await page.keyboard.press('j');
    await page.keyboard.press('Enter');
    await page.locator('#detail-heading', { hasText: 'm10' }).waitFor();
    await page.locator('#detail', { hasText: 'win a prize now 10' }).waitFor();
    await page.keyboard.press('1');
    await page.locator('#relabel-status', { hasText: 'Labelled spam' }).waitFor();
    await page.locator('#detail table', { hasText: 'spam' }).waitFor();

    const stored = await s.call('GET', `/api/projects/${P}/items?label=spam`, { key: engineer });
    expect(stored.body.items.map((i: any) => i.externalId)).toEqual(['m10']);
  });
});

/** The Data page of an audio transcription project: transcripts instead of classes, a clip that plays, a correction. */
describe.skipIf(!hasChromium || !speechEngineAvailable())('the Data page of an audio transcription project in Chromium', () => {
  let s: TestServer;
  let browser: Browser;
  let p: AudioProject;
  let transcribed: string;
  const opened: OpenedPage[] = [];

  beforeAll(async () => {
    s = await startTestServer({ FURROW_SPEECH_WORKERS: '2' });
    browser = await launchBrowser();
    p = await createAudioProject(s, { name: 'Audio data e2e', pool: 2, gold: 0 });
    await waitForIdle(s, p.projectId);
    transcribed = await transcribeOne(s, p, 'hello world');
  });
  afterAll(async () => {
    for (const o of opened) {
      expect(o.problems, 'script errors or CSP violations').toEqual([]);
      expect(o.consoleErrors, 'console errors').toEqual([]);
    }
    await browser?.close();
    await s?.stop();
  });

  it('lists transcripts, opens a clip with its draft, plays it through a blob: URL and corrects its transcript', async () => {
    const o = await openPage(browser, s.url, `/ui/data?project=${p.projectId}`, p.keys.engineer);
    opened.push(o);
    const { page } = o;
    await page.locator('#rows tr').nth(1).waitFor();
    expect(await page.locator('#rows tr').count()).toBe(2);
    expect(await page.evaluate(() => document.body.dataset.task)).toBe('transcription');
    // No classes: the class filters are hidden; the list shows the transcript.
    expect(await page.locator('#f-label').isHidden()).toBe(true);
    expect(await page.locator('#f-predicted').isHidden()).toBe(true);
    const detail = (await s.call('GET', `/api/projects/${p.projectId}/items/${transcribed}`, { key: p.keys.engineer })).body;
    const row = page.locator('#rows tr', { hasText: detail.externalId });
    await see(row, '“hello world”');

    // Opened: the model's draft (a tone has no words in it), the clip, the transcript and its history.
    await row.click();
    await see(page.locator('#detail'), 'Model v1 draft: (no speech)');
    await see(page.locator('#detail'), 'Transcript history');
    expect(await page.locator('#detail').textContent()).not.toContain('null');
    await visible(page.locator('#play-clip'));
    await page.locator('#play-clip').click();
    await page.waitForFunction(() => (document.getElementById('clip') as HTMLAudioElement | null)?.src.startsWith('blob:'));
    expect(await page.locator('#play-clip').getAttribute('data-state')).not.toBe('failed');

    await page.locator('#transcript').fill('Hello, There');
    await page.locator('#detail button[type="submit"]').click();
    await see(page.locator('#relabel-status'), 'Transcript saved: “hello there”');
    await see(row, '“hello there”');
    const after = (await s.call('GET', `/api/projects/${p.projectId}/items/${transcribed}`, { key: p.keys.engineer })).body;
    expect(after.label).toBe('hello there');
    expect(after.labels.map((l: any) => l.label).sort()).toEqual(['hello there', 'hello world']);
  });
});
