import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers.ts';
import { hasChromium, launchBrowser, openPage, type OpenedPage } from './browser.ts';

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
