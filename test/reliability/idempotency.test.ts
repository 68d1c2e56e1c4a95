import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryRows } from '../../db/repositories/rows.ts';
import { startTestServer, type TestServer } from '../helpers.ts';
import { expectErrorShape, printFigures } from './support.ts';

/**
 * A repeated ingest (same externalId) or label changes nothing the second time; an Idempotency-Key makes any
 * POST safe to retry: the first answer is replayed byte for byte and the work is done once.
 */
describe('idempotency', () => {
  let s: TestServer;
  let P: string;
  let eng: string;
  let ann: string;
  const f = { requests: 0, replays: 0, reused422: 0, inProgress409: 0, withheld409: 0 };

  const post = async (path: string, body: unknown, opts: { key?: string; idem?: string; headers?: Record<string, string>; raw?: string } = {}) => {
    f.requests++;
    const headers = { ...(opts.headers ?? {}), ...(opts.idem !== undefined ? { 'idempotency-key': opts.idem } : {}) };
    const r = await s.call('POST', path, { key: opts.key, body: opts.raw === undefined ? body : undefined, raw: opts.raw, headers });
    if (r.headers.get('idempotent-replayed') === 'true') f.replays++;
    if (r.status === 422 && r.body?.error?.code === 'idempotency_key_reused') f.reused422++;
    if (r.status === 409 && r.body?.error?.code === 'idempotency_in_progress') f.inProgress409++;
    if (r.status === 409 && r.body?.error?.code === 'idempotent_replay_withheld') f.withheld409++;
    return r;
  };
  const counts = async () => (await s.call('GET', `/api/projects/${P}`)).body.counts;
  const rows = async (table: string) => (await queryRows<{ n: number }>(s.ctx.db, sql`select count(*)::int as n from ${sql.identifier(table)}`))[0].n;

  beforeAll(async () => {
    s = await startTestServer();
    P = (
      await s.call('POST', '/api/projects', {
        body: { name: 'idem', modality: 'text', labels: ['pos', 'neg'], settings: { retrainEvery: 0, goldFraction: 0 } },
      })
    ).body.id;
    eng = (await s.call('POST', `/api/projects/${P}/keys`, { body: { role: 'engineer', name: 'e' } })).body.key;
    ann = (await s.call('POST', `/api/projects/${P}/keys`, { body: { role: 'annotator', name: 'a' } })).body.key;
  });
  afterAll(async () => {
    printFigures('idempotency', f);
    await s?.stop();
  });

  it('a repeated ingest (same externalId) stores nothing the second time, JSON or NDJSON, even with changed content', async () => {
    const items = Array.from({ length: 20 }, (_, i) => ({ externalId: `r${i}`, text: `review ${i}`, ...(i < 4 ? { label: i % 2 ? 'pos' : 'neg' } : {}) }));
    const first = await post(`/api/projects/${P}/items`, { items }, { key: eng });
    expect(first.body).toEqual({ accepted: 20, duplicates: 0, rejected: [] });
    const before = { counts: await counts(), labels: await rows('labels') };
    const again = await post(`/api/projects/${P}/items`, { items }, { key: eng });
    expect(again.status).toBe(202);
    expect(again.body).toEqual({ accepted: 0, duplicates: 20, rejected: [] });
    // Same externalIds with other text and other labels: still duplicates; the stored items keep their content.
    const changed = items.map((it) => ({ ...it, text: `${it.text} (edited)`, label: 'pos' }));
    const ndjson = changed.map((it) => JSON.stringify(it)).join('\n');
    const nd = await post(`/api/projects/${P}/items`, undefined, { key: eng, raw: ndjson, headers: { 'content-type': 'application/x-ndjson' } });
    expect(nd.body).toEqual({ accepted: 0, duplicates: 20, rejected: [] });
    expect(await counts()).toEqual(before.counts);
    expect(await rows('labels')).toBe(before.labels);
    const texts = await queryRows<{ text: string }>(s.ctx.db, sql`select data->>'text' as text from items where project_id = ${P} and external_id = 'r7'`);
    expect(texts).toEqual([{ text: 'review 7' }]);
  });

  it('a repeated label is answered the same and stored once', async () => {
    const item = (await s.call('GET', `/api/projects/${P}/queue?limit=1`, { key: ann })).body.items[0];
    const url = `/api/projects/${P}/items/${item.id}/label`;
    const answers = [];
    for (let i = 0; i < 3; i++) answers.push(await post(url, { label: 'pos' }, { key: ann }));
    answers.push(...(await Promise.all([post(url, { label: 'pos' }, { key: ann }), post(url, { label: 'pos' }, { key: ann })])));
    for (const a of answers) expect(a.text).toBe(answers[0].text);
    const stored = await queryRows<{ n: number }>(s.ctx.db, sql`select count(*)::int as n from labels where item_id = ${item.id}`);
    expect(stored[0].n).toBe(1);
  });

  it('Idempotency-Key: the answer is replayed byte for byte and the work is done once', async () => {
    const before = (await s.call('GET', '/api/projects')).body.projects.length;
    const body = { name: 'made once', modality: 'text', labels: ['a', 'b'] };
    const a = await post('/api/projects', body, { idem: 'create-project-1' });
    const b = await post('/api/projects', body, { idem: 'create-project-1' });
    expect(a.status).toBe(201);
    expect(b.status).toBe(201);
    expect(b.text).toBe(a.text);
    expect(b.headers.get('idempotent-replayed')).toBe('true');
    expect(a.headers.get('idempotent-replayed')).toBeNull();
    expect((await s.call('GET', '/api/projects')).body.projects.length).toBe(before + 1);
  });

  it('without natural keys, ingest runs once per Idempotency-Key (and twice without one)', async () => {
    const items = [{ text: 'no external id, one' }, { text: 'no external id, two' }];
    const c0 = (await counts()).items;
    await post(`/api/projects/${P}/items`, { items }, { key: eng, idem: 'ingest-1' });
    const replay = await post(`/api/projects/${P}/items`, { items }, { key: eng, idem: 'ingest-1' });
    expect(replay.body).toEqual({ accepted: 2, duplicates: 0, rejected: [] });
    expect((await counts()).items).toBe(c0 + 2);
    // The control: the same request without the header is new work each time.
    await post(`/api/projects/${P}/items`, { items }, { key: eng });
    expect((await counts()).items).toBe(c0 + 4);
  });

  it('the same key on a different request answers 422 and changes nothing', async () => {
    const c0 = (await counts()).items;
    const a = await post(`/api/projects/${P}/items`, { items: [{ text: 'first body' }] }, { key: eng, idem: 'reuse-1' });
    expect(a.status).toBe(202);
    const otherBody = await post(`/api/projects/${P}/items`, { items: [{ text: 'second body' }] }, { key: eng, idem: 'reuse-1' });
    expectErrorShape(otherBody, 422, 'idempotency_key_reused');
    const otherQuery = await post(`/api/projects/${P}/items?partial=true`, { items: [{ text: 'first body' }] }, { key: eng, idem: 'reuse-1' });
    expectErrorShape(otherQuery, 422, 'idempotency_key_reused');
    const otherRoute = await post(`/api/projects/${P}/train`, {}, { key: eng, idem: 'reuse-1' });
    expectErrorShape(otherRoute, 422, 'idempotency_key_reused');
    expect((await counts()).items).toBe(c0 + 1);
  });

  it('keys are scoped to the caller: another API key with the same Idempotency-Key does its own work', async () => {
    const eng2 = (await s.call('POST', `/api/projects/${P}/keys`, { body: { role: 'engineer', name: 'e2' } })).body.key;
    const c0 = (await counts()).items;
    await post(`/api/projects/${P}/items`, { items: [{ text: 'scoped' }] }, { key: eng, idem: 'scoped-1' });
    const other = await post(`/api/projects/${P}/items`, { items: [{ text: 'scoped' }] }, { key: eng2, idem: 'scoped-1' });
    expect(other.headers.get('idempotent-replayed')).toBeNull();
    expect((await counts()).items).toBe(c0 + 2);
  });

  it('a failed request is not stored: the retry runs again once the cause is fixed', async () => {
    const V = (
      await s.call('POST', '/api/projects', {
        body: { name: 'v', modality: 'vector', labels: ['x', 'y'], settings: { vectorDim: 2, retrainEvery: 0, goldFraction: 0, epochs: 2 } },
      })
    ).body.id;
    const tooFew = await post(`/api/projects/${V}/train`, {}, { idem: 'train-1' });
    expectErrorShape(tooFew, 409, 'not_enough_labels');
    const items = Array.from({ length: 12 }, (_, i) => ({ vector: [i % 2 ? 1 : -1, i / 12], label: i % 2 ? 'x' : 'y' }));
    expect((await post(`/api/projects/${V}/items`, { items })).status).toBe(202);
    const ok = await post(`/api/projects/${V}/train`, {}, { idem: 'train-1' });
    expect(ok.status).toBe(202);
    const replay = await post(`/api/projects/${V}/train`, {}, { idem: 'train-1' });
    expect(replay.text).toBe(ok.text);
  });

  it('an answer holding a secret (a new API key) is not stored and not replayed', async () => {
    const before = (await s.call('GET', `/api/projects/${P}/keys`)).body.keys.length;
    const first = await post(`/api/projects/${P}/keys`, { role: 'client', name: 'dash' }, { idem: 'key-1' });
    expect(first.status).toBe(201);
    const again = await post(`/api/projects/${P}/keys`, { role: 'client', name: 'dash' }, { idem: 'key-1' });
    expectErrorShape(again, 409, 'idempotent_replay_withheld');
    expect(again.body.error.details.id).toBe(first.body.id);
    expect(again.text).not.toContain(first.body.key);
    expect((await s.call('GET', `/api/projects/${P}/keys`)).body.keys.length).toBe(before + 1);
    const stored = await queryRows<{ body: string | null }>(s.ctx.db, sql`select body from idempotency_keys`);
    for (const r of stored) expect(r.body ?? '').not.toContain(first.body.key);
  });

  it('simultaneous copies with one key: the work is done once; the others wait (409) and then get the replay', async () => {
    const c0 = (await counts()).items;
    const items = Array.from({ length: 300 }, (_, i) => ({ text: `burst ${i}` }));
    const url = `/api/projects/${P}/items`;
    const first = await Promise.all(Array.from({ length: 8 }, () => post(url, { items }, { key: eng, idem: 'burst-1' })));
    const answers = [];
    for (const r of first) {
      let cur = r;
      for (let i = 0; i < 100 && cur.status === 409 && cur.body.error.code === 'idempotency_in_progress'; i++) {
        expect(cur.headers.get('retry-after')).toBe('1');
        await new Promise((res) => setTimeout(res, 50));
        cur = await post(url, { items }, { key: eng, idem: 'burst-1' });
      }
      answers.push(cur);
    }
    for (const a of answers) {
      expect(a.status).toBe(202);
      expect(a.text).toBe(answers[0].text);
    }
    expect(answers[0].body.accepted).toBe(300);
    expect((await counts()).items).toBe(c0 + 300);
  });

  it('a claim left pending by a dead process is taken over after its timeout', async () => {
    const [{ id }] = await queryRows<{ id: string }>(s.ctx.db, sql`select id from api_keys where role = 'admin' limit 1`);
    await queryRows(
      s.ctx.db,
      sql`insert into idempotency_keys (key_id, idempotency_key, fingerprint, created_at) values (${id}, 'orphan-1', 'x', now() - interval '10 minutes')`,
    );
    const r = await post('/api/projects', { name: 'after a crash', modality: 'text', labels: ['a', 'b'] }, { idem: 'orphan-1' });
    // The orphan's fingerprint differs from this request: the same key on a different request is refused.
    expectErrorShape(r, 422, 'idempotency_key_reused');
    const fp = await queryRows<{ fingerprint: string }>(s.ctx.db, sql`select fingerprint from idempotency_keys where idempotency_key = 'create-project-1'`);
    await queryRows(
      s.ctx.db,
      sql`insert into idempotency_keys (key_id, idempotency_key, fingerprint, created_at) values (${id}, 'orphan-2', ${fp[0].fingerprint}, now() - interval '10 minutes')`,
    );
    const taken = await post('/api/projects', { name: 'made once', modality: 'text', labels: ['a', 'b'] }, { idem: 'orphan-2' });
    expect(taken.status).toBe(201);
    expect(taken.headers.get('idempotent-replayed')).toBeNull();
    await queryRows(s.ctx.db, sql`insert into idempotency_keys (key_id, idempotency_key, fingerprint) values (${id}, 'fresh-pending', ${fp[0].fingerprint})`);
    expectErrorShape(
      await post('/api/projects', { name: 'made once', modality: 'text', labels: ['a', 'b'] }, { idem: 'fresh-pending' }),
      409,
      'idempotency_in_progress',
    );
  });

  it('a malformed Idempotency-Key answers 400 and changes nothing', async () => {
    const c0 = (await counts()).items;
    for (const bad of ['', 'x'.repeat(256), 'has space', 'tab\there']) {
      const r = await post(`/api/projects/${P}/items`, { items: [{ text: 'never stored' }] }, { key: eng, idem: bad });
      expectErrorShape(r, 400, 'invalid_idempotency_key');
    }
    expect((await counts()).items).toBe(c0);
  });
});
