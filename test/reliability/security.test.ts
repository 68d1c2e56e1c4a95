import { createHash } from 'node:crypto';
import http from 'node:http';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../core/config.ts';
import { createLogger } from '../../core/logger.ts';
import { queryRows } from '../../db/repositories/rows.ts';
import { startServer } from '../../server/main.ts';
import { ADMIN_KEY, startTestServer, type TestServer } from '../helpers.ts';
import { call, expectErrorShape, isErrorShape, printFigures, sleep } from './support.ts';

type Role = 'admin' | 'engineer' | 'annotator' | 'client';
const MEMBER: Role[] = ['admin', 'engineer', 'annotator', 'client'];

/**
 * Who may call what, as written in API.md and the README (not read back from the code): every route the
 * server declares in its OpenAPI document must be listed here, so a new route cannot go unclassified.
 */
const ACCESS: Record<string, Role[] | 'public'> = {
  'POST /api/projects': ['admin'],
  'GET /api/projects': MEMBER,
  'GET /api/projects/{id}': MEMBER,
  'GET /api/projects/{id}/me': MEMBER,
  'PATCH /api/projects/{id}/settings': ['admin', 'engineer'],
  'POST /api/projects/{id}/keys': ['admin'],
  'GET /api/projects/{id}/keys': ['admin'],
  'DELETE /api/projects/{id}/keys/{keyId}': ['admin'],
  'POST /api/projects/{id}/items': ['admin', 'engineer'],
  'GET /api/projects/{id}/items/{itemId}': ['admin', 'engineer', 'annotator'],
  'GET /api/projects/{id}/items/{itemId}/media': ['admin', 'engineer', 'annotator'],
  'GET /api/projects/{id}/queue': ['admin', 'annotator'],
  'POST /api/projects/{id}/items/{itemId}/label': ['admin', 'annotator', 'engineer'],
  'POST /api/projects/{id}/items/{itemId}/release': ['admin', 'annotator'],
  'POST /api/projects/{id}/train': ['admin', 'engineer'],
  'POST /api/projects/{id}/audit': ['admin', 'engineer'],
  'GET /api/projects/{id}/jobs': ['admin', 'engineer'],
  'GET /api/projects/{id}/models': ['admin', 'engineer', 'client'],
  'POST /api/projects/{id}/models/{version}/activate': ['admin', 'engineer'],
  'GET /api/projects/{id}/metrics': ['admin', 'engineer', 'client'],
  'POST /api/projects/{id}/predict': ['admin', 'client', 'engineer'],
  'GET /api/projects/{id}/export': ['admin', 'engineer'],
  'GET /api/jobs/{jobId}': ['admin', 'engineer'],
  'GET /api/projects/{id}/items': ['admin', 'engineer'],
  'DELETE /api/projects/{id}/items/{itemId}': ['admin', 'engineer'],
  'POST /api/projects/{id}/labels': ['admin', 'engineer'],
  'GET /api/projects/{id}/audit-log': ['admin', 'engineer'],
  'DELETE /api/projects/{id}': ['admin'],
  'GET /api/projects/{id}/label-studio/config': ['admin', 'engineer'],
  'POST /api/projects/{id}/label-studio/import': ['admin', 'engineer'],
  'GET /api/projects/{id}/label-studio/export': ['admin', 'engineer'],
  'POST /api/projects/{id}/webhooks': ['admin', 'engineer'],
  'GET /api/projects/{id}/webhooks': ['admin', 'engineer'],
  'DELETE /api/projects/{id}/webhooks/{webhookId}': ['admin', 'engineer'],
  'GET /api/projects/{id}/webhooks/{webhookId}/deliveries': ['admin', 'engineer'],
  'GET /api/projects/{id}/annotators': ['admin', 'engineer', 'client'],
  'GET /api/projects/{id}/agreement': ['admin', 'engineer', 'client'],
  'POST /api/projects/{id}/annotators/{keyId}/clear': ['admin', 'engineer'],
  'GET /api/openapi.json': 'public',
  'GET /healthz': 'public',
  'GET /metrics': 'public',
};

const BODIES: Record<string, unknown> = {
  'POST /api/projects': { name: 'made by a role test', modality: 'text', labels: ['a', 'b'] },
  'PATCH /api/projects/{id}/settings': { settings: { retrainEvery: 0 } },
  'POST /api/projects/{id}/keys': { role: 'client', name: 'role-test' },
  'POST /api/projects/{id}/items': { items: [{ vector: [0.5, 0.5] }] },
  'POST /api/projects/{id}/items/{itemId}/label': { label: 'x' },
  'POST /api/projects/{id}/predict': { items: [{ vector: [1, 0] }] },
};

/** A request from a chosen loopback address (the whole of 127.0.0.0/8 is this machine). */
function callFrom(localAddress: string, url: string, p: string, key: string | null): Promise<{ status: number; body: any; headers: http.IncomingHttpHeaders }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    http
      .get({ host: u.hostname, port: u.port, path: p, localAddress, agent: false, headers: key ? { authorization: `Bearer ${key}` } : {} }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (text += d));
        res.on('end', () => {
          let body: unknown;
          try {
            body = JSON.parse(text);
          } catch {
            body = undefined;
          }
          resolve({ status: res.statusCode!, body, headers: res.headers });
        });
      })
      .on('error', reject);
  });
}

describe('roles, isolation, keys and secrets', () => {
  let srv: TestServer;
  const logs: string[] = [];
  const own: Record<string, string> = { admin: ADMIN_KEY };
  const other: Record<string, string> = {};
  const secrets: string[] = [ADMIN_KEY];
  let revoked: string;
  let P: string;
  let Q: string;
  const itemOf: Record<string, string> = {};
  const jobOf: Record<string, string> = {};
  const externalIds: string[] = [];
  const api = (method: string, p: string, key: string | null = ADMIN_KEY, body?: unknown) => call(srv.url, method, p, { key, body });

  beforeAll(async () => {
    // Every client here is 127.0.0.1 and the table sends many bad keys; the limit is tested below on 127.0.0.2+.
    // Everything the server logs, at the most verbose level, is searched for secrets at the end.
    srv = await startTestServer(
      { FURROW_AUTH_FAIL_LIMIT: '1000000' },
      { logger: createLogger('debug', (l) => logs.push(l)), announce: (lines) => logs.push(...lines) },
    );
    const mk = async (name: string) =>
      (
        await api('POST', '/api/projects', ADMIN_KEY, {
          name,
          modality: 'vector',
          labels: ['x', 'y'],
          settings: { vectorDim: 2, retrainEvery: 0, epochs: 2, goldFraction: 0 },
        })
      ).body.id as string;
    P = await mk('project P (secret name)');
    Q = await mk('project Q (secret name)');
    for (const role of ['engineer', 'annotator', 'client'] as const) {
      own[role] = (await api('POST', `/api/projects/${P}/keys`, ADMIN_KEY, { role, name: role })).body.key;
      other[role] = (await api('POST', `/api/projects/${Q}/keys`, ADMIN_KEY, { role, name: role })).body.key;
      secrets.push(own[role], other[role]);
    }
    const gone = (await api('POST', `/api/projects/${P}/keys`, ADMIN_KEY, { role: 'engineer', name: 'gone' })).body;
    expect((await api('DELETE', `/api/projects/${P}/keys/${gone.id}`)).status).toBe(200);
    revoked = gone.key;
    secrets.push(revoked);
    for (const p of [P, Q]) {
      const items = Array.from({ length: 24 }, (_, i) => ({
        externalId: `${p.slice(0, 4)}-ext-${i}`,
        vector: [i % 2 ? 1 : -1, i / 24],
        ...(i < 20 ? { label: i % 2 ? 'x' : 'y' } : {}),
      }));
      externalIds.push(...items.map((i) => i.externalId));
      expect((await api('POST', `/api/projects/${p}/items`, ADMIN_KEY, { items })).status).toBe(202);
      jobOf[p] = (await api('POST', `/api/projects/${p}/train`, ADMIN_KEY, {})).body.jobId;
      for (let i = 0; i < 600; i++) {
        const j = (await api('GET', `/api/jobs/${jobOf[p]}`)).body;
        if (j.status === 'succeeded') break;
        expect(j.status).not.toBe('failed');
        await sleep(100);
      }
      const exported = (await api('GET', `/api/projects/${p}/export`)).text
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      itemOf[p] = exported.find((r: { label: string | null }) => r.label === null).id;
    }
  });
  afterAll(() => srv?.stop());

  it('every route × every role × own project / other project / no key / revoked key / malformed header, against API.md', async () => {
    const doc = (await api('GET', '/api/openapi.json', null)).body;
    const documented = Object.entries<Record<string, { description: string }>>(doc.paths).flatMap(([p, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`),
    );
    // Label Studio's ML-backend routes take HTTP Basic (an engineer key as the password), as Label Studio sends
    // it; test/integration/label-studio.test.ts checks their auth. Here: documented with the basic scheme.
    const labelStudio = documented.filter((r) => r.split(' ')[1].startsWith('/label-studio/'));
    expect(labelStudio.length).toBeGreaterThan(0);
    for (const r of labelStudio) {
      const [m, p] = r.split(' ');
      expect(doc.paths[p][m.toLowerCase()].security, r).toEqual([{ basic: [] }]);
    }
    const declared = documented.filter((r) => !labelStudio.includes(r));
    expect(
      declared.filter((r) => !(r in ACCESS)),
      'routes missing from the access table',
    ).toEqual([]);
    // The served document states the same roles.
    for (const r of declared) {
      const [m, p] = r.split(' ');
      const want = ACCESS[r];
      const desc = doc.paths[p][m.toLowerCase()].description as string;
      if (want === 'public') expect(desc).toContain('Roles: none');
      else if (want.length === 4) expect(desc).toMatch(/Roles: (any role of the project|admin, engineer, annotator, client)/);
      else for (const role of want) expect(desc, r).toContain(role);
    }

    const run = async (route: string, key: string | null, project: string, headers?: Record<string, string>) => {
      const [method, template] = route.split(' ');
      let keyId = 'none';
      if (template.includes('{keyId}')) keyId = (await api('POST', `/api/projects/${project}/keys`, ADMIN_KEY, { role: 'client', name: 'to revoke' })).body.id;
      // Deletes that would succeed act on a throwaway project or item, so the cases after them still have theirs.
      let itemId = itemOf[project];
      if (method === 'DELETE' && template === '/api/projects/{id}/items/{itemId}')
        itemId = await api('POST', `/api/projects/${project}/items`, ADMIN_KEY, { items: [{ vector: [0.1, 0.9] }] }).then(async () => {
          const rows = (await api('GET', `/api/projects/${project}/items?limit=500`, ADMIN_KEY)).body.items as { id: string }[];
          return rows[rows.length - 1].id;
        });
      if (method === 'DELETE' && template === '/api/projects/{id}' && key === ADMIN_KEY)
        project = (await api('POST', '/api/projects', ADMIN_KEY, { name: 'to delete', modality: 'vector', labels: ['x', 'y'], settings: { vectorDim: 2 } }))
          .body.id;
      const p = template
        .replace('{id}', project)
        .replace('{itemId}', itemId)
        .replace('{keyId}', keyId)
        .replace('{version}', '1')
        .replace('{jobId}', jobOf[project]);
      const body = method === 'GET' || method === 'DELETE' ? undefined : (BODIES[route] ?? {});
      if (headers) {
        const res = await fetch(srv.url + p, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
        const text = await res.text();
        return { status: res.status, text, body: JSON.parse(text || 'null') };
      }
      return call(srv.url, method, p, { key, body });
    };

    const f = { cases: 0, allowed: 0, refused403: 0, refused401: 0, mismatches: [] as string[], leaks: [] as string[] };
    const expectStatus = (what: string, r: { status: number; text: string }, ok: (s: number) => boolean) => {
      f.cases++;
      if (!ok(r.status)) f.mismatches.push(`${what}: ${r.status} ${r.text.slice(0, 160)}`);
      if (r.status >= 400 && !isErrorShape(JSON.parse(r.text || 'null'))) f.mismatches.push(`${what}: not the error shape`);
    };
    for (const route of declared) {
      const allowed = ACCESS[route];
      for (const role of MEMBER) {
        const r = await run(route, own[role], P);
        const ok = allowed === 'public' || allowed.includes(role);
        expectStatus(`${route} as ${role}`, r, (s) => (ok ? s !== 401 && s !== 403 && s < 500 : s === 403));
        if (ok) f.allowed++;
        else f.refused403++;
        if (ok && role === 'client' && allowed !== 'public') {
          // Clients never read raw labels: no item id or externalId appears in what they are given.
          for (const x of [...externalIds, itemOf[P], itemOf[Q]]) if (r.text.includes(x)) f.leaks.push(`${route} shows ${x} to a client`);
        }
        if (role !== 'admin' && allowed !== 'public' && (route.includes('{id}') || route.includes('{jobId}'))) {
          const o = await run(route, other[role], P);
          expectStatus(`${route} with a ${role} key of another project`, o, (s) => s === 403);
          f.refused403++;
          if (o.text.includes('secret name')) f.leaks.push(`${route}: another project's name in a 403`);
        }
      }
      if (allowed === 'public') {
        expectStatus(`${route} without a key`, await run(route, null, P), (s) => s === 200);
        continue;
      }
      for (const [what, key, headers] of [
        ['no key', null, undefined],
        ['revoked key', revoked, undefined],
        ['Basic auth', null, { authorization: `Basic ${Buffer.from(`admin:${ADMIN_KEY}`).toString('base64')}` }],
        ['key with a typo', `${ADMIN_KEY.slice(0, -1)}X`, undefined],
      ] as const) {
        expectStatus(`${route} with ${what}`, await run(route, key, P, headers as Record<string, string> | undefined), (s) => s === 401);
        f.refused401++;
      }
    }
    // Listing projects shows a non-admin key only its own project.
    for (const role of ['engineer', 'annotator', 'client']) {
      const ids = (await api('GET', '/api/projects', own[role])).body.projects.map((p: { id: string }) => p.id);
      expect(ids).toEqual([P]);
    }
    printFigures('roles', {
      routes: declared.length,
      cases: f.cases,
      allowed: f.allowed,
      refused403: f.refused403,
      refused401: f.refused401,
      mismatches: f.mismatches.length,
      leaks: f.leaks.length,
    });
    expect(f.mismatches).toEqual([]);
    expect(f.leaks).toEqual([]);
  });

  it('keys are stored only as sha256 hashes: no secret anywhere in the database', async () => {
    const tables = await queryRows<{ table_name: string }>(
      srv.ctx.db,
      sql`select table_name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE'`,
    );
    let rows = 0;
    const found: string[] = [];
    for (const { table_name } of tables) {
      const dump = await queryRows<{ j: string }>(srv.ctx.db, sql`select row_to_json(t)::text as j from ${sql.identifier(table_name)} t`);
      rows += dump.length;
      for (const { j } of dump) for (const s of secrets) if (j.includes(s) || j.includes(s.slice(3))) found.push(`${table_name} holds a secret`);
    }
    const stored = await queryRows<{ key_hash: string; prefix: string }>(srv.ctx.db, sql`select key_hash, prefix from api_keys`);
    const hashes = new Set(stored.map((k) => k.key_hash));
    for (const s of secrets) expect(hashes.has(createHash('sha256').update(s).digest('hex'))).toBe(true);
    for (const k of stored) expect(k.prefix.length).toBeLessThanOrEqual(8);
    expect(found).toEqual([]);
    printFigures('keys-hashed', { tables: tables.length, rowsSearched: rows, secretsIssued: secrets.length, secretsFoundInDatabase: found.length });
  });

  it('auth failures are rate limited per client address: 429 with Retry-After, other addresses unaffected', async () => {
    const limited = await startServer(
      loadConfig({
        PORT: '0',
        FURROW_DATA_DIR: 'memory://',
        FURROW_ADMIN_KEY: ADMIN_KEY,
        FURROW_DEMO: '0',
        FURROW_AUTH_FAIL_LIMIT: '5',
        FURROW_LOG_LEVEL: 'silent',
      }),
      { logger: createLogger('silent'), announce: () => {} },
    );
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 8; i++) statuses.push((await callFrom('127.0.0.2', limited.url, '/api/projects', `fw_guess_${i}`)).status);
      expect(statuses).toEqual([401, 401, 401, 401, 401, 429, 429, 429]);
      const blocked = await callFrom('127.0.0.2', limited.url, '/api/projects', ADMIN_KEY);
      expect(blocked.status).toBe(429);
      expectErrorShape({ status: blocked.status, body: blocked.body }, 429, 'too_many_auth_failures');
      expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
      // Another address has its own budget; successful requests cost nothing.
      for (let i = 0; i < 20; i++) expect((await callFrom('127.0.0.3', limited.url, '/api/projects', ADMIN_KEY)).status).toBe(200);
      expect((await callFrom('127.0.0.3', limited.url, '/api/projects', 'fw_wrong')).status).toBe(401);
      // Public routes need no key and are never limited.
      expect((await callFrom('127.0.0.2', limited.url, '/healthz', null)).status).toBe(200);
      printFigures('auth-rate-limit', {
        limitPerMinute: 5,
        attempts: 8,
        answered401: 5,
        answered429: 3,
        validKeyWhileBlocked: 429,
        otherAddressValidRequests: 20,
      });
    } finally {
      await limited.close();
    }
  });

  it('no secret in the logs: not the admin key, not created keys, not the wrong keys tried', async () => {
    const tried = [`fw_${'z'.repeat(43)}`, `${ADMIN_KEY}x`, ADMIN_KEY.slice(0, -2)];
    for (const k of tried) expect((await api('GET', `/api/projects/${P}`, k)).status).toBe(401);
    const fresh = (await api('POST', `/api/projects/${P}/keys`, ADMIN_KEY, { role: 'client', name: 'logged?' })).body;
    await api('POST', `/api/projects/${P}/keys`, ADMIN_KEY, { role: 'client', name: 'again' });
    await call(srv.url, 'POST', `/api/projects/${P}/keys`, {
      key: ADMIN_KEY,
      body: { role: 'client', name: 'idem' },
      headers: { 'idempotency-key': 'log-test' },
    });
    await call(srv.url, 'POST', `/api/projects/${P}/keys`, {
      key: ADMIN_KEY,
      body: { role: 'client', name: 'idem' },
      headers: { 'idempotency-key': 'log-test' },
    });
    await api('DELETE', `/api/projects/${P}/keys/${fresh.id}`);
    expect((await api('GET', `/api/projects/${P}`, fresh.key)).status).toBe(401);
    const all = [...secrets, fresh.key, ...tried];
    expect(logs.length).toBeGreaterThan(0);
    const hits = logs.filter((l) => all.some((s) => l.includes(s) || l.includes(s.slice(3))));
    expect(hits).toEqual([]);
    printFigures('no-secrets-in-logs', { logLines: logs.length, secretsChecked: all.length, linesWithASecret: hits.length });
  });

  it('the generated first admin key is announced once, and never logged', async () => {
    const lines: string[] = [];
    const logged: string[] = [];
    const s = await startServer(loadConfig({ PORT: '0', FURROW_DATA_DIR: 'memory://', FURROW_DEMO: '0' }), {
      logger: createLogger('debug', (l) => logged.push(l)),
      announce: (l) => lines.push(...l),
    });
    try {
      const key = /Admin key \(shown once, store it now\): (\S+)/.exec(lines.join('\n'))?.[1];
      expect(key).toMatch(/^fw_/);
      expect((await call(s.url, 'GET', '/api/projects', { key })).status).toBe(200);
      expect(logged.filter((l) => l.includes(key!))).toEqual([]);
    } finally {
      await s.close();
    }
  });
});
