import { and, asc, eq } from 'drizzle-orm';
import type { Browser, Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labels } from '../../db/schema.ts';
import { startTestServer, waitForIdle, waitForJob, type TestServer } from '../helpers.ts';
import { createImageProject, hasChromium, hidden, launchBrowser, openPage, see, visible, type ImageProject, type OpenedPage } from './browser.ts';

/** The id of the item on screen ('' when none). */
const shownItem = (page: Page) => page.evaluate(() => document.body.dataset.item ?? '');

async function waitForItem(page: Page, notId?: string): Promise<string> {
  await page.waitForFunction((prev) => !!document.body.dataset.item && document.body.dataset.item !== prev, notId ?? '');
  return shownItem(page);
}

/** Waits until the page's outbox is empty: every decision has been answered by the server. */
const waitSaved = (page: Page) => page.waitForFunction(() => document.body.dataset.pending === '0');

describe.skipIf(!hasChromium)('the review page in Chromium', () => {
  let s: TestServer;
  let browser: Browser;
  let p: ImageProject;
  const opened: OpenedPage[] = [];
  const open = async (path: string, key: string) => {
    const o = await openPage(browser, s.url, path, key);
    opened.push(o);
    return o;
  };
  const humanRows = (projectId: string, keyId?: string) =>
    s.ctx.db
      .select()
      .from(labels)
      .where(and(eq(labels.projectId, projectId), eq(labels.source, 'human'), ...(keyId ? [eq(labels.keyId, keyId)] : [])))
      .orderBy(asc(labels.id));

  beforeAll(async () => {
    s = await startTestServer();
    browser = await launchBrowser();
    p = await createImageProject(s, { name: 'Review e2e', pool: 200, gold: 50 });
    await waitForIdle(s, p.projectId);
  });
  afterAll(async () => {
    for (const o of opened) expect(o.problems, 'script errors or CSP violations').toEqual([]);
    await browser?.close();
    await s?.stop();
  });

  it('labels 20 items by keyboard alone, undoes one, and stores exactly 20 labels plus the correction', async () => {
    const { page } = await open(`/ui/review?project=${p.projectId}`, p.keys.annotator);
    let id = await waitForItem(page);
    // The key went into localStorage and out of the address bar.
    expect(page.url()).not.toContain('#key=');
    // Cold start: no model, so no suggestion; Enter must not store anything.
    await see(page.locator('#prelabel'), 'No suggestion');
    await page.keyboard.press('Enter');
    expect(await shownItem(page)).toBe(id);

    const chosen: { id: string; label: string }[] = [];
    const labelNames = await page.locator('#label-list .label-name').allTextContents();
    expect(labelNames.length).toBe(10);
    for (let i = 0; i < 20; i++) {
      const digit = String((i % 10) + 1).slice(-1); // 1..9, then 0 for the 10th label
      chosen.push({ id, label: labelNames[i % 10] });
      await page.keyboard.press(digit);
      if (i < 19) id = await waitForItem(page, id);
    }
    const after20 = await waitForItem(page, id);

    // Undo: the 20th item comes back, marked as reopened with the earlier choice.
    await page.keyboard.press('Backspace');
    await page.waitForFunction((want) => document.body.dataset.item === want, chosen[19].id);
    await see(page.locator('#reopened'), chosen[19].label);
    expect((await see(page.locator('.label-btn.previous .label-name'), chosen[19].label)).trim()).toBe(chosen[19].label);
    await page.keyboard.press('3');
    expect(await waitForItem(page, chosen[19].id)).toBe(after20);
    await waitSaved(page);

    const rows = await humanRows(p.projectId);
    expect(rows.length).toBe(21);
    expect(new Set(rows.map((r) => r.itemId)).size).toBe(20);
    for (const c of chosen.slice(0, 19)) expect(rows.filter((r) => r.itemId === c.id).map((r) => r.label)).toEqual([c.label]);
    expect(rows.filter((r) => r.itemId === chosen[19].id).map((r) => r.label)).toEqual([chosen[19].label, labelNames[2]]);

    // The page keeps count: 21 decisions today, and the recent list shows the correction.
    expect((await see(page.locator('#stat-today'), '21')).trim()).toBe('21');
    await see(page.locator('#recent .recent-item').first(), `corrected from ${chosen[19].label}`);
  });

  it('mouse, skip, help and the label finder work too', async () => {
    const { page } = await open(`/ui/review?project=${p.projectId}`, p.keys.annotator);
    let id = await waitForItem(page);
    await page.keyboard.press('?');
    await visible(page.locator('#help'));
    await page.keyboard.press('Escape');
    await hidden(page.locator('#help'));

    await page.keyboard.press('x');
    const skipped = id;
    id = await waitForItem(page, id);
    await page.locator('#label-list button', { hasText: 'Sneaker' }).click();
    const clicked = id;
    id = await waitForItem(page, id);
    await page.keyboard.press('/');
    await page.keyboard.type('ankle');
    await page.keyboard.press('Enter');
    const typed = id;
    id = await waitForItem(page, id);
    await waitSaved(page);
    const rows = await humanRows(p.projectId);
    expect(rows.filter((r) => r.itemId === clicked).map((r) => r.label)).toEqual(['Sneaker']);
    expect(rows.filter((r) => r.itemId === typed).map((r) => r.label)).toEqual(['Ankle boot']);
    expect(rows.some((r) => r.itemId === skipped)).toBe(false);
  });

  it('a lost connection loses nothing and stores nothing twice', async () => {
    const { page, context } = await open(`/ui/review?project=${p.projectId}`, p.keys.annotator);
    let id = await waitForItem(page);
    const before = (await humanRows(p.projectId)).length;

    // 1. The server stores the decision but the answer is lost on the way back: the page retries, and the
    //    server answers the repeat without storing it again.
    let dropped = 0;
    await page.route('**/label', async (route) => {
      if (dropped < 2) {
        dropped++;
        await route.fetch(); // reaches the server and is stored
        await route.abort('connectionreset');
      } else await route.continue();
    });
    const lostAnswers: string[] = [];
    for (let i = 0; i < 2; i++) {
      lostAnswers.push(id);
      await page.keyboard.press('1');
      id = await waitForItem(page, id);
    }
    await waitSaved(page);
    await page.unroute('**/label');
    expect(dropped).toBe(2);

    // 2. Fully offline: decisions wait in the browser, the page says so, and they are sent on reconnect.
    await context.setOffline(true);
    const offline: string[] = [];
    for (let i = 0; i < 3; i++) {
      offline.push(id);
      await page.keyboard.press('2');
      id = await waitForItem(page, id);
    }
    await see(page.locator('#sync'), 'Offline');
    expect(await page.evaluate(() => document.body.dataset.pending)).toBe('3');
    await context.setOffline(false);
    await waitSaved(page);
    await see(page.locator('#sync'), 'All decisions saved');

    const rows = await humanRows(p.projectId);
    expect(rows.length).toBe(before + 5);
    for (const item of [...lostAnswers, ...offline]) expect(rows.filter((r) => r.itemId === item).length).toBe(1);
  });

  it('shows the model suggestion once a model exists; Enter accepts it, and a new version is announced', async () => {
    const { page } = await open(`/ui/review?project=${p.projectId}`, p.keys.annotator);
    await waitForItem(page);
    const t = await s.call('POST', `/api/projects/${p.projectId}/train`, { key: p.keys.engineer, body: {} });
    expect(t.status, t.text).toBe(202);
    expect((await waitForJob(s, t.body.jobId, p.keys.engineer)).status).toBe('succeeded');
    await waitForIdle(s, p.projectId);

    // The page notices the new version when the annotator comes back to the tab (or within 20 s).
    await page.evaluate(() => document.dispatchEvent(new Event('visibilitychange')));
    await see(page.locator('#banner'), 'Model v1 is live', 30_000);
    await see(page.locator('#stat-model'), 'v1');

    // A reload fetches items pre-labelled by v1.
    await page.reload();
    const id = await waitForItem(page);
    const suggested = (await page.locator('.prelabel-label').textContent())!;
    expect((await see(page.locator('.label-btn.suggested .label-name'), suggested)).trim()).toBe(suggested);
    await page.keyboard.press('Enter');
    await waitForItem(page, id);
    await waitSaved(page);
    const rows = (await humanRows(p.projectId)).filter((r) => r.itemId === id);
    expect(rows.map((r) => [r.label, r.agreedWithModel, r.modelVersion])).toEqual([[suggested, true, 1]]);
  });

  it('an expired lease taken by someone else is reported, not stored', async () => {
    const P = (
      await s.call('POST', '/api/projects', {
        body: { name: 'leases', modality: 'text', labels: ['great', 'other'], settings: { leaseSeconds: 5, retrainEvery: 0, goldFraction: 0 } },
      })
    ).body.id;
    const eng = (await s.call('POST', `/api/projects/${P}/keys`, { body: { role: 'engineer', name: 'e' } })).body.key;
    const a = (await s.call('POST', `/api/projects/${P}/keys`, { body: { role: 'annotator', name: 'ann a' } })).body;
    const b = (await s.call('POST', `/api/projects/${P}/keys`, { body: { role: 'annotator', name: 'ann b' } })).body.key;
    await s.call('POST', `/api/projects/${P}/items`, { key: eng, body: { items: [{ text: 'Lovely tea, will buy again.' }, { text: 'Arrived stale.' }] } });
    const { page } = await open(`/ui/review?project=${P}`, a.key);
    await waitForItem(page);
    await visible(page.locator('.item-text'));
    // Let A's lease run out (5 s), then B leases the same items.
    await page.waitForTimeout(6_000);
    const taken = await s.call('GET', `/api/projects/${P}/queue?limit=10`, { key: b });
    expect(taken.body.items.length).toBe(2);
    await page.keyboard.press('1');
    await see(page.locator('#toast'), 'another annotator has it now');
    await waitSaved(page);
    expect((await humanRows(P, a.id)).length).toBe(0);
  });

  it('says when the queue is empty, and why', async () => {
    const P = (
      await s.call('POST', '/api/projects', {
        body: { name: 'small', modality: 'text', labels: ['great', 'other'], settings: { retrainEvery: 0, goldFraction: 0 } },
      })
    ).body.id;
    const eng = (await s.call('POST', `/api/projects/${P}/keys`, { body: { role: 'engineer', name: 'e' } })).body.key;
    const ann = (await s.call('POST', `/api/projects/${P}/keys`, { body: { role: 'annotator', name: 'ann' } })).body.key;
    const { page } = await open(`/ui/review?project=${P}`, ann);
    await see(page.locator('#stage-empty'), 'Nothing to label yet');

    await s.call('POST', `/api/projects/${P}/items`, { key: eng, body: { items: [{ text: 'Great coffee.' }, { text: 'Too sweet for me.' }] } });
    await page.reload();
    let id = await waitForItem(page);
    await page.keyboard.press('1');
    id = await waitForItem(page, id);
    await page.keyboard.press('2');
    await see(page.locator('#stage-empty'), 'All caught up');
    await waitSaved(page);
    expect((await humanRows(P)).length).toBe(2);
  });

  it('a key without the annotator role is told so', async () => {
    for (const key of [p.keys.engineer, p.keys.client]) {
      const { page } = await open(`/ui/review?project=${p.projectId}`, key);
      await see(page.locator('#notice'), 'This key cannot review items');
      expect(await page.locator('#workspace').isHidden()).toBe(true);
    }
  });

  it('shows a photo through key-authenticated blob URLs: thumbnail first, then the preview, aspect ratio kept; z zooms to the original', async () => {
    const P = (
      await s.call('POST', '/api/projects', {
        body: {
          name: 'photos',
          modality: 'image',
          labels: ['wide', 'tall'],
          settings: { retrainEvery: 0, goldFraction: 0, imageWidth: 32, imageHeight: 32, channels: 3 },
        },
      })
    ).body.id;
    const ann = (await s.call('POST', `/api/projects/${P}/keys`, { body: { role: 'annotator', name: 'ann' } })).body.key;
    const photo = await sharp({ create: { width: 2400, height: 1200, channels: 3, background: '#000', noise: { type: 'gaussian', mean: 120, sigma: 40 } } })
      .jpeg()
      .toBuffer();
    expect((await s.call('POST', `/api/projects/${P}/items`, { body: { items: [{ externalId: 'wide', image: photo.toString('base64') }] } })).status).toBe(202);
    const { page } = await open(`/ui/review?project=${P}`, ann);
    await waitForItem(page);
    const img = page.locator('#item-view img');
    await page.waitForFunction(() => document.querySelector<HTMLImageElement>('#item-view img')?.dataset.stage === 'preview');
    const shown = await img.evaluate((el: HTMLImageElement) => ({ src: el.src, w: el.naturalWidth, h: el.naturalHeight, box: el.getBoundingClientRect() }));
    expect(shown.src.startsWith('blob:')).toBe(true);
    expect([shown.w, shown.h]).toEqual([1024, 512]);
    expect(Math.round((shown.box.width / shown.box.height) * 100) / 100).toBe(2);
    await page.keyboard.press('z');
    await page.waitForFunction(() => document.querySelector<HTMLImageElement>('#item-view img')?.dataset.stage === 'original');
    expect(await img.evaluate((el: HTMLImageElement) => [el.naturalWidth, el.naturalHeight])).toEqual([2400, 1200]);
    expect(await page.locator('.media-frame.zoomed').count()).toBe(1);
    await page.keyboard.press('z');
    await page.waitForFunction(() => document.querySelector<HTMLImageElement>('#item-view img')?.dataset.stage === 'preview');
    expect(await page.locator('.media-frame.zoomed').count()).toBe(0);
    // The thumbnail came first: the page asked for it before the preview.
    const asked = (await page.evaluate(() => performance.getEntriesByType('resource').map((e) => e.name))).filter((n) => n.includes('/media?size='));
    expect(asked.findIndex((n) => n.endsWith('size=thumb'))).toBeLessThan(asked.findIndex((n) => n.endsWith('size=preview')));
    await page.keyboard.press('1');
    await waitSaved(page);
    expect((await humanRows(P)).map((r) => r.label)).toEqual(['wide']);
  });
});
