import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lockItem } from '../../db/repositories/items.ts';
import { startTestServer, type TestServer } from '../helpers.ts';

/**
 * An empty queue answer means nothing is left for this key; while unlabelled items remain that it may get
 * later, the answer says when to ask again (`retryAfterMs`).
 */
describe('an empty queue says whether to ask again', () => {
  let s: TestServer;
  let P: string;
  let a: string;
  let b: string;
  const queue = (key: string) => s.call('GET', `/api/projects/${P}/queue?limit=10`, { key });

  beforeAll(async () => {
    s = await startTestServer();
    P = (
      await s.call('POST', '/api/projects', {
        body: { name: 'retry', modality: 'text', labels: ['pos', 'neg'], settings: { leaseSeconds: 30, retrainEvery: 0, goldFraction: 0 } },
      })
    ).body.id;
    a = (await s.call('POST', `/api/projects/${P}/keys`, { body: { role: 'annotator', name: 'a' } })).body.key;
    b = (await s.call('POST', `/api/projects/${P}/keys`, { body: { role: 'annotator', name: 'b' } })).body.key;
    const items = Array.from({ length: 3 }, (_, i) => ({ text: `item ${i}`, externalId: `e${i}` }));
    expect((await s.call('POST', `/api/projects/${P}/items`, { body: { items } })).status).toBe(202);
  });
  afterAll(() => s?.stop());

  // PGlite has one connection: a transaction holding row locks makes every other query wait, so rows can be
  // locked-and-skipped only on PostgreSQL.
  it.skipIf(!process.env.DATABASE_URL)('items whose rows another transaction holds (a pre-label batch): empty, with retryAfterMs', async () => {
    const ids = (await s.ctx.db.query.items.findMany({ where: (t, { eq }) => eq(t.projectId, P) })).map((r) => r.id);
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let locked!: () => void;
    const isLocked = new Promise<void>((r) => (locked = r));
    const holder = s.ctx.db.transaction(async (tx) => {
      for (const id of ids) await lockItem(tx, P, id);
      locked();
      await released;
    });
    await isLocked;
    try {
      const q = await queue(a);
      expect(q.status, q.text).toBe(200);
      expect(q.body.items).toEqual([]);
      expect(q.body.retryAfterMs).toBeGreaterThan(0);
      expect(q.body.retryAfterMs).toBeLessThanOrEqual(5000);
    } finally {
      release();
      await holder;
    }
    expect((await queue(a)).body.items).toHaveLength(0 + ids.length);
    // Leave them to the next test as leased by a.
  });

  it('items leased to another key: empty for this key, with retryAfterMs until the lease ends', async () => {
    const mine = await queue(a);
    expect(mine.body.items).toHaveLength(3);
    const other = await queue(b);
    expect(other.status).toBe(200);
    expect(other.body.items).toEqual([]);
    expect(other.body.retryAfterMs).toBeGreaterThan(0);
    expect(other.body.retryAfterMs).toBeLessThanOrEqual(30_000);
  });

  it('nothing left: a bare empty list, without retryAfterMs', async () => {
    for (const it of (await queue(a)).body.items)
      expect((await s.call('POST', `/api/projects/${P}/items/${it.id}/label`, { key: a, body: { label: 'pos' } })).status).toBe(200);
    for (const key of [a, b]) {
      const q = await queue(key);
      expect(q.status).toBe(200);
      expect(q.body).toEqual({ items: [] });
    }
  });
});

describe('held-out items are served when nothing else is left', () => {
  let s: TestServer;
  afterAll(() => s?.stop());
  it('one annotator asking one item at a time labels the whole pool', async () => {
    s = await startTestServer();
    const P = (
      await s.call('POST', '/api/projects', {
        body: { name: 'holdout', modality: 'text', labels: ['pos', 'neg'], settings: { retrainEvery: 0, goldFraction: 0.5 } },
      })
    ).body.id;
    const items = Array.from({ length: 10 }, (_, i) => ({ text: `item ${i}`, externalId: `e${i}` }));
    expect((await s.call('POST', `/api/projects/${P}/items`, { body: { items } })).status).toBe(202);
    let labelled = 0;
    for (let round = 0; round < 20; round++) {
      const q = await s.call('GET', `/api/projects/${P}/queue?limit=1`);
      if (!q.body.items.length) break;
      expect((await s.call('POST', `/api/projects/${P}/items/${q.body.items[0].id}/label`, { body: { label: 'pos' } })).status).toBe(200);
      labelled++;
    }
    expect(labelled).toBe(10);
    expect((await s.call('GET', `/api/projects/${P}`)).body.counts.pending).toBe(0);
  });
});
