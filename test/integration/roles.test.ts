import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, waitForIdle, waitForJob, type TestServer } from '../helpers.ts';

type Role = 'admin' | 'engineer' | 'annotator' | 'client';

/**
 * Every route of API.md tried with every role on its own project, with a key of another project, with no
 * key and with a revoked key. Allowed answers are never 401/403 (nor 5xx); refused ones are exactly 403/401.
 */
describe('roles match the table in API.md', () => {
  let s: TestServer;
  let P: string;
  let Q: string;
  let itemId: string;
  let jobId: string;
  const keys: Record<string, string> = {};
  const other: Record<string, string> = {};
  let revoked: string;

  beforeAll(async () => {
    s = await startTestServer();
    const mk = async (name: string) =>
      (await s.call('POST', '/api/projects', { body: { name, modality: 'vector', labels: ['x', 'y'], settings: { vectorDim: 2, retrainEvery: 0 } } })).body.id;
    P = await mk('P');
    Q = await mk('Q');
    keys.admin = (await import('../helpers.ts')).ADMIN_KEY;
    for (const role of ['engineer', 'annotator', 'client'] as const) {
      keys[role] = (await s.call('POST', `/api/projects/${P}/keys`, { body: { role, name: role } })).body.key;
      other[role] = (await s.call('POST', `/api/projects/${Q}/keys`, { body: { role, name: role } })).body.key;
    }
    const rk = (await s.call('POST', `/api/projects/${P}/keys`, { body: { role: 'engineer', name: 'gone' } })).body;
    expect((await s.call('DELETE', `/api/projects/${P}/keys/${rk.id}`)).status).toBe(200);
    revoked = rk.key;
    const items = Array.from({ length: 30 }, (_, i) => ({ vector: [i % 2 ? 1 : -1, Math.sin(i)], label: i % 2 ? 'x' : 'y' }));
    items.push({ vector: [0, 0] } as any);
    expect((await s.call('POST', `/api/projects/${P}/items`, { body: { items } })).status).toBe(202);
    const t = await s.call('POST', `/api/projects/${P}/train`, { body: {} });
    expect(t.status).toBe(202);
    jobId = t.body.jobId;
    await waitForJob(s, jobId);
    // The pre-label job the training queued holds its items' row locks while it writes; a queue request in
    // that moment skips them (SKIP LOCKED), and this project has a single unlabelled item.
    await waitForIdle(s, P);
    itemId = (await s.call('GET', `/api/projects/${P}/queue?limit=1`)).body.items[0].id;
  });
  afterAll(() => s?.stop());

  const routes: { name: string; allowed: Role[] | 'public'; run: (key: string | null, project: string) => Promise<{ status: number }> }[] = [
    {
      name: 'POST /api/projects',
      allowed: ['admin'],
      run: (k) => s.call('POST', '/api/projects', { key: k, body: { name: 'n', modality: 'text', labels: ['a', 'b'] } }),
    },
    { name: 'GET /api/projects/:id', allowed: ['admin', 'engineer', 'annotator', 'client'], run: (k, p) => s.call('GET', `/api/projects/${p}`, { key: k }) },
    {
      name: 'POST /api/projects/:id/keys',
      allowed: ['admin'],
      run: (k, p) => s.call('POST', `/api/projects/${p}/keys`, { key: k, body: { role: 'client', name: 'c' } }),
    },
    {
      name: 'POST /api/projects/:id/items',
      allowed: ['admin', 'engineer'],
      run: (k, p) => s.call('POST', `/api/projects/${p}/items`, { key: k, body: { items: [{ vector: [1, 1] }] } }),
    },
    {
      name: 'GET /api/projects/:id/items/:itemId',
      allowed: ['admin', 'engineer', 'annotator'],
      run: (k, p) => s.call('GET', `/api/projects/${p}/items/${itemId}`, { key: k }),
    },
    { name: 'GET /api/projects/:id/queue', allowed: ['admin', 'annotator'], run: (k, p) => s.call('GET', `/api/projects/${p}/queue?limit=1`, { key: k }) },
    {
      name: 'POST /api/projects/:id/items/:itemId/label',
      allowed: ['admin', 'annotator', 'engineer'],
      run: (k, p) => s.call('POST', `/api/projects/${p}/items/${itemId}/label`, { key: k, body: { label: 'x' } }),
    },
    { name: 'POST /api/projects/:id/train', allowed: ['admin', 'engineer'], run: (k, p) => s.call('POST', `/api/projects/${p}/train`, { key: k, body: {} }) },
    { name: 'GET /api/jobs/:jobId', allowed: ['admin', 'engineer'], run: (k) => s.call('GET', `/api/jobs/${jobId}`, { key: k }) },
    { name: 'GET /api/projects/:id/models', allowed: ['admin', 'engineer', 'client'], run: (k, p) => s.call('GET', `/api/projects/${p}/models`, { key: k }) },
    {
      name: 'POST /api/projects/:id/models/:version/activate',
      allowed: ['admin', 'engineer'],
      run: (k, p) => s.call('POST', `/api/projects/${p}/models/1/activate`, { key: k, body: {} }),
    },
    { name: 'GET /api/projects/:id/metrics', allowed: ['admin', 'engineer', 'client'], run: (k, p) => s.call('GET', `/api/projects/${p}/metrics`, { key: k }) },
    {
      name: 'POST /api/projects/:id/predict',
      allowed: ['admin', 'client', 'engineer'],
      run: (k, p) => s.call('POST', `/api/projects/${p}/predict`, { key: k, body: { items: [{ vector: [1, 0] }] } }),
    },
    { name: 'GET /api/projects/:id/export', allowed: ['admin', 'engineer'], run: (k, p) => s.call('GET', `/api/projects/${p}/export?format=csv`, { key: k }) },
    { name: 'GET /api/openapi.json', allowed: 'public', run: (k) => s.call('GET', '/api/openapi.json', { key: k }) },
    { name: 'GET /healthz', allowed: 'public', run: (k) => s.call('GET', '/healthz', { key: k }) },
    { name: 'GET /metrics', allowed: 'public', run: (k) => s.call('GET', '/metrics', { key: k }) },
  ];

  for (const r of routes) {
    describe(r.name, () => {
      for (const role of ['admin', 'engineer', 'annotator', 'client'] as const) {
        const ok = r.allowed === 'public' || r.allowed.includes(role);
        it(`${role} on its own project: ${ok ? 'allowed' : '403'}`, async () => {
          const res = await r.run(keys[role], P);
          if (ok) {
            expect(res.status, JSON.stringify(res)).not.toBe(401);
            expect(res.status, JSON.stringify(res)).not.toBe(403);
            expect(res.status, JSON.stringify(res)).toBeLessThan(500);
          } else expect(res.status).toBe(403);
        });
        if (role !== 'admin' && r.allowed !== 'public' && r.name.includes(':id') && ok) {
          it(`${role} of another project: 403`, async () => {
            expect((await r.run(other[role], P)).status).toBe(403);
          });
        }
      }
      it(`no key: ${r.allowed === 'public' ? 'allowed' : '401'}`, async () => {
        const res = await r.run(null, P);
        if (r.allowed === 'public') expect(res.status).toBe(200);
        else expect(res.status).toBe(401);
      });
      if (r.allowed !== 'public') {
        it('revoked key: 401', async () => expect((await r.run(revoked, P)).status).toBe(401));
        it('malformed header: 401', async () => {
          const res = await fetch(s.url + r.name.split(' ')[1].replace(':id', P).replace(':itemId', itemId).replace(':jobId', jobId).replace(':version', '1'), {
            method: r.name.split(' ')[0],
            headers: { authorization: 'Basic abc' },
          });
          expect(res.status).toBe(401);
        });
      }
    });
  }

  it('the job of another project is refused', async () => {
    expect((await s.call('GET', `/api/jobs/${jobId}`, { key: other.engineer })).status).toBe(403);
  });

  it('clients never see raw labels: no item, export or queue access', async () => {
    expect((await s.call('GET', `/api/projects/${P}/items/${itemId}`, { key: keys.client })).status).toBe(403);
    expect((await s.call('GET', `/api/projects/${P}/export`, { key: keys.client })).status).toBe(403);
  });
});
