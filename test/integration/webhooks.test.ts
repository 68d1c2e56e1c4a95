/**
 * Outgoing webhooks: registration (with its bad input), signed deliveries of job.finished and
 * version.activated, retries with backoff until the receiver answers 2xx, and the delivery record.
 */
import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, waitForJob, type TestServer } from '../helpers.ts';

interface Received {
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

let s: TestServer;
let receiver: Server;
let hookUrl: string;
const received: Received[] = [];
let failNext = 0;

async function until<T>(f: () => Promise<T | undefined> | T | undefined, what: string, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      if (failNext > 0) {
        failNext--;
        res.writeHead(503).end('busy');
        return;
      }
      received.push({ headers: req.headers, body });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
  s = await startTestServer({ FURROW_WEBHOOK_ALLOW_PRIVATE: '1', FURROW_WEBHOOK_RETRY_BASE_MS: '200' });
});
afterAll(async () => {
  await s?.stop();
  await new Promise((r) => receiver?.close(r));
});

describe('outgoing webhooks', () => {
  it('delivers signed job.finished and version.activated events, retrying a failing receiver, and records each delivery', async () => {
    const p = (
      await s.call('POST', '/api/projects', {
        body: { name: 'hooks', modality: 'text', labels: ['a', 'b'], settings: { minLabelsToTrain: 4, retrainEvery: 0, goldFraction: 0 } },
      })
    ).body;
    const eng = (await s.call('POST', `/api/projects/${p.id}/keys`, { body: { role: 'engineer', name: 'e' } })).body.key;
    const created = await s.call('POST', `/api/projects/${p.id}/webhooks`, { key: eng, body: { url: hookUrl, events: ['job.finished', 'version.activated'] } });
    expect(created.status).toBe(201);
    expect(created.body.secret).toMatch(/^whsec_/);
    const list = await s.call('GET', `/api/projects/${p.id}/webhooks`, { key: eng });
    expect(list.body.webhooks).toEqual([{ id: created.body.id, url: hookUrl, events: ['job.finished', 'version.activated'], createdAt: expect.any(String) }]);

    const items = ['apple pie', 'apple tart', 'apple cake', 'beef stew', 'beef pie', 'beef roast'].map((text, i) => ({ text, label: i < 3 ? 'a' : 'b' }));
    await s.call('POST', `/api/projects/${p.id}/items`, { key: eng, body: { items } });
    failNext = 2; // the first delivery fails twice, then goes through
    const { jobId } = (await s.call('POST', `/api/projects/${p.id}/train`, { key: eng, body: {} })).body;
    await waitForJob(s, jobId, eng);

    const events = await until(() => {
      const got = received.map((r) => JSON.parse(r.body));
      return got.some((e) => e.event === 'job.finished' && e.data.jobId === jobId) && got.some((e) => e.event === 'version.activated') ? got : undefined;
    }, 'both events');
    const activated = events.find((e) => e.event === 'version.activated');
    expect(activated).toMatchObject({ projectId: p.id, data: { version: 1, reason: 'trained', jobId } });
    const finished = events.find((e) => e.event === 'job.finished' && e.data.jobId === jobId);
    expect(finished.data).toMatchObject({ kind: 'train', status: 'succeeded', modelVersion: 1 });

    // The signature: t=<unix>,v1=HMAC-SHA256(secret, "<t>.<body>").
    for (const r of received) {
      const sig = String(r.headers['x-furrow-signature']);
      const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(sig);
      expect(m).not.toBeNull();
      expect(createHmac('sha256', created.body.secret).update(`${m![1]}.${r.body}`).digest('hex')).toBe(m![2]);
      expect(r.headers['x-furrow-event']).toBe(JSON.parse(r.body).event);
      expect(r.headers['x-furrow-delivery']).toBe(JSON.parse(r.body).id);
    }

    const deliveries = (await s.call('GET', `/api/projects/${p.id}/webhooks/${created.body.id}/deliveries`, { key: eng })).body.deliveries;
    expect(deliveries.every((d: any) => d.status === 'delivered')).toBe(true);
    expect(deliveries.reduce((n: number, d: any) => n + d.attempts, 0)).toBe(deliveries.length + 2);
    expect(deliveries.some((d: any) => d.attempts > 1)).toBe(true);
    expect(deliveries.every((d: any) => d.lastStatusCode === 204 && d.lastError === null)).toBe(true);

    // A rollback (activation by hand) is an event too.
    received.length = 0;
    await s.call('POST', `/api/projects/${p.id}/models/1/activate`, { key: eng });
    const again = await until(() => received.map((r) => JSON.parse(r.body)).find((e) => e.event === 'version.activated'), 'activation event');
    expect(again.data).toMatchObject({ version: 1, reason: 'activated' });

    expect((await s.call('DELETE', `/api/projects/${p.id}/webhooks/${created.body.id}`, { key: eng })).status).toBe(204);
    expect((await s.call('DELETE', `/api/projects/${p.id}/webhooks/${created.body.id}`, { key: eng })).status).toBe(404);
  });

  it('refuses bad registrations with a 400 and stores nothing', async () => {
    const p = (await s.call('POST', '/api/projects', { body: { name: 'bad hooks', modality: 'text', labels: ['a', 'b'] } })).body;
    for (const body of [
      { url: 'ftp://example.com/x', events: ['job.finished'] },
      { url: 'not a url', events: ['job.finished'] },
      { url: 'http://user:pw@example.com/', events: ['job.finished'] },
      { url: hookUrl, events: ['label.created'] },
      { url: hookUrl, events: [] },
      { url: hookUrl, events: ['job.finished'], secret: 'short' },
    ]) {
      const r = await s.call('POST', `/api/projects/${p.id}/webhooks`, { body });
      expect(r.status, JSON.stringify(body)).toBe(400);
    }
    expect((await s.call('GET', `/api/projects/${p.id}/webhooks`)).body.webhooks).toEqual([]);
  });

  it('refuses private and loopback receivers unless FURROW_WEBHOOK_ALLOW_PRIVATE is set', async () => {
    const strict = await startTestServer();
    try {
      const p = (await strict.call('POST', '/api/projects', { body: { name: 'strict', modality: 'text', labels: ['a', 'b'] } })).body;
      for (const url of [hookUrl, 'http://10.1.2.3/x', 'http://[::1]:8080/x', 'http://169.254.169.254/latest'])
        expect((await strict.call('POST', `/api/projects/${p.id}/webhooks`, { body: { url, events: ['job.finished'] } })).body.error.code).toBe(
          'invalid_webhook_url',
        );
    } finally {
      await strict.stop();
    }
  });
});
