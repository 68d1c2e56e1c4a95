import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPrng } from '../../models/prng.ts';
import { consolidatedLabels, items, labels } from '../../db/schema.ts';
import { startTestServer, type TestServer } from '../helpers.ts';

/**
 * The queue's choice between a new item and another label on an old one, by expected gain (docs/quality.md,
 * "New item or another label"). The model's scores are written into the items as a pre-label job would.
 */
describe('new item or another label, by expected gain', () => {
  let s: TestServer;
  let eng: string;

  beforeAll(async () => {
    s = await startTestServer();
  });
  afterAll(() => s?.stop());

  async function project(quality: Record<string, unknown>, texts: string[]) {
    const P = (
      await s.call('POST', '/api/projects', {
        body: { name: 'gain', modality: 'text', labels: ['pos', 'neg'], settings: { retrainEvery: 0, goldFraction: 0, auditEvery: 0, quality } },
      })
    ).body.id as string;
    eng = (await s.call('POST', `/api/projects/${P}/keys`, { body: { role: 'engineer', name: 'eng' } })).body.key;
    await ingest(P, texts);
    return P;
  }
  async function ingest(P: string, texts: string[]) {
    const r = await s.call('POST', `/api/projects/${P}/items`, { key: eng, body: { items: texts.map((text) => ({ text, externalId: text })) } });
    expect(r.status).toBe(202);
  }
  async function annotator(P: string, name: string) {
    return (await s.call('POST', `/api/projects/${P}/keys`, { body: { role: 'annotator', name } })).body.key as string;
  }
  const queue = async (P: string, key: string, limit: number): Promise<{ id: string; text: string }[]> => {
    const r = await s.call('GET', `/api/projects/${P}/queue?limit=${limit}`, { key });
    expect(r.status).toBe(200);
    return r.body.items.map((i: any) => ({ id: i.id, text: i.data.text }));
  };
  const label = async (P: string, key: string, id: string, l: string) =>
    expect((await s.call('POST', `/api/projects/${P}/items/${id}/label`, { key, body: { label: l } })).status).toBe(200);
  /** The model's confidence on the still unlabelled items (uncertainty = 1 - confidence, least-confidence). */
  async function score(P: string, confidence: number) {
    await s.ctx.db
      .update(items)
      .set({ confidence, uncertainty: 1 - confidence })
      .where(and(eq(items.projectId, P), eq(items.status, 'pending')));
  }

  it('a 1-1 split goes ahead of new items the model is sure of; uncertain new items go ahead of a settled item', async () => {
    const P = await project({ goldCheckShare: 0, labelsPerItem: 1, adaptiveOverlap: true, maxLabelsPerItem: 3 }, ['x1', 'x2', 'y', 'w']);
    const [a, b, c, d] = [await annotator(P, 'a'), await annotator(P, 'b'), await annotator(P, 'c'), await annotator(P, 'd')];
    const byText = new Map<string, string>();
    for (const it of await queue(P, a, 4)) {
      byText.set(it.text, it.id);
      await label(P, a, it.id, 'pos');
    }
    // b is offered the single-vote items (nothing new is left); it splits x1 and x2 and agrees on y. w keeps one vote.
    const ofB = await queue(P, b, 3);
    expect(ofB.map((i) => i.text).sort()).toEqual(['x1', 'x2', 'y']);
    for (const it of ofB) await label(P, b, it.id, it.text === 'y' ? 'pos' : 'neg');
    const gainOf = async (text: string) =>
      (
        await s.ctx.db
          .select()
          .from(consolidatedLabels)
          .where(eq(consolidatedLabels.itemId, byText.get(text)!))
      )[0];
    // 1-1 between annotators of accuracy 0.8: 0.5 -> 0.2 expected error, one of the two extra labels left.
    expect((await gainOf('x1')).gain).toBeCloseTo(0.15, 5);
    expect(await gainOf('y')).toMatchObject({ n: 2, needsMore: false, gain: 0 });
    expect((await gainOf('w')).gain).toBeCloseTo(0.048, 5);

    // New items the model is 95 % sure of: an annotator (0.8) would be wrong more often than the model (gain -0.15),
    // so both splits (0.15) come first.
    await ingest(P, ['n1', 'n2', 'n3']);
    await score(P, 0.95);
    const ofC = await queue(P, c, 2);
    expect(ofC.map((i) => i.text).sort()).toEqual(['x1', 'x2']);
    for (const it of ofC) await label(P, c, it.id, 'pos');
    expect(await gainOf('x1')).toMatchObject({ n: 3, needsMore: false, gain: 0 });

    // The model is unsure of the new items (0.55: a label avoids 0.45 - 0.2 = 0.25 wrong labels): they beat w (one
    // vote, 0.048), and y (2-0) is never offered.
    await score(P, 0.55);
    const ofD = await queue(P, d, 2);
    expect(ofD).toHaveLength(2);
    for (const it of ofD) expect(['n1', 'n2', 'n3']).toContain(it.text);
    // Once nothing new is left, w gets its second label.
    for (const it of ofD) await label(P, d, it.id, 'pos');
    const left = ['n1', 'n2', 'n3'].filter((t) => !ofD.some((i) => i.text === t));
    const rest = await queue(P, d, 5);
    expect(rest.map((i) => i.text).sort()).toEqual([...left, 'w']);
  });

  it('never serves an item past its cap nor twice to one key, over many queue requests with annotators who disagree', async () => {
    const cap = 3;
    const texts = Array.from({ length: 6 }, (_, i) => `item ${i}`);
    const P = await project({ goldCheckShare: 0, labelsPerItem: 1, adaptiveOverlap: true, maxLabelsPerItem: cap }, texts);
    const keys = await Promise.all(Array.from({ length: 8 }, (_, i) => annotator(P, `k${i}`)));
    const rng = createPrng(17);
    const servedTo = new Map<string, string[]>();
    for (let round = 0; round < 12; round++)
      for (const key of keys) {
        for (const it of await queue(P, key, 3)) {
          const list = servedTo.get(it.id) ?? [];
          // A key never gets an item it labelled.
          expect(list).not.toContain(key);
          list.push(key);
          servedTo.set(it.id, list);
          // Half the answers are coin flips: items stay split, which is what would make a naive ranker loop.
          await label(P, key, it.id, rng.next() < 0.5 ? 'pos' : 'neg');
        }
      }
    const rows = await s.ctx.db.select({ itemId: labels.itemId, keyId: labels.keyId }).from(labels).where(eq(labels.projectId, P));
    const perItem = new Map<string, Set<string>>();
    for (const r of rows) perItem.set(r.itemId, (perItem.get(r.itemId) ?? new Set()).add(r.keyId as string));
    expect(perItem.size).toBe(texts.length);
    for (const [id, ks] of perItem) {
      expect(ks.size).toBeLessThanOrEqual(cap);
      expect(rows.filter((r) => r.itemId === id)).toHaveLength(ks.size);
    }
    for (const list of servedTo.values()) expect(list.length).toBeLessThanOrEqual(cap);
    const consolidated = await s.ctx.db.select().from(consolidatedLabels).where(eq(consolidatedLabels.projectId, P));
    for (const c of consolidated) if (c.n >= cap) expect(c).toMatchObject({ needsMore: false, gain: 0 });
    // With 8 keys and coin flips some item reached the cap: the cap, not the supply of keys, stopped it.
    expect(consolidated.some((c) => c.n === cap)).toBe(true);
  });
});
