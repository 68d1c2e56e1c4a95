// The transcription review page: one audio clip at a time from the queue, the model's draft in an editable box,
// keyboard first.
//
// A page of its own rather than a mode of review.js: there every plain key is a decision and the page owns the
// keyboard, here the text box does (typing is the work), so every shortcut is a chord that also works while
// typing; and the stage is an audio player with a waveform and a word strip, not an item to look at. What the
// two pages share lives in queue-client.js: queue leasing and lease renewal, the optimistic outbox in
// localStorage (a repeated transcript is stored once, so a retry never stores twice), and undo, which reopens the
// previous clip with what was submitted; a changed transcript there is sent as a correction (a new row in the
// item's history), through the same label route.
import { describeError } from './api.js';
import { $, fmtInt, fmtPct, h } from './session.js';
import { createQueuePage, toast } from './queue-client.js';

const PREPARE_AHEAD = 3; // of the clips leased behind the current one, this many have their audio downloaded and decoded
/** Words the model is less sure of than this are highlighted and reachable with Alt+N / Alt+P. */
const LOW_CONFIDENCE = 0.5;
const MID_CONFIDENCE = 0.8;
const SLOW_RATE = 0.75;
const REPLAY_BACK_S = 3;
const SEEK_STEP_S = 1;
/** A jumped-to word plays to its end and this much past it, then stops (unless the clip was playing through). */
const WORD_TAIL_S = 0.25;
/** Min/max pairs kept per clip for the waveform: enough for a full-width canvas, small enough to keep for undo. */
const PEAK_BUCKETS = 1600;
const EMPTY_CONFIRM_MS = 4000;

/** @typedef {{ word: string, start: number, end: number, confidence: number }} Word */
/** @typedef {{ text: string, confidence: number, words: Word[], modelVersion: number, error?: string }} Draft */
/** @typedef {{ id: string, data: { audioUrl: string, durationMs: number }, prediction: Draft | null, uncertainty: number | null, leaseExpiresAt: string }} QueueItem */
/** @typedef {{ url: string | null, peaks: Float32Array, duration: number }} Audio */
/** @typedef {{ item: QueueItem, previous: string | null, draft?: string, error?: string, audio?: Audio, audioError?: string, loading?: Promise<void> | null }} Entry */

const queue = createQueuePage({
  transcription: true,
  outboxPrefix: 'furrow.transcripts',
  answerField: 'transcript',
  words: {
    item: 'clip',
    items: 'clips',
    answer: 'transcript',
    answers: 'transcripts',
    done: 'transcribed',
    noModel: 'no model yet',
    forbiddenTitle: 'This key cannot transcribe clips',
    forbiddenWhy: 'This page leases clips from the transcription queue, which takes an annotator key.',
    revokedTitle: 'This key may no longer transcribe clips',
    leaseLost: 'Your lease on a clip ran out and another annotator has it now, so that transcript was not stored.',
    reviewSkipped: 'Transcribe skipped clips',
    empty: (pending, c) => ({
      none: [
        'Nothing to transcribe yet',
        'This project has no clips in its pool. They appear here as soon as an engineer adds them; this page checks every 15 seconds.',
      ],
      done: [
        'All caught up',
        `Every clip in this project has a transcript: ${fmtInt(c.labeled - (c.gold ?? 0))} from people, ${fmtInt(c.autoLabeled)} from the model. New clips appear here when they arrive.`,
      ],
      skipped: [
        'Only skipped clips are left',
        `You skipped the remaining ${fmtInt(pending)} clip${pending === 1 ? '' : 's'}. They went back to the team's queue; you can still transcribe them here.`,
      ],
      leased: [
        'The queue is empty for now',
        `The ${fmtInt(pending)} clip${pending === 1 ? ' that is' : 's that are'} still untranscribed ${pending === 1 ? 'is' : 'are'} leased to other annotators. A clip comes back here if its lease runs out first; this page checks again every 15 seconds.`,
      ],
    }),
  },
  onSession: () => {
    // The Review tab is this page for a transcription project.
    for (const a of document.querySelectorAll('a[data-page="review"]')) a.setAttribute('href', location.pathname + location.search);
  },
  setup: () => {
    document.body.append(player);
    setupControls();
  },
  prepareAhead,
  itemFacts: (entry) => {
    const ms = entry.item.data?.durationMs;
    return Number.isFinite(ms) ? [`${(ms / 1000).toFixed(1)} s`] : [];
  },
  leave: saveDraft,
  reopen: ({ item, audio }, previous) => ({ item, audio, previous }),
  afterUndo: () => {
    queue.renderStats();
    focusBox();
  },
  renderItem,
  renderRecent,
  renderStats: () => {
    $('stat-edits').textContent = fmtInt(state.wordEditsThisSession);
  },
  setControlsEnabled,
  clearStage: () => player.pause(),
  onSaved: (_job, answer, key) => {
    if (typeof answer?.transcript === 'string') state.stored.set(key, answer.transcript);
    if (Number.isFinite(answer?.wordEdits)) {
      state.wordEdits.set(key, answer.wordEdits);
      state.wordEditsThisSession += answer.wordEdits;
    }
  },
  onRefused: (job, e) => {
    if (e.status !== 400) return false;
    reopenRefused(job, describeError(e));
    return true;
  },
  newModelNote: () => ['. Drafts for the next clips come from it.'],
  onStop: () => player.pause(),
});

/** The shared queue state (queue-client.js: entries, history, outbox) and this page's own. */
const state = Object.assign(queue.state, {
  /** queue.sendKey(itemId, transcript) → the server's count of words changed from the draft */ wordEdits: new Map(),
  /** queue.sendKey(itemId, transcript) → the transcript as stored (normalised: lower case, no punctuation) */ stored: new Map(),
  wordEditsThisSession: 0,
  /** The entry on screen, whose audio blob is let go when another takes its place. */
  shownEntry: /** @type {Entry | null} */ (null),
  /** Index into the current draft's words of the word last jumped to or clicked (-1: none yet). */
  wordCursor: -1,
  /** While a jumped-to word plays alone: the time (s) at which to pause. */
  stopAt: 0,
  rate: 1,
  /** Set once the annotator has played a clip: from then on the next clip starts playing by itself. */
  autoplay: false,
  /** When an empty transcript was last submitted: a second Ctrl+Enter soon after sends it as silence. */
  emptyAskedAt: 0,
});

/** The one player; clips come and go as blob: URLs (the audio route needs the key, which <audio> cannot send). */
const player = /** @type {HTMLAudioElement} */ (document.createElement('audio'));
player.id = 'audio';
player.preload = 'auto';
player.hidden = true;

const box = () => /** @type {HTMLTextAreaElement} */ ($('transcript'));

// ---------------------------------------------------------------------------------------------------------
// Audio: download with the key, decode for the waveform, play through a blob: URL

function prepareAhead() {
  for (const entry of state.buffer.slice(0, PREPARE_AHEAD)) prepare(entry);
}

/** Starts downloading and decoding an entry's clip unless it is ready or on its way. */
function prepare(entry) {
  if (entry.audio?.url || entry.loading || typeof entry.item.data?.audioUrl !== 'string') return;
  entry.audioError = undefined;
  entry.loading = loadAudio(entry)
    .catch((e) => {
      entry.audioError = describeError(e);
    })
    .finally(() => {
      entry.loading = null;
      if (state.current === entry) showAudio();
    });
}

async function loadAudio(entry) {
  const blob = await state.client.blob(entry.item.data.audioUrl);
  // The peaks outlive the blob (kept for undo), so a clip seen once is decoded once.
  if (!entry.audio) {
    const { samples, sampleRate } = await decodeSamples(await blob.arrayBuffer());
    entry.audio = { url: null, peaks: peaksOf(samples), duration: samples.length / sampleRate };
  }
  entry.audio.url = URL.createObjectURL(blob);
}

/**
 * Mono samples in [-1, 1]. The server answers 16 kHz mono 16-bit WAV, read here directly (a DataView over the
 * chunks); anything else (another bit depth, WAVE_FORMAT_EXTENSIBLE) goes through Web Audio's decoder.
 * @param {ArrayBuffer} buf
 * @returns {Promise<{ samples: Float32Array, sampleRate: number }>}
 */
async function decodeSamples(buf) {
  const pcm = readPcm16(buf);
  if (pcm) return pcm;
  const decoded = await new OfflineAudioContext(1, 1, 16_000).decodeAudioData(buf);
  return { samples: decoded.getChannelData(0), sampleRate: decoded.sampleRate };
}

/** The first channel of a 16-bit PCM WAV, or null when the bytes are something else. */
function readPcm16(buf) {
  const v = new DataView(buf);
  if (buf.byteLength < 44 || v.getUint32(0) !== 0x52494646 || v.getUint32(8) !== 0x57415645) return null; // 'RIFF' … 'WAVE'
  let fmt = null;
  for (let at = 12; at + 8 <= buf.byteLength; ) {
    const id = v.getUint32(at);
    const size = v.getUint32(at + 4, true);
    if (id === 0x666d7420) {
      // 'fmt '
      fmt = {
        format: v.getUint16(at + 8, true),
        channels: v.getUint16(at + 10, true),
        sampleRate: v.getUint32(at + 12, true),
        bits: v.getUint16(at + 22, true),
      };
    } else if (id === 0x64617461) {
      // 'data'
      if (fmt?.format !== 1 || fmt.bits !== 16 || fmt.channels < 1) return null;
      const stride = 2 * fmt.channels;
      const frames = Math.floor(Math.min(size, buf.byteLength - at - 8) / stride);
      const samples = new Float32Array(frames);
      for (let i = 0; i < frames; i++) samples[i] = v.getInt16(at + 8 + i * stride, true) / 32768;
      return { samples, sampleRate: fmt.sampleRate };
    }
    at += 8 + size + (size & 1); // chunks are padded to an even length
  }
  return null;
}

/** Min and max of each of PEAK_BUCKETS slices, scaled so that the loudest sample reaches ±1. */
function peaksOf(samples) {
  const n = Math.min(PEAK_BUCKETS, Math.max(1, samples.length));
  const peaks = new Float32Array(n * 2);
  let loudest = 0;
  for (let b = 0; b < n; b++) {
    const from = Math.floor((b * samples.length) / n);
    const to = Math.max(from + 1, Math.floor(((b + 1) * samples.length) / n));
    let lo = 0;
    let hi = 0;
    for (let i = from; i < to && i < samples.length; i++) {
      const s = samples[i];
      if (s < lo) lo = s;
      if (s > hi) hi = s;
    }
    peaks[b * 2] = lo;
    peaks[b * 2 + 1] = hi;
    loudest = Math.max(loudest, -lo, hi);
  }
  // Quiet recordings are drawn large enough to read; near-silence (below -40 dBFS) stays small.
  const gain = 1 / Math.max(loudest, 0.01);
  for (let i = 0; i < peaks.length; i++) peaks[i] *= gain;
  return peaks;
}

/** Lets go of an entry's blob once it is off screen; undo downloads it again (the peaks stay). */
function releaseAudio(entry) {
  if (entry?.audio?.url) {
    URL.revokeObjectURL(entry.audio.url);
    entry.audio.url = null;
  }
}

/** Points the player at the current clip once its audio is ready, and draws its waveform. */
function showAudio() {
  const entry = state.current;
  if (!entry) return;
  if (entry.audio?.url) {
    if (player.dataset.item !== entry.item.id) {
      player.src = entry.audio.url;
      player.dataset.item = entry.item.id;
      player.defaultPlaybackRate = state.rate;
      player.playbackRate = state.rate;
      if (state.autoplay) play();
    }
    document.body.dataset.audio = 'ready';
  } else {
    document.body.dataset.audio = entry.audioError ? 'failed' : 'loading';
  }
  drawWave();
  renderClock();
}

function clipDuration(entry = state.current) {
  if (!entry) return 0;
  if (Number.isFinite(player.duration) && player.dataset.item === entry.item.id) return player.duration;
  return entry.audio?.duration ?? (entry.item.data?.durationMs ?? 0) / 1000;
}

/** True when the current clip can play; otherwise says why. */
function audioReady() {
  const entry = state.current;
  if (!entry) return false;
  if (entry.audio?.url && player.dataset.item === entry.item.id) return true;
  if (entry.audioError) {
    toast(`The audio could not be loaded: ${entry.audioError}`, 'warn');
    prepare(entry);
  } else toast('The audio is still loading.');
  return false;
}

function play() {
  state.autoplay = true;
  player.play().catch(() => {
    // Refused (no user gesture yet) or interrupted by a new source: the play button still works.
  });
}

function togglePlay() {
  if (!audioReady()) return;
  state.stopAt = 0;
  if (player.paused) play();
  else player.pause();
}

function seek(t, { andPlay = false } = {}) {
  if (!audioReady()) return;
  player.currentTime = Math.max(0, Math.min(t, clipDuration() || 0));
  if (andPlay) play();
  drawWave();
  renderClock();
}

function replayFromStart() {
  state.stopAt = 0;
  seek(0, { andPlay: true });
}

function replayLast() {
  state.stopAt = 0;
  seek(player.currentTime - REPLAY_BACK_S, { andPlay: true });
}

function toggleRate() {
  state.rate = state.rate === 1 ? SLOW_RATE : 1;
  player.defaultPlaybackRate = state.rate;
  player.playbackRate = state.rate;
  const btn = $('rate');
  btn.setAttribute('aria-pressed', String(state.rate !== 1));
  btn.classList.toggle('is-on', state.rate !== 1);
  document.body.dataset.rate = String(state.rate);
  $('sr-status').textContent = state.rate === 1 ? 'Normal speed.' : `Slower: ${state.rate}× speed.`;
}

/** Redraws while playing: the playhead, the clock, the word being spoken, and the stop after a jumped-to word. */
let frame = 0;
function tick() {
  frame = 0;
  checkStop();
  drawWave();
  renderClock();
  if (!player.paused) frame = requestAnimationFrame(tick);
}

/** Pauses at `state.stopAt`; checked on every frame and by a timer aimed at it (frames stop in a hidden tab). */
let stopTimer = 0;
function checkStop() {
  clearTimeout(stopTimer);
  if (!state.stopAt || player.paused) return;
  const left = state.stopAt - player.currentTime;
  if (left <= 0.01) {
    state.stopAt = 0;
    player.pause();
  } else stopTimer = setTimeout(checkStop, (left / (player.playbackRate || 1)) * 1000);
}

function drawWave() {
  const canvas = /** @type {HTMLCanvasElement} */ ($('wave'));
  const entry = state.current;
  const dpr = window.devicePixelRatio || 1;
  const cssW = canvas.clientWidth;
  const cssH = canvas.clientHeight;
  if (!cssW || !cssH) return;
  if (canvas.width !== Math.round(cssW * dpr) || canvas.height !== Math.round(cssH * dpr)) {
    canvas.width = Math.round(cssW * dpr);
    canvas.height = Math.round(cssH * dpr);
  }
  const W = canvas.width;
  const H = canvas.height;
  const ctx = /** @type {CanvasRenderingContext2D} */ (canvas.getContext('2d'));
  ctx.clearRect(0, 0, W, H);
  const mid = H / 2;
  const peaks = entry?.audio?.peaks;
  const duration = clipDuration(entry);
  if (!entry || !peaks || !duration) {
    ctx.fillStyle = '#cbd5e1';
    ctx.fillRect(0, Math.floor(mid), W, Math.max(1, Math.round(dpr)));
    canvas.dataset.drawn = '';
    return;
  }
  const xOf = (t) => (Math.max(0, Math.min(t, duration)) / duration) * W;
  // Behind the wave: where the model was unsure, and the word last jumped to.
  const words = entry.item.prediction?.words ?? [];
  words.forEach((w, i) => {
    const low = w.confidence < LOW_CONFIDENCE;
    if (!low && i !== state.wordCursor) return;
    ctx.fillStyle = i === state.wordCursor ? 'rgba(79, 70, 229, 0.18)' : 'rgba(245, 158, 11, 0.2)';
    // A pixel's gap between neighbouring words, so that a run of unsure words still reads as words.
    ctx.fillRect(xOf(w.start) + dpr, 0, Math.max(dpr, xOf(w.end) - xOf(w.start) - dpr), H);
  });
  const playing = player.dataset.item === entry.item.id;
  const headX = playing ? xOf(player.currentTime) : 0;
  const n = peaks.length / 2;
  const amp = mid * 0.92;
  for (let x = 0; x < W; x++) {
    const from = Math.floor((x * n) / W);
    const to = Math.max(from + 1, Math.floor(((x + 1) * n) / W));
    let lo = 0;
    let hi = 0;
    for (let b = from; b < to; b++) {
      if (peaks[b * 2] < lo) lo = peaks[b * 2];
      if (peaks[b * 2 + 1] > hi) hi = peaks[b * 2 + 1];
    }
    const top = mid - hi * amp;
    ctx.fillStyle = x < headX ? '#4f46e5' : '#94a3b8';
    ctx.fillRect(x, top, 1, Math.max(1, (hi - lo) * amp));
  }
  if (playing) {
    ctx.fillStyle = '#0f172a';
    ctx.fillRect(Math.min(W - dpr * 2, headX), 0, Math.round(dpr * 2), H);
  }
  canvas.dataset.drawn = entry.item.id;
}

function renderClock() {
  const entry = state.current;
  const t = entry && player.dataset.item === entry.item.id ? player.currentTime : 0;
  const d = clipDuration(entry);
  $('clock').textContent = `${fmtClock(t)} / ${fmtClock(d)}`;
  const wave = $('wave');
  wave.setAttribute('aria-valuemax', String(Math.round(d * 10) / 10));
  wave.setAttribute('aria-valuenow', String(Math.round(t * 10) / 10));
  wave.setAttribute('aria-valuetext', `${fmtClock(t)} of ${fmtClock(d)}`);
  $('play-label').textContent = player.paused ? 'Play' : 'Pause';
  document.body.dataset.playing = String(!player.paused);
  // The word being spoken, in the strip.
  const words = entry?.item.prediction?.words ?? [];
  const speaking = player.paused ? -1 : words.findIndex((w) => t >= w.start && t < w.end);
  for (const b of document.querySelectorAll('#words .word')) b.classList.toggle('is-speaking', Number(b.dataset.index) === speaking);
}

function fmtClock(s) {
  if (!Number.isFinite(s)) return '0:00.0';
  const m = Math.floor(s / 60);
  const rest = s - m * 60;
  return `${m}:${rest.toFixed(1).padStart(4, '0')}`;
}

// ---------------------------------------------------------------------------------------------------------
// Words: the draft's words in a strip, and the low-confidence ones reachable from the keyboard

/**
 * Where each of the draft's words is in `text` (the box, as edited so far): found in order, whole words,
 * ignoring case; a word that was edited away is null.
 * @param {string} text
 * @param {Word[]} words
 * @returns {([number, number] | null)[]}
 */
function wordRanges(text, words) {
  const lower = text.toLowerCase();
  const isLetter = (c) => c !== undefined && /[\p{L}\p{N}']/u.test(c);
  let from = 0;
  return words.map((w) => {
    const needle = w.word.toLowerCase();
    if (!needle) return null;
    for (let at = lower.indexOf(needle, from); at >= 0; at = lower.indexOf(needle, at + 1)) {
      if (!isLetter(lower[at - 1]) && !isLetter(lower[at + needle.length])) {
        from = at + needle.length;
        return [at, at + needle.length];
      }
    }
    return null;
  });
}

const confidenceClass = (c) => (c < LOW_CONFIDENCE ? 'conf-low' : c < MID_CONFIDENCE ? 'conf-mid' : 'conf-high');

function renderWords(entry) {
  const list = $('words');
  const words = entry?.item.prediction?.words ?? [];
  if (!words.length) {
    list.replaceChildren(
      h(
        'li',
        { className: 'muted small words-empty' },
        entry?.item.prediction?.error
          ? 'No words: the recogniser gave up on this clip.'
          : entry?.item.prediction
            ? 'The model heard no words in this clip.'
            : 'No draft yet: nothing to highlight.',
      ),
    );
    return;
  }
  list.replaceChildren(
    ...words.map((w, i) =>
      h(
        'li',
        {},
        h(
          'button',
          {
            type: 'button',
            className: `word ${confidenceClass(w.confidence)}${i === state.wordCursor ? ' is-current' : ''}`,
            dataset: { index: String(i) },
            title: `${fmtPct(w.confidence, 0)} confident · ${w.start.toFixed(2)}–${w.end.toFixed(2)} s`,
            attrs: { 'aria-label': `${w.word}, ${fmtPct(w.confidence, 0)} confident${w.confidence < LOW_CONFIDENCE ? ', low' : ''}` },
            onclick: () => jumpToWord(i),
          },
          w.word,
        ),
      ),
    ),
  );
}

/** Alt+N / Alt+P: the next or previous low-confidence word after the last one visited, wrapping around. */
function jumpLow(direction) {
  const words = state.current?.item.prediction?.words ?? [];
  const lows = words.map((w, i) => (w.confidence < LOW_CONFIDENCE ? i : -1)).filter((i) => i >= 0);
  if (!lows.length) {
    toast(words.length ? 'No low-confidence words in this draft.' : 'No draft for this clip, so no words to jump to.');
    return;
  }
  const c = state.wordCursor;
  const next = direction > 0 ? (lows.find((i) => i > c) ?? lows[0]) : (lows.findLast((i) => i < c) ?? lows[lows.length - 1]);
  jumpToWord(next);
}

/** Selects a draft word in the box and plays it (or moves the playhead to it while the clip plays through). */
function jumpToWord(i) {
  const entry = state.current;
  const w = entry?.item.prediction?.words?.[i];
  if (!entry || !w) return;
  state.wordCursor = i;
  for (const b of document.querySelectorAll('#words .word')) b.classList.toggle('is-current', Number(b.dataset.index) === i);
  const input = box();
  const range = wordRanges(input.value, entry.item.prediction?.words ?? [])[i];
  input.focus({ preventScroll: true });
  if (range) input.setSelectionRange(range[0], range[1]);
  $('sr-status').textContent = `${w.word}, ${fmtPct(w.confidence, 0)} confident, at ${w.start.toFixed(1)} s${range ? '' : '; no longer in the transcript'}.`;
  if (entry.audio?.url && player.dataset.item === entry.item.id) {
    // Playing through the clip, the playhead just moves; otherwise (paused, or playing another jumped-to word)
    // the word plays alone.
    const playingThrough = !player.paused && !state.stopAt;
    state.stopAt = playingThrough ? 0 : w.end + WORD_TAIL_S;
    seek(w.start, { andPlay: true });
  } else drawWave();
}

// ---------------------------------------------------------------------------------------------------------
// Decisions

function saveDraft() {
  const entry = state.current;
  if (entry && document.body.dataset.item === entry.item.id) entry.draft = box().value;
}

/** One line, single spaces: what the annotator sees is what is stored. */
const normalise = (text) => text.replace(/\s+/g, ' ').trim();

function submit() {
  const entry = state.current;
  if (!entry) return;
  const transcript = normalise(box().value);
  if (!transcript && Date.now() - state.emptyAskedAt > EMPTY_CONFIRM_MS) {
    state.emptyAskedAt = Date.now();
    showBoxError('The transcript is empty. Press Ctrl+Enter again to submit the clip as having no speech, or skip it with x outside the box.');
    return;
  }
  state.emptyAskedAt = 0;
  const previous = entry.previous;
  if (previous !== transcript) queue.enqueue({ itemId: entry.item.id, transcript, previous });
  const typing = document.activeElement === box();
  queue.pushHistory({ entry, answer: transcript, previous, at: Date.now() });
  entry.draft = undefined;
  entry.error = undefined;
  queue.advance();
  if (typing) focusBox();
}

/**
 * The server refused a transcript (400: characters outside the project's language, say): the clip comes back
 * on screen with the refused text and the server's message, whatever clip the annotator has moved on to.
 */
function reopenRefused(job, message) {
  const at = state.history.findLastIndex((r) => r.entry.item.id === job.itemId && r.answer === job.transcript);
  const row = at >= 0 ? state.history.splice(at, 1)[0] : null;
  if (job.previous === null) state.newThisSession = Math.max(0, state.newThisSession - 1);
  else state.correctionsThisSession = Math.max(0, state.correctionsThisSession - 1);
  if (state.current?.item.id === job.itemId) {
    state.current.error = message;
    showBoxError(message);
  } else if (row) {
    saveDraft();
    if (state.current) state.buffer.unshift(state.current);
    const { item, audio } = row.entry;
    state.current = { item, audio, previous: job.previous, draft: job.transcript, error: message };
    renderItem();
    focusBox();
    toast('A transcript was not accepted; its clip is back on screen with your text.', 'warn');
  } else toast(`A transcript was not stored: ${message}`, 'warn');
  renderRecent();
  queue.renderStats();
}

// ---------------------------------------------------------------------------------------------------------
// Rendering

function setControlsEnabled(on) {
  for (const b of document.querySelectorAll('#submit, #skip, #play, #rate')) /** @type {HTMLButtonElement} */ (b).disabled = !on;
  /** @type {HTMLButtonElement} */ ($('undo')).disabled = state.history.length === 0;
}

function renderItem() {
  const entry = state.current;
  if (state.shownEntry && state.shownEntry !== entry) releaseAudio(state.shownEntry);
  state.shownEntry = entry;
  player.pause();
  state.stopAt = 0;
  state.wordCursor = -1;
  if (!entry) {
    player.removeAttribute('src');
    player.dataset.item = '';
  }
  if (!queue.showStage()) return;
  queue.renderMeta();

  const reopened = $('reopened');
  if (entry.previous !== null) {
    reopened.replaceChildren(
      h('strong', {}, 'Reopened. '),
      'You submitted ',
      h('q', {}, entry.previous || '(no speech)'),
      '. A changed transcript is stored as a correction; submitting it unchanged keeps yours.',
    );
    reopened.hidden = false;
  } else reopened.hidden = true;

  renderDraft(entry);
  const p = entry.item.prediction;
  const input = box();
  input.value = entry.draft ?? entry.previous ?? p?.text ?? '';
  input.placeholder = p?.text
    ? ''
    : `${p?.error ? 'The recogniser could not transcribe this clip' : p ? 'The model heard no words' : 'No draft for this clip'}: type what you hear.`;
  if (entry.error) showBoxError(entry.error);
  else hideBoxError();
  renderWords(entry);
  setControlsEnabled(true);

  if (player.dataset.item !== entry.item.id) {
    player.removeAttribute('src');
    player.dataset.item = '';
  }
  prepare(entry);
  showAudio();
  const lows = (p?.words ?? []).filter((w) => w.confidence < LOW_CONFIDENCE).length;
  $('sr-status').textContent =
    `Next clip, ${fmtClock(clipDuration(entry))} long.${entry.previous !== null ? ' Reopened.' : ''}${p ? ` Draft ${fmtPct(p.confidence, 0)} confident, ${lows} low-confidence word${lows === 1 ? '' : 's'}.` : ' No draft.'}`;
}

function renderDraft(entry) {
  const el = $('draft');
  const p = entry.item.prediction;
  if (!p) {
    el.className = 'draft prelabel none';
    el.replaceChildren(
      h('span', { className: 'prelabel-kicker' }, 'No draft'),
      h(
        'p',
        { className: 'muted small' },
        state.me?.model ? 'The recogniser has not transcribed this clip yet.' : 'No speech model has drafted this clip yet. Type what you hear.',
      ),
    );
    return;
  }
  if (p.error) {
    // The recogniser gave up on the clip (it crashed or hung on it twice): it is served first, for a person.
    el.className = 'draft prelabel none';
    el.replaceChildren(
      h('span', { className: 'prelabel-kicker' }, `Model v${p.modelVersion} could not transcribe this clip`),
      h('p', { className: 'muted small' }, `${p.error} Type what you hear.`),
    );
    return;
  }
  const conf = p.confidence;
  const level = conf >= MID_CONFIDENCE ? 'high' : conf >= LOW_CONFIDENCE ? 'mid' : 'low';
  el.className = `draft prelabel conf-${level}`;
  el.replaceChildren(
    h('span', { className: 'prelabel-kicker' }, `Model v${p.modelVersion} draft`),
    h(
      'div',
      { className: 'prelabel-conf' },
      h('meter', {
        min: 0,
        max: 1,
        low: LOW_CONFIDENCE,
        high: MID_CONFIDENCE,
        optimum: 1,
        value: conf,
        attrs: { 'aria-label': 'Model confidence in the draft' },
      }),
      h('span', { id: 'draft-confidence' }, `${fmtPct(conf, 0)} confident`),
    ),
  );
}

function showBoxError(message) {
  const el = $('transcript-error');
  el.textContent = message;
  el.hidden = false;
  box().setAttribute('aria-invalid', 'true');
}

function hideBoxError() {
  $('transcript-error').hidden = true;
  box().removeAttribute('aria-invalid');
}

function renderRecent() {
  const list = $('recent');
  const rows = state.history.slice(-5).reverse();
  if (!rows.length) {
    list.replaceChildren(
      h('li', { className: 'recent-empty muted' }, 'Nothing yet. Your transcripts show up here, newest first; Ctrl+Z outside the box undoes the last one.'),
    );
    return;
  }
  list.replaceChildren(
    ...rows.map((r) => {
      const p = r.entry.item.prediction;
      const seconds = (r.entry.item.data?.durationMs ?? 0) / 1000;
      const key = queue.sendKey(r.entry.item.id, r.answer);
      let status = '';
      let cls = 'recent-item';
      if (r.answer === null) {
        status = r.previous !== null ? 'kept' : 'skipped';
        cls += ' is-skip';
      } else {
        const s = state.sendState.get(key) ?? 'saved';
        const edits = state.wordEdits.get(key);
        if (r.previous !== null && r.previous !== r.answer) status = 'corrected';
        else if (r.previous === r.answer) status = 'unchanged';
        else if (!p) status = 'no draft';
        else if (edits !== undefined) status = edits === 0 ? 'draft accepted' : `${edits} word${edits === 1 ? '' : 's'} changed`;
        else status = normalise(p.text) === r.answer ? 'draft accepted' : 'edited';
        cls += ` is-${s}`;
        if (s === 'pending') status += ' · saving';
        if (s === 'rejected') status += ' · not stored';
      }
      return h(
        'li',
        { className: cls, dataset: { item: r.entry.item.id } },
        h('span', { className: 'thumb thumb-text clip-chip' }, `${seconds.toFixed(0)}s`),
        h('span', { className: 'recent-label' }, r.answer === null ? '—' : (state.stored.get(key) ?? r.answer) || '(no speech)'),
        h('span', { className: 'recent-status' }, status),
      );
    }),
  );
}

/** Puts the caret at the end of the transcript, ready to type. */
function focusBox() {
  if (!state.current) return;
  const input = box();
  input.focus({ preventScroll: true });
  input.setSelectionRange(input.value.length, input.value.length);
}

// ---------------------------------------------------------------------------------------------------------
// Controls: keyboard first (chords work while typing), mouse too

/**
 * What a key press does. In the box only chords act (Ctrl+Space, Ctrl+Enter, Alt+letter: matched by `code`, so
 * that macOS's Option+letter characters do not get in the way); Enter inserts nothing and Esc leaves the box.
 * Outside it the plain letters act too.
 */
function actionOf(e, inBox) {
  const t = e.target;
  if (e.ctrlKey || e.metaKey) {
    if (e.altKey || e.shiftKey) return null;
    if (e.code === 'Space') return 'play';
    if (e.key === 'Enter') return 'submit';
    if ((e.key === 'z' || e.key === 'Z') && !inBox && !isTextField(t)) return 'undo';
    return null;
  }
  if (e.altKey) {
    if (e.shiftKey) return null;
    return { KeyR: 'replay', KeyB: 'back', KeyS: 'slower', KeyN: 'next', KeyP: 'previous' }[e.code] ?? null;
  }
  if (inBox) return e.key === 'Enter' ? 'nothing' : e.key === 'Escape' ? 'leave' : null;
  if (isTextField(t)) return null;
  const onControl = t instanceof HTMLButtonElement || t instanceof HTMLAnchorElement;
  if (t === $('wave') && (e.key === 'ArrowLeft' || e.key === 'ArrowRight')) return e.key === 'ArrowLeft' ? 'seek-back' : 'seek-forward';
  if ((e.key === ' ' || e.key === 'Enter') && onControl) return null; // the focused button or link acts on its own
  return (
    {
      ' ': 'play',
      k: 'play',
      r: 'replay',
      b: 'back',
      s: 'slower',
      n: 'next',
      p: 'previous',
      e: 'edit',
      Enter: 'edit',
      x: 'skip',
      u: 'undo',
      Backspace: 'undo',
      '?': 'help',
    }[e.key] ?? null
  );
}

const isTextField = (t) =>
  t instanceof HTMLInputElement || t instanceof HTMLTextAreaElement || t instanceof HTMLSelectElement || (t instanceof HTMLElement && t.isContentEditable);

function setupControls() {
  const help = /** @type {HTMLDialogElement} */ ($('help'));
  const input = box();
  $('submit').addEventListener('click', submit);
  $('play').addEventListener('click', togglePlay);
  $('rate').addEventListener('click', toggleRate);

  // A pasted or dictated line break becomes a space: a transcript is one line.
  input.addEventListener('input', () => {
    if (/[\r\n]/.test(input.value)) {
      const caret = input.selectionStart;
      input.value = input.value.replace(/[\r\n]+/g, ' ');
      input.setSelectionRange(caret, caret);
    }
    if (state.current?.error) {
      state.current.error = undefined;
      hideBoxError();
    }
  });

  const wave = $('wave');
  wave.addEventListener('click', (e) => {
    const rect = wave.getBoundingClientRect();
    state.stopAt = 0;
    seek(((e.clientX - rect.left) / rect.width) * clipDuration());
  });
  for (const ev of ['play', 'pause', 'ended', 'seeked', 'loadedmetadata', 'ratechange']) {
    player.addEventListener(ev, () => {
      checkStop();
      if (!player.paused && !frame) frame = requestAnimationFrame(tick);
      drawWave();
      renderClock();
    });
  }
  window.addEventListener('resize', drawWave);

  document.addEventListener('keydown', (e) => {
    if (e.defaultPrevented || state.stopped || help.open || $('workspace').hidden) return;
    const action = actionOf(e, e.target === input);
    if (!action) return;
    e.preventDefault();
    // A held-down key must not submit a run of clips.
    if (e.repeat && (action === 'submit' || action === 'skip' || action === 'undo')) return;
    if (action === 'help') {
      help.showModal();
      return;
    }
    if (!state.current && action !== 'undo') return;
    if (action === 'play') togglePlay();
    else if (action === 'replay') replayFromStart();
    else if (action === 'back') replayLast();
    else if (action === 'slower') toggleRate();
    else if (action === 'next') jumpLow(1);
    else if (action === 'previous') jumpLow(-1);
    else if (action === 'seek-back') seek(player.currentTime - SEEK_STEP_S);
    else if (action === 'seek-forward') seek(player.currentTime + SEEK_STEP_S);
    else if (action === 'submit') submit();
    else if (action === 'skip') queue.skip();
    else if (action === 'undo') queue.undo();
    else if (action === 'edit') focusBox();
    else if (action === 'leave') $('main').focus({ preventScroll: true });
  });
}

queue.start();
