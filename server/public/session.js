// What both pages share: the API key (asked once, kept in localStorage, or passed as #key=... in a link),
// the project (?project=..., or picked from GET /api/projects), the calling key's role, and the top bar.
import { ApiError, createClient, describeError } from './api.js';

const KEY_STORAGE = 'furrow.apiKey';

/** Shorthand for document.getElementById that fails loudly on a missing element. */
export function $(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`missing #${id}`);
  return el;
}

/** Creates an element with properties, attributes (`attrs`) and children (strings become text). */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'attrs') {
      for (const [a, av] of Object.entries(v)) if (av !== undefined && av !== null) el.setAttribute(a, String(av));
    } else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else el[k] = v;
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}

export const fmtPct = (x, digits = 1) => (x === null || x === undefined || Number.isNaN(x) ? '—' : `${(x * 100).toFixed(digits)}%`);
export const fmtInt = (n) => (n === null || n === undefined ? '—' : Number(n).toLocaleString('en-US'));

export function fmtTime(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  const sameDay = d.toDateString() === new Date().toDateString();
  return sameDay
    ? d.toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit' })
    : d.toLocaleString('en-GB', { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' });
}

export function fmtAgo(iso) {
  if (!iso) return '';
  const s = Math.max(0, (Date.now() - new Date(iso).getTime()) / 1000);
  if (s < 60) return 'just now';
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

function takeKeyFromHash() {
  const m = /(?:^#|&)key=([^&]+)/.exec(location.hash);
  if (!m) return;
  localStorage.setItem(KEY_STORAGE, decodeURIComponent(m[1]));
  // Do not leave the secret in the address bar, the history or a bookmark.
  history.replaceState(null, '', location.pathname + location.search);
}

export function forgetKey() {
  localStorage.removeItem(KEY_STORAGE);
}

/** Shows a notice in place of the page's content: a title, text, and actions (buttons or links). */
export function showNotice({ title, text, actions = [], tone = 'info' }) {
  const box = $('notice');
  box.replaceChildren(
    h(
      'div',
      { className: `notice-card tone-${tone}` },
      h('h2', {}, title),
      ...(Array.isArray(text) ? text : [text]).map((t) => h('p', {}, t)),
      actions.length ? h('div', { className: 'notice-actions' }, actions) : null,
    ),
  );
  box.hidden = false;
}

export function hideNotice() {
  $('notice').hidden = true;
}

function askForKey(message) {
  return new Promise((resolve) => {
    const input = h('input', {
      id: 'key-input',
      type: 'password',
      autocomplete: 'off',
      spellcheck: false,
      required: true,
      placeholder: 'fw_…',
      attrs: { 'aria-describedby': 'key-help' },
    });
    const form = h(
      'form',
      { className: 'signin-card', attrs: { 'aria-labelledby': 'signin-title' } },
      h('h2', { id: 'signin-title' }, 'Sign in with your API key'),
      h(
        'p',
        { id: 'key-help', className: 'muted' },
        'Your project lead gives you a key. It stays in this browser only (local storage); “Switch key” in the top bar forgets it.',
      ),
      message ? h('p', { className: 'form-error', attrs: { role: 'alert' } }, message) : null,
      h('label', { htmlFor: 'key-input' }, 'API key'),
      input,
      h('button', { type: 'submit', className: 'btn primary' }, 'Continue'),
    );
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const key = input.value.trim();
      if (!key) return;
      localStorage.setItem(KEY_STORAGE, key);
      $('signin').hidden = true;
      resolve(key);
    });
    $('signin').replaceChildren(form);
    $('signin').hidden = false;
    hideNotice();
    input.focus();
  });
}

function fillTopbar(me) {
  const who = $('who');
  who.replaceChildren(
    h('span', { className: 'who-name' }, me?.key?.name ?? ''),
    me ? h('span', { className: `role-badge role-${me.key.role}` }, me.key.role) : null,
  );
  if (me) $('project-name').textContent = me.project.name;
  // Only the pages this key may use are offered.
  const pages = { annotator: ['review'], engineer: ['dashboard', 'data', 'team'], client: ['dashboard', 'team'] }[me?.key?.role ?? ''];
  if (pages) for (const a of document.querySelectorAll('a[data-page]')) a.hidden = !pages.includes(a.dataset.page) && a.getAttribute('aria-current') !== 'page';
  $('switch-key').hidden = false;
}

/**
 * Resolves the key, the project and the key's view of it (`GET /api/projects/:id/me`).
 * @returns {Promise<{ client: ReturnType<typeof createClient>, projectId: string, me: any }>}
 */
export async function startSession({ onConnectivity } = {}) {
  takeKeyFromHash();
  $('switch-key').addEventListener('click', () => {
    forgetKey();
    location.reload();
  });
  let message = '';
  for (;;) {
    const key = localStorage.getItem(KEY_STORAGE) || (await askForKey(message));
    const client = createClient({ key, onConnectivity });
    try {
      const projectId = await pickProject(client);
      const me = await client.get(`/api/projects/${encodeURIComponent(projectId)}/me`);
      fillTopbar(me);
      return { client, projectId, me };
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) {
        forgetKey();
        message = 'That key was not accepted: it is mistyped or has been revoked.';
        continue;
      }
      if (e instanceof ApiError && e.status === 403) {
        $('switch-key').hidden = false;
        showNotice({
          title: 'This key has no access to that project',
          text: 'Keys belong to one project. Open the link your project lead sent, or use a key of this project.',
          actions: [h('a', { className: 'btn', href: location.pathname }, 'My projects'), switchKeyButton()],
          tone: 'warn',
        });
        throw e;
      }
      if (e instanceof ApiError && e.status === 404) {
        showNotice({
          title: 'Project not found',
          text: 'No project has that id. It may have been deleted.',
          actions: [h('a', { className: 'btn', href: location.pathname }, 'My projects')],
          tone: 'warn',
        });
        throw e;
      }
      if (e?.picking) throw e;
      showNotice({
        title: 'The server cannot be reached',
        text: `${describeError(e)} This page tries again when you reload it.`,
        actions: [h('button', { className: 'btn primary', onclick: () => location.reload() }, 'Reload')],
        tone: 'error',
      });
      throw e;
    }
  }
}

export function switchKeyButton() {
  return h('button', { className: 'btn', type: 'button', onclick: () => (forgetKey(), location.reload()) }, 'Use another key');
}

async function pickProject(client) {
  const fromUrl = new URLSearchParams(location.search).get('project');
  if (fromUrl) return fromUrl;
  const { projects } = await client.get('/api/projects');
  if (projects.length === 1) {
    const url = new URL(location.href);
    url.searchParams.set('project', projects[0].id);
    history.replaceState(null, '', url);
    return projects[0].id;
  }
  $('switch-key').hidden = false;
  if (projects.length === 0) {
    showNotice({ title: 'No projects yet', text: 'An admin creates one with POST /api/projects, then hands out keys for it.', actions: [switchKeyButton()] });
  } else {
    showNotice({
      title: 'Choose a project',
      text: '',
      actions: [
        h(
          'ul',
          { className: 'project-list' },
          projects.map((p) =>
            h(
              'li',
              {},
              h(
                'a',
                { href: `${location.pathname}?project=${encodeURIComponent(p.id)}` },
                h('strong', {}, p.name),
                h('span', { className: 'muted' }, isTranscriptionProject(p) ? ' · audio · transcription' : ` · ${p.modality} · ${p.labels.length} labels`),
              ),
            ),
          ),
        ),
      ],
    });
  }
  const err = new Error('choose a project');
  err.picking = true;
  throw err;
}

/**
 * True for an audio transcription project (`{modality: "audio", task: "transcription"}`), whose clips are reviewed on
 * /ui/transcribe rather than /ui/review. The task may come at the top level or in the settings.
 */
export function isTranscriptionProject(project) {
  return project?.modality === 'audio' || project?.task === 'transcription' || project?.settings?.task === 'transcription';
}

/** Keeps links between the two pages on the same project. */
export function linkPages(projectId) {
  for (const a of document.querySelectorAll('a[data-page]')) a.href = `/ui/${a.dataset.page}?project=${encodeURIComponent(projectId)}`;
}
