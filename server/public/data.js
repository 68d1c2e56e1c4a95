// The Data page (engineer keys): browse items with filters and a cursor, open one (its data, metadata,
// prediction and label history) and relabel it. Keyboard: / search, j/k move, Enter open, 1-9 relabel.
// In an audio transcription project a label is a transcript: the list shows transcripts and drafts, an opened
// clip plays (fetched with the key, played from a blob: URL) and its transcript is corrected in a text box;
// the class filters and the number keys do not apply.
import { ApiError, describeError } from './api.js';
import { $, fmtInt, fmtPct, fmtTime, h, isTranscriptionProject, linkPages, showNotice, startSession, switchKeyButton } from './session.js';

const PAGE = 50;

const state = {
  client: /** @type {any} */ (null),
  projectId: '',
  labels: /** @type {string[]} */ ([]),
  modality: '',
  /** An audio transcription project: labels are transcripts. */
  transcription: false,
  /** The opened clip's blob: URL, let go when another item is opened. */
  clipUrl: '',
  filters: /** @type {Record<string, string>} */ ({}),
  rows: /** @type {any[]} */ ([]),
  cursor: /** @type {string | null} */ (null),
  selected: -1,
  open: /** @type {any} */ (null),
  /** Object URLs made for images fetched with the key (revoked when replaced). */
  urls: /** @type {string[]} */ ([]),
};

const api = (path) => `/api/projects/${encodeURIComponent(state.projectId)}${path}`;

async function main() {
  let session;
  try {
    session = await startSession();
  } catch {
    return;
  }
  const { client, projectId, me } = session;
  Object.assign(state, { client, projectId, labels: me.project.labels, modality: me.project.modality, transcription: isTranscriptionProject(me.project) });
  linkPages(projectId);
  if (me.key.role !== 'engineer' && me.key.role !== 'admin') {
    showNotice({
      title: 'This key cannot open the Data page',
      text: `“${me.key.name}” is a ${me.key.role} key; browsing and relabelling items takes an engineer key.`,
      actions: [switchKeyButton()],
      tone: 'warn',
    });
    return;
  }
  for (const id of ['f-label', 'f-predicted']) $(id).append(...state.labels.map((l) => h('option', { value: l }, l)));
  if (state.transcription) {
    // No classes to filter by; a hidden filter must not narrow the list from a shared link either.
    for (const el of document.querySelectorAll('.class-filter')) /** @type {HTMLElement} */ (el).hidden = true;
    for (const id of ['f-label', 'f-predicted']) /** @type {HTMLSelectElement} */ ($(id)).disabled = true;
    document.body.dataset.task = 'transcription';
  }
  // Filters live in the URL, so a filtered view can be bookmarked and shared.
  const params = new URLSearchParams(location.search);
  for (const el of $('filters').elements) if (el.name && params.has(el.name)) el.value = params.get(el.name);
  $('filters').addEventListener('submit', (e) => {
    e.preventDefault();
    void reload();
  });
  $('more').addEventListener('click', () => void loadPage());
  document.addEventListener('keydown', onKey);
  $('workspace').hidden = false;
  await reload();
}

function readFilters() {
  const f = {};
  for (const el of $('filters').elements) if (el.name && !el.disabled && el.value !== '') f[el.name] = el.value.trim();
  return f;
}

async function reload() {
  state.filters = readFilters();
  const url = new URL(location.href);
  for (const el of $('filters').elements) if (el.name) url.searchParams.delete(el.name);
  for (const [k, v] of Object.entries(state.filters)) url.searchParams.set(k, v);
  history.replaceState(null, '', url);
  state.rows = [];
  state.cursor = null;
  state.selected = -1;
  $('rows').replaceChildren();
  await loadPage();
}

async function loadPage() {
  const qs = new URLSearchParams({ ...state.filters, limit: String(PAGE) });
  if (state.cursor) qs.set('cursor', state.cursor);
  $('list-status').textContent = 'Loading…';
  try {
    const page = await state.client.get(api(`/items?${qs}`));
    const start = state.rows.length;
    state.rows.push(...page.items);
    state.cursor = page.nextCursor;
    $('rows').append(...page.items.map((it, i) => row(it, start + i)));
    $('more').hidden = !state.cursor;
    $('list-status').textContent = state.rows.length
      ? `${fmtInt(state.rows.length)} item${state.rows.length === 1 ? '' : 's'} shown${state.cursor ? ' · more below' : ''}`
      : 'No item matches these filters.';
    if (state.selected < 0 && state.rows.length) select(0);
  } catch (e) {
    $('list-status').textContent = e instanceof ApiError && e.status === 400 ? `Filters not valid: ${e.message}` : describeError(e);
  }
}

function preview(it) {
  if (it.text !== undefined) return h('span', { className: 'data-text' }, it.text);
  if (state.transcription) return h('span', { className: 'muted small' }, 'audio clip');
  if (it.thumbUrl) {
    const img = h('img', { className: 'data-thumb', alt: '', width: 40, height: 40 });
    void authedImage(it.thumbUrl).then((src) => {
      if (src) img.src = src;
    });
    return img;
  }
  return h('span', { className: 'muted' }, 'vector');
}

/** A transcript as shown: quoted, and an empty one (a clip with no speech) said in words. */
const quoted = (t) => (t ? `“${t}”` : '(no speech)');
/** A clip's draft: `text` in GET /items/:id (with words and confidence), `label` in the GET /items listing. */
const draftText = (p) => p.text ?? p.label ?? '';

function row(it, index) {
  const flags = [it.split === 'gold' ? 'gold' : null, it.holdout ? 'held out' : null, it.disputed ? 'disputed' : null, it.status].filter(Boolean).join(' · ');
  const label = it.label === null ? '—' : state.transcription ? h('span', { className: 'data-text data-transcript' }, quoted(it.label)) : it.label;
  const predicted = !it.prediction ? '—' : state.transcription ? h('span', { className: 'data-text' }, quoted(draftText(it.prediction))) : it.prediction.label;
  const tr = h(
    'tr',
    { tabIndex: 0, id: `row-${index}`, onclick: () => (select(index), void openItem(index)) },
    h('td', {}, h('div', { className: 'muted small' }, it.externalId ?? it.id.slice(0, 8)), preview(it)),
    h('td', {}, label, it.source ? h('span', { className: 'muted small' }, ` ${it.source}`) : null),
    h('td', {}, predicted, it.prediction ? ` ${fmtPct(it.prediction.confidence, 0)}` : null),
    h('td', { className: 'small' }, flags),
  );
  return tr;
}

function select(index) {
  if (index < 0 || index >= state.rows.length) return;
  document.getElementById(`row-${state.selected}`)?.removeAttribute('aria-selected');
  state.selected = index;
  const tr = document.getElementById(`row-${index}`);
  tr?.setAttribute('aria-selected', 'true');
  tr?.focus({ preventScroll: false });
}

async function authedImage(url) {
  try {
    const res = await fetch(url, { headers: { authorization: `Bearer ${localStorage.getItem('furrow.apiKey')}` } });
    if (!res.ok) return null;
    const u = URL.createObjectURL(await res.blob());
    state.urls.push(u);
    return u;
  } catch {
    return null;
  }
}

function imageOf(data) {
  const img = h('img', { className: 'data-image', alt: 'The item' });
  if (typeof data.image === 'string') img.src = data.image.startsWith('data:') ? data.image : `data:image/png;base64,${data.image}`;
  else if (data.previewUrl || data.originalUrl)
    void authedImage(data.previewUrl ?? data.originalUrl).then((src) => {
      if (src) img.src = src;
    });
  return img;
}

async function openItem(index) {
  const summary = state.rows[index];
  if (!summary) return;
  if (state.clipUrl) {
    URL.revokeObjectURL(state.clipUrl);
    state.clipUrl = '';
  }
  $('detail-heading').textContent = summary.externalId ?? summary.id;
  $('detail').textContent = 'Loading…';
  try {
    state.open = await state.client.get(api(`/items/${encodeURIComponent(summary.id)}`));
    renderDetail();
  } catch (e) {
    $('detail').textContent = describeError(e);
  }
}

/**
 * A play button for a clip. The media route needs the key, which an <audio> element cannot send: the clip is
 * fetched with it on the first press and played from a blob: URL.
 */
function clipPlayer(d) {
  const audio = /** @type {HTMLAudioElement} */ (h('audio', { id: 'clip', preload: 'none' }));
  const label = h('span', {}, 'Play');
  const button = h('button', { id: 'play-clip', className: 'btn small', type: 'button', dataset: { state: 'idle' } }, label);
  const status = h('span', { className: 'muted small' }, Number.isFinite(d.durationMs) ? ` ${(d.durationMs / 1000).toFixed(1)} s` : '');
  const show = (s, text) => {
    button.dataset.state = s;
    label.textContent = text;
  };
  button.addEventListener('click', async () => {
    if (!audio.src) {
      show('loading', 'Loading…');
      try {
        if (state.clipUrl) URL.revokeObjectURL(state.clipUrl);
        state.clipUrl = URL.createObjectURL(await state.client.blob(d.audioUrl));
        audio.src = state.clipUrl;
      } catch (e) {
        show('failed', 'Play');
        status.textContent = ` The audio could not be loaded: ${describeError(e)}`;
        return;
      }
    }
    if (audio.paused) audio.play().catch(() => show('ready', 'Play'));
    else audio.pause();
  });
  audio.addEventListener('playing', () => show('playing', 'Pause'));
  audio.addEventListener('pause', () => show('ready', 'Play'));
  return h('div', { className: 'data-clip' }, button, status, audio);
}

/** The transcript box of an opened clip: a correction is stored as a new transcript in the item's history. */
function transcriptForm(it) {
  const input = /** @type {HTMLTextAreaElement} */ (
    h('textarea', {
      id: 'transcript',
      className: 'transcript',
      rows: 2,
      attrs: { spellcheck: 'false' },
      value: it.label ?? (it.prediction ? draftText(it.prediction) : ''),
    })
  );
  return h(
    'form',
    {
      className: 'data-transcript-form',
      onsubmit: (e) => {
        e.preventDefault();
        void relabel(input.value.replace(/\s+/g, ' ').trim());
      },
    },
    h('label', { className: 'field-label', attrs: { for: 'transcript' } }, 'Transcript'),
    input,
    h('button', { className: 'btn primary small', type: 'submit' }, 'Save transcript'),
  );
}

function renderDetail() {
  const it = state.open;
  const d = it.data ?? {};
  const body =
    typeof d.text === 'string'
      ? h('p', { className: 'data-fulltext' }, d.text)
      : Array.isArray(d.vector)
        ? h('code', { className: 'small' }, `[${d.vector.slice(0, 16).join(', ')}${d.vector.length > 16 ? ', …' : ''}] (${d.vector.length} numbers)`)
        : typeof d.audioUrl === 'string'
          ? clipPlayer(d)
          : imageOf(d);
  const predicted = it.prediction ? (state.transcription ? quoted(draftText(it.prediction)) : it.prediction.label) : '';
  const pred = it.prediction?.error
    ? h('p', { className: 'muted' }, `Model v${it.prediction.modelVersion} could not transcribe this clip: ${it.prediction.error}`)
    : it.prediction
      ? h(
          'p',
          {},
          `Model v${it.prediction.modelVersion}${state.transcription ? ' draft' : ''}: `,
          h('strong', {}, predicted),
          ` ${fmtPct(it.prediction.confidence, 1)}`,
        )
      : h('p', { className: 'muted' }, state.transcription ? 'No draft yet.' : 'No prediction yet.');
  const buttons = h(
    'ol',
    { className: 'label-list', attrs: { 'aria-label': 'Relabel' } },
    state.labels.map((l, i) =>
      h(
        'li',
        {},
        h(
          'button',
          { className: `label-btn${l === it.label ? ' suggested' : ''}`, type: 'button', onclick: () => void relabel(l) },
          h('kbd', { className: i < 9 ? '' : 'kbd-none' }, String(i + 1)),
          h('span', { className: 'label-name' }, l),
        ),
      ),
    ),
  );
  const history = it.labels.length
    ? h(
        'table',
        { className: 'data-table small' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            h('th', {}, state.transcription ? 'Transcript' : 'Label'),
            h('th', {}, 'Source'),
            h('th', {}, 'Key'),
            h('th', {}, 'Model'),
            h('th', {}, 'When'),
          ),
        ),
        h(
          'tbody',
          {},
          it.labels.map((l) =>
            h(
              'tr',
              {},
              h('td', {}, state.transcription ? quoted(l.label) : l.label),
              h('td', {}, l.source),
              h('td', {}, l.keyId ? l.keyId.slice(0, 8) : '—'),
              h('td', {}, l.modelVersion === null ? '—' : `v${l.modelVersion}`),
              h('td', {}, fmtTime(l.createdAt)),
            ),
          ),
        ),
      )
    : h('p', { className: 'muted' }, state.transcription ? 'Never transcribed.' : 'Never labelled.');
  $('detail').className = '';
  $('detail').replaceChildren(
    h(
      'p',
      { className: 'muted small' },
      `${it.split}${it.holdout ? ' · held out' : ''} · ${it.status}${it.label && !state.transcription ? ` · label ${it.label} (${it.labelSource})` : ''}`,
    ),
    body,
    // replaceChildren, unlike h(), would write a null out as the text "null".
    ...(it.meta ? [h('pre', { className: 'data-meta small' }, JSON.stringify(it.meta, null, 2))] : []),
    pred,
    h('h3', {}, state.transcription ? 'Correct the transcript' : 'Relabel'),
    state.transcription ? transcriptForm(it) : buttons,
    h('p', { id: 'relabel-status', className: 'small', role: 'status' }),
    h('h3', {}, state.transcription ? 'Transcript history' : 'Label history'),
    history,
  );
}

async function relabel(label) {
  const it = state.open;
  if (!it) return;
  try {
    const answer = await state.client.post(api(`/items/${encodeURIComponent(it.id)}/label`), state.transcription ? { transcript: label } : { label });
    // A transcript is stored normalised (lower case, no punctuation): show it as stored.
    const stored = state.transcription && typeof answer?.transcript === 'string' ? answer.transcript : label;
    state.open = await state.client.get(api(`/items/${encodeURIComponent(it.id)}`));
    renderDetail();
    $('relabel-status').textContent = state.transcription ? `Transcript saved: ${quoted(stored)}.` : `Labelled ${label}.`;
    const i = state.rows.findIndex((r) => r.id === it.id);
    if (i >= 0) {
      state.rows[i] = { ...state.rows[i], label: stored, source: 'human', status: 'labeled' };
      document.getElementById(`row-${i}`)?.replaceWith(row(state.rows[i], i));
      if (state.selected === i) document.getElementById(`row-${i}`)?.setAttribute('aria-selected', 'true');
    }
  } catch (e) {
    $('relabel-status').textContent = describeError(e);
  }
}

function onKey(e) {
  const typing = e.target instanceof HTMLInputElement || e.target instanceof HTMLSelectElement || e.target instanceof HTMLTextAreaElement;
  if (e.key === '/' && !typing) {
    e.preventDefault();
    $('f-q').focus();
    return;
  }
  if (typing || e.ctrlKey || e.metaKey || e.altKey) return;
  if (e.key === 'j' || e.key === 'ArrowDown') {
    e.preventDefault();
    if (state.selected === state.rows.length - 1 && state.cursor) void loadPage();
    else select(state.selected + 1);
  } else if (e.key === 'k' || e.key === 'ArrowUp') {
    e.preventDefault();
    select(state.selected - 1);
  } else if (e.key === 'Enter' && e.target instanceof HTMLTableRowElement) {
    e.preventDefault();
    void openItem(state.selected);
  } else if (/^[1-9]$/.test(e.key) && state.open && !state.transcription) {
    const label = state.labels[Number(e.key) - 1];
    if (label) void relabel(label);
  }
}

void main();
