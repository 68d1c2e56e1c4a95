import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { speechEngineAvailable } from '../../models/speech/native.ts';
import { startTestServer, waitForIdle, type TestServer } from '../helpers.ts';
import {
  type AudioProject,
  createAudioProject,
  createImageProject,
  hasChromium,
  type ImageProject,
  labelWithTruth,
  launchBrowser,
  type OpenedPage,
  openPage,
  see,
  transcribeOne,
  visible,
} from './browser.ts';

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

describe.skipIf(!hasChromium)('the dashboard in Chromium', () => {
  let s: TestServer;
  let browser: Browser;
  let p: ImageProject;
  const opened: OpenedPage[] = [];
  const open = async (path: string, key: string) => {
    const o = await openPage(browser, s.url, path, key);
    opened.push(o);
    return o;
  };

  beforeAll(async () => {
    s = await startTestServer();
    browser = await launchBrowser();
    p = await createImageProject(s, { name: 'Dashboard e2e', pool: 200, gold: 50 });
    await waitForIdle(s, p.projectId);
    await labelWithTruth(s, p, 40);
  });
  afterAll(async () => {
    for (const o of opened) expect(o.problems, 'script errors or CSP violations').toEqual([]);
    await browser?.close();
    await s?.stop();
  });

  it('serves the pages with a strict CSP, and uPlot from this server', async () => {
    const page = await s.call('GET', '/ui/dashboard', { key: null });
    expect(page.status).toBe(200);
    const csp = page.headers.get('content-security-policy')!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(page.text).not.toMatch(/https?:\/\//);
    const vendor = await s.call('GET', '/ui/vendor/uplot.iife.min.js', { key: null });
    expect(vendor.status).toBe(200);
    expect(vendor.text).toContain('uPlot');
    expect((await s.call('GET', '/ui/vendor/uPlot.min.css', { key: null })).status).toBe(200);
    const root = await fetch(`${s.url}/`, { redirect: 'manual' });
    expect(root.status).toBe(302);
    expect(root.headers.get('location')).toBe('/ui');
    expect((await s.call('GET', '/ui', { key: null })).text).toContain('/ui/review');
  });

  it('an engineer retrains from the dashboard and sees the new accuracy', async () => {
    const { page } = await open(`/ui/dashboard?project=${p.projectId}`, p.keys.engineer);
    await see(page.locator('#chart-accuracy-empty'), 'No model version yet');
    await see(page.locator('#kpi-pending'), '160');
    await page.locator('#retrain').click();
    // The job appears with its progress, then the dashboard switches to the new version by itself.
    await visible(page.locator('#jobs tr[data-status] progress'));
    await page.waitForFunction(() => document.body.dataset.model === '1', undefined, { timeout: 180_000 });

    const metrics = (await s.call('GET', `/api/projects/${p.projectId}/metrics`, { key: p.keys.client })).body;
    expect(metrics.modelVersion).toBe(1);
    expect((await see(page.locator('#kpi-accuracy'), pct(metrics.gold.accuracy))).trim()).toBe(pct(metrics.gold.accuracy));
    await see(page.locator('#kpi-human'), '40');
    // The plots are drawn by uPlot on canvas; the heat map and per-class table cover every label.
    await visible(page.locator('#chart-accuracy .uplot canvas'));
    await visible(page.locator('#chart-calibration .uplot canvas'));
    expect(await page.locator('#confusion td.cell').count()).toBe(100);
    const cellSum = await page.locator('#confusion td.cell').evaluateAll((tds) => tds.reduce((a, td) => a + Number(td.textContent || 0), 0));
    expect(cellSum).toBe(50);
    expect(await page.locator('#per-class tbody tr').count()).toBe(10);
    // The confusion report names the worst class pairs in words, as the API reports them.
    expect(metrics.confusedPairs.length).toBeGreaterThan(0);
    expect(await page.locator('#confused-pairs li').allTextContents()).toEqual(metrics.confusedPairs.map((c: any) => c.text));
    await see(page.locator('#kpi-auto-sub'), 'auto-labelling is off');
    await see(page.locator('#jobs tr[data-status="succeeded"]'), 'v1');
    await see(page.locator('#versions tr.is-active'), 'serving');
  });

  it('an engineer rolls back and forward between versions', async () => {
    await labelWithTruth(s, p, 20);
    const { page } = await open(`/ui/dashboard?project=${p.projectId}`, p.keys.engineer);
    await page.waitForFunction(() => document.body.dataset.model === '1');
    await page.locator('#retrain').click();
    await page.waitForFunction(() => document.body.dataset.model === '2', undefined, { timeout: 180_000 });
    // Two points on the accuracy curve now; roll back to v1 (two clicks: the first asks to confirm).
    const v1 = page.locator('#versions button[data-version="1"]');
    await v1.click();
    await see(v1, 'Roll back to v1?');
    await v1.click();
    await page.waitForFunction(() => document.body.dataset.model === '1');
    expect((await s.call('GET', `/api/projects/${p.projectId}/models`, { key: p.keys.engineer })).body.active).toBe(1);
    await page.locator('#versions button[data-version="2"]').click();
    await page.locator('#versions button[data-version="2"]').click();
    await page.waitForFunction(() => document.body.dataset.model === '2');
    await waitForIdle(s, p.projectId);
  });

  it('a client sees the metrics but no engineer controls', async () => {
    const { page } = await open(`/ui/dashboard?project=${p.projectId}`, p.keys.client);
    await page.waitForFunction(() => !!document.body.dataset.model);
    const metrics = (await s.call('GET', `/api/projects/${p.projectId}/metrics`, { key: p.keys.client })).body;
    await see(page.locator('#kpi-accuracy'), pct(metrics.gold.accuracy));
    await visible(page.locator('#chart-accuracy .uplot canvas'));
    expect(await page.locator('#retrain').count()).toBe(0);
    expect(await page.locator('#versions button').count()).toBe(0);
    expect(await page.locator('#jobs-card').isHidden()).toBe(true);
    await see(page.locator('#versions'), 'serving');
  });

  it('an annotator key cannot open the engineer controls', async () => {
    const { page } = await open(`/ui/dashboard?project=${p.projectId}`, p.keys.annotator);
    await see(page.locator('#notice'), 'This key cannot open the dashboard');
    expect(await page.locator('#board').isHidden()).toBe(true);
    expect(await page.locator('#retrain').count()).toBe(0);
    expect(await page.locator('#versions button').count()).toBe(0);
    // And the API refuses the controls whatever the page shows.
    expect((await s.call('POST', `/api/projects/${p.projectId}/train`, { key: p.keys.annotator, body: {} })).status).toBe(403);
    expect((await s.call('POST', `/api/projects/${p.projectId}/models/1/activate`, { key: p.keys.annotator, body: {} })).status).toBe(403);
    expect((await s.call('GET', `/api/projects/${p.projectId}/jobs`, { key: p.keys.annotator })).status).toBe(403);
  });
});

// A server without the speech engine refuses to create transcription projects (503 speech_engine_unavailable).
describe.skipIf(!hasChromium || !speechEngineAvailable())('the dashboard of an audio transcription project in Chromium', () => {
  let s: TestServer;
  let browser: Browser;
  let p: AudioProject;
  const opened: OpenedPage[] = [];
  const open = async (key: string) => {
    const o = await openPage(browser, s.url, `/ui/dashboard?project=${p.projectId}`, key);
    opened.push(o);
    await o.page.waitForFunction(() => document.body.dataset.task === 'transcription' && !!document.body.dataset.model);
    return o;
  };

  beforeAll(async () => {
    s = await startTestServer({ FURROW_SPEECH_WORKERS: '2' });
    browser = await launchBrowser();
    p = await createAudioProject(s, { name: 'Audio dashboard e2e', pool: 3, gold: 1, settings: { minLabelsToTrain: 2 } });
    await waitForIdle(s, p.projectId);
    await transcribeOne(s, p, 'hello world');
    await transcribeOne(s, p, 'good morning');
    // A retrain: version 2 is activated only if its gold WER is lower than version 1's, else kept back.
    const train = await s.call('POST', `/api/projects/${p.projectId}/train`, { key: p.keys.engineer, body: {} });
    expect(train.status, train.text).toBe(202);
    await waitForIdle(s, p.projectId);
  });
  afterAll(async () => {
    for (const o of opened) {
      expect(o.problems, 'script errors or CSP violations').toEqual([]);
      expect(o.consoleErrors, 'console errors').toEqual([]);
    }
    await browser?.close();
    await s?.stop();
  });

  it('shows gold WER and CER, the WER curve with kept-back versions, label counts and the auto-accept plan; no class panels', async () => {
    const { page } = await open(p.keys.client);
    const metrics = (await s.call('GET', `/api/projects/${p.projectId}/metrics`, { key: p.keys.client })).body;
    expect(metrics.gold.n).toBe(1);
    expect(metrics.history.map((x: any) => x.version)).toEqual([1, 2]);
    await see(page.locator('#kpi-accuracy-label'), 'Gold WER');
    await see(page.locator('#kpi-accuracy'), pct(metrics.gold.wer));
    await see(page.locator('#kpi-ece-label'), 'Gold CER');
    await see(page.locator('#kpi-ece'), pct(metrics.gold.cer));
    await see(page.locator('#kpi-human'), '2');
    await see(page.locator('#kpi-pending'), String(metrics.labels.pending));
    await see(page.locator('#kpi-auto-sub'), 'auto-accept is off');
    await see(page.locator('#acc-title'), 'Word error rate');
    await visible(page.locator('#chart-accuracy .uplot canvas'));
    expect(await page.locator('#legend-kept').isVisible()).toBe(true);
    await see(page.locator('#auto-accept'), `${Math.round(metrics.autoAccept.target * 100)}%`);
    for (const id of ['calibration-card', 'confusion-card', 'per-class-card']) expect(await page.locator(`#${id}`).isHidden(), id).toBe(true);
    // Each version says whether its retrain activated it or kept it back, as the metrics do.
    for (const v of metrics.history) await see(page.locator(`#versions tr[data-version="${v.version}"]`), v.activated ? 'activated' : 'kept back');
    expect(await page.locator('#versions button').count()).toBe(0);
  });

  it('an engineer activates the other version, rolls back, and retrains: a version no better is kept back', async () => {
    const { page } = await open(p.keys.engineer);
    const before = Number(await page.evaluate(() => document.body.dataset.model));
    const other = before === 1 ? 2 : 1;
    const button = page.locator(`#versions button[data-version="${other}"]`);
    await button.click();
    await button.click();
    await page.waitForFunction((v) => document.body.dataset.model === String(v), other);
    expect((await s.call('GET', `/api/projects/${p.projectId}/models`, { key: p.keys.engineer })).body.active).toBe(other);
    const back = page.locator(`#versions button[data-version="${before}"]`);
    await back.click();
    await back.click();
    await page.waitForFunction((v) => document.body.dataset.model === String(v), before);
    await waitForIdle(s, p.projectId);
    // A retrain on the same transcripts is no better on the gold clip (a tone: nothing to hear): kept back, and said so.
    await page.locator('#retrain').click();
    await see(page.locator('#action-msg'), 'v3 was kept back', 120_000);
    await see(page.locator('#versions tr[data-version="3"]'), 'kept back');
    expect(await page.evaluate(() => document.body.dataset.model)).toBe(String(before));
  });
});
