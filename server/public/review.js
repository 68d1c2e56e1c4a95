// The annotator's review page: one item at a time from the queue, keyboard first.
//
// Decisions are optimistic: the page moves to the next (prefetched) item at once and an outbox sends the
// decisions in order in the background, retrying until the server has them. The outbox lives in
// localStorage, so a lost connection or a reload loses nothing; the label route stores a repeated request
// once, so a retry after a lost answer never stores a decision twice. Undo reopens the previous item; a
// different choice there is sent as a correction (a new row in the item's history).
import { ApiError, backoffMs, describeError } from './api.js';
import { $, fmtInt, fmtPct, fmtTime, h, hideNotice, isTranscriptionProject, linkPages, showNotice, startSession, switchKeyButton } from './session.js';

const PREFETCH_LOW = 6; // keep at least this many items decoded and ready behind the current one
const FETCH_BATCH = 12;
const HISTORY_MAX = 200;
const ME_POLL_MS = 20_000;
const EMPTY_RECHECK_MS = 15_000;
const LEASE_CHECK_MS = 30_000;
const LEASE_RENEW_MARGIN_MS = 120_000;
const IMAGE_BOX_PX = 400;

/** @typedef {{ id: string, data: Record<string, any>, prediction: null | { label: string, confidence: number, probs: Record<string, number>, modelVersion: number }, uncertainty: number | null, leaseExpiresAt: string, dispute?: { label: string, by?: string } }} QueueItem */
/** @typedef {{ item: QueueItem, previous: string | null, media?: HTMLElement, urls?: Record<string, string>, zoomed?: boolean }} Entry */

const state = {
  client: /** @type {any} */ (null),
  projectId: '',
  project: /** @type {any} */ (null),
  me: /** @type {any} */ (null),
  labels: /** @type {string[]} */ ([]),
  kind: new URLSearchParams(location.search).get('queue') === 'disputed' ? 'disputed' : 'uncertain',
  /** @type {Entry | null} */ current: null,
  /** @type {Entry[]} */ buffer: [],
  /** @type {{ entry: Entry, label: string | null, previous: string | null, at: number }[]} */ history: [],
  /** itemId → the last label chosen for it in this session */ decided: new Map(),
  skipped: new Set(),
  /** @type {{ itemId: string, label: string, correction: boolean }[]} */ outbox: [],
  /** `${itemId}\u0000${label}` → 'pending' | 'saved' | 'rejected', for the recent-decisions list */ sendState: new Map(),
  sending: false,
  sendFailures: 0,
  wakeSender: /** @type {null | (() => void)} */ (null),
  retryAt: 0,
  fetching: /** @type {Promise<void> | null} */ (null),
  /** From an empty queue answer: when the server said to ask again (0: it did not). */
  retryAfterMs: 0,
  fetchFailures: 0,
  emptySince: 0,
  confirmed: 0,
  confirmedNew: 0,
  meSnapshot: { confirmed: 0, confirmedNew: 0 },
  knownModel: /** @type {number | null | undefined} */ (undefined),
  decisionsThisSession: 0,
  correctionsThisSession: 0,
  stopped: false,
  outboxKey: '',
  prevAccuracy: /** @type {number | null} */ (null),
  /** The entry on screen, whose large blobs are let go when another takes its place. */
  shownEntry: /** @type {any} */ (null),
};

/**
 * Runs label requests and the session summary one at a time, so that the summary's counts and the
 * decisions confirmed since it are never counted twice (a decision lands either before or after it).
 */
let serverTurn = Promise.resolve();
function exclusive(fn) {
  const run = serverTurn.then(fn, fn);
  serverTurn = run.catch(() => {});
  return run;
}

/** Resolves once every decision in the outbox has an answer (or after `maxMs`). */
function outboxIdle(maxMs) {
  return new Promise((resolve) => {
    const until = Date.now() + maxMs;
    const check = () => (state.outbox.length === 0 || Date.now() > until ? resolve() : setTimeout(check, 100));
    check();
  });
}

// ---------------------------------------------------------------------------------------------------------
// Start

async function main() {
  let session;
  try {
    session = await startSession({ onConnectivity: () => renderSync() });
  } catch {
    return;
  }
  const { client, projectId, me } = session;
  // Audio clips are transcribed, not labelled: their page has its own player and text box (transcribe.js says why).
  if (isTranscriptionProject(me.project)) {
    location.replace(`/ui/transcribe?project=${encodeURIComponent(projectId)}`);
    return;
  }
  Object.assign(state, { client, projectId, me, project: me.project, labels: me.project.labels });
  linkPages(projectId);
  state.knownModel = me.model?.version ?? null;

  if (me.key.role !== 'annotator' && me.key.role !== 'admin') {
    const other = me.key.role === 'engineer' || me.key.role === 'client';
    showNotice({
      title: 'This key cannot review items',
      text: [
        `“${me.key.name}” is ${me.key.role === 'engineer' ? 'an' : 'a'} ${me.key.role} key. The review page leases items from the labelling queue, which takes an annotator key.`,
        'Ask your project lead for an annotator key, or open the dashboard with this one.',
      ],
      actions: [
        switchKeyButton(),
        other ? h('a', { className: 'btn primary', href: `/ui/dashboard?project=${encodeURIComponent(projectId)}` }, 'Open the dashboard') : null,
      ].filter(Boolean),
      tone: 'warn',
    });
    document.body.dataset.state = 'forbidden';
    return;
  }

  const outboxKey = `furrow.outbox.${projectId}.${me.key.id}`;
  state.outboxKey = outboxKey;
  try {
    state.outbox = JSON.parse(localStorage.getItem(outboxKey) || '[]');
  } catch {
    state.outbox = [];
  }
  for (const job of state.outbox) state.decided.set(job.itemId, job.label);

  setupControls();
  $('workspace').hidden = false;
  renderStats();
  renderSync();
  renderRecent();
  showStageMessage('Loading items…', 'loading');
  pumpOutbox();
  await fetchMore();

  setInterval(refreshMe, ME_POLL_MS);
  setInterval(checkLeases, LEASE_CHECK_MS);
  setInterval(renderSync, 1000);
  window.addEventListener('online', () => {
    state.wakeSender?.();
    if (!state.current) fetchMore();
  });
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') {
      checkLeases();
      refreshMe();
    }
  });
}

// ---------------------------------------------------------------------------------------------------------
// Queue: prefetch, lease renewal, empty queue

function queuePath(limit) {
  return `/api/projects/${encodeURIComponent(state.projectId)}/queue?limit=${limit}${state.kind === 'disputed' ? '&kind=disputed' : ''}`;
}

/**
 * Leases more items. The server answers this key's live leases first (that is also how a lease is renewed),
 * so the request asks for enough to cover the items already held here plus a new batch, and keeps only new ones.
 */
function fetchMore({ renew = false } = {}) {
  if (state.fetching) return state.fetching;
  if (state.stopped) return Promise.resolve();
  if (!renew && state.buffer.length >= PREFETCH_LOW) return Promise.resolve();
  const held = new Set([...state.buffer.map((e) => e.item.id), ...state.skipped, ...state.outbox.map((o) => o.itemId)]);
  if (state.current) held.add(state.current.item.id);
  const limit = Math.min(100, FETCH_BATCH + held.size);
  state.fetching = (async () => {
    try {
      const { items, retryAfterMs } = await state.client.get(queuePath(limit), { retries: 2 });
      state.fetchFailures = 0;
      // An empty answer with retryAfterMs: items remain that are busy for a moment or leased to others.
      state.retryAfterMs = items.length === 0 && Number.isFinite(retryAfterMs) ? retryAfterMs : 0;
      const leaseById = new Map(items.map((i) => [i.id, i.leaseExpiresAt]));
      for (const e of [state.current, ...state.buffer]) if (e && leaseById.has(e.item.id)) e.item.leaseExpiresAt = leaseById.get(e.item.id);
      const fresh = items.filter((i) => !held.has(i.id) && !state.decided.has(i.id));
      for (const item of fresh) state.buffer.push(prepare({ item, previous: null }));
      if (fresh.length > 0) state.emptySince = 0;
      else if (!state.current && state.buffer.length === 0) state.emptySince ||= Date.now();
    } catch (e) {
      if (!handleFatal(e)) {
        if (e instanceof ApiError && e.status === 400 && state.kind === 'disputed') {
          state.stopped = true;
          showNotice({
            title: 'No disputed-label queue on this server',
            text: 'This server does not offer a queue of disputed labels yet. The regular queue is waiting for you.',
            actions: [h('a', { className: 'btn primary', href: `/ui/review?project=${encodeURIComponent(state.projectId)}` }, 'Review the regular queue')],
          });
          $('workspace').hidden = true;
        } else {
          state.fetchFailures++;
          setTimeout(() => (state.current ? undefined : fetchMore()), backoffMs(state.fetchFailures));
          if (!state.current) showStageMessage(`Cannot load items: ${describeError(e)} Retrying…`, 'offline');
        }
      }
    } finally {
      state.fetching = null;
    }
    if (!state.current && state.buffer.length > 0) advance();
    else if (!state.current && state.emptySince) explainEmpty();
  })();
  return state.fetching;
}

function checkLeases() {
  const entries = [state.current, ...state.buffer].filter(Boolean);
  if (!entries.length) return;
  const soonest = Math.min(...entries.map((e) => new Date(e.item.leaseExpiresAt).getTime()));
  if (soonest - Date.now() < LEASE_RENEW_MARGIN_MS) fetchMore({ renew: true }).then(renderMeta);
}

let emptyTimer = 0;
async function explainEmpty() {
  clearTimeout(emptyTimer);
  // Ask again when the server says (items busy for a moment: about a second), at the latest after EMPTY_RECHECK_MS.
  const recheckMs = state.retryAfterMs > 0 ? Math.min(Math.max(state.retryAfterMs, 250), EMPTY_RECHECK_MS) : EMPTY_RECHECK_MS;
  emptyTimer = setTimeout(() => {
    if (!state.current) fetchMore();
  }, recheckMs);
  if (state.retryAfterMs > 0 && recheckMs < EMPTY_RECHECK_MS) {
    showStageMessage(['Fetching items…', 'The next items are busy for a moment; asking again shortly.'], 'loading');
    return;
  }
  // Our own unsent decisions would still count as pending: let them land first.
  await outboxIdle(10_000);
  if (state.current) return;
  let project;
  try {
    [project] = await Promise.all([state.client.get(`/api/projects/${encodeURIComponent(state.projectId)}`), refreshMe()]);
  } catch (e) {
    if (!handleFatal(e)) showStageMessage('The queue is empty right now.', 'empty');
    return;
  }
  if (state.current) return;
  const c = project.counts;
  const pool = c.items - (c.gold ?? 0);
  const pending = c.pending;
  document.body.dataset.state = 'empty';
  if (state.kind === 'disputed') {
    showStageMessage(['No disputed items', 'Nothing is waiting for a second look. This page checks again every 15 seconds.'], 'empty');
  } else if (pool === 0) {
    showStageMessage(
      ['Nothing to label yet', 'This project has no items in its pool. They appear here as soon as an engineer adds them; this page checks every 15 seconds.'],
      'empty',
    );
  } else if (pending === 0) {
    showStageMessage(
      [
        'All caught up',
        `Every item in this project has a label: ${fmtInt(c.labeled - (c.gold ?? 0))} from people, ${fmtInt(c.autoLabeled)} from the model. New items appear here when they arrive.`,
      ],
      'done',
    );
  } else if (state.skipped.size > 0 && state.skipped.size >= pending) {
    showStageMessage(
      [
        'Only skipped items are left',
        `You skipped the remaining ${fmtInt(pending)} item${pending === 1 ? '' : 's'}. They went back to the team's queue; you can still review them here.`,
      ],
      'empty',
      [h('button', { className: 'btn primary', type: 'button', onclick: reviewSkipped }, 'Review skipped items')],
    );
  } else {
    showStageMessage(
      [
        'The queue is empty for now',
        `The ${fmtInt(pending)} item${pending === 1 ? ' that is' : 's that are'} still unlabelled ${pending === 1 ? 'is' : 'are'} leased to other annotators. An item comes back here if its lease runs out before it is labelled; this page checks again every 15 seconds.`,
      ],
      'empty',
    );
  }
}

function reviewSkipped() {
  state.skipped.clear();
  state.emptySince = 0;
  showStageMessage('Loading items…', 'loading');
  fetchMore();
}

/** Decodes an item's image ahead of time so that showing it costs no wait. */
function prepare(entry) {
  const d = entry.item.data ?? {};
  if (typeof d.thumbUrl === 'string') {
    // Media URLs need the key, which an <img> cannot send: fetch with it and show blob: URLs. The thumbnail
    // comes first (a few KB: the first paint), the preview replaces it when it arrives.
    const img = new Image();
    img.alt = '';
    img.decoding = 'async';
    img.dataset.stage = 'loading';
    entry.media = img;
    entry.urls = {};
    sizeImage(img, d.width, d.height);
    loadVariant(entry, 'thumb').then(() => loadVariant(entry, 'preview'));
  } else if (typeof d.image === 'string') {
    const img = new Image();
    img.alt = '';
    img.decoding = 'async';
    img.src = imageSrc(d.image);
    img.decode().then(
      () => sizeImage(img),
      () => {},
    );
    entry.media = img;
  } else if (Array.isArray(d.pixels)) {
    entry.media = pixelCanvas(d.pixels, d.width, d.height, d.channels ?? (d.pixels.length === d.width * d.height * 3 ? 3 : 1));
  }
  return entry;
}

const VARIANT_RANK = { thumb: 0, preview: 1, original: 2 };

/** Fetches one variant of an entry's picture and shows it unless a larger one is already shown. */
async function loadVariant(entry, variant) {
  const d = entry.item.data;
  const img = /** @type {HTMLImageElement} */ (entry.media);
  try {
    if (!entry.urls[variant]) entry.urls[variant] = URL.createObjectURL(await state.client.blob(d[`${variant}Url`]));
    const shown = img.dataset.stage;
    if (variant === 'original' ? !entry.zoomed : shown !== 'loading' && VARIANT_RANK[shown] >= VARIANT_RANK[variant]) return;
    img.src = entry.urls[variant];
    await img.decode().catch(() => {});
    img.dataset.stage = variant;
  } catch {
    // A missing variant leaves the smaller one in place; the item can still be labelled.
  }
}

/** `z`: the original at full size in a scrolling frame, and back. */
async function toggleZoom() {
  const entry = state.current;
  if (!entry?.urls || !(entry.media instanceof HTMLImageElement)) return;
  const d = entry.item.data;
  const img = entry.media;
  const frame = img.parentElement;
  entry.zoomed = !entry.zoomed;
  frame?.classList.toggle('zoomed', entry.zoomed);
  if (entry.zoomed) {
    img.style.width = `${d.width}px`;
    img.style.height = `${d.height}px`;
    img.style.maxWidth = 'none';
    img.style.maxHeight = 'none';
    await loadVariant(entry, 'original');
  } else {
    img.style.cssText = '';
    sizeImage(img, d.width, d.height);
    if (entry.urls.preview) {
      img.src = entry.urls.preview;
      img.dataset.stage = 'preview';
    }
  }
}

/** Lets go of an entry's large blobs once it is off screen (the thumbnail stays for the recent list). */
function releaseMedia(entry) {
  if (!entry?.urls) return;
  for (const v of ['preview', 'original']) {
    if (entry.urls[v]) URL.revokeObjectURL(entry.urls[v]);
    delete entry.urls[v];
  }
  entry.zoomed = false;
  if (entry.media instanceof HTMLImageElement && entry.urls.thumb) {
    entry.media.src = entry.urls.thumb;
    entry.media.dataset.stage = 'thumb';
  }
}

function imageSrc(s) {
  if (s.startsWith('data:')) return s;
  return `data:${s.startsWith('/9j/') ? 'image/jpeg' : 'image/png'};base64,${s}`;
}

/** Small images are scaled up by a whole factor with crisp pixels; large ones fit the box smoothly. */
function sizeImage(el, w = el.naturalWidth, hgt = el.naturalHeight) {
  if (!w || !hgt) return;
  const factor = Math.floor(IMAGE_BOX_PX / Math.max(w, hgt));
  if (factor >= 2) {
    el.classList.add('pixelated');
    el.style.width = `${w * factor}px`;
    el.style.height = `${hgt * factor}px`;
  } else {
    el.classList.remove('pixelated');
    // Width and height both set from the picture's own size: the aspect ratio holds while a thumbnail
    // stands in for the preview, and nothing jumps when the preview arrives.
    const scale = Math.min(1, IMAGE_BOX_PX / Math.max(w, hgt));
    el.style.width = `${Math.round(w * scale)}px`;
    el.style.height = `${Math.round(hgt * scale)}px`;
    el.style.maxWidth = '100%';
    el.style.objectFit = 'contain';
  }
}

function pixelCanvas(pixels, w, hgt, channels) {
  const canvas = document.createElement('canvas');
  canvas.width = w;
  canvas.height = hgt;
  const ctx = canvas.getContext('2d');
  const img = ctx.createImageData(w, hgt);
  for (let i = 0; i < w * hgt; i++) {
    const r = pixels[i * channels];
    img.data[i * 4] = r;
    img.data[i * 4 + 1] = channels === 3 ? pixels[i * 3 + 1] : r;
    img.data[i * 4 + 2] = channels === 3 ? pixels[i * 3 + 2] : r;
    img.data[i * 4 + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
  canvas.setAttribute('role', 'img');
  sizeImage(canvas, w, hgt);
  return canvas;
}

// ---------------------------------------------------------------------------------------------------------
// Decisions

function advance() {
  state.current = state.buffer.shift() ?? null;
  renderItem();
  fetchMore();
}

function decide(label) {
  const entry = state.current;
  if (!entry || !state.labels.includes(label)) return;
  const previous = entry.previous;
  if (previous !== label) {
    const correction = previous !== null;
    state.outbox.push({ itemId: entry.item.id, label, correction });
    state.sendState.set(`${entry.item.id}\u0000${label}`, 'pending');
    persistOutbox();
    state.decided.set(entry.item.id, label);
    if (correction) state.correctionsThisSession++;
    else state.decisionsThisSession++;
    pumpOutbox();
  }
  pushHistory({ entry, label, previous, at: Date.now() });
  advance();
  focusStage();
}

function accept() {
  const p = state.current?.item.prediction;
  if (!state.current) return;
  if (!p) {
    toast('No suggestion for this item yet: pick a label with 1–9 or the label finder.');
    return;
  }
  decide(p.label);
}

function skip() {
  const entry = state.current;
  if (!entry) return;
  if (entry.previous === null) {
    state.skipped.add(entry.item.id);
    // Hand the item back to the team's queue now rather than holding it until the lease ends (best effort).
    state.client.post(`/api/projects/${encodeURIComponent(state.projectId)}/items/${encodeURIComponent(entry.item.id)}/release`, {}).catch(() => {});
  }
  pushHistory({ entry, label: null, previous: entry.previous, at: Date.now() });
  advance();
  focusStage();
}

function undo() {
  const last = state.history.pop();
  if (!last) {
    toast('Nothing to undo yet.');
    return;
  }
  if (state.current) state.buffer.unshift(state.current);
  const id = last.entry.item.id;
  if (last.label === null) state.skipped.delete(id);
  state.current = { ...last.entry, previous: state.decided.get(id) ?? null };
  renderItem();
  renderRecent();
  focusStage();
}

function pushHistory(h_) {
  state.history.push(h_);
  if (state.history.length > HISTORY_MAX) state.history.shift();
  renderRecent();
  renderStats();
}

// ---------------------------------------------------------------------------------------------------------
// Outbox: ordered, persistent, retried until the server has each decision once

function persistOutbox() {
  try {
    localStorage.setItem(state.outboxKey, JSON.stringify(state.outbox));
  } catch {
    // Storage full or disabled: the outbox still lives in memory for this page.
  }
  document.body.dataset.pending = String(state.outbox.length);
}

async function pumpOutbox() {
  if (state.sending) return;
  state.sending = true;
  document.body.dataset.pending = String(state.outbox.length);
  try {
    while (state.outbox.length > 0 && !state.stopped) {
      const job = state.outbox[0];
      renderSync();
      try {
        await exclusive(() =>
          state.client.post(`/api/projects/${encodeURIComponent(state.projectId)}/items/${encodeURIComponent(job.itemId)}/label`, { label: job.label }),
        );
        state.outbox.shift();
        persistOutbox();
        state.sendFailures = 0;
        state.sendState.set(`${job.itemId}\u0000${job.label}`, 'saved');
        state.confirmed++;
        if (!job.correction) state.confirmedNew++;
        renderStats();
        renderRecent();
        if (state.confirmed % 10 === 0) refreshMe();
      } catch (e) {
        if (e instanceof ApiError && (e.status === 0 || e.status === 429 || e.status >= 500)) {
          // Safe to send again: the server stores a repeated decision once.
          state.sendFailures++;
          await waitForRetry(backoffMs(state.sendFailures));
          continue;
        }
        if (handleFatal(e)) return;
        state.outbox.shift();
        persistOutbox();
        state.sendState.set(`${job.itemId}\u0000${job.label}`, 'rejected');
        if (state.decided.get(job.itemId) === job.label) state.decided.delete(job.itemId);
        renderRecent();
        toast(
          e instanceof ApiError && e.code === 'item_leased'
            ? 'Your lease on an item ran out and another annotator has it now, so that decision was not stored.'
            : `A decision was not stored: ${describeError(e)}`,
          'warn',
        );
      }
    }
  } finally {
    state.sending = false;
    renderSync();
  }
}

function waitForRetry(ms) {
  state.retryAt = Date.now() + ms;
  renderSync();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      state.wakeSender = null;
      state.retryAt = 0;
      resolve();
    };
    const timer = setTimeout(done, ms);
    state.wakeSender = done;
  });
}

/** 401/403 mid-session: the key was revoked or lost its role. Stops, keeping unsent decisions stored. */
function handleFatal(e) {
  if (!(e instanceof ApiError) || (e.status !== 401 && e.status !== 403)) return false;
  state.stopped = true;
  $('workspace').hidden = true;
  showNotice({
    title: e.status === 401 ? 'Your key is no longer accepted' : 'This key may no longer review items',
    text: [
      e.status === 401 ? 'It was revoked or replaced.' : describeError(e),
      state.outbox.length
        ? `${state.outbox.length} decision${state.outbox.length === 1 ? ' is' : 's are'} kept in this browser and will be sent when this key works again.`
        : 'All your decisions were saved.',
    ],
    actions: [switchKeyButton()],
    tone: 'error',
  });
  return true;
}

// ---------------------------------------------------------------------------------------------------------
// Session summary (GET /me) and new model versions

let meInFlight = null;
function refreshMe() {
  if (meInFlight || state.stopped) return meInFlight;
  let snap = { confirmed: state.confirmed, confirmedNew: state.confirmedNew };
  meInFlight = exclusive(() => {
    snap = { confirmed: state.confirmed, confirmedNew: state.confirmedNew };
    return state.client.get(`/api/projects/${encodeURIComponent(state.projectId)}/me`);
  })
    .then((me) => {
      state.me = me;
      state.meSnapshot = snap;
      const v = me.model?.version ?? null;
      if (state.knownModel !== undefined && v !== null && v !== state.knownModel) announceModel(me.model, state.knownModel);
      state.knownModel = v;
      renderStats();
    })
    .catch((e) => {
      handleFatal(e);
    })
    .finally(() => {
      meInFlight = null;
    });
  return meInFlight;
}

function announceModel(model, previous) {
  const banner = $('banner');
  banner.replaceChildren(
    h('span', { className: 'banner-dot', attrs: { 'aria-hidden': 'true' } }),
    h(
      'span',
      {},
      h('strong', {}, `Model v${model.version} is live`),
      ` · gold accuracy ${fmtPct(model.accuracy)}${previous ? ` (v${previous} was ${fmtPct(state.prevAccuracy)})` : ''}. Suggestions for the next items come from it.`,
    ),
    h('button', { className: 'btn ghost small', type: 'button', onclick: () => (banner.hidden = true) }, 'Dismiss'),
  );
  banner.hidden = false;
  document.body.dataset.model = String(model.version);
}

// ---------------------------------------------------------------------------------------------------------
// Rendering

function renderStats() {
  const me = state.me;
  if (!me) return;
  const sinceMe = state.confirmed - state.meSnapshot.confirmed;
  const newSinceMe = state.confirmedNew - state.meSnapshot.confirmedNew;
  $('stat-today').textContent = fmtInt(me.labeledToday + sinceMe);
  $('stat-queue').textContent = fmtInt(Math.max(0, me.queue.pending - newSinceMe));
  const m = me.model;
  const modelEl = $('stat-model');
  modelEl.replaceChildren(
    m
      ? h('span', {}, `v${m.version}`, h('span', { className: 'stat-sub' }, ` · ${fmtTime(m.createdAt)}`))
      : h('span', { className: 'stat-sub' }, 'not trained yet'),
  );
  $('stat-accuracy').textContent = m ? fmtPct(m.accuracy) : '—';
  if (m) state.prevAccuracy = m.accuracy;
  const recent = state.history.slice(-21);
  const pace = recent.length >= 3 ? (recent[recent.length - 1].at - recent[0].at) / 1000 / (recent.length - 1) : null;
  const parts = [`${fmtInt(state.decisionsThisSession)} labelled`];
  if (state.correctionsThisSession) parts.push(`${state.correctionsThisSession} corrected`);
  if (state.skipped.size) parts.push(`${state.skipped.size} skipped`);
  if (pace !== null) parts.push(`${pace.toFixed(1)} s per item`);
  $('stat-session').textContent = parts.join(' · ');
}

function renderSync() {
  const el = $('sync');
  const n = state.outbox.length;
  el.className = 'sync';
  document.body.dataset.pending = String(n);
  if (!state.client) return;
  if (state.retryAt) {
    const s = Math.max(0, Math.ceil((state.retryAt - Date.now()) / 1000));
    el.classList.add('sync-offline');
    el.replaceChildren(
      h('span', { className: 'sync-dot', attrs: { 'aria-hidden': 'true' } }),
      `Offline · ${n} decision${n === 1 ? '' : 's'} waiting · retry in ${s} s `,
      h('button', { className: 'btn ghost small', type: 'button', onclick: () => state.wakeSender?.() }, 'Retry now'),
    );
  } else if (n > 0) {
    el.classList.add('sync-busy');
    el.replaceChildren(h('span', { className: 'sync-dot', attrs: { 'aria-hidden': 'true' } }), `Saving ${n}…`);
  } else {
    el.classList.add('sync-ok');
    el.replaceChildren(h('span', { className: 'sync-dot', attrs: { 'aria-hidden': 'true' } }), 'All decisions saved');
  }
}

function showStageMessage(message, kind, actions = []) {
  const [title, text] = Array.isArray(message) ? message : [message, ''];
  $('item-view').hidden = true;
  $('reopened').hidden = true;
  $('dispute').hidden = true;
  const empty = $('stage-empty');
  empty.replaceChildren(
    h(
      'div',
      { className: `stage-msg msg-${kind}` },
      h('h3', {}, title),
      text ? h('p', {}, text) : null,
      actions.length ? h('div', { className: 'notice-actions' }, actions) : null,
    ),
  );
  empty.hidden = false;
  $('item-heading').textContent = kind === 'loading' ? 'Loading' : 'Queue';
  $('item-meta').textContent = '';
  setControlsEnabled(false);
  document.body.dataset.item = '';
  if (kind !== 'loading') document.body.dataset.state = kind;
}

function setControlsEnabled(on) {
  for (const b of document.querySelectorAll('#label-list button, #skip')) b.disabled = !on;
  $('accept').disabled = !on || !state.current?.item.prediction;
  $('typeahead').disabled = !on;
  $('undo').disabled = state.history.length === 0;
}

function renderItem() {
  const entry = state.current;
  if (!entry) {
    renderLabels(null);
    renderPrelabel(null);
    $('sr-status').textContent = '';
    if (state.emptySince) explainEmpty();
    else showStageMessage('Loading items…', 'loading');
    return;
  }
  hideNotice();
  document.body.dataset.state = 'item';
  document.body.dataset.item = entry.item.id;
  $('stage-empty').hidden = true;
  const view = $('item-view');
  view.hidden = false;
  const d = entry.item.data ?? {};
  if (state.shownEntry && state.shownEntry !== entry) releaseMedia(state.shownEntry);
  state.shownEntry = entry;
  if (entry.media) {
    if (entry.urls) {
      entry.media.style.cssText = '';
      sizeImage(entry.media, d.width, d.height);
      if (!entry.urls.preview) loadVariant(entry, 'preview');
    } else if (entry.media instanceof HTMLImageElement && entry.media.complete) sizeImage(entry.media);
    entry.media.setAttribute('alt', 'The item to label');
    view.replaceChildren(h('div', { className: 'media-frame' }, entry.media));
  } else if (typeof d.text === 'string') {
    view.replaceChildren(h('blockquote', { className: 'item-text' }, d.text));
  } else if (Array.isArray(d.vector)) {
    view.replaceChildren(
      h(
        'div',
        { className: 'item-vector' },
        h('p', { className: 'muted small' }, `Feature vector, ${d.vector.length} values`),
        h(
          'code',
          {},
          d.vector
            .slice(0, 64)
            .map((x) => Number(x).toFixed(3))
            .join('  ') + (d.vector.length > 64 ? '  …' : ''),
        ),
      ),
    );
  } else {
    view.replaceChildren(h('pre', { className: 'item-raw' }, JSON.stringify(d, null, 2).slice(0, 2000)));
  }
  $('item-heading').replaceChildren('Item', h('code', { title: entry.item.id }, entry.item.id.slice(0, 8)));
  renderMeta();

  const reopened = $('reopened');
  if (entry.previous !== null) {
    reopened.replaceChildren(
      h('strong', {}, 'Reopened. '),
      'You chose ',
      h('span', { className: 'chip' }, entry.previous),
      '. A different label is stored as a correction; ',
      h('kbd', {}, 'x'),
      ' keeps your choice.',
    );
    reopened.hidden = false;
  } else reopened.hidden = true;

  const dispute = $('dispute');
  const disp = entry.item.dispute;
  if (disp) {
    dispute.replaceChildren(
      h('strong', {}, 'Disputed. '),
      h('span', { className: 'chip chip-dispute' }, disp.label),
      ` from ${disp.by ?? 'an earlier decision'}`,
      entry.item.prediction ? [' against the model’s ', h('span', { className: 'chip chip-model' }, entry.item.prediction.label)] : '',
      '. Choose the right one.',
    );
    dispute.hidden = false;
  } else dispute.hidden = true;

  renderPrelabel(entry);
  renderLabels(entry);
  setControlsEnabled(true);
  const p = entry.item.prediction;
  $('sr-status').textContent =
    `Next item.${entry.previous ? ` Reopened; you chose ${entry.previous}.` : ''}${p ? ` Model suggests ${p.label}, ${fmtPct(p.confidence, 0)} confident.` : ' No suggestion.'}`;
}

function renderMeta() {
  const entry = state.current;
  if (!entry) return;
  const parts = [];
  if (entry.item.uncertainty !== null && entry.item.uncertainty !== undefined) parts.push(`uncertainty ${entry.item.uncertainty.toFixed(2)}`);
  const lease = new Date(entry.item.leaseExpiresAt);
  parts.push(lease.getTime() < Date.now() ? 'lease ran out, renewing' : `yours until ${fmtTime(entry.item.leaseExpiresAt)}`);
  parts.push(`${state.buffer.length} ready`);
  $('item-meta').textContent = parts.join(' · ');
}

function renderPrelabel(entry) {
  const box = $('prelabel');
  const p = entry?.item.prediction;
  box.hidden = !entry;
  if (!entry) {
    box.replaceChildren();
    return;
  }
  if (!p) {
    box.replaceChildren(
      h('span', { className: 'prelabel-kicker' }, 'No suggestion'),
      h(
        'p',
        { className: 'muted small' },
        state.me?.model ? 'The model has not scored this item yet.' : 'The first model trains once enough items are labelled. Until then, pick a label.',
      ),
    );
    box.className = 'prelabel none';
    return;
  }
  const conf = p.confidence;
  const level = conf >= 0.8 ? 'high' : conf >= 0.5 ? 'mid' : 'low';
  const meter = h('meter', { min: 0, max: 1, low: 0.5, high: 0.8, optimum: 1, value: conf, attrs: { 'aria-label': 'Model confidence' } });
  box.className = `prelabel conf-${level}`;
  box.replaceChildren(
    h('span', { className: 'prelabel-kicker' }, `Model v${p.modelVersion} suggests`),
    h('div', { className: 'prelabel-label' }, p.label),
    h('div', { className: 'prelabel-conf' }, meter, h('span', {}, `${fmtPct(conf, 0)} confident`)),
  );
}

function renderLabels(entry) {
  const list = $('label-list');
  const p = entry?.item.prediction;
  const items = state.labels.map((label, i) => {
    const prob = p?.probs?.[label];
    const classes = ['label-btn'];
    if (p && p.label === label) classes.push('suggested');
    if (entry?.previous === label) classes.push('previous');
    if (entry?.item.dispute?.label === label) classes.push('disputed');
    const bar = h('span', { className: 'prob-bar', attrs: { 'aria-hidden': 'true' } });
    if (prob !== undefined) bar.style.setProperty('--p', String(prob));
    return h(
      'li',
      {},
      h(
        'button',
        {
          type: 'button',
          className: classes.join(' '),
          dataset: { label },
          onclick: () => decide(label),
          attrs: i < 10 ? { 'aria-keyshortcuts': String((i + 1) % 10) } : {},
        },
        h('kbd', { className: i < 10 ? '' : 'kbd-none' }, i < 10 ? String((i + 1) % 10) : '·'),
        h('span', { className: 'label-name' }, label),
        prob !== undefined ? h('span', { className: 'prob' }, bar, h('span', { className: 'prob-text' }, fmtPct(prob, 0))) : null,
      ),
    );
  });
  list.replaceChildren(...items);
}

function renderRecent() {
  const list = $('recent');
  const rows = state.history.slice(-6).reverse();
  if (!rows.length) {
    list.replaceChildren(h('li', { className: 'recent-empty muted' }, 'Nothing yet. Your decisions show up here, newest first; u undoes the last one.'));
    return;
  }
  list.replaceChildren(
    ...rows.map((r) => {
      const d = r.entry.item.data ?? {};
      const thumb = r.entry.urls?.thumb
        ? h('img', { className: 'thumb', src: r.entry.urls.thumb, alt: '' })
        : typeof d.image === 'string'
          ? h('img', { className: 'thumb pixelated', src: imageSrc(d.image), alt: '' })
          : h('span', { className: 'thumb thumb-text' }, typeof d.text === 'string' ? d.text.slice(0, 2) : '#');
      let status = '';
      let cls = 'recent-item';
      if (r.label === null) {
        status = r.previous ? `kept ${r.previous}` : 'skipped';
        cls += ' is-skip';
      } else {
        const s = state.sendState.get(`${r.entry.item.id}\u0000${r.label}`) ?? 'saved';
        if (r.previous !== null && r.previous !== r.label) status = `corrected from ${r.previous}`;
        else if (r.previous === r.label) status = 'unchanged';
        else if (r.entry.item.prediction)
          status = r.entry.item.prediction.label === r.label ? 'agreed with model' : `model said ${r.entry.item.prediction.label}`;
        else status = 'no suggestion';
        cls += ` is-${s}`;
        if (s === 'pending') status += ' · saving';
        if (s === 'rejected') status += ' · not stored';
      }
      return h('li', { className: cls }, thumb, h('span', { className: 'recent-label' }, r.label ?? '—'), h('span', { className: 'recent-status' }, status));
    }),
  );
}

let toastTimer = 0;
function toast(message, tone = 'info') {
  const el = $('toast');
  el.className = `toast tone-${tone}`;
  el.textContent = message;
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (el.hidden = true), 5000);
}

function focusStage() {
  const active = document.activeElement;
  if (active && active !== document.body && active.id !== 'main') $('main').focus({ preventScroll: true });
}

// ---------------------------------------------------------------------------------------------------------
// Controls: keyboard first, mouse too

function setupControls() {
  $('accept').addEventListener('click', accept);
  $('skip').addEventListener('click', skip);
  $('undo').addEventListener('click', undo);
  const help = /** @type {HTMLDialogElement} */ ($('help'));
  $('help-open').addEventListener('click', () => help.showModal());
  help.addEventListener('keydown', (e) => {
    if (e.key === '?') {
      e.preventDefault();
      help.close();
    }
  });
  help.addEventListener('close', () => $('main').focus({ preventScroll: true }));
  setupTypeahead();

  document.addEventListener('keydown', (e) => {
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey || state.stopped) return;
    const t = e.target;
    if (
      t instanceof HTMLInputElement ||
      t instanceof HTMLTextAreaElement ||
      t instanceof HTMLSelectElement ||
      (t instanceof HTMLElement && t.isContentEditable)
    )
      return;
    if (help.open || $('workspace').hidden) return;
    const onControl = t instanceof HTMLButtonElement || t instanceof HTMLAnchorElement;
    const key = e.key;
    // A held-down key must not label a run of items.
    const decisive = key === 'Enter' || key === 'a' || key === 'x' || /^[0-9]$/.test(key);
    if (decisive && e.repeat) {
      e.preventDefault();
      return;
    }
    if (key === 'Enter') {
      if (onControl) return; // the focused button or link acts on its own
      accept();
    } else if (key === 'a') accept();
    else if (key === 'x') skip();
    else if (key === 'Backspace' || key === 'u') undo();
    else if (key === '?') help.showModal();
    else if (key === '/') $('typeahead').focus();
    else if (key === 'z') toggleZoom();
    else if (/^[0-9]$/.test(key)) {
      const idx = key === '0' ? 9 : Number(key) - 1;
      if (idx < state.labels.length) decide(state.labels[idx]);
    } else return;
    e.preventDefault();
  });
}

function setupTypeahead() {
  const input = /** @type {HTMLInputElement} */ ($('typeahead'));
  const list = $('typeahead-list');
  let matches = [];
  let active = 0;
  const close = () => {
    list.hidden = true;
    input.setAttribute('aria-expanded', 'false');
    input.removeAttribute('aria-activedescendant');
  };
  const render = () => {
    const q = input.value.trim().toLowerCase();
    if (!q) {
      matches = [];
      close();
      return;
    }
    const starts = state.labels.filter((l) => l.toLowerCase().startsWith(q));
    const contains = state.labels.filter((l) => !l.toLowerCase().startsWith(q) && l.toLowerCase().includes(q));
    matches = [...starts, ...contains].slice(0, 8);
    active = Math.min(active, Math.max(0, matches.length - 1));
    list.replaceChildren(
      ...(matches.length
        ? matches.map((l, i) =>
            h(
              'li',
              {
                id: `ta-${i}`,
                className: i === active ? 'active' : '',
                attrs: { role: 'option', 'aria-selected': i === active ? 'true' : 'false' },
                onmousedown: (ev) => (ev.preventDefault(), pick(l)),
              },
              l,
            ),
          )
        : [h('li', { className: 'muted', attrs: { role: 'option', 'aria-disabled': 'true' } }, 'No label matches')]),
    );
    list.hidden = false;
    input.setAttribute('aria-expanded', 'true');
    if (matches.length) input.setAttribute('aria-activedescendant', `ta-${active}`);
  };
  const pick = (label) => {
    input.value = '';
    close();
    input.blur();
    decide(label);
  };
  input.addEventListener('input', () => {
    active = 0;
    render();
  });
  input.addEventListener('keydown', (e) => {
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault();
      if (!matches.length) return;
      active = (active + (e.key === 'ArrowDown' ? 1 : matches.length - 1)) % matches.length;
      render();
    } else if (e.key === 'Enter') {
      e.preventDefault();
      if (matches[active]) pick(matches[active]);
    } else if (e.key === 'Escape') {
      e.preventDefault();
      input.value = '';
      close();
      $('main').focus({ preventScroll: true });
    }
  });
  input.addEventListener('blur', () => setTimeout(close, 100));
}

main();
