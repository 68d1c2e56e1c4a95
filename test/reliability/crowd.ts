/**
 * The 50-annotator workload and its checks, shared by the one-process test (`concurrency.test.ts`) and the team
 * layout (`team-concurrency.test.ts`: two API processes and a worker on one PostgreSQL). A layout supplies how a
 * request reaches a server (`CrowdSend`) and how the checks read the database (`CrowdQuery`); everything else,
 * from the project's setup to the assertions, is the same code.
 */
import { type SQL, sql } from 'drizzle-orm';
import { expect } from 'vitest';
import { prng, sleep } from './support.ts';

export const CROWD_LABELS = ['red', 'green', 'blue'];

/** The label every annotator gives an item: a function of its text, so retries and others agree. */
export const truth = (text: string) => CROWD_LABELS[Number(/(\d+)$/.exec(text)![1]) % CROWD_LABELS.length];

export interface Answer {
  status: number;
  body: any;
  text: string;
  headers: Headers;
}

/** Sends one request as annotator `a` (0-based) with its key; the layout decides which server gets it. */
export type CrowdSend = (a: number, method: string, path: string, key: string, body?: unknown, headers?: Record<string, string>) => Promise<Answer>;
/** Sends one request with the admin key. */
export type AdminSend = (method: string, path: string, body?: unknown) => Promise<Answer>;
/** Runs raw SQL against the layout's database and answers its rows. */
export type CrowdQuery = <T>(query: SQL) => Promise<T[]>;

export interface CrowdOptions {
  annotators: number;
  /** Annotators that lease a batch, label half of it and walk away: their leases must expire and return. */
  quitters: number;
  items: number;
  batch: number;
  leaseSeconds: number;
  /** Project settings on top of `leaseSeconds` (`retrainEvery`, for one). */
  settings: Record<string, unknown>;
  /** A guard against a hang, not a performance figure: an annotator still working at this point throws. */
  deadlineMs: number;
}

export interface Crowd {
  projectId: string;
  keys: { id: string; key: string }[];
}

interface Grant {
  itemId: string;
  annotator: number;
  /** Server time of the lease: leaseExpiresAt minus the project's lease length. */
  grantedAt: number;
  expiresAt: number;
}

/** What a crowd run saw and what the database held afterwards; `expectCrowdHeld` asserts on it. */
export interface CrowdOutcome {
  figures: {
    annotators: number;
    items: number;
    requests: number;
    labelRequests: number;
    sequentialRetries: number;
    simultaneousDuplicates: number;
    idempotentReplays: number;
    queueRequests: number;
    queueRetries: number;
    labelsStored: number;
    duplicateLabels: number;
    itemsUnlabeled: number;
    wrongLabels: number;
    /** 200 answers whose label is not the one stored for the item (another key's, another label, or none). */
    labelsLost: number;
    doubleLeases: number;
    itemsLeasedByMoreThanOneKey: number;
    abandonedItems: number;
    expiredLeasesReturned: number;
    goldChecks: number;
    /** Retried gold-check answers whose agreedWithModel changed in between (a new version): not a label answer. */
    goldCheckRetriesDiffering: number;
    leaseLost409: number;
    idempotencyInProgress409: number;
    http5xx: number;
    statuses: Record<number, number>;
    seconds: number;
  };
  unexpected: string[];
  labelNotFromAnsweredKey: number;
  itemsAnsweredToTwoKeys: number;
  retriedAnswersDiffering: string[];
  queueRetryMismatches: number;
  goldChecksToOwnLabeller: unknown[];
  duplicateLabelRows: unknown[];
  /** Wall-clock time (ms since the epoch) at which the last annotator finished. */
  endedAt: number;
}

/** Creates the project, one annotator key per annotator, and ingests `items` text items. */
export async function createCrowd(admin: AdminSend, o: CrowdOptions): Promise<Crowd> {
  const p = await admin('POST', '/api/projects', {
    name: 'crowd',
    modality: 'text',
    labels: CROWD_LABELS,
    settings: { ...o.settings, leaseSeconds: o.leaseSeconds },
  });
  expect(p.status, p.text).toBe(201);
  const projectId: string = p.body.id;
  const keys: Crowd['keys'] = [];
  for (let i = 0; i < o.annotators; i++) {
    const k = await admin('POST', `/api/projects/${projectId}/keys`, { role: 'annotator', name: `annotator-${i}` });
    expect(k.status, k.text).toBe(201);
    keys.push({ id: k.body.id, key: k.body.key });
  }
  const items = Array.from({ length: o.items }, (_, i) => ({ text: `item number ${i}`, externalId: `x${i}` }));
  const r = await admin('POST', `/api/projects/${projectId}/items`, { items });
  expect(r.status, r.text).toBe(202);
  expect(r.body.accepted).toBe(o.items);
  return { projectId, keys };
}

/**
 * Runs the annotators until every item is labelled, then reads the database. Each label request is sent once,
 * or retried after its answer, or sent twice at the same moment (a client that timed out); half of the annotators
 * send an Idempotency-Key; one in ten queue requests is sent again at once (a reload). The first `quitters`
 * annotators label half a batch and walk away. Held-out items labelled by one annotator are served to others as
 * hidden gold checks (shared on purpose, answered into gold_checks, not leased): those are left out of the lease
 * and answer checks.
 */
export async function runCrowd(o: CrowdOptions, crowd: Crowd, send: CrowdSend, query: CrowdQuery): Promise<CrowdOutcome> {
  const { projectId: P, keys } = crowd;
  const started = Date.now();
  const deadline = started + o.deadlineMs;
  const grants: Grant[] = [];
  const answered = new Map<string, Set<number>>(); // item → annotators that got a 200 for it
  const statuses = new Map<number, number>();
  const f = {
    requests: 0,
    queueRequests: 0,
    queueRetries: 0,
    queueRetryMismatches: 0,
    labelRequests: 0,
    sequentialRetries: 0,
    simultaneousDuplicates: 0,
    idempotentReplays: 0,
    /** Both copies of a retried label request answered 200 with different bodies. */
    retriedAnswersDiffering: [] as { itemId: string; a: number; answers: string }[],
    leaseLost409: 0,
    idempotencyInProgress409: 0,
    unexpected: [] as string[],
  };
  const quitterItems = new Map<string, number>(); // abandoned item → quitter

  const call = async (a: number, method: string, path: string, body?: unknown, headers?: Record<string, string>) => {
    f.requests++;
    const r = await send(a, method, path, keys[a].key, body, headers);
    statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    if (r.headers.get('idempotent-replayed') === 'true') f.idempotentReplays++;
    return r;
  };

  const lease = async (a: number) => {
    f.queueRequests++;
    const r = await call(a, 'GET', `/api/projects/${P}/queue?limit=${o.batch}`);
    if (r.status !== 200) throw new Error(`queue: ${r.status} ${r.text}`);
    for (const it of r.body.items) {
      const expiresAt = Date.parse(it.leaseExpiresAt);
      grants.push({ itemId: it.id, annotator: a, grantedAt: expiresAt - o.leaseSeconds * 1000, expiresAt });
    }
    return r.body.items as { id: string; data: { text: string }; leaseExpiresAt: string }[];
  };

  /** One label request, retried on 409 idempotency_in_progress (the first copy is still running). */
  const labelOnce = async (a: number, itemId: string, label: string, idem?: string) => {
    for (let attempt = 0; attempt < 200; attempt++) {
      f.labelRequests++;
      const r = await call(a, 'POST', `/api/projects/${P}/items/${itemId}/label`, { label }, idem ? { 'idempotency-key': idem } : undefined);
      if (r.status === 409 && r.body?.error?.code === 'idempotency_in_progress') {
        f.idempotencyInProgress409++;
        await sleep(20);
        continue;
      }
      return r;
    }
    throw new Error('idempotency_in_progress did not clear');
  };

  const annotator = async (a: number) => {
    const rng = prng(7919 * (a + 1));
    const quitter = a < o.quitters;
    while (Date.now() < deadline) {
      let batch = await lease(a);
      if (rng() < 0.1) {
        // A reload (or a retried GET): the items this key holds come back first, the same ones.
        f.queueRetries++;
        const again = await lease(a);
        const answeredAt = Date.now();
        const ids = new Set(again.map((i) => i.id));
        // Missing from the second answer although its lease had not run out yet (same clock: one machine).
        const firstExpiry = batch.length ? Math.min(...batch.map((i) => Date.parse(i.leaseExpiresAt))) : Infinity;
        if (answeredAt < firstExpiry && !batch.every((i) => ids.has(i.id))) f.queueRetryMismatches++;
        batch = again;
      }
      if (batch.length === 0) {
        const p = await call(a, 'GET', `/api/projects/${P}`);
        if (p.body.counts.pending === 0) return;
        await sleep(400);
        continue;
      }
      const toLabel = quitter ? batch.slice(0, Math.floor(batch.length / 2)) : batch;
      if (quitter) for (const it of batch.slice(toLabel.length)) quitterItems.set(it.id, a);
      for (const it of toLabel) {
        const label = truth(it.data.text);
        const idem = a % 2 === 0 ? `${a}:${it.id}` : undefined;
        const u = rng();
        let answers: Answer[];
        if (u < 0.12) {
          f.simultaneousDuplicates++;
          answers = await Promise.all([labelOnce(a, it.id, label, idem), labelOnce(a, it.id, label, idem)]);
        } else if (u < 0.35) {
          f.sequentialRetries++;
          answers = [await labelOnce(a, it.id, label, idem)];
          answers.push(await labelOnce(a, it.id, label, idem));
        } else answers = [await labelOnce(a, it.id, label, idem)];
        for (const r of answers) {
          if (r.status === 200) {
            if (r.body.itemId !== it.id || r.body.label !== label) f.unexpected.push(`200 with ${r.text}`);
            if (!answered.has(it.id)) answered.set(it.id, new Set());
            answered.get(it.id)!.add(a);
          } else if (r.status === 409 && (r.body?.error?.code === 'item_leased' || r.body?.error?.code === 'already_labeled')) f.leaseLost409++;
          else f.unexpected.push(`${r.status} ${r.text.slice(0, 200)}`);
        }
        if (answers.length === 2 && answers[0].status === 200 && answers[1].status === 200 && answers[0].text !== answers[1].text)
          f.retriedAnswersDiffering.push({
            itemId: it.id,
            a,
            answers: `annotator ${a}${idem ? ' (idempotency key)' : ''}, ${u < 0.12 ? 'simultaneous' : 'sequential'}: ${answers[0].text} | ${answers[1].text}`,
          });
      }
      if (quitter) return;
    }
    throw new Error(`annotator ${a} ran out of time`);
  };

  await Promise.all(Array.from({ length: o.annotators }, (_, a) => annotator(a)));
  const endedAt = Date.now();

  // What the database holds.
  const [{ n: stored }] = await query<{ n: number }>(sql`select count(*)::int as n from labels where project_id = ${P} and source = 'human'`);
  const dupRows = await query<{ item_id: string; n: number }>(
    sql`select item_id, count(*)::int as n from labels where project_id = ${P} group by item_id having count(*) > 1`,
  );
  const [{ n: unlabeled }] = await query<{ n: number }>(sql`select count(*)::int as n from items where project_id = ${P} and status <> 'labeled'`);
  const finals = await query<{ id: string; text: string; label: string; key_id: string; stored_label: string }>(
    sql`select i.id, i.data->>'text' as text, i.label, l.key_id, l.label as stored_label
        from items i join labels l on l.item_id = i.id where i.project_id = ${P}`,
  );
  const keyIndex = new Map(keys.map((k, i) => [k.id, i]));
  // Held-out items one annotator labelled come back to others as hidden gold checks (docs/quality.md): shared
  // on purpose, never leased in items, answered into gold_checks. Those grants and answers are not leases.
  const checks = await query<{ item_id: string; key_id: string; own: boolean }>(
    sql`select g.item_id, g.key_id, exists (select 1 from labels l where l.item_id = g.item_id and l.key_id = g.key_id) as own
        from gold_checks g where g.project_id = ${P}`,
  );
  const checkOf = new Set(checks.map((c) => `${c.item_id}:${keyIndex.get(c.key_id)}`));
  const isCheck = (itemId: string, a: number) => checkOf.has(`${itemId}:${a}`);
  for (const [itemId, set] of answered) for (const a of set) if (isCheck(itemId, a)) set.delete(a);
  for (const [itemId, q] of quitterItems) if (isCheck(itemId, q)) quitterItems.delete(itemId);
  // A gold check's answer says whether the model agreed as of that moment (pipelines/quality/service.ts), so a retry
  // after a new version pre-labelled the item may differ in agreedWithModel; only label answers must repeat.
  const retriedAnswersDiffering = f.retriedAnswersDiffering.filter((d) => !isCheck(d.itemId, d.a)).map((d) => d.answers);
  const goldCheckRetriesDiffering = f.retriedAnswersDiffering.length - retriedAnswersDiffering.length;
  let wrongLabel = 0;
  let labelNotFromAnsweredKey = 0;
  const storedBy = new Map<string, { by: number | undefined; label: string }>();
  for (const row of finals) {
    if (row.label !== truth(row.text) || row.stored_label !== row.label) wrongLabel++;
    const by = keyIndex.get(row.key_id);
    storedBy.set(row.id, { by, label: row.stored_label });
    if (by === undefined || !answered.get(row.id)?.has(by)) labelNotFromAnsweredKey++;
  }
  // Every 200 is a promise that the label is kept: the item's stored label row is that key's, with that label.
  let labelsLost = 0;
  const textOf = new Map(finals.map((r) => [r.id, r.text]));
  for (const [itemId, set] of answered)
    for (const a of set) {
      const s = storedBy.get(itemId);
      if (!s || s.by !== a || s.label !== truth(textOf.get(itemId)!)) labelsLost++;
    }
  const itemsAnsweredToTwoKeys = [...answered.values()].filter((set) => set.size > 1).length;

  // Leases, on the server's clock: two keys' lease intervals on one item must never overlap.
  const byItem = new Map<string, Grant[]>();
  for (const g of grants) if (!isCheck(g.itemId, g.annotator)) (byItem.get(g.itemId) ?? byItem.set(g.itemId, []).get(g.itemId)!).push(g);
  let doubleLeases = 0;
  let itemsLeasedByMoreThanOneKey = 0;
  for (const list of byItem.values()) {
    list.sort((x, y) => x.grantedAt - y.grantedAt);
    if (new Set(list.map((g) => g.annotator)).size > 1) itemsLeasedByMoreThanOneKey++;
    for (let j = 1; j < list.length; j++)
      for (let i = 0; i < j; i++)
        if (list[i].annotator !== list[j].annotator && list[j].grantedAt <= list[i].expiresAt) {
          doubleLeases++;
          break;
        }
  }
  // Abandoned items: labelled by someone else, leased to them only after the quitter's lease ran out.
  let returned = 0;
  for (const [itemId, q] of quitterItems) {
    const list = byItem.get(itemId)!;
    const quitEnd = Math.max(...list.filter((g) => g.annotator === q).map((g) => g.expiresAt));
    const by = storedBy.get(itemId)?.by;
    if (by !== undefined && by !== q && list.some((g) => g.annotator === by && g.grantedAt > quitEnd)) returned++;
  }
  const http5xx = [...statuses].filter(([st]) => st >= 500).reduce((n, [, c]) => n + c, 0);

  return {
    figures: {
      annotators: o.annotators,
      items: o.items,
      requests: f.requests,
      labelRequests: f.labelRequests,
      sequentialRetries: f.sequentialRetries,
      simultaneousDuplicates: f.simultaneousDuplicates,
      idempotentReplays: f.idempotentReplays,
      queueRequests: f.queueRequests,
      queueRetries: f.queueRetries,
      labelsStored: stored,
      duplicateLabels: dupRows.length,
      itemsUnlabeled: unlabeled,
      wrongLabels: wrongLabel,
      labelsLost,
      doubleLeases,
      itemsLeasedByMoreThanOneKey,
      abandonedItems: quitterItems.size,
      expiredLeasesReturned: returned,
      goldChecks: checks.length,
      goldCheckRetriesDiffering,
      leaseLost409: f.leaseLost409,
      idempotencyInProgress409: f.idempotencyInProgress409,
      http5xx,
      statuses: Object.fromEntries(statuses),
      seconds: Math.round((endedAt - started) / 1000),
    },
    unexpected: f.unexpected,
    labelNotFromAnsweredKey,
    itemsAnsweredToTwoKeys,
    retriedAnswersDiffering,
    queueRetryMismatches: f.queueRetryMismatches,
    goldChecksToOwnLabeller: checks.filter((c) => c.own),
    duplicateLabelRows: dupRows,
    endedAt,
  };
}

/**
 * The guarantees, on any layout: exactly one human label per item, each the true label and from the key that
 * got its 200 (no 200 lost), no 5xx, no item leased to two keys at once, every abandoned lease returned and
 * labelled by another key, replays answered byte for byte, and no hidden gold check sent to the item's labeller.
 */
export function expectCrowdHeld(r: CrowdOutcome, o: CrowdOptions): void {
  const f = r.figures;
  expect(r.unexpected.slice(0, 5)).toEqual([]);
  expect(f.http5xx).toBe(0);
  expect(f.labelsStored).toBe(o.items);
  expect(r.duplicateLabelRows).toEqual([]);
  expect(f.itemsUnlabeled).toBe(0);
  expect(f.wrongLabels).toBe(0);
  expect(f.labelsLost).toBe(0);
  expect(r.labelNotFromAnsweredKey).toBe(0);
  expect(r.itemsAnsweredToTwoKeys).toBe(0);
  expect(r.retriedAnswersDiffering).toEqual([]);
  expect(r.queueRetryMismatches).toBe(0);
  expect(f.doubleLeases).toBe(0);
  expect(r.goldChecksToOwnLabeller).toEqual([]);
  expect(f.abandonedItems).toBeGreaterThan(0);
  expect(f.expiredLeasesReturned).toBe(f.abandonedItems);
  expect(f.simultaneousDuplicates).toBeGreaterThan(0);
  expect(f.idempotentReplays).toBeGreaterThan(0);
}
