import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, waitForIdle, waitForJob, type TestServer } from '../helpers.ts';

/**
 * Data in and out (issue 14, defects 9 and 10): item metadata through ingest, item, queue and export; the
 * filtered, paged listing; the export with data and label history; deletes; class additions and renames; the
 * audit log.
 */
describe('data in and out', () => {
  let s: TestServer;
  let T: string;
  let engineer: string;
  let annotator: string;

  const key = async (P: string, role: string) => (await s.call('POST', `/api/projects/${P}/keys`, { body: { role, name: `${role}-1` } })).body.key as string;
  const count = async (P: string) => (await s.call('GET', `/api/projects/${P}`)).body.counts.items as number;

  beforeAll(async () => {
    s = await startTestServer();
    T = (
      await s.call('POST', '/api/projects', {
        body: { name: 'texts', modality: 'text', labels: ['pos', 'neg'], settings: { goldFraction: 0, retrainEvery: 0 } },
      })
    ).body.id;
    engineer = await key(T, 'engineer');
    annotator = await key(T, 'annotator');
    const items = [
      { externalId: 'a-1', text: 'great coffee, 100% arabica', meta: { shop: 'north', tags: ['x'] } },
      { externalId: 'a-2', text: 'bad tea', label: 'neg', meta: { shop: 'south' } },
      { externalId: 'b_3', text: 'good cake', split: 'gold', label: 'pos' },
      ...Array.from({ length: 12 }, (_, i) => ({ externalId: `bulk-${i}`, text: `bulk item number ${i}` })),
    ];
    const r = await s.call('POST', `/api/projects/${T}/items`, { key: engineer, body: { items } });
    expect(r.status, r.text).toBe(202);
    expect(r.body.accepted).toBe(15);
  });
  afterAll(() => s?.stop());

  const list = (P: string, qs: string, k = engineer) => s.call('GET', `/api/projects/${P}/items${qs}`, { key: k });

  describe('meta', () => {
    it('is stored and returned in the item, the queue and the export; queue entries carry externalId', async () => {
      const l = await list(T, '?q=arabica');
      expect(l.status).toBe(200);
      const id = l.body.items[0].id;
      expect(l.body.items[0].meta).toEqual({ shop: 'north', tags: ['x'] });
      const item = await s.call('GET', `/api/projects/${T}/items/${id}`, { key: engineer });
      expect(item.body.meta).toEqual({ shop: 'north', tags: ['x'] });

      const q = await s.call('GET', `/api/projects/${T}/queue?limit=100`, { key: annotator });
      expect(q.status).toBe(200);
      const entry = q.body.items.find((e: any) => e.id === id);
      expect(entry.externalId).toBe('a-1');
      expect(entry.meta).toEqual({ shop: 'north', tags: ['x'] });
      expect(q.body.items.find((e: any) => e.externalId === 'bulk-0').meta).toBeNull();
      for (const e of q.body.items) await s.call('POST', `/api/projects/${T}/items/${e.id}/release`, { key: annotator, body: {} });
    });

    it('over 16 KB, or not an object, is refused with 400 and nothing is stored (JSON and NDJSON)', async () => {
      const before = await count(T);
      const big = { blob: 'x'.repeat(16 * 1024) };
      for (const meta of [big, 'a string', [1, 2]]) {
        const r = await s.call('POST', `/api/projects/${T}/items`, { key: engineer, body: { items: [{ text: 'fine' }, { text: 'meta', meta }] } });
        expect(r.status).toBe(400);
        expect(r.body.error.code).toBe('invalid_items');
        expect(r.body.error.details.rejected[0].index).toBe(1);
      }
      const nd = await s.call('POST', `/api/projects/${T}/items`, {
        key: engineer,
        raw: `${JSON.stringify({ text: 'ok' })}\n${JSON.stringify({ text: 'big', meta: big })}\n`,
        headers: { 'content-type': 'application/x-ndjson' },
      });
      expect(nd.status).toBe(400);
      expect(await count(T)).toBe(before);
      const ok = await s.call('POST', `/api/projects/${T}/items`, {
        key: engineer,
        raw: `${JSON.stringify({ externalId: 'nd-1', text: 'from ndjson', meta: { line: 1 } })}\n`,
        headers: { 'content-type': 'application/x-ndjson' },
      });
      expect(ok.status, ok.text).toBe(202);
      expect((await list(T, '?q=nd-1')).body.items[0].meta).toEqual({ line: 1 });
    });
  });

  describe('GET /items', () => {
    it('pages through every item once with the cursor, in a stable order', async () => {
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const r: any = await list(T, `?limit=4${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
        expect(r.status).toBe(200);
        expect(r.body.items.length).toBeLessThanOrEqual(4);
        seen.push(...r.body.items.map((i: any) => i.id));
        cursor = r.body.nextCursor;
        pages++;
      } while (cursor);
      expect(pages).toBe(4);
      expect(new Set(seen).size).toBe(seen.length);
      expect(seen.length).toBe(await count(T));
      const again = await list(T, '?limit=100');
      expect(again.body.items.map((i: any) => i.id)).toEqual(seen);
      expect(again.body.nextCursor).toBeNull();
    });

    it('filters by status, label, source, split and holdout', async () => {
      const labelled = await list(T, '?status=labeled');
      expect(labelled.body.items.map((i: any) => i.externalId).sort()).toEqual(['a-2', 'b_3']);
      expect((await list(T, '?label=neg')).body.items.map((i: any) => i.externalId)).toEqual(['a-2']);
      expect((await list(T, '?split=gold')).body.items.map((i: any) => i.externalId)).toEqual(['b_3']);
      expect((await list(T, '?source=imported&split=pool')).body.items.map((i: any) => i.externalId)).toEqual(['a-2']);
      expect((await list(T, '?holdout=true')).body.items).toEqual([]);
      expect((await list(T, '?disputed=true')).body.items).toEqual([]);
      expect((await list(T, '?predicted=pos')).body.items).toEqual([]);
      const item = (await list(T, '?label=neg')).body.items[0];
      expect(item).toMatchObject({
        externalId: 'a-2',
        status: 'labeled',
        label: 'neg',
        source: 'imported',
        split: 'pool',
        holdout: false,
        disputed: false,
        prediction: null,
        text: 'bad tea',
      });
    });

    it('searches text and externalId literally (% and _ are not wildcards)', async () => {
      expect((await list(T, `?q=${encodeURIComponent('100%')}`)).body.items.map((i: any) => i.externalId)).toEqual(['a-1']);
      expect((await list(T, '?q=CAKE')).body.items.map((i: any) => i.externalId)).toEqual(['b_3']);
      // "_" would match any one character as a LIKE wildcard ("a-1", "a-2"); literally only "b_3" has it.
      expect((await list(T, '?q=_')).body.items.map((i: any) => i.externalId)).toEqual(['b_3']);
      expect((await list(T, `?q=${encodeURIComponent('%')}`)).body.items.map((i: any) => i.externalId)).toEqual(['a-1']);
    });

    it('refuses bad filters and cursors with 400', async () => {
      for (const qs of [
        '?status=done',
        '?limit=0',
        '?limit=501',
        '?minConfidence=2',
        '?holdout=yes',
        '?minConfidence=0.9&maxConfidence=0.1',
        '?cursor=garbage',
        '?colour=red',
      ]) {
        const r = await list(T, qs);
        expect(r.status, qs).toBe(400);
        expect(r.body.error.code).toMatch(/^invalid_(query|cursor)$/);
      }
    });

    it('walks an index: by insertion order, and by label', async () => {
      const { explainListItems } = await import('../../db/repositories/item-list.ts');
      const plain = await explainListItems(s.ctx.db, T, { status: 'pending', q: 'x' });
      expect(plain).toMatch(/Index (Only )?Scan using items_project_seq_idx/);
      expect(plain).not.toMatch(/Sort/);
      const byLabel = await explainListItems(s.ctx.db, T, { label: 'pos' });
      expect(byLabel).toMatch(/Index (Only )?Scan using items_project_label_idx/);
      expect(byLabel).not.toMatch(/Sort/);
    });

    it('is for engineers', async () => {
      expect((await list(T, '', annotator)).status).toBe(403);
    });
  });

  describe('export', () => {
    it('carries the data, every label row, the held-out flag and meta (JSONL)', async () => {
      const id = (await list(T, '?q=bulk item number 3')).body.items[0].id;
      expect((await s.call('POST', `/api/projects/${T}/items/${id}/label`, { key: engineer, body: { label: 'pos' } })).status).toBe(200);
      expect((await s.call('POST', `/api/projects/${T}/items/${id}/label`, { key: engineer, body: { label: 'neg' } })).status).toBe(200);
      const exp = await s.call('GET', `/api/projects/${T}/export?format=jsonl`, { key: engineer });
      expect(exp.status).toBe(200);
      const rows = exp.text
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(rows.length).toBe(await count(T));
      const a1 = rows.find((r) => r.externalId === 'a-1');
      expect(a1).toMatchObject({ text: 'great coffee, 100% arabica', meta: { shop: 'north', tags: ['x'] }, holdout: false, labels: [], label: null });
      const relabelled = rows.find((r) => r.id === id);
      expect(relabelled.label).toBe('neg');
      expect(relabelled.source).toBe('human');
      expect(relabelled.labels.map((l: any) => [l.label, l.source])).toEqual([
        ['pos', 'human'],
        ['neg', 'human'],
      ]);
      expect(relabelled.labels[0].keyId).toEqual(expect.any(String));
      expect(new Date(relabelled.labels[0].createdAt).toISOString()).toBe(relabelled.labels[0].createdAt);
      expect(relabelled.labels[0].modelVersion).toBeNull();
      expect(rows.find((r) => r.externalId === 'a-2').labels).toEqual([expect.objectContaining({ label: 'neg', source: 'imported', keyId: null })]);
    });

    it('as CSV quotes text and writes nested fields as JSON', async () => {
      const exp = await s.call('GET', `/api/projects/${T}/export?format=csv`, { key: engineer });
      expect(exp.status).toBe(200);
      const lines = exp.text.split('\r\n');
      expect(lines[0]).toBe('id,externalId,split,label,source,predictedLabel,confidence,modelVersion,holdout,meta,labels,consolidated,text');
      expect(lines.at(-1)).toBe('');
      expect(lines.length - 2).toBe(await count(T));
      const a1 = lines.find((l) => l.includes(',a-1,'))!;
      expect(a1.endsWith(',"great coffee, 100% arabica"')).toBe(true);
      // meta as one quoted JSON cell: unquote it and it parses back to the object.
      const metaCell = /,(false|true),"((?:[^"]|"")*)",/.exec(a1)!;
      expect(JSON.parse(metaCell[2].replace(/""/g, '"'))).toEqual({ shop: 'north', tags: ['x'] });
      expect(a1).toContain(',[],');
    });

    it('of vectors and images carries the vector, the media URL, and with include=media the image', async () => {
      const V = (await s.call('POST', '/api/projects', { body: { name: 'v', modality: 'vector', labels: ['x', 'y'], settings: { vectorDim: 3 } } })).body.id;
      await s.call('POST', `/api/projects/${V}/items`, { body: { items: [{ vector: [1, 2.5, -3], meta: { k: 1 } }] } });
      const v = JSON.parse((await s.call('GET', `/api/projects/${V}/export`)).text.trim());
      expect(v.vector).toEqual([1, 2.5, -3]);
      expect(v.meta).toEqual({ k: 1 });
      const I = (await s.call('POST', '/api/projects', { body: { name: 'i', modality: 'image', labels: ['x', 'y'] } })).body.id;
      const { encodePngBase64 } = await import('../../pipelines/image-decode.ts');
      const png = encodePngBase64(new Uint8Array(28 * 28).fill(9), 28, 28, 1);
      await s.call('POST', `/api/projects/${I}/items`, { body: { items: [{ image: png }] } });
      const plain = JSON.parse((await s.call('GET', `/api/projects/${I}/export`)).text.trim());
      expect(plain.mediaUrl).toBe(`/api/projects/${I}/items/${plain.id}/media?size=original`);
      expect(plain.image).toBeUndefined();
      const embedded = JSON.parse((await s.call('GET', `/api/projects/${I}/export?include=media`)).text.trim());
      expect(embedded.image).toBe(png);
      expect((await s.call('GET', `/api/projects/${I}/export?include=everything`)).status).toBe(400);
    });
  });

  describe('deletes, class changes, audit log', () => {
    it('deletes an item (engineer) with its labels; 404 for an unknown item; recorded', async () => {
      const P = (await s.call('POST', '/api/projects', { body: { name: 'del', modality: 'text', labels: ['a', 'b'], settings: { goldFraction: 0 } } })).body.id;
      const eng = await key(P, 'engineer');
      await s.call('POST', `/api/projects/${P}/items`, {
        key: eng,
        body: {
          items: [
            { externalId: 'x', text: 'one', label: 'a' },
            { externalId: 'y', text: 'two' },
          ],
        },
      });
      const x = (await list(P, '?q=one', eng)).body.items[0].id;
      expect((await s.call('DELETE', `/api/projects/${P}/items/${x}`, { key: annotator })).status).toBe(403);
      const del = await s.call('DELETE', `/api/projects/${P}/items/${x}`, { key: eng });
      expect(del.status).toBe(204);
      expect(await count(P)).toBe(1);
      expect((await s.call('GET', `/api/projects/${P}/items/${x}`, { key: eng })).status).toBe(404);
      expect((await s.call('DELETE', `/api/projects/${P}/items/${x}`, { key: eng })).status).toBe(404);
      // Its externalId is free again: re-ingest stores it anew.
      expect((await s.call('POST', `/api/projects/${P}/items`, { key: eng, body: { items: [{ externalId: 'x', text: 'one again' }] } })).body.accepted).toBe(1);
      const log = await s.call('GET', `/api/projects/${P}/audit-log`, { key: eng });
      expect(log.status).toBe(200);
      expect(log.body.entries).toEqual([
        expect.objectContaining({ action: 'item.delete', details: expect.objectContaining({ itemId: x, externalId: 'x', label: 'a' }) }),
      ]);
      expect(log.body.entries[0].keyId).toEqual(expect.any(String));
    });

    it('deletes a project (admin only) with everything in it', async () => {
      const P = (await s.call('POST', '/api/projects', { body: { name: 'gone', modality: 'text', labels: ['a', 'b'] } })).body.id;
      const eng = await key(P, 'engineer');
      await s.call('POST', `/api/projects/${P}/items`, { key: eng, body: { items: [{ text: 'one', label: 'a' }] } });
      expect((await s.call('DELETE', `/api/projects/${P}`, { key: eng })).status).toBe(403);
      expect((await s.call('DELETE', `/api/projects/${P}`)).status).toBe(204);
      expect((await s.call('GET', `/api/projects/${P}`)).status).toBe(404);
      expect((await s.call('GET', `/api/projects/${P}`, { key: eng })).status).toBe(401);
      expect((await s.call('DELETE', `/api/projects/${P}`)).status).toBe(404);
      // Other projects are untouched.
      expect(await count(T)).toBeGreaterThan(0);
    });

    it('refuses a bad class change with 400 and changes nothing', async () => {
      const P = (await s.call('POST', '/api/projects', { body: { name: 'lbl', modality: 'text', labels: ['a', 'b'] } })).body.id;
      for (const body of [
        {},
        { add: ['a'] },
        { add: ['c', 'c'] },
        { rename: { zzz: 'q' } },
        { rename: { a: 'b' } },
        { rename: { a: 'c' }, add: ['c'] },
        { add: [''] },
        { rename: { a: 'a' } },
      ]) {
        const r = await s.call('POST', `/api/projects/${P}/labels`, { body });
        expect(r.status, JSON.stringify(body)).toBe(400);
        expect(r.body.error.code).toMatch(/^(invalid_body|invalid_label_change|nothing_to_change)$/);
      }
      expect((await s.call('GET', `/api/projects/${P}`)).body.labels).toEqual(['a', 'b']);
      expect((await s.call('GET', `/api/projects/${P}/audit-log`)).body.entries).toEqual([]);
    });
  });

  it('a class added after training: the old version keeps serving predict and the queue; a rename reaches labels, predictions and gold', async () => {
    const P = (
      await s.call('POST', '/api/projects', {
        body: {
          name: 'classes',
          modality: 'vector',
          labels: ['a', 'b'],
          settings: { vectorDim: 2, goldFraction: 0, retrainEvery: 0, autoLabel: { enabled: false } },
        },
      })
    ).body.id;
    const eng = await key(P, 'engineer');
    const ann = await key(P, 'annotator');
    const pts = Array.from({ length: 40 }, (_, i) => ({
      externalId: `p${i}`,
      vector: [i % 2 ? 1 + (i % 5) / 10 : -1 - (i % 5) / 10, (i % 7) / 7],
      ...(i < 20 ? { label: i % 2 ? 'a' : 'b' } : {}),
    }));
    pts.push({ externalId: 'g0', vector: [1, 0], label: 'a', split: 'gold' } as any);
    expect((await s.call('POST', `/api/projects/${P}/items`, { key: eng, body: { items: pts } })).status).toBe(202);
    const job = (await s.call('POST', `/api/projects/${P}/train`, { key: eng, body: {} })).body.jobId;
    expect((await waitForJob(s, job, eng)).status).toBe('succeeded');
    await waitForIdle(s, P);

    const added = await s.call('POST', `/api/projects/${P}/labels`, { key: eng, body: { add: ['c'] } });
    expect(added.status, added.text).toBe(200);
    expect(added.body.labels).toEqual(['a', 'b', 'c']);
    expect(added.body.retrainNeeded).toBe(true);
    const pred = await s.call('POST', `/api/projects/${P}/predict`, { key: eng, body: { items: [{ vector: [1, 0] }] } });
    expect(pred.status, pred.text).toBe(200);
    expect(pred.body.predictions[0].label).toBe('a');
    expect(pred.body.predictions[0].probs.c).toBe(0);
    const q = await s.call('GET', `/api/projects/${P}/queue?limit=5`, { key: ann });
    expect(q.status, q.text).toBe(200);
    expect(q.body.items.length).toBeGreaterThan(0);
    // The new class can be given at once.
    expect((await s.call('POST', `/api/projects/${P}/items/${q.body.items[0].id}/label`, { key: ann, body: { label: 'c' } })).status).toBe(200);

    const renamed = await s.call('POST', `/api/projects/${P}/labels`, { key: eng, body: { rename: { a: 'alpha' } } });
    expect(renamed.status, renamed.text).toBe(200);
    expect(renamed.body.labels).toEqual(['alpha', 'b', 'c']);
    expect((await list(P, '?label=a', eng)).body.items).toEqual([]);
    expect((await list(P, '?label=alpha&split=gold', eng)).body.items.map((i: any) => i.externalId)).toEqual(['g0']);
    expect((await list(P, '?predicted=a', eng)).body.items).toEqual([]);
    expect((await list(P, '?predicted=alpha', eng)).body.items.length).toBeGreaterThan(0);
    const rows = (await s.call('GET', `/api/projects/${P}/export`, { key: eng })).text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(rows.some((r) => r.label === 'a' || r.predictedLabel === 'a' || r.labels.some((l: any) => l.label === 'a'))).toBe(false);
    expect(rows.filter((r) => r.label === 'alpha').length).toBe(11);
    const pred2 = await s.call('POST', `/api/projects/${P}/predict`, { key: eng, body: { items: [{ vector: [1, 0] }] } });
    expect(pred2.body.predictions[0].label).toBe('alpha');

    // A new version knows every class.
    for (const [i, v] of [
      [-5, 5],
      [-5.2, 5.1],
      [-4.8, 4.9],
    ].entries())
      await s.call('POST', `/api/projects/${P}/items`, { key: eng, body: { items: [{ externalId: `c${i}`, vector: v, label: 'c' }] } });
    const job2 = (await s.call('POST', `/api/projects/${P}/train`, { key: eng, body: {} })).body.jobId;
    expect((await waitForJob(s, job2, eng)).status).toBe('succeeded');
    const after = await s.call('POST', `/api/projects/${P}/labels`, { key: eng, body: { add: ['d'] } });
    expect(after.body.retrainNeeded).toBe(true);
    const log = (await s.call('GET', `/api/projects/${P}/audit-log?limit=2`, { key: eng })).body;
    expect(log.entries.map((e: any) => e.action)).toEqual(['labels.add', 'labels.rename']);
    expect(log.entries[1].details.rename).toEqual({ a: 'alpha' });
    expect(log.nextCursor).not.toBeNull();
    const older = (await s.call('GET', `/api/projects/${P}/audit-log?limit=2&cursor=${log.nextCursor}`, { key: eng })).body;
    expect(older.entries.map((e: any) => e.action)).toEqual(['labels.add']);
    expect(older.nextCursor).toBeNull();
  });
});
