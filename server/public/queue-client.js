// The queue plumbing that the review page (review.js) and the transcription page (transcribe.js) share, so that it
// behaves the same on both: leasing items from the queue ahead of the one on screen and renewing the leases, the
// empty-queue explanation, the optimistic outbox (kept in localStorage, sent in order, retried until the server
// has each answer; the label route stores a repeated request once, so a retry never stores twice), skip and undo
// (undo reopens the previous item; a different answer there is sent as a correction), the session summary
// (GET /me) and the sync indicator. Each page passes in what is its own: how an item is shown, what an answer
// is (a label or a transcript), and its words.
import { ApiError, backoffMs, describeError } from './api.js';
import { $, fmtInt, fmtTime, h, hideNotice, isTranscriptionProject, linkPages, showNotice, startSession, switchKeyButton } from './session.js';

const PREFETCH_LOW = 6; // keep at least this many items leased behind the current one
const FETCH_BATCH = 12;
const HISTORY_MAX = 200;
const ME_POLL_MS = 20_000;
const EMPTY_RECHECK_MS = 15_000;
const LEASE_CHECK_MS = 30_000;
const LEASE_RENEW_MARGIN_MS = 120_000;

/**
 * An entry is `{ item, previous }` (the queue item, and the answer this session already gave it, or null) plus
 * whatever the page keeps with it. A history row is `{ entry, answer, previous, at }`, `answer` null for a skip.
 * An outbox job is `{ itemId, [answerField]: string }` plus `correction: true` or the `previous` answer it
 * corrects (null: a new answer); its shape is what is kept in localStorage, so it stays as it was.
 *
 * @typedef {object} QueueWords
 * @property {string} item  'item' or 'clip'
 * @property {string} items
 * @property {string} answer  'decision' or 'transcript': what the outbox sends
 * @property {string} answers
 * @property {string} done  'labelled' or 'transcribed', for the session line
 * @property {string} noModel  the Model stat before the first version
 * @property {string} forbiddenTitle  for a key without the annotator role
 * @property {string} forbiddenWhy  the sentence saying what the page needs
 * @property {string} revokedTitle  for a 403 in the middle of a session
 * @property {string} leaseLost  an answer refused because another annotator holds the item now
 * @property {(pending: number, counts: any) => Record<'none' | 'done' | 'skipped' | 'leased', [string, string]>} empty
 * @property {string} reviewSkipped  the button that brings skipped items back
 *
 * @typedef {object} QueuePageOptions
 * @property {boolean} transcription  which kind of project the page is for; the other kind is sent to its page
 * @property {string} outboxPrefix  localStorage key of the outbox, before `.${projectId}.${keyId}`
 * @property {'label' | 'transcript'} answerField  the field of the label route's body
 * @property {QueueWords} words
 * @property {(me: any) => void} [onSession]  the page's own set-up from GET /me, before the role check
 * @property {() => void} setup  wires the page's own controls (skip, undo and the keys dialog are wired here), once
 * @property {() => string} [queueQuery]  added to the queue request's query
 * @property {(item: any) => any} [toEntry]  a leased item as an entry (default `{ item, previous: null }`)
 * @property {() => void} [prepareAhead]  after the buffer changed
 * @property {() => void} [leave]  before the item on screen is put aside (advance, undo)
 * @property {(entry: any, previous: string | null) => any} [reopen]  the entry undo shows again
 * @property {() => void} afterUndo
 * @property {() => void} renderItem
 * @property {(entry: any) => string[]} [itemFacts]  facts about the item for the line under its heading, before the lease
 * @property {() => void} renderRecent
 * @property {(me: any) => void} [renderStats]  the page's own stats, after the shared ones
 * @property {(on: boolean) => void} setControlsEnabled
 * @property {() => void} [clearStage]  before a message takes the stage
 * @property {(job: any, answer: any, key: string) => void} [onSaved]
 * @property {(job: any, error: ApiError) => boolean} [onRefused]  true when the page dealt with a refused answer
 * @property {(error: unknown) => boolean} [onFetchError]  true when the page dealt with a failed queue request
 * @property {() => [string | [string, string], string] | null} [quietEmpty]  an empty-queue message of the page's own
 * @property {(model: any, previousVersion: number | null | undefined) => (string | Node)[]} newModelNote  the banner's text when a version goes live
 * @property {() => void} [onStop]
 */

/**
 * The shared state and actions of a queue page. Pages read and add to `state`, and call the actions.
 * @param {QueuePageOptions} page
 */
export function createQueuePage(page) {
  const w = page.words;
  const state = {
    client: /** @type {any} */ (null),
    projectId: '',
    me: /** @type {any} */ (null),
    /** @type {any} */ current: null,
    /** @type {any[]} */ buffer: [],
    /** @type {{ entry: any, answer: string | null, previous: string | null, at: number }[]} */ history: [],
    /** itemId → the last answer given to it in this session */ decided: new Map(),
    skipped: new Set(),
    /** @type {any[]} */ outbox: [],
    /** sendKey(itemId, answer) → 'pending' | 'saved' | 'rejected', for the recent list */ sendState: new Map(),
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
    newThisSession: 0,
    correctionsThisSession: 0,
    stopped: false,
    outboxKey: '',
  };

  const answerOf = (job) => job[page.answerField];
  const isCorrection = (job) => job.correction === true || (job.previous ?? null) !== null;

  /**
   * Runs answers and the session summary one at a time, so that the summary's counts and the answers confirmed
   * since it are never counted twice (an answer lands either before or after it).
   */
  let serverTurn = Promise.resolve();
  function exclusive(fn) {
    const run = serverTurn.then(fn, fn);
    serverTurn = run.catch(() => {});
    return run;
  }

  /** Resolves once every answer in the outbox has a reply (or after `maxMs`). */
  function outboxIdle(maxMs) {
    return new Promise((resolve) => {
      const until = Date.now() + maxMs;
      const check = () => (state.outbox.length === 0 || Date.now() > until ? resolve(undefined) : setTimeout(check, 100));
      check();
    });
  }

  // -------------------------------------------------------------------------------------------------------
  // Start

  async function start() {
    let session;
    try {
      session = await startSession({ onConnectivity: () => renderSync() });
    } catch {
      return;
    }
    const { client, projectId, me } = session;
    // Audio clips are transcribed, not labelled: each kind of project has its own page.
    if (isTranscriptionProject(me.project) !== page.transcription) {
      location.replace(`/ui/${page.transcription ? 'review' : 'transcribe'}?project=${encodeURIComponent(projectId)}`);
      return;
    }
    Object.assign(state, { client, projectId, me });
    linkPages(projectId);
    page.onSession?.(me);
    state.knownModel = me.model?.version ?? null;

    if (me.key.role !== 'annotator' && me.key.role !== 'admin') {
      const other = me.key.role === 'engineer' || me.key.role === 'client';
      showNotice({
        title: w.forbiddenTitle,
        text: [
          `“${me.key.name}” is ${me.key.role === 'engineer' ? 'an' : 'a'} ${me.key.role} key. ${w.forbiddenWhy}`,
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

    state.outboxKey = `${page.outboxPrefix}.${projectId}.${me.key.id}`;
    try {
      state.outbox = JSON.parse(localStorage.getItem(state.outboxKey) || '[]');
    } catch {
      state.outbox = [];
    }
    for (const job of state.outbox) state.decided.set(job.itemId, answerOf(job));

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
    page.setup();
    $('workspace').hidden = false;
    renderStats();
    renderSync();
    page.renderRecent();
    showStageMessage(`Loading ${w.items}…`, 'loading');
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

  // -------------------------------------------------------------------------------------------------------
  // Queue: prefetch, lease renewal, empty queue

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
        const path = `/api/projects/${encodeURIComponent(state.projectId)}/queue?limit=${limit}${page.queueQuery?.() ?? ''}`;
        const { items, retryAfterMs } = await state.client.get(path, { retries: 2 });
        state.fetchFailures = 0;
        // An empty answer with retryAfterMs: items remain that are busy for a moment or leased to others.
        state.retryAfterMs = items.length === 0 && Number.isFinite(retryAfterMs) ? retryAfterMs : 0;
        const leaseById = new Map(items.map((i) => [i.id, i.leaseExpiresAt]));
        for (const e of [state.current, ...state.buffer]) if (e && leaseById.has(e.item.id)) e.item.leaseExpiresAt = leaseById.get(e.item.id);
        const fresh = items.filter((i) => !held.has(i.id) && !state.decided.has(i.id));
        for (const item of fresh) state.buffer.push(page.toEntry ? page.toEntry(item) : { item, previous: null });
        page.prepareAhead?.();
        if (fresh.length > 0) state.emptySince = 0;
        else if (!state.current && state.buffer.length === 0) state.emptySince ||= Date.now();
      } catch (e) {
        if (!handleFatal(e) && !page.onFetchError?.(e)) {
          state.fetchFailures++;
          setTimeout(() => (state.current ? undefined : fetchMore()), backoffMs(state.fetchFailures));
          if (!state.current) showStageMessage(`Cannot load ${w.items}: ${describeError(e)} Retrying…`, 'offline');
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
      showStageMessage([`Fetching ${w.items}…`, `The next ${w.items} are busy for a moment; asking again shortly.`], 'loading');
      return;
    }
    // Our own unsent answers would still count as pending: let them land first.
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
    const says = w.empty(pending, c);
    document.body.dataset.state = 'empty';
    const quiet = page.quietEmpty?.();
    if (quiet) showStageMessage(...quiet);
    else if (pool === 0) showStageMessage(says.none, 'empty');
    else if (pending === 0) showStageMessage(says.done, 'done');
    else if (state.skipped.size > 0 && state.skipped.size >= pending) {
      showStageMessage(says.skipped, 'empty', [h('button', { className: 'btn primary', type: 'button', onclick: reviewSkipped }, w.reviewSkipped)]);
    } else showStageMessage(says.leased, 'empty');
  }

  function reviewSkipped() {
    state.skipped.clear();
    state.emptySince = 0;
    showStageMessage(`Loading ${w.items}…`, 'loading');
    fetchMore();
  }

  // -------------------------------------------------------------------------------------------------------
  // Answers: next, skip, undo

  function advance() {
    page.leave?.();
    state.current = state.buffer.shift() ?? null;
    page.renderItem();
    page.prepareAhead?.();
    fetchMore();
  }

  /** Queues an answer (a job, see above) for sending and counts it for the session line. */
  function enqueue(job) {
    state.outbox.push(job);
    state.sendState.set(sendKey(job.itemId, answerOf(job)), 'pending');
    persistOutbox();
    state.decided.set(job.itemId, answerOf(job));
    if (isCorrection(job)) state.correctionsThisSession++;
    else state.newThisSession++;
    pumpOutbox();
  }

  function skip() {
    const entry = state.current;
    if (!entry) return;
    if (entry.previous === null) {
      state.skipped.add(entry.item.id);
      // Hand the item back to the team's queue now rather than holding it until the lease ends (best effort).
      state.client.post(`/api/projects/${encodeURIComponent(state.projectId)}/items/${encodeURIComponent(entry.item.id)}/release`, {}).catch(() => {});
    }
    pushHistory({ entry, answer: null, previous: entry.previous, at: Date.now() });
    advance();
    focusStage();
  }

  function undo() {
    const last = state.history.pop();
    if (!last) {
      toast('Nothing to undo yet.');
      return;
    }
    page.leave?.();
    if (state.current) state.buffer.unshift(state.current);
    const id = last.entry.item.id;
    if (last.answer === null) state.skipped.delete(id);
    const previous = state.decided.get(id) ?? null;
    state.current = page.reopen ? page.reopen(last.entry, previous) : { ...last.entry, previous };
    page.renderItem();
    page.renderRecent();
    page.afterUndo();
  }

  function pushHistory(row) {
    state.history.push(row);
    if (state.history.length > HISTORY_MAX) state.history.shift();
    page.renderRecent();
    renderStats();
  }

  // -------------------------------------------------------------------------------------------------------
  // Outbox: ordered, persistent, retried until the server has each answer once

  const sendKey = (itemId, answer) => `${itemId}\u0000${answer}`;

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
        const answer = answerOf(job);
        const key = sendKey(job.itemId, answer);
        renderSync();
        try {
          const reply = await exclusive(() =>
            state.client.post(`/api/projects/${encodeURIComponent(state.projectId)}/items/${encodeURIComponent(job.itemId)}/label`, {
              [page.answerField]: answer,
            }),
          );
          state.outbox.shift();
          persistOutbox();
          state.sendFailures = 0;
          state.sendState.set(key, 'saved');
          page.onSaved?.(job, reply, key);
          state.confirmed++;
          if (!isCorrection(job)) state.confirmedNew++;
          renderStats();
          page.renderRecent();
          if (state.confirmed % 10 === 0) refreshMe();
        } catch (e) {
          if (e instanceof ApiError && (e.status === 0 || e.status === 429 || e.status >= 500)) {
            // Safe to send again: the server stores a repeated answer once.
            state.sendFailures++;
            await waitForRetry(backoffMs(state.sendFailures));
            continue;
          }
          if (handleFatal(e)) return;
          state.outbox.shift();
          persistOutbox();
          state.sendState.set(key, 'rejected');
          if (state.decided.get(job.itemId) === answer) {
            if ((job.previous ?? null) === null) state.decided.delete(job.itemId);
            else state.decided.set(job.itemId, job.previous);
          }
          if (e instanceof ApiError && e.code === 'item_leased') {
            page.renderRecent();
            toast(w.leaseLost, 'warn');
          } else if (!(e instanceof ApiError && page.onRefused?.(job, e))) {
            page.renderRecent();
            toast(`A ${w.answer} was not stored: ${describeError(e)}`, 'warn');
          }
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
        resolve(undefined);
      };
      const timer = setTimeout(done, ms);
      state.wakeSender = done;
    });
  }

  /** 401/403 mid-session: the key was revoked or lost its role. Stops, keeping unsent answers stored. */
  function handleFatal(e) {
    if (!(e instanceof ApiError) || (e.status !== 401 && e.status !== 403)) return false;
    state.stopped = true;
    page.onStop?.();
    $('workspace').hidden = true;
    const n = state.outbox.length;
    showNotice({
      title: e.status === 401 ? 'Your key is no longer accepted' : w.revokedTitle,
      text: [
        e.status === 401 ? 'It was revoked or replaced.' : describeError(e),
        n
          ? `${n} ${n === 1 ? `${w.answer} is` : `${w.answers} are`} kept in this browser and will be sent when this key works again.`
          : `All your ${w.answers} were saved.`,
      ],
      actions: [switchKeyButton()],
      tone: 'error',
    });
    return true;
  }

  // -------------------------------------------------------------------------------------------------------
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

  /** The banner over the page when a new model version is live: the next items' suggestions come from it. */
  function announceModel(model, previousVersion) {
    const banner = $('banner');
    banner.replaceChildren(
      h('span', { className: 'banner-dot', attrs: { 'aria-hidden': 'true' } }),
      h('span', {}, h('strong', {}, `Model v${model.version} is live`), ...page.newModelNote(model, previousVersion)),
      h('button', { className: 'btn ghost small', type: 'button', onclick: () => (banner.hidden = true) }, 'Dismiss'),
    );
    banner.hidden = false;
    document.body.dataset.model = String(model.version);
  }

  // -------------------------------------------------------------------------------------------------------
  // Rendering what both pages show alike

  /** Today's count and the queue left (GET /me plus what was confirmed since), the model, this session's line. */
  function renderStats() {
    const me = state.me;
    if (!me) return;
    const sinceMe = state.confirmed - state.meSnapshot.confirmed;
    const newSinceMe = state.confirmedNew - state.meSnapshot.confirmedNew;
    $('stat-today').textContent = fmtInt(me.labeledToday + sinceMe);
    $('stat-queue').textContent = fmtInt(Math.max(0, me.queue.pending - newSinceMe));
    const m = me.model;
    $('stat-model').replaceChildren(
      m ? h('span', {}, `v${m.version}`, h('span', { className: 'stat-sub' }, ` · ${fmtTime(m.createdAt)}`)) : h('span', { className: 'stat-sub' }, w.noModel),
    );
    page.renderStats?.(me);
    const recent = state.history.slice(-21);
    const pace = recent.length >= 3 ? (recent[recent.length - 1].at - recent[0].at) / 1000 / (recent.length - 1) : null;
    const parts = [`${fmtInt(state.newThisSession)} ${w.done}`];
    if (state.correctionsThisSession) parts.push(`${state.correctionsThisSession} corrected`);
    if (state.skipped.size) parts.push(`${state.skipped.size} skipped`);
    if (pace !== null) parts.push(`${pace.toFixed(1)} s per ${w.item}`);
    $('stat-session').textContent = parts.join(' · ');
  }

  function renderSync() {
    const el = $('sync');
    const n = state.outbox.length;
    el.className = 'sync';
    document.body.dataset.pending = String(n);
    if (!state.client) return;
    const dot = () => h('span', { className: 'sync-dot', attrs: { 'aria-hidden': 'true' } });
    if (state.retryAt) {
      const s = Math.max(0, Math.ceil((state.retryAt - Date.now()) / 1000));
      el.classList.add('sync-offline');
      el.replaceChildren(
        dot(),
        `Offline · ${n} ${n === 1 ? w.answer : w.answers} waiting · retry in ${s} s `,
        h('button', { className: 'btn ghost small', type: 'button', onclick: () => state.wakeSender?.() }, 'Retry now'),
      );
    } else if (n > 0) {
      el.classList.add('sync-busy');
      el.replaceChildren(dot(), `Saving ${n}…`);
    } else {
      el.classList.add('sync-ok');
      el.replaceChildren(dot(), `All ${w.answers} saved`);
    }
  }

  /**
   * Readies the stage for the current item (the page then fills it in), or, with none, says why: still loading,
   * or the queue is empty. Returns whether there is an item to show.
   */
  function showStage() {
    const entry = state.current;
    if (!entry) {
      $('sr-status').textContent = '';
      if (state.emptySince) explainEmpty();
      else showStageMessage(`Loading ${w.items}…`, 'loading');
      return false;
    }
    hideNotice();
    document.body.dataset.state = 'item';
    document.body.dataset.item = entry.item.id;
    $('stage-empty').hidden = true;
    $('item-view').hidden = false;
    $('item-heading').replaceChildren(w.item[0].toUpperCase() + w.item.slice(1), h('code', { title: entry.item.id }, entry.item.id.slice(0, 8)));
    return true;
  }

  /** The line under the item's heading: what the page says of it, its uncertainty, the lease, how many are ready. */
  function renderMeta() {
    const entry = state.current;
    if (!entry) return;
    const parts = page.itemFacts ? page.itemFacts(entry) : [];
    if (entry.item.uncertainty !== null && entry.item.uncertainty !== undefined) parts.push(`uncertainty ${entry.item.uncertainty.toFixed(2)}`);
    const lease = new Date(entry.item.leaseExpiresAt);
    parts.push(lease.getTime() < Date.now() ? 'lease ran out, renewing' : `yours until ${fmtTime(entry.item.leaseExpiresAt)}`);
    parts.push(`${state.buffer.length} ready`);
    $('item-meta').textContent = parts.join(' · ');
  }

  /** A message in place of the item: loading, offline, or why the queue is empty. */
  function showStageMessage(message, kind, actions = []) {
    const [title, text] = Array.isArray(message) ? message : [message, ''];
    page.clearStage?.();
    $('item-view').hidden = true;
    $('reopened').hidden = true;
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
    page.setControlsEnabled(false);
    document.body.dataset.item = '';
    if (kind !== 'loading') document.body.dataset.state = kind;
  }

  return {
    state,
    start,
    fetchMore,
    explainEmpty,
    advance,
    enqueue,
    skip,
    undo,
    pushHistory,
    sendKey,
    renderStats,
    renderMeta,
    renderSync,
    showStage,
    showStageMessage,
    handleFatal,
  };
}

let toastTimer = 0;
/** A passing message at the foot of the page. */
export function toast(message, tone = 'info') {
  const el = $('toast');
  el.className = `toast tone-${tone}`;
  el.textContent = message;
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (el.hidden = true), 5000);
}

/** Moves focus off a control that is about to change, onto the page, so that the keys keep working. */
export function focusStage() {
  const active = document.activeElement;
  if (active && active !== document.body && active.id !== 'main') $('main').focus({ preventScroll: true });
}
