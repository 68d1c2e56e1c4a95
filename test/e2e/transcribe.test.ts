import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { and, asc, eq } from 'drizzle-orm';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labels } from '../../db/schema.ts';
import { speechEngineAvailable } from '../../models/speech/native.ts';
import { synthesizeClip } from '../../pipelines/speech/synthesize.ts';
import { startTestServer, waitForIdle, type TestServer } from '../helpers.ts';
import { hasChromium, hidden, launchBrowser, openPage, see, toneWav, visible, type OpenedPage } from './browser.ts';

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
  error?: string;
}

/**
 * A draft with two words under the page's 0.5 threshold, put in place of the server's by the test of
 * highlighting and jumping, so that it checks the same thing whatever the recogniser made of the test's clips
 * (tones come back with no words; a clip it gave up on, with no draft at all).
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

// A server without the speech engine refuses to create transcription projects (503 speech_unavailable).
describe.skipIf(!hasChromium || !speechEngineAvailable())('the transcription page in Chromium', () => {
  let s: TestServer;
  let browser: Browser;
  let projectId: string;
  const keys = { engineer: '', annotator: '' };
  const opened: OpenedPage[] = [];
  let clipCount = 0;
  /** Whether flite spoke a clip for the test (it adds one with real words; without flite, tones only). */
  let spoken = false;
  /** Every draft the page was served, by item id (null: the clip came without one). */
  const drafts = new Map<string, Draft | null>();

  /** The page with its queue answers recorded; with `standIn`, every clip's draft replaced by that one. */
  const open = async ({ key = keys.annotator, standIn = undefined as Draft | undefined } = {}) => {
    const o = await openPage(browser, s.url, `/ui/transcribe?project=${projectId}`, key);
    opened.push(o);
    await o.page.route('**/queue?*', async (route) => {
      const res = await route.fetch();
      const body = await res.json();
      for (const item of body.items ?? []) {
        if (standIn) item.prediction = standIn;
        drafts.set(item.id, item.prediction);
      }
      await route.fulfill({ response: res, json: body });
    });
    // The first load (before the route) leased clips; the reload gets the same leases back through the route.
    await o.page.reload();
    return o;
  };
  /** The transcripts people stored for an item, oldest first (normalised by the server: lower case, no punctuation). */
  const storedTranscripts = async (itemId: string): Promise<string[]> =>
    (
      await s.ctx.db
        .select()
        .from(labels)
        .where(and(eq(labels.itemId, itemId), eq(labels.source, 'human')))
        .orderBy(asc(labels.id))
    ).map((r) => r.label);

  beforeAll(async () => {
    s = await startTestServer({ FURROW_SPEECH_WORKERS: '2' });
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
    // A spoken clip too, where flite is installed, so that a draft with real words and confidences is shown.
    const dir = await mkdtemp(join(tmpdir(), 'furrow-transcribe-e2e-'));
    try {
      const clip = join(dir, 'spoken.wav');
      await synthesizeClip({ text: 'please send four boxes of kohlrabi on monday', voice: 'flite:slt', outPath: clip });
      items.push({ externalId: 'spoken', audio: (await readFile(clip)).toString('base64') });
      spoken = true;
    } catch {
      // No flite or sox here: the tones alone.
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    clipCount = items.length;
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

  it('shows each clip as the server serves it, least confident first: the waveform from the WAV, the draft (or none) in the box and the word strip', async () => {
    const { page } = await open();
    expect(page.url()).not.toContain('#key=');
    let id = '';
    const shown: (Draft | null)[] = [];
    for (let i = 0; i < clipCount; i++) {
      id = await waitForItem(page, id);
      await page.waitForFunction((want) => document.getElementById('wave')?.dataset.drawn === want, id);
      // The waveform: painted from the decoded samples across the whole width (every clip has sound throughout).
      const painted = await page.evaluate(() => {
        const c = document.getElementById('wave') as HTMLCanvasElement;
        const px = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
        const columns = new Set<number>();
        for (let i = 0; i < px.length; i += 4) if (px[i + 3] > 0) columns.add((i / 4) % c.width);
        return { share: columns.size / c.width, width: c.width };
      });
      expect(painted.width).toBeGreaterThan(300);
      expect(painted.share).toBeGreaterThan(0.95);
      // Played from a blob: URL fetched with the key (the CSP allows media from blob: and nothing else outside).
      expect(await page.evaluate(() => (document.getElementById('audio') as HTMLAudioElement).src.startsWith('blob:'))).toBe(true);

      const draft = drafts.get(id)!;
      shown.push(draft);
      if (draft) {
        expect(await boxValue(page)).toBe(draft.text);
        await see(page.locator('#draft'), `Model v${draft.modelVersion} draft`);
        await see(page.locator('#draft'), `${Math.round(draft.confidence * 100)}% confident`);
        if (draft.words.length) {
          expect(await page.locator('#words .word').allTextContents()).toEqual(draft.words.map((w) => w.word));
          const lows = draft.words.filter((w) => w.confidence < LOW).map((w) => w.word);
          expect(await page.locator('#words .word.conf-low').allTextContents()).toEqual(lows);
        } else await see(page.locator('#words'), 'The model heard no words');
      } else {
        await see(page.locator('#draft'), 'No draft');
        expect(await boxValue(page)).toBe('');
        await see(page.locator('#words'), 'No draft yet');
        await page.keyboard.press('n');
        await see(page.locator('#toast'), 'No draft for this clip');
      }
      await page.keyboard.press('x');
    }
    await see(page.locator('#stage-empty'), 'Only skipped clips are left');
    const confidences = shown.map((d) => d?.confidence ?? 0);
    expect(confidences).toEqual([...confidences].sort((a, b) => a - b));
    // The spoken clip came with words (and their confidences) to check.
    if (spoken) expect(shown.some((d) => d && d.words.length > 0)).toBe(true);
  });

  it('highlights the low-confidence words and jumps to them from the keyboard; plays, pauses, replays, slows down and seeks', async () => {
    const { page } = await open({ standIn: STAND_IN_DRAFT });
    const id = await waitForItem(page);
    await page.waitForFunction((want) => document.getElementById('wave')?.dataset.drawn === want, id);
    const draft = STAND_IN_DRAFT;
    expect(await boxValue(page)).toBe(draft.text);
    await see(page.locator('.word-legend'), 'below 50% confident');
    expect(await page.locator('#words .word').allTextContents()).toEqual(['please', 'hold', 'the', 'line']);
    expect(await page.locator('#words .word.conf-low').allTextContents()).toEqual(['hold', 'line']);
    expect(await page.locator('#words .word.conf-mid').allTextContents()).toEqual(['the']);

    // Alt+N from the box selects the next unsure word and moves the audio to it; Alt+P goes back; both wrap.
    await page.keyboard.press('e');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('transcript');
    await page.keyboard.press('Alt+n');
    expect(await selectedText(page)).toBe('hold');
    const t = await audioTime(page);
    expect(t).toBeGreaterThanOrEqual(0.45 - 0.01);
    expect(t).toBeLessThan(0.8 + 0.4);
    await page.keyboard.press('Alt+n');
    expect(await selectedText(page)).toBe('line');
    expect(await audioTime(page)).toBeGreaterThanOrEqual(0.95 - 0.01);
    await page.keyboard.press('Alt+n');
    expect(await selectedText(page)).toBe('hold');
    await page.keyboard.press('Alt+p');
    expect(await selectedText(page)).toBe('line');
    expect(await page.locator('#words .word.is-current').allTextContents()).toEqual(['line']);
    // After an edit, the word is found where it now is.
    await page.keyboard.type('lane');
    await page.keyboard.press('Home');
    await page.keyboard.type('oh ');
    await page.keyboard.press('Alt+p');
    expect(await selectedText(page)).toBe('hold');
    expect(await boxValue(page)).toBe('oh please hold the lane');
    // A click on a word in the strip selects it too.
    await page.locator('#words .word', { hasText: 'please' }).click();
    expect(await selectedText(page)).toBe('please');

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
    await page.keyboard.type('Hello, from the test!');
    await page.keyboard.press('Control+Enter');
    const next = await waitForItem(page, id);
    // The focus stays in the box, on the next clip's draft.
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('transcript');
    await waitSaved(page);
    expect(await storedTranscripts(id)).toEqual(['hello from the test']);
    // The recent list shows it as stored: normalised by the server (lower case, no punctuation).
    await see(page.locator('#recent .recent-item').first(), 'hello from the test');
    await see(page.locator('#stat-session'), '1 transcribed');

    // Undo: Esc leaves the box, Ctrl+Z brings the clip back with what was submitted.
    await page.keyboard.press('Escape');
    await page.keyboard.press('Control+z');
    await page.waitForFunction((want) => document.body.dataset.item === want, id);
    await see(page.locator('#reopened'), 'Hello, from the test!');
    expect(await boxValue(page)).toBe('Hello, from the test!');
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

  it('a clip the recogniser gave up on says why, and is typed from scratch', async () => {
    const error = 'The recogniser stopped responding on this clip twice.';
    const { page } = await open({ standIn: { text: '', confidence: 0, words: [], modelVersion: 1, error } });
    await waitForItem(page);
    await see(page.locator('#draft'), 'Model v1 could not transcribe this clip');
    await see(page.locator('#draft'), error);
    expect(await boxValue(page)).toBe('');
    expect(await page.locator('#transcript').getAttribute('placeholder')).toBe('The recogniser could not transcribe this clip: type what you hear.');
    await see(page.locator('#words'), 'the recogniser gave up');
  });

  it('a lost connection loses nothing and stores nothing twice', async () => {
    const { page, context } = await open();
    let id = await waitForItem(page);
    // The server stores the transcript but the answer is lost on the way back: the page sends it again, and the
    // server answers the repeat without storing it twice.
    let dropped = 0;
    await page.route('**/label', async (route) => {
      if (dropped < 1) {
        dropped++;
        await route.fetch();
        await route.abort('connectionreset');
      } else await route.continue();
    });
    const sent: [string, string][] = [];
    await page.keyboard.press('e');
    await page.keyboard.press('Control+a');
    await page.keyboard.type('lost answer');
    sent.push([id, 'lost answer']);
    await page.keyboard.press('Control+Enter');
    id = await waitForItem(page, id);
    await waitSaved(page);
    expect(dropped).toBe(1);

    // Offline: transcripts wait in the browser, the page says so, and they are sent when it is back.
    await context.setOffline(true);
    for (const text of ['offline one', 'offline two']) {
      await page.keyboard.press('Control+a');
      await page.keyboard.type(text);
      sent.push([id, text]);
      await page.keyboard.press('Control+Enter');
      id = await waitForItem(page, id);
    }
    await see(page.locator('#sync'), 'Offline');
    expect(await page.evaluate(() => document.body.dataset.pending)).toBe('2');
    await context.setOffline(false);
    await waitSaved(page);
    await see(page.locator('#sync'), 'All transcripts saved');
    for (const [item, text] of sent) expect(await storedTranscripts(item)).toEqual([text]);
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
