import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lockItem } from '../../db/repositories/items.ts';
import { startTestServer, type TestServer } from '../helpers.ts';

describe('queue leases and label history', () => {
  let s: TestServer;
  let P: string;
  let a: string;
  let b: string;
  let eng: string;

  beforeAll(async () => {
    s = await startTestServer();
    P = (
      await s.call('POST', '/api/projects', {
        body: { name: 'q', modality: 'text', labels: ['pos', 'neg'], settings: { leaseSeconds: 5, retrainEvery: 0, goldFraction: 0 } },
      })
    ).body.id;
    a = (await s.call('POST', `/api/projects/${P}/keys`, { body: { role: 'annotator', name: 'a' } })).body.key;
    b = (await s.call('POST', `/api/projects/${P}/keys`, { body: { role: 'annotator', name: 'b' } })).body.key;
    eng = (await s.call('POST', `/api/projects/${P}/keys`, { body: { role: 'engineer', name: 'e' } })).body.key;
    const items = Array.from({ length: 40 }, (_, i) => ({ text: `item number ${i}`, externalId: `e${i}` }));
    expect((await s.call('POST', `/api/projects/${P}/items`, { key: eng, body: { items } })).status).toBe(202);
  });
  afterAll(() => s?.stop());

  it('concurrent annotators never get the same item', async () => {
    const results = await Promise.all([
      ...Array.from({ length: 3 }, () => s.call('GET', `/api/projects/${P}/queue?limit=6`, { key: a })),
      ...Array.from({ length: 3 }, () => s.call('GET', `/api/projects/${P}/queue?limit=6`, { key: b })),
    ]);
    const ofA = new Set(results.slice(0, 3).flatMap((r) => r.body.items.map((i: any) => i.id)));
    const ofB = new Set(results.slice(3).flatMap((r) => r.body.items.map((i: any) => i.id)));
    expect(ofA.size).toBeGreaterThan(0);
    expect(ofB.size).toBeGreaterThan(0);
    for (const id of ofA) expect(ofB.has(id)).toBe(false);
  });

  it('a reload serves the same leased items first', async () => {
    const first = await s.call('GET', `/api/projects/${P}/queue?limit=3`, { key: a });
    const again = await s.call('GET', `/api/projects/${P}/queue?limit=3`, { key: a });
    expect(again.body.items.map((i: any) => i.id)).toEqual(first.body.items.map((i: any) => i.id));
  });

  it("a reload keeps an item while another key's label request holds its row lock", async () => {
    const first = await s.call('GET', `/api/projects/${P}/queue?limit=3`, { key: a });
    const held = first.body.items[1].id;
    // What b's label request on a's item does before it answers 409 item_leased: lock the row, look, let go.
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let locked!: () => void;
    const isLocked = new Promise<void>((r) => (locked = r));
    const holder = s.ctx.db.transaction(async (tx) => {
      await lockItem(tx, P, held);
      locked();
      await released;
    });
    await isLocked;
    const reload = s.call('GET', `/api/projects/${P}/queue?limit=3`, { key: a });
    setTimeout(release, 300);
    await holder;
    const again = await reload;
    expect(again.status).toBe(200);
    expect(again.body.items.map((i: any) => i.id)).toEqual(first.body.items.map((i: any) => i.id));
  });

  it("an annotator cannot label another annotator's leased item; the holder can", async () => {
    const item = (await s.call('GET', `/api/projects/${P}/queue?limit=1`, { key: a })).body.items[0];
    const r = await s.call('POST', `/api/projects/${P}/items/${item.id}/label`, { key: b, body: { label: 'pos' } });
    expect(r.status).toBe(409);
    expect(r.body.error.code).toBe('item_leased');
    expect((await s.call('POST', `/api/projects/${P}/items/${item.id}/label`, { key: a, body: { label: 'pos' } })).status).toBe(200);
  });

  it('a repeated label is stored once; a correction is a new row and history is kept', async () => {
    const item = (await s.call('GET', `/api/projects/${P}/queue?limit=1`, { key: a })).body.items[0];
    const url = `/api/projects/${P}/items/${item.id}/label`;
    const r1 = await s.call('POST', url, { key: a, body: { label: 'pos' } });
    const r2 = await s.call('POST', url, { key: a, body: { label: 'pos' } });
    expect(r2.status).toBe(200);
    expect(r2.body).toEqual(r1.body);
    let detail = await s.call('GET', `/api/projects/${P}/items/${item.id}`, { key: a });
    expect(detail.body.labels.map((l: any) => l.label)).toEqual(['pos']);
    await s.call('POST', url, { key: a, body: { label: 'neg' } });
    detail = await s.call('GET', `/api/projects/${P}/items/${item.id}`, { key: a });
    expect(detail.body.labels.map((l: any) => l.label)).toEqual(['pos', 'neg']);
    expect(detail.body.label).toBe('neg');
    expect(detail.body.status).toBe('labeled');
    // A labelled item leaves the queue.
    const q = await s.call('GET', `/api/projects/${P}/queue?limit=100`, { key: b });
    expect(q.body.items.map((i: any) => i.id)).not.toContain(item.id);
  });

  it('a released (skipped) item goes back to the queue for others', async () => {
    const item = (await s.call('GET', `/api/projects/${P}/queue?limit=1`, { key: a })).body.items[0];
    const seenByB = async () => (await s.call('GET', `/api/projects/${P}/queue?limit=100`, { key: b })).body.items.map((i: any) => i.id);
    expect(await seenByB()).not.toContain(item.id);
    const r = await s.call('POST', `/api/projects/${P}/items/${item.id}/release`, { key: a, body: {} });
    expect(r.body).toEqual({ itemId: item.id, released: true });
    expect(await seenByB()).toContain(item.id);
    // b now holds it; a cannot release b's lease.
    expect((await s.call('POST', `/api/projects/${P}/items/${item.id}/release`, { key: a, body: {} })).body.released).toBe(false);
  });

  it('expired leases return to the queue', async () => {
    const leased = (await s.call('GET', `/api/projects/${P}/queue?limit=100`, { key: a })).body.items.map((i: any) => i.id);
    expect(leased.length).toBeGreaterThan(0);
    const whileLeased = (await s.call('GET', `/api/projects/${P}/queue?limit=100`, { key: b })).body.items.map((i: any) => i.id);
    for (const id of leased) expect(whileLeased).not.toContain(id);
    await new Promise((r) => setTimeout(r, 5_500));
    const after = (await s.call('GET', `/api/projects/${P}/queue?limit=100`, { key: b })).body.items.map((i: any) => i.id);
    for (const id of leased) expect(after).toContain(id);
  });

  it('project counts follow the labels', async () => {
    const p = await s.call('GET', `/api/projects/${P}`, { key: b });
    expect(p.body.counts).toMatchObject({ items: 40, labeled: 2, autoLabeled: 0, pending: 38 });
  });
});
