import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consolidatedLabels, goldChecks, items } from '../../db/schema.ts';
import type { JobRow } from '../../db/repositories/jobs.ts';
import { itemRands } from '../../db/repositories/quality.ts';
import { runConsolidation } from '../../pipelines/quality/service.ts';
import { startTestServer, type TestServer } from '../helpers.ts';

const LABELS = ['pos', 'neg'];
/** The simulated truth of an item is written into its text. */
const truthOf = (text: string) => (text.endsWith('is pos') ? 'pos' : 'neg');
const other = (l: string) => (l === 'pos' ? 'neg' : 'pos');

describe('workforce quality: gold checks, overlap, consolidation, annotator scores', () => {
  let s: TestServer;
  let eng: string;
  let client: string;

  beforeAll(async () => {
    s = await startTestServer();
  });
  afterAll(() => s?.stop());

  async function project(settings: Record<string, unknown>, pool: number, gold: { text: string; label: string }[] = []) {
    const P = (
      await s.call('POST', '/api/projects', {
        body: { name: 'quality', modality: 'text', labels: LABELS, settings: { retrainEvery: 0, goldFraction: 0, auditEvery: 0, ...settings } },
      })
    ).body.id as string;
    eng = (await s.call('POST', `/api/projects/${P}/keys`, { body: { role: 'engineer', name: 'eng' } })).body.key;
    client = (await s.call('POST', `/api/projects/${P}/keys`, { body: { role: 'client', name: 'client' } })).body.key;
    const body = [
      ...Array.from({ length: pool }, (_, i) => ({ text: `pool item ${i} is ${i % 3 ? 'pos' : 'neg'}`, externalId: `p${i}` })),
      ...gold.map((g, i) => ({ ...g, split: 'gold', externalId: `g${i}` })),
    ];
    expect((await s.call('POST', `/api/projects/${P}/items`, { key: eng, body: { items: body } })).status).toBe(202);
    return P;
  }
  async function annotator(P: string, name: string) {
    const r = await s.call('POST', `/api/projects/${P}/keys`, { body: { role: 'annotator', name } });
    return { key: r.body.key as string, id: r.body.id as string };
  }
  const queue = (P: string, key: string, limit = 5) => s.call('GET', `/api/projects/${P}/queue?limit=${limit}`, { key });
  const label = (P: string, key: string, itemId: string, l: string) => s.call('POST', `/api/projects/${P}/items/${itemId}/label`, { key, body: { label: l } });
  const goldIds = async (P: string) =>
    new Set(
      (await s.ctx.db.select({ id: items.id, split: items.split }).from(items).where(eq(items.projectId, P)))
        .filter((r) => r.split === 'gold')
        .map((r) => r.id),
    );
  const consolidate = (P: string) => runConsolidation(s.ctx, { projectId: P, id: 'test', kind: 'consolidate' } as JobRow);
  /** Label everything a key is served, answering with `answer(text)`, until its queue is empty or `rounds` pass. */
  async function work(P: string, key: string, answer: (text: string) => string, rounds = 30) {
    const served: string[] = [];
    for (let r = 0; r < rounds; r++) {
      const q = await queue(P, key);
      expect(q.status).toBe(200);
      if (!q.body.items.length) break;
      for (const it of q.body.items) {
        served.push(it.id);
        const res = await label(P, key, it.id, answer(it.data.text));
        expect(res.status).toBe(200);
        // A gold check answers like any other item: nothing reveals it or its answer.
        expect(Object.keys(res.body).sort()).toEqual(['agreedWithModel', 'itemId', 'label']);
      }
    }
    return served;
  }

  // A full consolidation reads the overlap-share number of the items it covers only: it read every item of the
  // project (a million rows on a million-item project with a few hundred labels, 2026-12-05 bench:team).
  it('reads the rand of the items asked for, not of the whole project', async () => {
    const P = await project({}, 30);
    const rows = await s.ctx.db.select({ id: items.id, rand: items.rand }).from(items).where(eq(items.projectId, P));
    const wanted = rows.slice(0, 3);
    const got = await itemRands(
      s.ctx.db,
      P,
      wanted.map((r) => r.id),
    );
    expect([...got.entries()].sort()).toEqual(wanted.map((r) => [r.id, r.rand] as [string, number]).sort());
  });

  it('serves gold checks as ordinary items, never twice to the same key, more of them to a new annotator, and scores them', async () => {
    const gold = Array.from({ length: 12 }, (_, i) => ({ text: `gold item ${i} is ${i % 2 ? 'pos' : 'neg'}`, label: i % 2 ? 'pos' : 'neg' }));
    const P = await project({ quality: { goldCheckShare: 0.1 } }, 60, gold);
    const golds = await goldIds(P);
    const a = await annotator(P, 'alice');
    const b = await annotator(P, 'bob');
    const servedA = await work(P, a.key, truthOf, 4);
    const goldA = servedA.filter((id) => golds.has(id));
    // Onboarding: 5 of the first 20 items are gold checks.
    expect(goldA.length).toBe(5);
    expect(new Set(goldA).size).toBe(goldA.length);
    // The other annotator gets the same gold items: they are shared, only never repeated per key.
    const servedB = await work(P, b.key, (t) => other(truthOf(t)), 4);
    expect(servedB.filter((id) => golds.has(id)).length).toBe(5);
    const servedA2 = await work(P, a.key, truthOf, 30);
    const allGoldA = [...goldA, ...servedA2.filter((id) => golds.has(id))];
    expect(new Set(allGoldA).size).toBe(allGoldA.length);
    expect(allGoldA.length).toBeGreaterThan(5);
    expect(allGoldA.length).toBeLessThanOrEqual(12);
    // An annotator's view of a gold check is an ordinary item with its own answer, never the gold answer.
    const c = await annotator(P, 'carol');
    const gv = await s.call('GET', `/api/projects/${P}/items/${goldA[0]}`, { key: c.key });
    expect(gv.body).toMatchObject({ split: 'pool', holdout: false, label: null, labels: [] });
    const gvA = await s.call('GET', `/api/projects/${P}/items/${goldA[0]}`, { key: a.key });
    expect(gvA.body).toMatchObject({ split: 'pool', status: 'labeled', labelSource: 'human' });
    expect(gvA.body.labels.map((l: any) => l.keyId)).toEqual([a.id]);
    // The gold answers stay as imported.
    const stored = await s.ctx.db.select({ id: items.id, label: items.label, text: items.data }).from(items).where(eq(items.split, 'gold'));
    for (const g of stored.filter((r) => golds.has(r.id))) expect(g.label).toBe(truthOf((g.text as { text: string }).text));
    const rows = await s.ctx.db.select().from(goldChecks).where(eq(goldChecks.projectId, P));
    expect(rows.filter((r) => r.keyId === a.id && r.correct === true).length).toBe(allGoldA.length);
    expect(rows.filter((r) => r.keyId === b.id && r.correct === false).length).toBe(5);

    const report = await s.call('GET', `/api/projects/${P}/annotators`, { key: eng });
    expect(report.status).toBe(200);
    const ra = report.body.annotators.find((x: any) => x.keyId === a.id);
    expect(ra).toMatchObject({ name: 'alice', goldChecks: allGoldA.length, goldAccuracy: 1 });
    expect(ra.interval[1]).toBe(1);
    const rb = report.body.annotators.find((x: any) => x.keyId === b.id);
    expect(rb).toMatchObject({ goldChecks: 5, goldAccuracy: 0, status: 'onboarding' });
    expect(report.body.team.goldChecks).toBe(allGoldA.length + 5);
    // A client sees the scores without names unless the project allows names.
    const forClient = await s.call('GET', `/api/projects/${P}/annotators`, { key: client });
    expect(forClient.status).toBe(200);
    for (const x of forClient.body.annotators) expect(x.name).toBeUndefined();
    await s.call('PATCH', `/api/projects/${P}/settings`, { key: eng, body: { settings: { quality: { goldCheckShare: 0.1, showAnnotatorNames: true } } } });
    const named = await s.call('GET', `/api/projects/${P}/annotators`, { key: client });
    expect(named.body.annotators.find((x: any) => x.keyId === a.id).name).toBe('alice');
    // Annotators do not see each other's scores.
    expect((await s.call('GET', `/api/projects/${P}/annotators`, { key: a.key })).status).toBe(403);
    expect((await s.call('GET', `/api/projects/${P}/agreement`, { key: a.key })).status).toBe(403);
  });

  it('without imported gold, held-out items one annotator labelled are gold checks for the others: never for their labeller, never twice, never votes', async () => {
    const P = await project({ goldFraction: 0.5, quality: { goldCheckShare: 0.5 } }, 40);
    const a = await annotator(P, 'a');
    const b = await annotator(P, 'b');
    const checksOf = async (keyId: string) => (await s.ctx.db.select().from(goldChecks).where(eq(goldChecks.projectId, P))).filter((r) => r.keyId === keyId);
    await work(P, a.key, truthOf, 4);
    const heldA = (await s.ctx.db.select().from(items).where(eq(items.projectId, P))).filter((r) => r.holdout && r.labelSource === 'human');
    expect(heldA.length).toBeGreaterThan(3);
    // Nobody else labelled a held-out item yet, and a's own are never checks for a.
    expect(await checksOf(a.id)).toEqual([]);
    // b answers everything wrong: its checks are a's held-out items, each served once, all scored wrong.
    const servedB = await work(P, b.key, (t) => other(truthOf(t)), 4);
    const checksB = await checksOf(b.id);
    const heldIds = new Set(heldA.map((r) => r.id));
    expect(checksB.length).toBeGreaterThan(0);
    for (const c of checksB) expect(heldIds.has(c.itemId)).toBe(true);
    expect(new Set(checksB.map((c) => c.itemId)).size).toBe(checksB.length);
    expect(checksB.every((c) => c.correct === false)).toBe(true);
    expect(servedB.filter((id) => heldIds.has(id)).length).toBe(checksB.length);
    // The held-out item is unchanged: its label is a's, b's answer is not a label row, and b sees only its own answer.
    const x = checksB[0].itemId;
    const eng_ = await s.call('GET', `/api/projects/${P}/items/${x}`, { key: eng });
    expect(eng_.body.labels.map((l: any) => l.keyId)).toEqual([a.id]);
    expect(eng_.body.label).toBe(truthOf(eng_.body.data.text));
    const seenB = await s.call('GET', `/api/projects/${P}/items/${x}`, { key: b.key });
    expect(seenB.body).toMatchObject({ holdout: false, label: other(truthOf(eng_.body.data.text)) });
    expect(seenB.body.labels.map((l: any) => l.keyId)).toEqual([b.id]);
    // A full consolidation does not count the answers as votes on the held-out items.
    await consolidate(P);
    const cons = await s.ctx.db.select().from(consolidatedLabels).where(eq(consolidatedLabels.projectId, P));
    for (const c of cons.filter((r) => heldIds.has(r.itemId))) expect(c.n).toBe(1);
    const report = await s.call('GET', `/api/projects/${P}/annotators`, { key: eng });
    expect(report.body.annotators.find((r: any) => r.keyId === b.id)).toMatchObject({ goldChecks: checksB.length, goldAccuracy: 0 });
    // Imported gold wins once there is some: a new annotator's checks are imported gold items only.
    const gold = Array.from({ length: 6 }, (_, i) => ({ text: `gold item ${i} is pos`, label: 'pos', split: 'gold', externalId: `g${i}` }));
    expect((await s.call('POST', `/api/projects/${P}/items`, { key: eng, body: { items: gold } })).status).toBe(202);
    const c = await annotator(P, 'c');
    await work(P, c.key, truthOf, 2);
    const golds = await goldIds(P);
    const checksC = await checksOf(c.id);
    expect(checksC.length).toBeGreaterThan(0);
    for (const r of checksC) expect(golds.has(r.itemId)).toBe(true);
  });

  it('flags a held-out gold check whose label most strong annotators contradict, and leaves it out of their gold accuracy', async () => {
    const P = await project({ goldFraction: 0.5, quality: { goldCheckShare: 0.5 } }, 120);
    const a = await annotator(P, 'a');
    await work(P, a.key, truthOf, 4);
    // a corrects one of its held-out labels to the wrong class.
    const [wrong] = (await s.ctx.db.select().from(items).where(eq(items.projectId, P))).filter((r) => r.holdout && r.labelSource === 'human');
    const truth = truthOf((wrong.data as { text: string }).text);
    expect((await label(P, a.key, wrong.id, other(truth))).status).toBe(200);
    const keys = [await annotator(P, 'b'), await annotator(P, 'c'), await annotator(P, 'd')];
    for (const k of keys) await work(P, k.key, truthOf, 8);
    const answered = (await s.ctx.db.select().from(goldChecks).where(eq(goldChecks.itemId, wrong.id))).filter((r) => r.answer !== null);
    expect(answered.length).toBe(3);
    await consolidate(P);
    const report = await s.call('GET', `/api/projects/${P}/annotators`, { key: eng });
    expect(report.body.consolidation.flaggedGold).toEqual([
      { itemId: wrong.id, goldLabel: other(truth), suggestedLabel: truth, strongAnswers: 3, contradicting: 3 },
    ]);
    for (const k of keys) expect(report.body.annotators.find((x: any) => x.keyId === k.id).goldAccuracy).toBe(1);
  });

  it('a queue reload shows the same items: held leases and open gold checks come back, no new gold check takes a slot', async () => {
    const gold = Array.from({ length: 12 }, (_, i) => ({ text: `gold item ${i} is pos`, label: 'pos' }));
    const P = await project({ quality: { goldCheckShare: 0.1 } }, 60, gold);
    const a = await annotator(P, 'a');
    const ids = async () => new Set((await queue(P, a.key, 5)).body.items.map((i: any) => i.id));
    const first = await ids();
    expect(first.size).toBe(5);
    expect(await ids()).toEqual(first);
    expect(await ids()).toEqual(first);
  });

  it('an annotator who was never served a gold item cannot label it, and the gold answer is unchanged', async () => {
    const P = await project({ quality: { goldCheckShare: 0 } }, 2, [{ text: 'gold item is pos', label: 'pos' }]);
    const [g] = [...(await goldIds(P))];
    const a = await annotator(P, 'a');
    const res = await label(P, a.key, g, 'neg');
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('already_labeled');
    const [row] = await s.ctx.db.select({ label: items.label }).from(items).where(eq(items.id, g));
    expect(row.label).toBe('pos');
  });

  it('overlap: a labelled item goes to another, distinct annotator; two annotators never share a lease; a second label from the same key corrects its own vote', async () => {
    const P = await project({ quality: { goldCheckShare: 0, labelsPerItem: 2 } }, 8);
    const a = await annotator(P, 'a');
    const b = await annotator(P, 'b');
    const c = await annotator(P, 'c');
    const first = await queue(P, a.key, 8);
    expect(first.body.items.length).toBe(8);
    for (const it of first.body.items) expect((await label(P, a.key, it.id, truthOf(it.data.text))).status).toBe(200);
    // a labels one item twice: the second label is a correction of a's own vote, not a second vote.
    const x = first.body.items[0];
    expect((await label(P, a.key, x.id, other(truthOf(x.data.text)))).status).toBe(200);
    let [cx] = await s.ctx.db.select().from(consolidatedLabels).where(eq(consolidatedLabels.itemId, x.id));
    expect(cx).toMatchObject({ n: 1, label: other(truthOf(x.data.text)), needsMore: true });
    // a is never served its own items again.
    expect((await queue(P, a.key, 8)).body.items).toEqual([]);
    // b and c ask at once: the items needing a second label are split between them, never shared.
    const [qb, qc] = await Promise.all([queue(P, b.key, 8), queue(P, c.key, 8)]);
    const ofB = qb.body.items.map((i: any) => i.id);
    const ofC = qc.body.items.map((i: any) => i.id);
    expect(ofB.length + ofC.length).toBe(8);
    for (const id of ofB) expect(ofC).not.toContain(id);
    // Blind: the queue entry carries the item and the model's guess, never earlier labels.
    for (const it of [...qb.body.items, ...qc.body.items]) expect(JSON.stringify(it)).not.toMatch(/"labels?"\s*:/);
    // Blind in the item view too: b sees no earlier label on the item it is about to label.
    const seen = await s.call('GET', `/api/projects/${P}/items/${qb.body.items[0].id}`, { key: b.key });
    expect(seen.body).toMatchObject({ label: null, labels: [], status: 'pending' });
    for (const it of qb.body.items) expect((await label(P, b.key, it.id, truthOf(it.data.text))).status).toBe(200);
    const own = await s.call('GET', `/api/projects/${P}/items/${qb.body.items[0].id}`, { key: b.key });
    expect(own.body.labels.map((l: any) => l.keyId)).toEqual([b.id]);
    const full = await s.call('GET', `/api/projects/${P}/items/${qb.body.items[0].id}`, { key: eng });
    // Engineers see every vote (and a's correction, if this is the item a labelled twice).
    expect(new Set(full.body.labels.map((l: any) => l.keyId)).size).toBe(2);
    for (const it of qc.body.items) expect((await label(P, c.key, it.id, truthOf(it.data.text))).status).toBe(200);
    [cx] = await s.ctx.db.select().from(consolidatedLabels).where(eq(consolidatedLabels.itemId, x.id));
    expect(cx).toMatchObject({ n: 2, needsMore: false });
    const all = await s.ctx.db.select().from(consolidatedLabels).where(eq(consolidatedLabels.projectId, P));
    expect(all.every((r) => r.n === 2 && !r.needsMore)).toBe(true);
    // Everyone has labelled everything they may: nobody is served anything.
    for (const k of [a, b, c]) expect((await queue(P, k.key, 8)).body.items).toEqual([]);
    // Agreement: a disagrees with the others on x only.
    await consolidate(P);
    const ag = await s.call('GET', `/api/projects/${P}/agreement`, { key: client });
    expect(ag.status).toBe(200);
    expect(ag.body.overlappingItems).toBe(8);
    expect(ag.body.pairwise).toBeCloseTo(7 / 8, 10);
    expect(ag.body.matrix.annotators).toContain(a.id);
  });

  it('with adaptive overlap a split item gets a third annotator, a clear one does not', async () => {
    const P = await project({ quality: { goldCheckShare: 0, labelsPerItem: 2, adaptiveOverlap: true, maxLabelsPerItem: 3 } }, 2);
    const [a, b, c] = [await annotator(P, 'a'), await annotator(P, 'b'), await annotator(P, 'c')];
    const q = await queue(P, a.key, 2);
    const [split, clear] = q.body.items;
    await label(P, a.key, split.id, 'pos');
    await label(P, a.key, clear.id, 'pos');
    const qb = await queue(P, b.key, 2);
    expect(qb.body.items.map((i: any) => i.id).sort()).toEqual([split.id, clear.id].sort());
    await label(P, b.key, split.id, 'neg');
    await label(P, b.key, clear.id, 'pos');
    const qc = await queue(P, c.key, 2);
    expect(qc.body.items.map((i: any) => i.id)).toEqual([split.id]);
    await label(P, c.key, split.id, 'neg');
    const [row] = await s.ctx.db.select().from(consolidatedLabels).where(eq(consolidatedLabels.itemId, split.id));
    expect(row).toMatchObject({ n: 3, label: 'neg', needsMore: false });
    // The item's label (what training and the export read) is the consolidated one.
    const [it] = await s.ctx.db.select({ label: items.label }).from(items).where(eq(items.id, split.id));
    expect(it.label).toBe('neg');
    // The export carries each item's consolidation beside its label; null for an item nobody voted on.
    expect((await s.call('POST', `/api/projects/${P}/items`, { key: eng, body: { items: [{ text: 'unlabelled', externalId: 'u' }] } })).status).toBe(202);
    const jsonl = await s.call('GET', `/api/projects/${P}/export?format=jsonl`, { key: eng });
    expect(jsonl.status).toBe(200);
    const rows = jsonl.text
      .trim()
      .split('\n')
      .map((l: string) => JSON.parse(l));
    const byId = new Map(rows.map((r: any) => [r.id, r]));
    expect(byId.get(split.id).consolidated).toEqual({ label: 'neg', posterior: expect.closeTo(2 / 3, 5), n: 3, method: 'majority' });
    expect(byId.get(clear.id).consolidated).toEqual({ label: 'pos', posterior: 1, n: 2, method: 'majority' });
    expect(rows.find((r: any) => r.externalId === 'u').consolidated).toBeNull();
    const csv = await s.call('GET', `/api/projects/${P}/export?format=csv`, { key: eng });
    const [header, ...lines] = csv.text.split('\r\n');
    expect(header.split(',')).toContain('consolidated');
    const splitLine = lines.find((l: string) => l.startsWith(`${split.id},`))!;
    // The cell after the label history: {label, posterior, n, method} as quoted JSON.
    const cell = /\]","(\{(?:[^"]|"")*\})",/.exec(splitLine)!;
    expect(JSON.parse(cell[1].replace(/""/g, '"'))).toMatchObject({ label: 'neg', n: 3, method: 'majority' });
  });

  it('flags a gold answer most strong annotators contradict, and leaves it out of their gold accuracy', async () => {
    // 14 gold items; the stored answer of the first is wrong (its text says pos, the answer says neg).
    const gold = Array.from({ length: 14 }, (_, i) => {
      const truth = i % 2 ? 'pos' : 'neg';
      return { text: `gold item ${i} is ${i === 0 ? 'pos' : truth}`, label: truth };
    });
    const P = await project({ quality: { goldCheckShare: 0.5 } }, 120, gold);
    const keys = [await annotator(P, 'a'), await annotator(P, 'b'), await annotator(P, 'c'), await annotator(P, 'd')];
    // 8 batches of 5 each: 40 items, half of them gold checks once onboarding is over, so every key sees all 14.
    for (const k of keys) await work(P, k.key, truthOf, 8);
    await consolidate(P);
    const report = await s.call('GET', `/api/projects/${P}/annotators`, { key: eng });
    const wrong = (await s.ctx.db.select({ id: items.id, projectId: items.projectId }).from(items).where(eq(items.externalId, 'g0'))).find(
      (r) => r.projectId === P,
    )!.id;
    expect(report.body.consolidation.flaggedGold).toEqual([{ itemId: wrong, goldLabel: 'neg', suggestedLabel: 'pos', strongAnswers: 4, contradicting: 4 }]);
    for (const k of keys) {
      const r = report.body.annotators.find((x: any) => x.keyId === k.id);
      expect(r.goldChecks).toBe(13);
      expect(r.goldAccuracy).toBe(1);
    }
    // Clients are not shown which gold items look wrong.
    const forClient = await s.call('GET', `/api/projects/${P}/annotators`, { key: client });
    expect(forClient.body.consolidation.flaggedGold).toEqual([]);
  });

  it('an annotator with no overlap with anyone gets no EM accuracy, with the reason stated', async () => {
    const P = await project({ quality: { goldCheckShare: 0 } }, 6);
    const a = await annotator(P, 'solo');
    await work(P, a.key, truthOf, 3);
    await consolidate(P);
    const report = await s.call('GET', `/api/projects/${P}/annotators`, { key: eng });
    const r = report.body.annotators.find((x: any) => x.keyId === a.id);
    expect(r).toMatchObject({ labels: 6, goldChecks: 0, goldAccuracy: null, estimatedAccuracy: null, estimateNote: 'no_overlap', recall: null });
    const ag = await s.call('GET', `/api/projects/${P}/agreement`, { key: eng });
    expect(ag.body).toMatchObject({ alpha: null, pairwise: null, overlappingItems: 0, note: 'no_overlap' });
  });

  it('a paused annotator (gold answers all wrong) has its labels sent to another annotator', async () => {
    const gold = Array.from({ length: 20 }, (_, i) => ({ text: `gold item ${i} is ${i % 2 ? 'pos' : 'neg'}`, label: i % 2 ? 'pos' : 'neg' }));
    const P = await project({ quality: { goldCheckShare: 0.5 } }, 40, gold);
    const bad = await annotator(P, 'clicker');
    await work(P, bad.key, (t) => other(truthOf(t)), 8);
    const report = await s.call('GET', `/api/projects/${P}/annotators`, { key: eng });
    const r = report.body.annotators.find((x: any) => x.keyId === bad.id);
    expect(r.status).toBe('paused');
    expect(r.pausedAtCheck).toBe(15);
    // Labels given after the pause want a second, trusted label.
    const rows = await s.ctx.db.select().from(consolidatedLabels).where(eq(consolidatedLabels.projectId, P));
    expect(rows.some((x) => x.needsMore)).toBe(true);
    const good = await annotator(P, 'good');
    const served = (await queue(P, good.key, 10)).body.items.map((i: any) => i.id);
    const needing = rows.filter((x) => x.needsMore).map((x) => x.itemId);
    expect(served.some((id: string) => needing.includes(id))).toBe(true);
  });

  it('an engineer clears a pause: the status is judged only on gold answers after it, and the clearing is in the audit log', async () => {
    const gold = Array.from({ length: 40 }, (_, i) => ({ text: `gold item ${i} is ${i % 2 ? 'pos' : 'neg'}`, label: i % 2 ? 'pos' : 'neg' }));
    const P = await project({ quality: { goldCheckShare: 0.5 } }, 80, gold);
    const bad = await annotator(P, 'clicker');
    const statusOf = async () => (await s.call('GET', `/api/projects/${P}/annotators`, { key: eng })).body.annotators.find((x: any) => x.keyId === bad.id);
    const clear = (key: string, keyId = bad.id) => s.call('POST', `/api/projects/${P}/annotators/${keyId}/clear`, { key, body: {} });
    // Not paused yet: nothing to clear.
    expect((await clear(eng)).status).toBe(409);
    await work(P, bad.key, (t) => other(truthOf(t)), 6);
    const before = await statusOf();
    expect(before).toMatchObject({ status: 'paused', pausedAtCheck: 15, clearedAt: null, goldAccuracy: 0 });
    // Annotators cannot clear themselves; an unknown key is a 404.
    expect((await clear(bad.key)).status).toBe(403);
    expect((await clear(eng, 'no-such-key')).status).toBe(404);
    const cleared = await clear(eng);
    expect(cleared.status).toBe(200);
    expect(cleared.body).toMatchObject({ keyId: bad.id, status: 'ok', previous: { pausedAtCheck: 15, goldChecks: before.goldChecks, goldAccuracy: 0 } });
    // The status counts only answers after the clearing; gold accuracy still covers every answer.
    const after = await statusOf();
    expect(after).toMatchObject({ status: 'ok', pausedAtCheck: null, clearedAt: cleared.body.clearedAt, goldChecks: before.goldChecks, goldAccuracy: 0 });
    expect((await clear(eng)).status).toBe(409);
    const log = await s.call('GET', `/api/projects/${P}/audit-log`, { key: eng });
    expect(log.body.entries[0]).toMatchObject({ action: 'annotator.clear', details: { annotatorKeyId: bad.id, pausedAtCheck: 15 } });
    // A label given now counts as trusted: it wants no second label.
    const q = await queue(P, bad.key, 5);
    const ordinary = q.body.items.find((i: any) => !i.data.text.startsWith('gold'));
    expect((await label(P, bad.key, ordinary.id, truthOf(ordinary.data.text))).status).toBe(200);
    const [row] = await s.ctx.db.select().from(consolidatedLabels).where(eq(consolidatedLabels.itemId, ordinary.id));
    expect(row.needsMore).toBe(false);
    for (const it of q.body.items.filter((i: any) => i.id !== ordinary.id)) await label(P, bad.key, it.id, other(truthOf(it.data.text)));
    // Still clicking at random: paused again after 15 new wrong answers, counted from the clearing.
    await work(P, bad.key, (t) => other(truthOf(t)), 10);
    const again = await statusOf();
    expect(again.status).toBe('paused');
    expect(again.pausedAtCheck).toBe(before.goldChecks + 15);
  });

  it('serves the Team page and its script', async () => {
    const page = await s.call('GET', '/ui/team', { key: null });
    expect(page.status).toBe(200);
    expect(page.text).toContain('/ui/assets/team.js');
    const script = await s.call('GET', '/ui/assets/team.js', { key: null });
    expect(script.status).toBe(200);
    expect(script.text).toContain("api('/annotators')");
    // Engineers clear a paused annotator from the page.
    expect(script.text).toContain('/clear`)');
  });

  it('refuses bad quality settings with a 400 and changes nothing', async () => {
    const P = await project({}, 1);
    for (const bad of [{ labelsPerItem: 0 }, { goldCheckShare: 0.9 }, { overlapShare: 2 }, { labelsPerItem: 4, maxLabelsPerItem: 3 }, { colour: 'red' }]) {
      const r = await s.call('PATCH', `/api/projects/${P}/settings`, { key: eng, body: { settings: { quality: bad } } });
      expect(r.status).toBe(400);
      expect(r.body.error.code).toBeTruthy();
    }
    const p = await s.call('GET', `/api/projects/${P}`, { key: eng });
    expect(p.body.settings.quality).toMatchObject({ goldCheckShare: 0.05, labelsPerItem: 1, adaptiveOverlap: false, overlapShare: 0 });
  });
});
