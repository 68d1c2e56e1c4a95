import { randomUUID } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../core/logger.ts';
import { apiKeys, jobs, modelVersions, projects } from '../db/schema.ts';
import { ADMIN_KEY, startTestServer, type TestServer } from '../test/helpers.ts';

/** One sample of the text exposition format. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses Prometheus text format 0.0.4 into families (# TYPE) and samples. */
function parseExposition(text: string): { types: Map<string, string>; help: Map<string, string>; samples: Sample[] } {
  const types = new Map<string, string>();
  const help = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    let m = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (m) {
      types.set(m[1], m[2]);
      continue;
    }
    m = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (m) {
      help.set(m[1], m[2]);
      continue;
    }
    m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not an exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    samples.push({ name: m[1], labels, value: m[3] === '+Inf' ? Infinity : Number(m[3]) });
  }
  return { types, help, samples };
}

describe('metrics and the access log', () => {
  let s: TestServer;
  const lines: Record<string, any>[] = [];
  let projectId: string;
  let adminKeyId: string;

  beforeAll(async () => {
    s = await startTestServer({}, { logger: createLogger('info', (l) => lines.push(JSON.parse(l))) });
    const p = await s.call('POST', '/api/projects', { body: { name: 'obs', modality: 'text', labels: ['a', 'b'] } });
    expect(p.status).toBe(201);
    projectId = p.body.id;
    const ing = await s.call('POST', `/api/projects/${projectId}/items`, {
      body: { items: [{ text: 'one', label: 'a' }, { text: 'two' }, { text: 'three' }, { text: 'four' }] },
    });
    expect(ing.status).toBe(202);
    // A trained, active model and a finished training job, written directly: training itself is tested elsewhere.
    const db = s.ctx.db;
    await db.insert(modelVersions).values({
      projectId,
      version: 1,
      status: 'ready',
      spec: {},
      weights: new Uint8Array(0),
      metrics: { gold: { n: 40, accuracy: 0.875 } },
      trainedOnLabels: 10,
    });
    await db.update(projects).set({ activeVersion: 1 }).where(eq(projects.id, projectId));
    const started = new Date(Date.now() - 60_000);
    await db.insert(jobs).values({
      id: randomUUID(),
      projectId,
      kind: 'train',
      status: 'succeeded',
      progress: 1,
      startedAt: started,
      finishedAt: new Date(started.getTime() + 42_000),
    });
    [{ id: adminKeyId }] = await db.select({ id: apiKeys.id }).from(apiKeys).where(eq(apiKeys.role, 'admin'));
  }, 120_000);
  afterAll(async () => {
    await s?.stop();
  });

  it('logs one JSON line per request with the route template, status, duration, bytes, key id and request id', async () => {
    const r = await s.call('GET', `/api/projects/${projectId}`, { headers: { 'x-request-id': 'req-abc.123' } });
    expect(r.status).toBe(200);
    expect(r.headers.get('x-request-id')).toBe('req-abc.123');
    const line = lines.find((l) => l.msg === 'request' && l.requestId === 'req-abc.123');
    expect(line).toMatchObject({ level: 'info', method: 'GET', route: '/api/projects/:id', status: 200, keyId: adminKeyId });
    expect(line!.bytes).toBe(Buffer.byteLength(r.text));
    expect(typeof line!.durationMs).toBe('number');
    expect(line!.durationMs).toBeGreaterThanOrEqual(0);
    expect(JSON.stringify(lines)).not.toContain(ADMIN_KEY);
  });

  it('replaces an unusable x-request-id with a generated one, and logs unknown paths without the raw path', async () => {
    for (const bad of ['has spaces in it', 'x'.repeat(129), 'quote"s']) {
      const r = await s.call('GET', `/api/projects/${projectId}`, { headers: { 'x-request-id': bad } });
      const id = r.headers.get('x-request-id');
      expect(id).toMatch(/^[0-9a-f-]{36}$/);
      expect(lines.find((l) => l.requestId === id)).toMatchObject({ route: '/api/projects/:id', status: 200 });
    }
    const r = await s.call('GET', `/no/such/${projectId}`, { key: null });
    expect(r.status).toBe(404);
    const line = lines.find((l) => l.requestId === r.headers.get('x-request-id'));
    expect(line).toMatchObject({ route: '(unmatched)', status: 404, keyId: null });
    const page = await s.call('GET', '/ui/review', { key: null });
    expect(page.status).toBe(200);
    expect(lines.find((l) => l.requestId === page.headers.get('x-request-id'))).toMatchObject({ route: '/ui/review', status: 200 });
    const asset = await s.call('GET', '/ui/assets/furrow.css', { key: null });
    expect(asset.status).toBe(200);
    expect(lines.find((l) => l.requestId === asset.headers.get('x-request-id'))).toMatchObject({ route: '(static)', bytes: Buffer.byteLength(asset.text) });
    const denied = await s.call('GET', `/api/projects/${projectId}/items/nope`, { key: 'fw_wrong' });
    expect(denied.status).toBe(401);
    expect(lines.find((l) => l.requestId === denied.headers.get('x-request-id'))).toMatchObject({
      route: '/api/projects/:id/items/:itemId',
      status: 401,
      keyId: null,
    });
  });

  it('serves Prometheus metrics with conventional names: latency histograms by route template, queue, labels, jobs, training, accuracy', async () => {
    await s.call('GET', '/healthz', { key: null });
    const r = await s.call('GET', '/metrics', { key: null });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const { types, help, samples } = parseExposition(r.text);

    // Conventions: snake_case names, counters end in _total, every family has HELP, every sample belongs to a
    // declared family, and _sum only appears with the _count and _bucket of a histogram (or a summary).
    for (const [name, type] of types) {
      expect(name).toMatch(/^[a-z][a-z0-9_]*$/);
      expect(help.get(name), `${name} has no HELP`).toBeTruthy();
      if (type === 'counter') expect(name).toMatch(/_total$/);
      if (name.startsWith('furrow_') && type !== 'counter') expect(name).not.toMatch(/_total$/);
    }
    const familyOf = (sample: string) =>
      types.has(sample)
        ? sample
        : [...types.keys()].find(
            (f) => ['histogram', 'summary'].includes(types.get(f)!) && /^_(bucket|sum|count)$/.test(sample.slice(f.length)) && sample.startsWith(f),
          );
    for (const smp of samples) expect(familyOf(smp.name), `${smp.name} belongs to no declared family`).toBeDefined();
    for (const smp of samples.filter((x) => x.name.endsWith('_sum'))) {
      const family = familyOf(smp.name)!;
      expect(['histogram', 'summary']).toContain(types.get(family));
      expect(samples.some((x) => x.name === `${family}_count`)).toBe(true);
    }
    // The old hand-written counter named like a histogram's sum is gone.
    expect(r.text).not.toContain('furrow_http_request_seconds_sum');

    const find = (name: string, labels: Record<string, string> = {}) =>
      samples.filter((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v));
    expect(types.get('furrow_http_request_duration_seconds')).toBe('histogram');
    const health = find('furrow_http_request_duration_seconds_count', { method: 'GET', route: '/healthz', status: '200' });
    expect(health).toHaveLength(1);
    expect(health[0].value).toBe(1);
    expect(find('furrow_http_request_duration_seconds_bucket', { route: '/api/projects/:id', le: '+Inf', status: '200' })[0].value).toBeGreaterThanOrEqual(4);
    expect(find('furrow_http_requests_total', { method: 'POST', route: '/api/projects/:id/items', status: '202' })[0].value).toBe(1);
    // Route templates only: no series carries a project id in its route.
    for (const smp of samples) if (smp.labels.route) expect(smp.labels.route).not.toContain(projectId);

    expect(types.get('furrow_queue_depth')).toBe('gauge');
    expect(find('furrow_queue_depth', { project: projectId })[0].value).toBe(3);
    expect(find('furrow_labels', { project: projectId, source: 'imported' })[0].value).toBe(1);
    expect(find('furrow_jobs', { kind: 'train', status: 'succeeded' })[0].value).toBe(1);
    expect(find('furrow_model_active_version', { project: projectId })[0].value).toBe(1);
    expect(find('furrow_model_gold_accuracy_ratio', { project: projectId })[0].value).toBeCloseTo(0.875);
    expect(find('furrow_model_gold_items', { project: projectId })[0].value).toBe(40);

    expect(types.get('furrow_training_duration_seconds')).toBe('histogram');
    expect(find('furrow_training_duration_seconds_bucket', { le: '30' })[0].value).toBe(0);
    expect(find('furrow_training_duration_seconds_bucket', { le: '60' })[0].value).toBe(1);
    expect(find('furrow_training_duration_seconds_bucket', { le: '+Inf' })[0].value).toBe(1);
    expect(find('furrow_training_duration_seconds_count')[0].value).toBe(1);
    expect(find('furrow_training_duration_seconds_sum')[0].value).toBeCloseTo(42);

    // Default process metrics.
    expect(types.get('process_cpu_user_seconds_total')).toBe('counter');
    expect(types.has('nodejs_eventloop_lag_seconds')).toBe(true);
  });
});
