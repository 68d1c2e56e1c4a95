import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, waitForIdle, type TestServer } from '../helpers.ts';
import { hasChromium, hidden, launchBrowser, openPage, see, visible, type OpenedPage } from './browser.ts';

/** A 16 kHz mono 16-bit WAV of a tone whose loudness swells and fades, so that its waveform has a shape. */
function toneWav(seconds: number, hz: number): Buffer {
  const rate = 16_000;
  const n = Math.round(seconds * rate);
  const buf = Buffer.alloc(44 + n * 2);
  buf.write('RIFF', 0, 'ascii');
  buf.writeUInt32LE(36 + n * 2, 4);
  buf.write('WAVEfmt ', 8, 'ascii');
  buf.writeUInt32LE(16, 16); // fmt chunk size
  buf.writeUInt16LE(1, 20); // PCM
  buf.writeUInt16LE(1, 22); // mono
  buf.writeUInt32LE(rate, 24);
  buf.writeUInt32LE(rate * 2, 28); // bytes per second
  buf.writeUInt16LE(2, 32); // bytes per frame
  buf.writeUInt16LE(16, 34); // bits per sample
  buf.write('data', 36, 'ascii');
  buf.writeUInt32LE(n * 2, 40);
  for (let i = 0; i < n; i++) {
    const envelope = 0.25 + 0.75 * Math.abs(Math.sin((Math.PI * i) / (n / 2)));
    buf.writeInt16LE(Math.round(Math.sin((2 * Math.PI * hz * i) / rate) * 14_000 * envelope), 44 + i * 2);
  }
  return buf;
}

interface Word {
  word: string;
  start: number;
  end: number;
  confidence: number;
}
interface Draft {
  text: string;
  confidence: number;
  words: Word[];
  modelVersion: number;
}

/**
 * The draft the test gives a clip the server served without one (no speech engine installed here): two words
 * under the page's 0.5 threshold, so that highlighting and jumping are checked whether or not a recogniser ran.
 */
const STAND_IN_DRAFT: Draft = {
  text: 'please hold the line',
  confidence: 0.55,
  modelVersion: 1,
  words: [
    { word: 'please', start: 0.1, end: 0.45, confidence: 0.92 },
    { word: 'hold', start: 0.45, end: 0.8, confidence: 0.31 },
    { word: 'the', start: 0.8, end: 0.95, confidence: 0.66 },
    { word: 'line', start: 0.95, end: 1.4, confidence: 0.42 },
  ],
};

const LOW = 0.5;
const shownItem = (page: Page) => page.evaluate(() => document.body.dataset.item ?? '');

async function waitForItem(page: Page, notId?: string): Promise<string> {
  await page.waitForFunction((prev) => !!document.body.dataset.item && document.body.dataset.item !== prev, notId ?? '');
  return shownItem(page);
}

const waitSaved = (page: Page) => page.waitForFunction(() => document.body.dataset.pending === '0');
const boxValue = (page: Page) => page.locator('#transcript').inputValue();
const selectedText = (page: Page) =>
  page.evaluate(() => {
    const box = document.getElementById('transcript') as HTMLTextAreaElement;
    return document.activeElement === box ? box.value.slice(box.selectionStart, box.selectionEnd) : null;
  });
const audioTime = (page: Page) => page.evaluate(() => (document.getElementById('audio') as HTMLAudioElement).currentTime);

describe.skipIf(!hasChromium)('the transcription page in Chromium', () => {
  let s: TestServer;
  let browser: Browser;
  let projectId: string;
  const keys = { engineer: '', annotator: '' };
  const opened: OpenedPage[] = [];
  /** Every draft the page was served, by item id (the server's, or the stand-in where it had none). */
  const drafts = new Map<string, Draft>();

  /** The page with its queue answers recorded, and a stand-in draft for clips served without one. */
  const open = async (key = keys.annotator) => {
    const o = await openPage(browser, s.url, `/ui/transcribe?project=${projectId}`, key);
    opened.push(o);
    await o.page.route('**/queue?*', async (route) => {
      const res = await route.fetch();
      const body = await res.json();
      for (const item of body.items ?? []) {
        item.prediction ??= STAND_IN_DRAFT;
        drafts.set(item.id, item.prediction);
      }
      await route.fulfill({ response: res, json: body });
    });
    // The first load (before the route) leased clips; the reload gets the same leases back through the route.
    await o.page.reload();
    return o;
  };
  const storedTranscripts = async (itemId: string): Promise<string[]> => {
    const r = await s.call('GET', `/api/projects/${projectId}/items/${itemId}`, { key: keys.engineer });
    expect(r.status, r.text).toBe(200);
    return (r.body.labels as { transcript?: string; source?: string }[])
      .filter((l) => l.source === undefined || l.source === 'human')
      .map((l) => l.transcript ?? '');
  };

  beforeAll(async () => {
    s = await startTestServer();
    browser = await launchBrowser();
    const project = await s.call('POST', '/api/projects', {
      body: {
        name: 'Transcription e2e',
        modality: 'audio',
        task: 'transcription',
        settings: { retrainEvery: 0, goldFraction: 0, quality: { goldCheckShare: 0 } },
      },
    });
    expect(project.status, project.text).toBe(201);
    projectId = project.body.id;
    for (const role of ['engineer', 'annotator'] as const) {
      const r = await s.call('POST', `/api/projects/${projectId}/keys`, { body: { role, name: `${role} one` } });
      expect(r.status, r.text).toBe(201);
      keys[role] = r.body.key;
    }
    const items = [220, 330, 440, 550, 660, 770].map((hz, i) => ({ externalId: `tone-${hz}`, audio: toneWav(1.5 + i * 0.25, hz).toString('base64') }));
    const r = await s.call('POST', `/api/projects/${projectId}/items`, { key: keys.engineer, body: { items } });
    expect(r.status, r.text).toBe(202);
    expect(r.body.accepted).toBe(items.length);
    await waitForIdle(s, projectId);
  });
  afterAll(async () => {
    for (const o of opened) expect(o.problems, 'script errors or CSP violations').toEqual([]);
    await browser?.close();
    await s?.stop();
  });

  it('draws the waveform, highlights the low-confidence words, and plays, seeks and jumps to them from the keyboard', async () => {
    const { page } = await open();
    const id = await waitForItem(page);
    expect(page.url()).not.toContain('#key=');
    await page.waitForFunction((want) => document.getElementById('wave')?.dataset.drawn === want, id);

    // The waveform: painted from the decoded samples across the whole width (the tone lasts the whole clip).
    const painted = await page.evaluate(() => {
      const c = document.getElementById('wave') as HTMLCanvasElement;
      const px = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
      const columns = new Set<number>();
      for (let i = 0; i < px.length; i += 4) if (px[i + 3] > 0) columns.add((i / 4) % c.width);
      return { share: columns.size / c.width, width: c.width };
    });
    expect(painted.width).toBeGreaterThan(300);
    expect(painted.share).toBeGreaterThan(0.95);
    expect(await page.evaluate(() => (document.getElementById('audio') as HTMLAudioElement).src.startsWith('blob:'))).toBe(true);

    // The draft in the box, its words in the strip, the unsure ones highlighted.
    const draft = drafts.get(id)!;
    expect(await boxValue(page)).toBe(draft.text);
    await see(page.locator('#draft'), `Model v${draft.modelVersion} draft`);
    await see(page.locator('#draft'), `${Math.round(draft.confidence * 100)}% confident`);
    await see(page.locator('.word-legend'), 'below 50% confident');
    expect(await page.locator('#words .word').allTextContents()).toEqual(draft.words.map((w) => w.word));
    const lows = draft.words.filter((w) => w.confidence < LOW);
    expect(await page.locator('#words .word.conf-low').allTextContents()).toEqual(lows.map((w) => w.word));

    // Alt+N from the box selects the next unsure word and moves the audio to it; Alt+P goes back.
    await page.keyboard.press('e');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('transcript');
    await page.keyboard.press('Alt+n');
    if (lows.length === 0) await see(page.locator('#toast'), 'No low-confidence words');
    else {
      expect((await selectedText(page))?.toLowerCase()).toBe(lows[0].word.toLowerCase());
      const t = await audioTime(page);
      expect(t).toBeGreaterThanOrEqual(lows[0].start - 0.05);
      expect(t).toBeLessThan(lows[0].end + 0.6);
      await page.keyboard.press('Alt+n');
      const second = lows[1] ?? lows[0];
      expect((await selectedText(page))?.toLowerCase()).toBe(second.word.toLowerCase());
      expect(await audioTime(page)).toBeGreaterThanOrEqual(second.start - 0.05);
      await page.keyboard.press('Alt+p');
      expect((await selectedText(page))?.toLowerCase()).toBe((lows.length > 1 ? lows[0] : second).word.toLowerCase());
      expect(await page.locator('#words .word.is-current').count()).toBe(1);
    }

    // Enter alone adds nothing: a transcript is one line.
    const before = await boxValue(page);
    await page.keyboard.press('End');
    await page.keyboard.press('Enter');
    expect(await boxValue(page)).toBe(before);

    // Ctrl+Space plays (the playhead moves) and pauses, from the box; Alt+S slows down and back.
    await page.waitForFunction(() => document.body.dataset.playing === 'false'); // a jumped-to word plays alone, then stops
    await page.keyboard.press('Control+Space');
    await page.waitForFunction(() => (document.getElementById('audio') as HTMLAudioElement).currentTime > 0.3 && document.body.dataset.playing === 'true');
    await page.keyboard.press('Control+Space');
    await page.waitForFunction(() => document.body.dataset.playing === 'false');
    await page.keyboard.press('Alt+s');
    expect(await page.evaluate(() => (document.getElementById('audio') as HTMLAudioElement).playbackRate)).toBe(0.75);
    expect(await page.locator('#rate').getAttribute('aria-pressed')).toBe('true');
    await page.keyboard.press('Alt+s');
    expect(await page.evaluate(() => (document.getElementById('audio') as HTMLAudioElement).playbackRate)).toBe(1);
    // Alt+R replays from the start.
    await page.keyboard.press('Alt+r');
    await page.waitForFunction(() => document.body.dataset.playing === 'true');
    expect(await audioTime(page)).toBeLessThan(1);
    await page.keyboard.press('Control+Space');
    await page.waitForFunction(() => document.body.dataset.playing === 'false');
    // Still typing in the box: the chords did not move the focus.
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('transcript');

    // A click on the waveform seeks there.
    const wave = page.locator('#wave');
    const box = (await wave.boundingBox())!;
    await page.mouse.click(box.x + box.width * 0.75, box.y + box.height / 2);
    const duration = await page.evaluate(() => (document.getElementById('audio') as HTMLAudioElement).duration);
    expect(Math.abs((await audioTime(page)) - duration * 0.75)).toBeLessThan(0.1);

    // Help lists the keys.
    await page.keyboard.press('?');
    await visible(page.locator('#help'));
    await see(page.locator('#help'), 'Replay the last 3 seconds');
    await page.keyboard.press('Escape');
    await hidden(page.locator('#help'));
  });

  it('submits the edited transcript with Ctrl+Enter, stores it once, and undo reopens the clip for a correction', async () => {
    const { page } = await open();
    const id = await waitForItem(page);
    await page.keyboard.press('e');
    await page.keyboard.press('Control+a');
    await page.keyboard.type('hello from the test');
    await page.keyboard.press('Control+Enter');
    const next = await waitForItem(page, id);
    // The focus stays in the box, on the next clip's draft.
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('transcript');
    await waitSaved(page);
    expect(await storedTranscripts(id)).toEqual(['hello from the test']);
    await see(page.locator('#recent .recent-item').first(), 'hello from the test');
    await see(page.locator('#stat-session'), '1 transcribed');

    // Undo: Esc leaves the box, Ctrl+Z brings the clip back with what was submitted.
    await page.keyboard.press('Escape');
    await page.keyboard.press('Control+z');
    await page.waitForFunction((want) => document.body.dataset.item === want, id);
    await see(page.locator('#reopened'), 'hello from the test');
    expect(await boxValue(page)).toBe('hello from the test');
    // Submitted unchanged: nothing new is stored.
    await page.keyboard.press('Control+Enter');
    expect(await waitForItem(page, id)).toBe(next);
    await page.locator('#undo').click();
    await page.waitForFunction((want) => document.body.dataset.item === want, id);
    await page.keyboard.press('End');
    await page.keyboard.type(' again');
    await page.keyboard.press('Control+Enter');
    expect(await waitForItem(page, id)).toBe(next);
    await waitSaved(page);
    expect(await storedTranscripts(id)).toEqual(['hello from the test', 'hello from the test again']);
    await see(page.locator('#recent .recent-item').first(), 'corrected');
    await see(page.locator('#stat-session'), '1 corrected');
  });

  it('a transcript with digits is refused: the server’s message shows and the text stays', async () => {
    const { page } = await open();
    const id = await waitForItem(page);
    await page.keyboard.press('e');
    await page.keyboard.press('Control+a');
    await page.keyboard.type('call 911 now');
    await page.keyboard.press('Control+Enter');
    // The page moved on at once, then the refusal brought the clip back with the text and the message.
    await page.waitForFunction((want) => document.body.dataset.item === want && !document.getElementById('transcript-error')?.hidden, id);
    const message = (await page.locator('#transcript-error').textContent())!.trim();
    expect(message.length).toBeGreaterThan(10);
    expect(await boxValue(page)).toBe('call 911 now');
    expect(await page.locator('#transcript').getAttribute('aria-invalid')).toBe('true');
    await waitSaved(page);
    expect(await storedTranscripts(id)).toEqual([]);
    // The same request over the API answers 400 with the error shape, and the page showed its message.
    const direct = await s.call('POST', `/api/projects/${projectId}/items/${id}/label`, { key: keys.annotator, body: { transcript: 'call 911 now' } });
    expect(direct.status, direct.text).toBe(400);
    expect(direct.body.error.message).toBe(message);

    // Fixed and sent again, it is stored.
    await page.locator('#transcript').fill('call nine one one now');
    await page.keyboard.press('Control+Enter');
    await waitForItem(page, id);
    await waitSaved(page);
    expect(await storedTranscripts(id)).toEqual(['call nine one one now']);
  });

  it('the review page sends an audio project here; a key without the annotator role is told so', async () => {
    const o = await openPage(browser, s.url, `/ui/review?project=${projectId}`, keys.annotator);
    opened.push(o);
    await o.page.waitForURL(/\/ui\/transcribe\?project=/);
    await waitForItem(o.page);
    const eng = await openPage(browser, s.url, `/ui/transcribe?project=${projectId}`, keys.engineer);
    opened.push(eng);
    await see(eng.page.locator('#notice'), 'This key cannot transcribe clips');
    expect(await eng.page.locator('#workspace').isHidden()).toBe(true);
  });
});
