// The annotator's review page: one item at a time from the queue, keyboard first.
//
// Decisions are optimistic: the page moves to the next (prefetched) item at once and an outbox sends the
// decisions in order in the background (queue-client.js, shared with the transcription page, keeps the queue,
// the outbox and undo). Undo reopens the previous item; a different choice there is sent as a correction (a new
// row in the item's history).
import { ApiError } from './api.js';
import { $, fmtInt, fmtPct, h, showNotice } from './session.js';
import { createQueuePage, focusStage, toast } from './queue-client.js';

const IMAGE_BOX_PX = 400;

/** @typedef {{ id: string, data: Record<string, any>, prediction: null | { label: string, confidence: number, probs: Record<string, number>, modelVersion: number }, uncertainty: number | null, leaseExpiresAt: string, dispute?: { label: string, by?: string } }} QueueItem */
/** @typedef {{ item: QueueItem, previous: string | null, media?: HTMLElement, urls?: Record<string, string>, zoomed?: boolean }} Entry */

const queue = createQueuePage({
  transcription: false,
  outboxPrefix: 'furrow.outbox',
  answerField: 'label',
  words: {
    item: 'item',
    items: 'items',
    answer: 'decision',
    answers: 'decisions',
    done: 'labelled',
    noModel: 'not trained yet',
    forbiddenTitle: 'This key cannot review items',
    forbiddenWhy: 'The review page leases items from the labelling queue, which takes an annotator key.',
    revokedTitle: 'This key may no longer review items',
    leaseLost: 'Your lease on an item ran out and another annotator has it now, so that decision was not stored.',
    reviewSkipped: 'Review skipped items',
    empty: (pending, c) => ({
      none: [
        'Nothing to label yet',
        'This project has no items in its pool. They appear here as soon as an engineer adds them; this page checks every 15 seconds.',
      ],
      done: [
        'All caught up',
        `Every item in this project has a label: ${fmtInt(c.labeled - (c.gold ?? 0))} from people, ${fmtInt(c.autoLabeled)} from the model. New items appear here when they arrive.`,
      ],
      skipped: [
        'Only skipped items are left',
        `You skipped the remaining ${fmtInt(pending)} item${pending === 1 ? '' : 's'}. They went back to the team's queue; you can still review them here.`,
      ],
      leased: [
        'The queue is empty for now',
        `The ${fmtInt(pending)} item${pending === 1 ? ' that is' : 's that are'} still unlabelled ${pending === 1 ? 'is' : 'are'} leased to other annotators. An item comes back here if its lease runs out before it is labelled; this page checks again every 15 seconds.`,
      ],
    }),
  },
  onSession: (me) => Object.assign(state, { project: me.project, labels: me.project.labels }),
  setup: setupControls,
  queueQuery: () => (state.kind === 'disputed' ? '&kind=disputed' : ''),
  toEntry: (item) => prepare({ item, previous: null }),
  afterUndo: focusStage,
  renderItem,
  renderRecent,
  renderStats: (me) => {
    $('stat-accuracy').textContent = me.model ? fmtPct(me.model.accuracy) : '—';
    if (me.model) state.prevAccuracy = me.model.accuracy;
  },
  setControlsEnabled,
  clearStage: () => {
    $('dispute').hidden = true;
  },
  onFetchError: noDisputedQueue,
  quietEmpty: () =>
    state.kind === 'disputed' ? [['No disputed items', 'Nothing is waiting for a second look. This page checks again every 15 seconds.'], 'empty'] : null,
  newModelNote: (model, previous) => [
    ` · gold accuracy ${fmtPct(model.accuracy)}${previous ? ` (v${previous} was ${fmtPct(state.prevAccuracy)})` : ''}. Suggestions for the next items come from it.`,
  ],
});

/** The shared queue state (queue-client.js) and this page's own. */
const state = Object.assign(queue.state, {
  project: /** @type {any} */ (null),
  labels: /** @type {string[]} */ ([]),
  kind: new URLSearchParams(location.search).get('queue') === 'disputed' ? 'disputed' : 'uncertain',
  prevAccuracy: /** @type {number | null} */ (null),
  /** The entry on screen, whose large blobs are let go when another takes its place. */
  shownEntry: /** @type {any} */ (null),
});

/** A server without the disputed-label queue answers 400: say so, and offer the regular queue. */
function noDisputedQueue(e) {
  if (!(e instanceof ApiError && e.status === 400 && state.kind === 'disputed')) return false;
  state.stopped = true;
  showNotice({
    title: 'No disputed-label queue on this server',
    text: 'This server does not offer a queue of disputed labels yet. The regular queue is waiting for you.',
    actions: [h('a', { className: 'btn primary', href: `/ui/review?project=${encodeURIComponent(state.projectId)}` }, 'Review the regular queue')],
  });
  $('workspace').hidden = true;
  return true;
}

// ---------------------------------------------------------------------------------------------------------
// Images: decoded ahead of time

/** Settles when the page's first thumbnail is on hand; later media requests wait for it. */
let firstThumb = null;

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
    // The page's first picture goes alone: the browser opens at most 6 connections to the server, and a first
    // page of 12 items would otherwise queue its thumbnail behind the others (measured: ~60 ms later on screen).
    const thumb = firstThumb ? firstThumb.then(() => loadVariant(entry, 'thumb')) : loadVariant(entry, 'thumb');
    firstThumb ??= thumb;
    thumb.then(() => loadVariant(entry, 'preview'));
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

function decide(label) {
  const entry = state.current;
  if (!entry || !state.labels.includes(label)) return;
  const previous = entry.previous;
  if (previous !== label) queue.enqueue({ itemId: entry.item.id, label, correction: previous !== null });
  queue.pushHistory({ entry, answer: label, previous, at: Date.now() });
  queue.advance();
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

// ---------------------------------------------------------------------------------------------------------
// Rendering

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
  }
  if (!queue.showStage()) return;
  const view = $('item-view');
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
  queue.renderMeta();

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
      if (r.answer === null) {
        status = r.previous ? `kept ${r.previous}` : 'skipped';
        cls += ' is-skip';
      } else {
        const s = state.sendState.get(queue.sendKey(r.entry.item.id, r.answer)) ?? 'saved';
        if (r.previous !== null && r.previous !== r.answer) status = `corrected from ${r.previous}`;
        else if (r.previous === r.answer) status = 'unchanged';
        else if (r.entry.item.prediction)
          status = r.entry.item.prediction.label === r.answer ? 'agreed with model' : `model said ${r.entry.item.prediction.label}`;
        else status = 'no suggestion';
        cls += ` is-${s}`;
        if (s === 'pending') status += ' · saving';
        if (s === 'rejected') status += ' · not stored';
      }
      return h('li', { className: cls }, thumb, h('span', { className: 'recent-label' }, r.answer ?? '—'), h('span', { className: 'recent-status' }, status));
    }),
  );
}

// ---------------------------------------------------------------------------------------------------------
// Controls: keyboard first, mouse too

function setupControls() {
  $('accept').addEventListener('click', accept);
  const help = /** @type {HTMLDialogElement} */ ($('help'));
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
    else if (key === 'x') queue.skip();
    else if (key === 'Backspace' || key === 'u') queue.undo();
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

queue.start();
