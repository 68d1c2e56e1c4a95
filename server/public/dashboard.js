// The dashboard: gold accuracy across versions, calibration, confusion, per-class figures and label counts
// for engineers and clients; training jobs with live progress, "Retrain now" and activate/rollback for
// engineers only. Controls are built here for engineer (and admin) keys only, never sent hidden to others.
// An audio transcription project has no classes: its metrics are word and character error rates (lower is
// better), a retrained version is activated only when its gold WER is lower (otherwise kept back), and
// auto-accept has a plan of its own; the class-only panels are hidden for it (docs/transcription.md).
import { ApiError, describeError } from './api.js';
import { $, fmtAgo, fmtInt, fmtPct, fmtTime, h, isTranscriptionProject, linkPages, showNotice, startSession, switchKeyButton } from './session.js';

const METRICS_POLL_MS = 15_000;
const JOBS_POLL_ACTIVE_MS = 1_500;
const JOBS_POLL_IDLE_MS = 10_000;
const CHART_HEIGHT = 190;

const COLORS = {
  accent: '#4f46e5',
  accentFill: 'rgba(79, 70, 229, 0.10)',
  teal: '#0d9488',
  gray: '#94a3b8',
  grid: 'rgba(15, 23, 42, 0.07)',
  axis: '#64748b',
  bars: 'rgba(100, 116, 139, 0.22)',
  kept: '#e11d48',
};

const state = {
  client: /** @type {any} */ (null),
  projectId: '',
  me: /** @type {any} */ (null),
  labels: /** @type {string[]} */ ([]),
  /** An audio transcription project: error rates instead of accuracy, no class panels. */
  transcription: false,
  engineer: false,
  metrics: /** @type {any} */ (null),
  models: /** @type {any} */ (null),
  jobs: /** @type {any[]} */ ([]),
  charts: /** @type {Record<string, any>} */ ({}),
  jobsTimer: 0,
  /** The newest succeeded training job seen by the last poll (undefined before the first poll). */
  lastTrained: /** @type {string | null | undefined} */ (undefined),
  /** A pending "are you sure" on an activate button; kept in state so that a re-render keeps it. */
  confirming: /** @type {{ version: number, until: number } | null} */ (null),
  lastUpdated: 0,
  stopped: false,
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
  Object.assign(state, { client, projectId, me, labels: me.project.labels, transcription: isTranscriptionProject(me.project) });
  linkPages(projectId);
  if (state.transcription) showTranscriptionPanels();
  const role = me.key.role;
  if (role !== 'engineer' && role !== 'client' && role !== 'admin') {
    showNotice({
      title: 'This key cannot open the dashboard',
      text: [
        `“${me.key.name}” is an ${role} key. The dashboard shows model metrics and training controls, which take an engineer or client key.`,
        'Your work is on the review page.',
      ],
      actions: [h('a', { className: 'btn primary', href: `/ui/review?project=${encodeURIComponent(projectId)}` }, 'Open the review page'), switchKeyButton()],
      tone: 'warn',
    });
    document.body.dataset.state = 'forbidden';
    return;
  }
  state.engineer = role === 'engineer' || role === 'admin';
  document.body.dataset.role = role;
  $('board').hidden = false;
  if (state.engineer) buildEngineerControls();

  await refreshAll();
  setInterval(() => refreshAll().catch(() => {}), METRICS_POLL_MS);
  setInterval(renderUpdated, 5_000);
  if (state.engineer) scheduleJobs(0);
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') refreshAll().catch(() => {});
  });
}

// ---------------------------------------------------------------------------------------------------------
// Data

async function refreshAll() {
  if (state.stopped) return;
  try {
    const [metrics, models] = await Promise.all([state.client.get(api('/metrics')), state.client.get(api('/models'))]);
    state.metrics = metrics;
    state.models = models;
    state.lastUpdated = Date.now();
    render();
  } catch (e) {
    if (e instanceof ApiError && (e.status === 401 || e.status === 403)) {
      stop(e);
      return;
    }
    $('updated').textContent = `Cannot refresh: ${describeError(e)}`;
    $('updated').className = 'sync sync-offline';
  }
}

function stop(e) {
  state.stopped = true;
  $('board').hidden = true;
  showNotice({
    title: e.status === 401 ? 'Your key is no longer accepted' : 'This key may no longer see this dashboard',
    text: e.status === 401 ? 'It was revoked or replaced.' : describeError(e),
    actions: [switchKeyButton()],
    tone: 'error',
  });
}

function scheduleJobs(ms) {
  clearTimeout(state.jobsTimer);
  state.jobsTimer = setTimeout(pollJobs, ms);
}

async function pollJobs() {
  if (state.stopped) return;
  const before = new Map(state.jobs.map((j) => [j.id, j.status]));
  try {
    const { jobs: all } = await state.client.get(api('/jobs?limit=8'));
    // Consolidation jobs (docs/quality.md) belong to the Team page, not to the training list.
    const jobs = all.filter((j) => j.kind !== 'consolidate');
    state.jobs = jobs;
    renderJobs();
    const newestTrained = jobs.find((j) => j.kind === 'train' && j.status === 'succeeded')?.id ?? null;
    const newModel = state.lastTrained !== undefined && newestTrained !== state.lastTrained;
    state.lastTrained = newestTrained;
    const finished = newModel || jobs.some((j) => before.has(j.id) && before.get(j.id) !== j.status && (j.status === 'succeeded' || j.status === 'failed'));
    if (finished) {
      const trained = jobs.find((j) => j.kind === 'train' && j.status === 'succeeded' && before.get(j.id) !== 'succeeded');
      const failed = jobs.find((j) => j.kind === 'train' && j.status === 'failed' && before.get(j.id) !== 'failed');
      if (trained) say(`Training finished: model v${trained.modelVersion ?? '?'} is ready.`, 'ok');
      if (failed) say(`Training failed: ${failed.error ?? 'see the server log'}`, 'error');
      await refreshAll();
      // A transcription retrain is activated only if its gold WER is lower: say when it was kept back.
      const kept = trained && state.transcription && state.metrics?.history.find((x) => x.version === trained.modelVersion)?.activated === false;
      if (kept) say(`Training finished: v${trained.modelVersion} was kept back, its gold WER is not lower than the serving version's.`, 'ok');
    }
    const active = jobs.some((j) => j.status === 'queued' || j.status === 'running');
    syncRetrainButton(active);
    scheduleJobs(active ? JOBS_POLL_ACTIVE_MS : JOBS_POLL_IDLE_MS);
  } catch (e) {
    if (e instanceof ApiError && (e.status === 401 || e.status === 403)) return stop(e);
    scheduleJobs(JOBS_POLL_IDLE_MS);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Engineer controls

function buildEngineerControls() {
  const retrain = h('button', { id: 'retrain', className: 'btn primary', type: 'button', onclick: retrainNow }, 'Retrain now');
  const live = h('span', { id: 'train-live', className: 'train-live', attrs: { role: 'status', 'aria-live': 'polite' } });
  $('engineer-actions').replaceChildren(live, retrain);
  $('jobs-card').hidden = false;
}

function syncRetrainButton(jobActive) {
  const b = document.getElementById('retrain');
  if (!b) return;
  const training = state.jobs.some((j) => j.kind === 'train' && (j.status === 'queued' || j.status === 'running'));
  b.disabled = training;
  b.textContent = training ? 'Training…' : 'Retrain now';
  const job = state.jobs.find((j) => j.kind === 'train' && (j.status === 'queued' || j.status === 'running'));
  const live = $('train-live');
  if (job) {
    const bar = h('progress', { max: 1, value: job.progress, attrs: { 'aria-label': 'Training progress' } });
    live.replaceChildren(h('span', {}, job.status === 'queued' ? 'Training queued' : `Training · ${Math.round(job.progress * 100)}%`), bar);
    live.hidden = false;
  } else live.hidden = true;
  document.body.dataset.jobs = jobActive ? 'active' : 'idle';
}

async function retrainNow() {
  const b = /** @type {HTMLButtonElement} */ ($('retrain'));
  b.disabled = true;
  try {
    const { jobId } = await state.client.post(api('/train'), {});
    // Progress shows next to this button and under Training jobs; no message needed.
    $('action-msg').hidden = true;
    b.textContent = 'Training…';
    b.dataset.jobId = jobId;
    scheduleJobs(0);
  } catch (e) {
    b.disabled = false;
    if (e instanceof ApiError && (e.status === 401 || e.status === 403)) return stop(e);
    say(
      e instanceof ApiError && e.code === 'not_enough_labels'
        ? `Not enough labels to train yet. ${e.message}`
        : `Could not start training: ${describeError(e)}`,
      'error',
    );
  }
}

const CONFIRM_MS = 5000;

function confirmPending(version) {
  return state.confirming !== null && state.confirming.version === version && state.confirming.until > Date.now();
}

function activateLabel(version) {
  if (!confirmPending(version)) return 'Activate';
  const current = state.models?.active;
  return current !== null && current !== undefined && version < current ? `Roll back to v${version}?` : `Activate v${version}?`;
}

/** First click asks to confirm (the button says what will happen); a second click within 5 s activates. */
async function activate(version, button) {
  if (!confirmPending(version)) {
    state.confirming = { version, until: Date.now() + CONFIRM_MS };
    renderVersions();
    setTimeout(() => {
      if (state.confirming?.version === version && !confirmPending(version)) {
        state.confirming = null;
        renderVersions();
      }
    }, CONFIRM_MS + 50);
    return;
  }
  state.confirming = null;
  button.disabled = true;
  try {
    await state.client.post(api(`/models/${version}/activate`), {});
    say(`Model v${version} is now serving. The pool is being re-scored with it.`, 'ok');
    await refreshAll();
    scheduleJobs(0);
  } catch (e) {
    button.disabled = false;
    if (e instanceof ApiError && (e.status === 401 || e.status === 403)) return stop(e);
    say(`Could not activate v${version}: ${describeError(e)}`, 'error');
  }
}

let sayTimer = 0;
function say(message, tone) {
  const el = $('action-msg');
  el.textContent = message;
  el.className = `action-msg tone-${tone}`;
  el.hidden = false;
  clearTimeout(sayTimer);
  sayTimer = setTimeout(() => (el.hidden = true), 10_000);
}

// ---------------------------------------------------------------------------------------------------------
// Rendering

function render() {
  const m = state.metrics;
  const models = state.models;
  const active = models?.versions.find((v) => v.version === m.modelVersion);
  document.body.dataset.model = m.modelVersion === null ? '' : String(m.modelVersion);
  $('board-sub').textContent =
    m.modelVersion === null
      ? `${state.me.project.name} · no model trained yet`
      : `${state.me.project.name} · serving model v${m.modelVersion}${active ? `, trained ${fmtTime(active.createdAt)} on ${fmtInt(active.trainedOnLabels)} human ${state.transcription ? 'transcripts' : 'labels'}` : ''}`;
  if (state.transcription) {
    renderTranscriptionKpis();
    renderWerChart();
    renderAutoAccept();
  } else {
    renderKpis();
    renderAccuracyChart();
    renderCalibrationChart();
    renderConfusion();
    renderPerClass();
  }
  renderVersions();
  renderUpdated();
}

function renderUpdated() {
  if (!state.lastUpdated) return;
  const el = $('updated');
  el.className = 'sync muted';
  el.textContent = `Updated ${fmtAgo(new Date(state.lastUpdated).toISOString())}`;
}

function renderKpis() {
  const m = state.metrics;
  const g = m.gold;
  $('kpi-accuracy').textContent = fmtPct(g.accuracy);
  const hist = m.history;
  const idx = hist.findIndex((x) => x.version === m.modelVersion);
  const prev = idx > 0 ? hist[idx - 1] : null;
  const sub = $('kpi-accuracy-sub');
  sub.className = 'kpi-sub';
  const ci = g.interval ? ` (95%: ${fmtPct(g.interval[0], 1)}–${fmtPct(g.interval[1], 1)})` : '';
  // Two versions are compared only when both were scored on the same (today's) gold set.
  const comparable = prev && prev.accuracy !== null && g.accuracy !== null && prev.currentGoldSet !== false && g.currentGoldSet !== false;
  if (m.modelVersion === null) sub.textContent = `${fmtInt(g.n)} gold items, no model yet`;
  else if (g.currentGoldSet === false) sub.textContent = `v${m.modelVersion} on an earlier gold set of ${fmtInt(g.n)} items · re-scoring on the current one`;
  else if (comparable) {
    const d = (g.accuracy - prev.accuracy) * 100;
    sub.textContent = `${d >= 0 ? '▲' : '▼'} ${Math.abs(d).toFixed(1)} pts vs v${prev.version} · same ${fmtInt(g.n)} gold items${ci}`;
    sub.classList.add(d >= 0 ? 'up' : 'down');
  } else sub.textContent = `v${m.modelVersion} on ${fmtInt(g.n)} gold items${ci}`;
  $('kpi-ece').textContent = g.ece === null || g.ece === undefined ? '—' : g.ece.toFixed(3);
  $('kpi-ece-sub').textContent =
    g.ece === null || g.ece === undefined ? '' : g.ece < 0.05 ? 'ECE · well calibrated' : g.ece < 0.15 ? 'ECE · fairly calibrated' : 'ECE · poorly calibrated';
  $('kpi-human').textContent = fmtInt(m.labels.human - (m.labels.imported ?? 0));
  $('kpi-human-sub').textContent = m.labels.imported ? `+ ${fmtInt(m.labels.imported)} imported` : 'from annotators';
  $('kpi-auto').textContent = fmtInt(m.labels.auto);
  const al = m.autoLabel;
  $('kpi-auto-sub').textContent = !al?.enabled
    ? 'auto-labelling is off'
    : al.interval
      ? `target ${fmtPct(al.targetAccuracy, 0)} · est. ${fmtPct(al.estimatedAccuracy, 1)} (${fmtPct(al.interval[0], 1)}–${fmtPct(al.interval[1], 1)})`
      : (al.reason ?? 'waiting for enough gold labels');
  $('kpi-pending').textContent = fmtInt(m.labels.pending);
}

/** A uPlot chart that follows its container's width; `readout(i)` describes the hovered point. */
function chart(id, opts, data, readout) {
  const el = $(id);
  const existing = state.charts[id];
  if (existing) {
    existing.destroy();
    delete state.charts[id];
  }
  const width = Math.max(280, el.clientWidth || 520);
  const out = document.getElementById(`${id}-readout`);
  if (out) out.textContent = '';
  const hooks =
    readout && out ? { setCursor: [(u) => (out.textContent = u.cursor.idx === null || u.cursor.idx === undefined ? '' : readout(u.cursor.idx))] } : {};
  const u = new window.uPlot({ width, height: CHART_HEIGHT, legend: { show: false }, hooks, ...opts }, data, el);
  state.charts[id] = u;
  if (!el.dataset.observed) {
    el.dataset.observed = '1';
    new ResizeObserver(() => state.charts[id]?.setSize({ width: Math.max(280, el.clientWidth), height: CHART_HEIGHT })).observe(el);
  }
  return u;
}

const axisBase = {
  stroke: COLORS.axis,
  grid: { stroke: COLORS.grid, width: 1 },
  ticks: { stroke: COLORS.grid, width: 1 },
  font: '12px system-ui, sans-serif',
  labelFont: '12px system-ui, sans-serif',
};

function emptyChart(id, message) {
  const existing = state.charts[id];
  if (existing) {
    existing.destroy();
    delete state.charts[id];
  }
  $(id).hidden = true;
  const p = $(`${id}-empty`);
  p.textContent = message;
  p.hidden = false;
}

function renderAccuracyChart() {
  // One series only for versions scored on the current gold set; the others wait for their re-score.
  const hist = state.metrics.history.filter((x) => x.accuracy !== null && x.currentGoldSet !== false);
  if (hist.length === 0) {
    emptyChart('chart-accuracy', 'No model version yet. The curve starts with the first training.');
    return;
  }
  versionChart(hist, {
    name: 'accuracy',
    range: (_u, min) => [Math.max(0, Math.floor((min - 5) / 10) * 10), 100],
    scores: hist.map((x) => x.accuracy * 100),
    trainedOn: 'labels',
    readout: (i) =>
      `v${hist[i].version}: ${fmtPct(hist[i].accuracy)}${hist[i].interval ? ` (95%: ${fmtPct(hist[i].interval[0], 1)}–${fmtPct(hist[i].interval[1], 1)})` : ''} on ${fmtInt(hist[i].n ?? 0)} gold items · trained on ${fmtInt(hist[i].humanLabels)} labels`,
  });
}

/**
 * The chart of a gold score (in %) across model versions, with the human labels each was trained on on the right
 * axis; `marks` are more series on the score's axis, each `{ series, values }`.
 */
function versionChart(hist, { name, range, scores, marks = [], trainedOn, readout }) {
  const active = state.metrics.modelVersion;
  $('chart-accuracy').hidden = false;
  $('chart-accuracy-empty').hidden = true;
  chart(
    'chart-accuracy',
    {
      scales: {
        x: { time: false, range: (_u, min, max) => [min - 0.5, max + 0.5] },
        score: { range },
        n: { range: (_u, _min, max) => [0, Math.max(10, max * 1.15)] },
      },
      axes: [
        {
          ...axisBase,
          size: 34,
          incrs: [1, 2, 5, 10, 20, 50, 100],
          values: (_u, splits) => splits.map((v) => (Number.isInteger(v) ? `v${v}${v === active ? ' (serving)' : ''}` : '')),
        },
        { ...axisBase, scale: 'score', label: `gold ${name}`, values: (_u, splits) => splits.map((v) => `${v}%`), size: 56 },
        {
          ...axisBase,
          scale: 'n',
          side: 1,
          label: `${trainedOn} trained on`,
          grid: { show: false },
          size: 60,
          values: (_u, splits) => splits.map((v) => fmtInt(v)),
        },
      ],
      series: [
        { label: 'version', value: (_u, v) => (v === null ? '—' : `v${v}${v === active ? ' (active)' : ''}`) },
        {
          label: `Gold ${name}`,
          scale: 'score',
          stroke: COLORS.accent,
          width: 2.5,
          fill: COLORS.accentFill,
          points: { show: true, size: 8, fill: '#fff', width: 2 },
          value: (_u, v) => (v === null ? '—' : `${v.toFixed(1)}%`),
        },
        ...marks.map((m) => m.series),
        {
          label: `${trainedOn} trained on`,
          scale: 'n',
          stroke: COLORS.gray,
          width: 1.5,
          dash: [4, 4],
          points: { show: true, size: 5 },
          value: (_u, v) => (v === null ? '—' : fmtInt(v)),
        },
      ],
      cursor: { drag: { x: false, y: false } },
    },
    [hist.map((x) => x.version), scores, ...marks.map((m) => m.values), hist.map((x) => x.humanLabels)],
    readout,
  );
}

function renderCalibrationChart() {
  const cal = state.metrics.gold.calibration ?? [];
  if (state.metrics.modelVersion === null || cal.length === 0) {
    emptyChart('chart-calibration', 'Calibration shows once a model is evaluated on the gold set.');
    return;
  }
  $('chart-calibration').hidden = false;
  $('chart-calibration-empty').hidden = true;
  // The diagonal runs corner to corner: x = 0 and 1 carry only the diagonal.
  const xs = [0, ...cal.map((b) => (b.lower + b.upper) / 2), 1];
  const bars = window.uPlot.paths?.bars?.({ size: [0.7, 60], align: 0 });
  chart(
    'chart-calibration',
    {
      scales: { x: { time: false, range: [0, 1] }, p: { range: [0, 1] }, n: { range: (_u, _min, max) => [0, Math.max(1, max) * 3] } },
      axes: [
        { ...axisBase, label: 'model confidence', values: (_u, s) => s.map((v) => `${Math.round(v * 100)}%`) },
        { ...axisBase, scale: 'p', label: 'accuracy', values: (_u, s) => s.map((v) => `${Math.round(v * 100)}%`), size: 56 },
      ],
      series: [
        { label: 'confidence', value: (_u, v) => (v === null ? '—' : `${Math.round(v * 100 - 5)}–${Math.round(v * 100 + 5)}%`) },
        {
          label: 'Items',
          scale: 'n',
          stroke: 'transparent',
          fill: COLORS.bars,
          paths: bars,
          points: { show: false },
          value: (_u, v) => (v === null ? '—' : fmtInt(v)),
        },
        {
          label: 'Perfect calibration',
          scale: 'p',
          stroke: COLORS.gray,
          dash: [5, 5],
          width: 1.5,
          points: { show: false },
          value: (_u, v) => (v === null ? '—' : `${Math.round(v * 100)}%`),
        },
        {
          label: 'Observed accuracy',
          scale: 'p',
          stroke: COLORS.teal,
          width: 2.5,
          spanGaps: true,
          points: { show: true, size: 7, fill: '#fff', width: 2 },
          value: (_u, v) => (v === null ? '—' : `${(v * 100).toFixed(0)}%`),
        },
      ],
      cursor: { drag: { x: false, y: false } },
    },
    [xs, [null, ...cal.map((b) => b.n), null], xs, [null, ...cal.map((b) => (b.n ? b.accuracy : null)), null]],
    (i) => {
      const b = cal[i - 1];
      if (!b) return '';
      const range = `${Math.round(b.lower * 100)}–${Math.round(b.upper * 100)}% confident`;
      return b.n ? `${range}: ${fmtPct(b.accuracy, 0)} right (${fmtInt(b.n)} items)` : `${range}: no items`;
    },
  );
}

function renderConfusion() {
  const box = $('confusion');
  const cm = state.metrics.gold.confusion ?? [];
  const labels = state.labels;
  if (!cm.length) {
    box.replaceChildren(h('p', { className: 'chart-empty muted' }, 'The confusion matrix shows once a model is evaluated on the gold set.'));
    return;
  }
  const head = h(
    'tr',
    {},
    h('th', { className: 'corner', attrs: { scope: 'col' } }, h('span', { className: 'visually-hidden' }, 'Gold label \\ prediction')),
    labels.map((l) => h('th', { className: 'col-head', attrs: { scope: 'col', title: `predicted ${l}` } }, h('span', {}, l))),
  );
  const rows = cm.map((row, i) => {
    const total = row.reduce((a, b) => a + b, 0);
    return h(
      'tr',
      {},
      h('th', { className: 'row-head', attrs: { scope: 'row' } }, labels[i]),
      row.map((v, j) => {
        const share = total ? v / total : 0;
        const td = h(
          'td',
          {
            className: `cell ${v === 0 ? 'zero' : i === j ? 'diag' : 'off'}${share > 0.55 ? ' dark' : ''}`,
            attrs: { title: `gold ${labels[i]}, predicted ${labels[j]}: ${v} of ${total} (${fmtPct(share, 0)})` },
          },
          v ? String(v) : '',
        );
        td.style.setProperty('--a', String(i === j ? 0.08 + share * 0.85 : Math.min(0.9, share * 2.2)));
        return td;
      }),
    );
  });
  const pairs = state.metrics.confusedPairs ?? [];
  const worst = pairs.length
    ? h(
        'div',
        { className: 'confused-pairs' },
        h('h3', {}, 'Most confused'),
        h(
          'ul',
          { id: 'confused-pairs' },
          pairs.map((p) => h('li', {}, p.text)),
        ),
      )
    : null;
  box.replaceChildren(
    h(
      'table',
      { className: 'heat' },
      h('caption', { className: 'visually-hidden' }, 'Confusion matrix on the gold set: rows are gold labels, columns are predictions'),
      h('thead', {}, head),
      h('tbody', {}, rows),
    ),
    ...(worst ? [worst] : []),
  );
}

function bar(value, cls) {
  const wrap = h('span', { className: `mini ${cls}` }, h('span', { className: 'mini-fill' }), h('span', { className: 'mini-text' }, fmtPct(value, 0)));
  wrap.style.setProperty('--v', String(value));
  return wrap;
}

function renderPerClass() {
  const box = $('per-class');
  const pc = state.metrics.gold.perClass ?? {};
  const names = state.labels.filter((l) => pc[l]);
  if (!names.length) {
    box.replaceChildren(h('p', { className: 'chart-empty muted' }, 'Per-class precision and recall show once a model is evaluated.'));
    return;
  }
  const worst = names.reduce((a, b) => (pc[b].f1 < pc[a].f1 ? b : a));
  box.replaceChildren(
    h(
      'table',
      { className: 'data per-class' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', { attrs: { scope: 'col' } }, 'Class'),
          h('th', { attrs: { scope: 'col' } }, 'Precision'),
          h('th', { attrs: { scope: 'col' } }, 'Recall'),
          h('th', { className: 'num', attrs: { scope: 'col' } }, 'F1'),
          h('th', { className: 'num', attrs: { scope: 'col' } }, 'Gold n'),
        ),
      ),
      h(
        'tbody',
        {},
        names.map((l) =>
          h(
            'tr',
            { className: l === worst ? 'weakest' : '' },
            h('th', { attrs: { scope: 'row' } }, l, l === worst ? h('span', { className: 'tag tag-warn' }, 'weakest') : null),
            h('td', {}, bar(pc[l].precision, 'p')),
            h('td', {}, bar(pc[l].recall, 'r')),
            h('td', { className: 'num' }, pc[l].f1.toFixed(2)),
            h('td', { className: 'num' }, fmtInt(pc[l].support)),
          ),
        ),
      ),
    ),
  );
}

/** The versions table's columns between "Version" and the last one (serving, activate or status). */
function versionColumns() {
  if (state.transcription) {
    const hist = new Map(state.metrics.history.map((x) => [x.version, x]));
    return [
      { head: 'Trained', cell: (v) => fmtTime(v.createdAt) },
      { head: 'Transcripts', num: true, cell: (v) => fmtInt(v.trainedOnLabels) },
      { head: 'Gold WER', num: true, title: (v) => `CER ${fmtPct(hist.get(v.version)?.cer)}`, cell: (v) => fmtPct(hist.get(v.version)?.wer) },
      {
        head: 'Retrain',
        // Why the retrain activated the version or kept it back (hover): its gold WER against the serving one's.
        cell: (v) =>
          hist.get(v.version)?.activated === false
            ? h('span', { className: 'tag tag-kept', attrs: { title: String(v.metrics?.reason ?? 'its gold WER was not lower') } }, 'kept back')
            : h('span', { className: 'tag tag-ok', attrs: { title: String(v.metrics?.reason ?? '') } }, 'activated'),
      },
    ];
  }
  return [
    { head: 'Trained', cell: (v) => fmtTime(v.createdAt) },
    { head: 'Labels', num: true, cell: (v) => fmtInt(v.trainedOnLabels) },
    {
      head: 'Model',
      // Which candidate won and why (hover): cross-validated, reused, forced by settings.model or a fallback.
      title: (v) => (v.model ? `${v.model.method}: ${v.model.reason}` : ''),
      cell: (v) => (v.model ? `${v.model.candidate}${v.model.method === 'cv' ? '' : ` (${v.model.method})`}` : '—'),
    },
    { head: 'CV acc.', num: true, cell: (v) => (v.model?.cv ? `${fmtPct(v.model.cv.mean)} ± ${fmtPct(v.model.cv.sd)} (k=${v.model.cv.k})` : '—') },
    { head: 'Gold acc.', num: true, cell: (v) => (typeof v.metrics?.gold?.accuracy === 'number' ? fmtPct(v.metrics.gold.accuracy) : '—') },
  ];
}

function renderVersions() {
  const box = $('versions');
  const models = state.models;
  const versions = models?.versions ?? [];
  $('versions-sub').textContent = models?.active ? `v${models.active} serving` : '';
  if (!versions.length) {
    box.replaceChildren(
      h(
        'p',
        { className: 'chart-empty muted' },
        state.engineer ? 'No versions yet. “Retrain now” trains the first one once enough labels are in.' : 'No model version has been trained yet.',
      ),
    );
    return;
  }
  const columns = versionColumns();
  box.replaceChildren(
    h(
      'table',
      { className: 'data versions' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', { attrs: { scope: 'col' } }, 'Version'),
          columns.map((c) => h('th', { className: c.num ? 'num' : '', attrs: { scope: 'col' } }, c.head)),
          h('th', { attrs: { scope: 'col' } }, state.engineer ? h('span', { className: 'visually-hidden' }, 'Actions') : 'Status'),
        ),
      ),
      h(
        'tbody',
        {},
        versions.slice(0, 8).map((v) => {
          let last;
          if (v.active) last = h('span', { className: 'tag tag-ok' }, 'serving');
          else if (v.status !== 'ready')
            last = h('span', { className: 'tag tag-bad', attrs: { title: 'Not activatable: training produced a broken model' } }, v.status);
          else if (state.engineer) {
            const b = h(
              'button',
              { className: `btn small${confirmPending(v.version) ? ' confirm' : ''}`, type: 'button', dataset: { version: String(v.version) } },
              activateLabel(v.version),
            );
            b.addEventListener('click', () => activate(v.version, b));
            last = b;
          } else last = h('span', { className: 'muted small' }, 'ready');
          return h(
            'tr',
            { className: v.active ? 'is-active' : '', dataset: { version: String(v.version) } },
            h('th', { attrs: { scope: 'row' } }, `v${v.version}`),
            columns.map((c) => h('td', { className: c.num ? 'num' : '', attrs: c.title ? { title: c.title(v) } : {} }, c.cell(v))),
            h('td', { className: 'actions-cell' }, last),
          );
        }),
      ),
    ),
  );
}

// ---------------------------------------------------------------------------------------------------------
// Transcription projects: word and character error rates, kept-back versions, the auto-accept plan

const fmtRange = (r) => (r ? `${fmtPct(r[0], 1)}–${fmtPct(r[1], 1)}` : '');
const plural = (n, word) => `${fmtInt(n)} ${word}${n === 1 ? '' : 's'}`;

/** Names the figures for error rates and hides the panels that only classes have. */
function showTranscriptionPanels() {
  document.body.dataset.task = 'transcription';
  for (const id of ['calibration-card', 'confusion-card', 'per-class-card']) $(id).hidden = true;
  $('auto-accept-card').hidden = false;
  $('kpi-accuracy-label').textContent = 'Gold WER';
  $('kpi-ece-label').textContent = 'Gold CER';
  $('kpi-auto-label').textContent = 'Auto-accepted';
  $('kpi-human-label').textContent = 'Human transcripts';
  $('kpi-pending-sub').textContent = 'waiting for a transcript';
  $('acc-title').textContent = 'Word error rate across model versions';
  $('acc-sub').textContent = 'gold clips · lower is better';
  $('legend-score').textContent = 'gold WER';
  $('legend-labels').textContent = 'human transcripts trained on';
  $('legend-kept').hidden = false;
  $('chart-accuracy').setAttribute('aria-label', 'Gold word error rate of each model version');
}

function renderTranscriptionKpis() {
  const m = state.metrics;
  const g = m.gold;
  $('kpi-accuracy').textContent = fmtPct(g.wer);
  const sub = $('kpi-accuracy-sub');
  sub.className = 'kpi-sub';
  if (m.modelVersion === null) sub.textContent = 'no model yet';
  else if (!g.n) sub.textContent = `v${m.modelVersion} · no gold clips yet`;
  else {
    // Compared with the version served before this one, on the same gold clips (both are today's scores).
    const served = m.history.filter((x) => x.activated && x.wer !== null);
    const at = served.findIndex((x) => x.version === m.modelVersion);
    const prev = at > 0 ? served[at - 1] : null;
    const ci = g.interval ? ` (95%: ${fmtRange(g.interval)})` : '';
    if (prev && g.wer !== null) {
      const d = (g.wer - prev.wer) * 100;
      sub.textContent = `${d <= 0 ? '▼' : '▲'} ${Math.abs(d).toFixed(1)} pts vs v${prev.version} · ${plural(g.n, 'gold clip')}${ci}`;
      sub.classList.add(d <= 0 ? 'up' : 'down');
    } else sub.textContent = `v${m.modelVersion} on ${plural(g.n, 'gold clip')}, ${plural(g.refWords, 'word')}${ci}`;
  }
  $('kpi-ece').textContent = fmtPct(g.cer);
  $('kpi-ece-sub').textContent = g.cer === null ? '' : 'character error rate';
  // Here the imported transcripts (gold references among them) are not counted in `human`.
  $('kpi-human').textContent = fmtInt(m.labels.human);
  $('kpi-human-sub').textContent = m.labels.imported ? `+ ${fmtInt(m.labels.imported)} imported` : 'transcripts from annotators';
  $('kpi-auto').textContent = fmtInt(m.labels.auto);
  const a = m.autoAccept;
  $('kpi-auto-sub').textContent = !a?.enabled
    ? 'auto-accept is off'
    : a.threshold === null
      ? `no threshold keeps WER under ${fmtPct(a.target, 0)} yet`
      : `confidence ≥ ${a.threshold.toFixed(2)} · WER ≤ ${fmtPct(a.upper, 1)}`;
  $('kpi-pending').textContent = fmtInt(m.labels.pending);
}

function renderWerChart() {
  const hist = state.metrics.history.filter((x) => x.wer !== null);
  if (hist.length === 0) {
    emptyChart('chart-accuracy', 'No word error rate yet: it is measured on gold clips, which carry a reference transcript.');
    return;
  }
  const top = Math.max(...hist.map((x) => x.wer * 100));
  versionChart(hist, {
    name: 'WER',
    range: () => [0, Math.max(10, Math.ceil((top + 5) / 10) * 10)],
    scores: hist.map((x) => x.wer * 100),
    // Versions a retrain kept back (their WER was not lower): marked on the same curve.
    marks: [
      {
        series: {
          label: 'Kept back',
          scale: 'score',
          stroke: COLORS.kept,
          width: 0,
          paths: () => null,
          points: { show: true, size: 11, fill: '#fff', width: 2.5, stroke: COLORS.kept },
          value: (_u, v) => (v === null ? '—' : `${v.toFixed(1)}%`),
        },
        values: hist.map((x) => (x.activated ? null : x.wer * 100)),
      },
    ],
    trainedOn: 'transcripts',
    readout: (i) =>
      `v${hist[i].version}: WER ${fmtPct(hist[i].wer)}, CER ${fmtPct(hist[i].cer)} · ${hist[i].activated ? 'activated' : 'kept back'} · trained on ${fmtInt(hist[i].humanLabels)} transcripts`,
  });
}

/** The auto-accept plan: the confidence from which drafts are accepted without a person, and what gold says of it. */
function renderAutoAccept() {
  const box = $('auto-accept');
  const a = state.metrics.autoAccept;
  if (!a) {
    box.replaceChildren(h('p', { className: 'chart-empty muted' }, 'The plan shows once a model version serves.'));
    return;
  }
  const rows = [
    ['Status', a.enabled ? 'on' : 'off (settings.transcription.autoAccept)'],
    ['Target', `gold WER at most ${fmtPct(a.target, 0)}, at the upper bound of its interval`],
    ['Threshold', a.threshold === null ? 'none: no confidence keeps the bound under the target yet' : `drafts at least ${a.threshold.toFixed(2)} confident`],
    ['Gold clips above it', fmtInt(a.n)],
    ['Their WER', a.wer === null ? '—' : `${fmtPct(a.wer)} (upper bound ${fmtPct(a.upper)})`],
  ];
  box.replaceChildren(
    h(
      'table',
      { className: 'data auto-accept' },
      h(
        'tbody',
        {},
        rows.map(([k, v]) => h('tr', {}, h('th', { attrs: { scope: 'row' } }, k), h('td', {}, v))),
      ),
    ),
  );
}

function renderJobs() {
  const box = $('jobs');
  const jobs = state.jobs;
  const running = jobs.filter((j) => j.status === 'running' || j.status === 'queued').length;
  $('jobs-sub').textContent = running ? `${running} in progress` : 'idle';
  if (!jobs.length) {
    box.replaceChildren(h('p', { className: 'chart-empty muted' }, 'No jobs yet.'));
    return;
  }
  box.replaceChildren(
    h(
      'table',
      { className: 'data jobs' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', { attrs: { scope: 'col' } }, 'Job'),
          h('th', { attrs: { scope: 'col' } }, 'Status'),
          h('th', { attrs: { scope: 'col' } }, 'Progress'),
          h('th', { attrs: { scope: 'col' } }, 'Started'),
          h('th', { className: 'num', attrs: { scope: 'col' } }, 'Took'),
        ),
      ),
      h(
        'tbody',
        {},
        jobs.map((j) => {
          const took = j.startedAt ? ((j.finishedAt ? new Date(j.finishedAt).getTime() : Date.now()) - new Date(j.startedAt).getTime()) / 1000 : null;
          const prog = h('progress', { max: 1, value: j.progress, attrs: { 'aria-label': `${j.kind} progress` } });
          return h(
            'tr',
            { className: `job-${j.status}`, dataset: { jobId: j.id, status: j.status } },
            h(
              'th',
              { attrs: { scope: 'row' } },
              j.kind === 'train' ? 'Train' : 'Pre-label',
              j.modelVersion ? h('span', { className: 'muted small' }, ` → v${j.modelVersion}`) : null,
            ),
            h('td', {}, h('span', { className: `tag tag-${j.status}`, attrs: j.error ? { title: j.error } : {} }, j.status)),
            h('td', { className: 'progress-cell' }, prog, h('span', { className: 'small muted' }, ` ${Math.round(j.progress * 100)}%`)),
            h('td', {}, fmtTime(j.startedAt ?? j.createdAt)),
            h('td', { className: 'num' }, took === null ? '—' : took < 60 ? `${took.toFixed(1)} s` : `${(took / 60).toFixed(1)} min`),
          );
        }),
      ),
    ),
  );
}

main();
