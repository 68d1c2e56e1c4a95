// The Team page: delivered-label accuracy on hidden gold (with its interval), per-annotator scores and status,
// agreement, and (engineers only) gold answers most strong annotators contradict. Clients see key ids, not names,
// unless the project allows names; the server decides that.
import { describeError } from './api.js';
import { $, fmtInt, fmtPct, h, linkPages, showNotice, startSession } from './session.js';

const POLL_MS = 15_000;
const STATUS_TEXT = { onboarding: 'onboarding', ok: 'ok', watch: 'watch', paused: 'paused' };

async function main() {
  let session;
  try {
    session = await startSession();
  } catch {
    return;
  }
  const { client, projectId, me } = session;
  linkPages(projectId);
  const role = me.key.role;
  if (role !== 'engineer' && role !== 'client' && role !== 'admin') {
    showNotice({ title: 'This key cannot open the Team page', text: 'Annotator scores take an engineer or client key.' });
    return;
  }
  const api = (path) => `/api/projects/${encodeURIComponent(projectId)}${path}`;
  $('board').hidden = false;
  // Engineers may clear a paused annotator (after talking to them): its status then counts only new gold answers.
  const clear =
    role === 'client'
      ? null
      : async (a, button) => {
          button.disabled = true;
          try {
            await client.post(api(`/annotators/${encodeURIComponent(a.keyId)}/clear`), {});
            await refresh();
          } catch (e) {
            button.disabled = false;
            $('updated').textContent = describeError(e);
          }
        };
  const refresh = async () => {
    try {
      const [team, agreement] = await Promise.all([client.get(api('/annotators')), client.get(api('/agreement'))]);
      render(team, agreement, clear);
      $('updated').textContent = `updated ${new Date().toLocaleTimeString()}`;
    } catch (e) {
      $('updated').textContent = describeError(e);
    }
  };
  await refresh();
  setInterval(refresh, POLL_MS);
}

const interval = (iv) => (iv ? `${fmtPct(iv[0])} – ${fmtPct(iv[1])}` : '');

function render(team, agreement, clear) {
  $('kpi-gold').textContent = fmtPct(team.team.goldAccuracy);
  $('kpi-gold-sub').textContent = team.team.goldChecks
    ? `95% interval ${interval(team.team.interval)} · ${fmtInt(team.team.goldChecks)} checks`
    : 'no gold check answered yet';
  $('kpi-annotators').textContent = fmtInt(team.annotators.length);
  const paused = team.annotators.filter((a) => a.status === 'paused').length;
  const watch = team.annotators.filter((a) => a.status === 'watch').length;
  $('kpi-annotators-sub').textContent = `${paused} paused · ${watch} to watch`;
  $('kpi-pairwise').textContent = fmtPct(agreement.pairwise);
  $('kpi-pairwise-sub').textContent = `${fmtInt(agreement.overlappingItems)} items with 2+ labels`;
  $('kpi-alpha').textContent = agreement.alpha === null ? '—' : agreement.alpha.toFixed(2);
  const head = h(
    'tr',
    {},
    ['Annotator', 'Labels', 'Gold checks', 'Gold accuracy', '95% interval', 'EM estimate', 'Median s/item', 'Status'].map((t) => h('th', { scope: 'col' }, t)),
  );
  const rows = team.annotators.map((a) =>
    h(
      'tr',
      {},
      h('td', {}, a.name ?? a.keyId.slice(0, 8)),
      h('td', { className: 'num' }, fmtInt(a.labels)),
      h('td', { className: 'num' }, fmtInt(a.goldChecks)),
      h('td', { className: 'num' }, fmtPct(a.goldAccuracy)),
      h('td', { className: 'num muted' }, a.goldChecks ? interval(a.interval) : ''),
      h(
        'td',
        { className: 'num', title: a.estimateNote === 'no_overlap' ? 'No label shares an item with another annotator or a gold answer' : '' },
        a.estimatedAccuracy === null ? (a.estimateNote === 'no_overlap' ? 'no overlap' : '—') : fmtPct(a.estimatedAccuracy),
      ),
      h('td', { className: 'num' }, a.medianSeconds === null ? '—' : a.medianSeconds.toFixed(1)),
      h(
        'td',
        { title: a.clearedAt ? `pause cleared ${new Date(a.clearedAt).toLocaleString()}` : '' },
        h('span', { className: `status status-${a.status}` }, STATUS_TEXT[a.status] ?? a.status),
        clear && a.status === 'paused'
          ? h(
              'button',
              {
                className: 'btn small',
                type: 'button',
                title: 'Clear the pause: the status then counts only gold answers given from now on',
                onclick: (ev) => clear(a, ev.currentTarget),
              },
              'Clear',
            )
          : null,
      ),
    ),
  );
  $('annotators').replaceChildren(h('table', { className: 'data' }, h('thead', {}, head), h('tbody', {}, rows)));
  const flagged = team.consolidation?.flaggedGold ?? [];
  $('flagged-card').hidden = flagged.length === 0;
  $('flagged').replaceChildren(
    h(
      'table',
      { className: 'data' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ['Gold item', 'Stored answer', 'Strong annotators say', 'Of'].map((t) => h('th', { scope: 'col' }, t)),
        ),
      ),
      h(
        'tbody',
        {},
        flagged.map((f) =>
          h(
            'tr',
            {},
            h('td', {}, f.itemId),
            h('td', {}, f.goldLabel),
            h('td', {}, `${f.suggestedLabel} (${f.contradicting})`),
            h('td', { className: 'num' }, String(f.strongAnswers)),
          ),
        ),
      ),
    ),
  );
}

main();
