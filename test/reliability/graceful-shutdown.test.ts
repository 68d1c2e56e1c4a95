import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, freshDatabaseUrl } from '../helpers.ts';
import { call, printFigures, sleep, spawnServer, type ChildServer } from './support.ts';

const ITEMS = 3_000;

/** Sends a request whose body is written in two halves; `finish()` sends the second half and resolves with the answer. */
function halfSentRequest(url: string, p: string, body: string, headers: Record<string, string>) {
  const buf = Buffer.from(body);
  const cut = Math.floor(buf.length / 2);
  const u = new URL(url);
  let resolveAnswer!: (v: { status: number; text: string }) => void;
  let rejectAnswer!: (e: Error) => void;
  const answer = new Promise<{ status: number; text: string }>((res, rej) => ((resolveAnswer = res), (rejectAnswer = rej)));
  const req = http.request(
    { host: u.hostname, port: u.port, path: p, method: 'POST', headers: { ...headers, 'content-length': String(buf.length) } },
    (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => resolveAnswer({ status: res.statusCode!, text }));
      res.on('error', rejectAnswer);
    },
  );
  req.on('error', rejectAnswer);
  const sentHalf = new Promise<void>((res) => req.write(buf.subarray(0, cut), () => res()));
  return {
    sentHalf,
    finish: () => {
      req.end(buf.subarray(cut));
      return answer;
    },
  };
}

/** Starts a GET and stops reading after the first chunk; `drain()` reads the rest. */
async function pausedDownload(url: string, p: string, headers: Record<string, string>) {
  const u = new URL(url);
  const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
    http.get({ host: u.hostname, port: u.port, path: p, headers }, resolve).on('error', reject);
  });
  const chunks: Buffer[] = [];
  await new Promise<void>((resolve) => res.once('data', (d: Buffer) => (chunks.push(d), res.pause(), resolve())));
  return {
    status: res.statusCode!,
    drain: () =>
      new Promise<string>((resolve, reject) => {
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
        res.on('error', reject);
        res.resume();
      }),
  };
}

/**
 * SIGTERM while requests are in flight (an export being downloaded slowly, an ingest whose body is half
 * sent): the server stops accepting connections, finishes both, exits 0, and what it stored is there after
 * a restart.
 */
describe('graceful shutdown on SIGTERM', () => {
  let dataDir: string;
  let db: Awaited<ReturnType<typeof freshDatabaseUrl>>;
  let env: Record<string, string>;
  let srv: ChildServer | undefined;

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'furrow-term-'));
    db = await freshDatabaseUrl();
    env = { FURROW_DATA_DIR: dataDir, FURROW_ADMIN_KEY: ADMIN_KEY, FURROW_LOG_LEVEL: 'warn', ...(db.url ? { DATABASE_URL: db.url } : {}) };
  });
  afterAll(async () => {
    srv?.kill('SIGKILL');
    if (srv) await srv.exited;
    await db?.cleanup();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('finishes in-flight requests, refuses new ones, exits 0, keeps what it stored', async () => {
    srv = await spawnServer(env);
    const url = srv.url;
    const auth = { authorization: `Bearer ${ADMIN_KEY}` };
    const P = (
      await call(url, 'POST', '/api/projects', { key: ADMIN_KEY, body: { name: 'term', modality: 'text', labels: ['a', 'b'], settings: { goldFraction: 0 } } })
    ).body.id;
    const filler = 'lorem ipsum dolor sit amet '.repeat(40);
    const items = Array.from({ length: ITEMS }, (_, i) => ({ externalId: `t${i}`, text: `${i} ${filler}` }));
    expect((await call(url, 'POST', `/api/projects/${P}/items`, { key: ADMIN_KEY, body: { items } })).status).toBe(202);

    // In flight when the signal arrives: a multi-megabyte export read slowly, and an ingest half sent.
    const download = await pausedDownload(url, `/api/projects/${P}/export?format=jsonl`, auth);
    expect(download.status).toBe(200);
    const late = Array.from({ length: 50 }, (_, i) => ({ externalId: `late${i}`, text: `sent across the shutdown ${i}` }));
    const upload = halfSentRequest(url, `/api/projects/${P}/items`, JSON.stringify({ items: late }), { ...auth, 'content-type': 'application/json' });
    await upload.sentHalf;
    await sleep(200);

    srv.kill('SIGTERM');
    // New requests are refused once the listener has closed (keep-alive connections included: a request that
    // races the signal is answered with Connection: close).
    let refused = false;
    let servedAfterSignal = 0;
    for (let i = 0; i < 100 && !refused; i++) {
      refused = await fetch(`${url}/healthz`).then(
        () => (servedAfterSignal++, false),
        () => true,
      );
      if (!refused) await sleep(50);
    }
    // Still running: it cannot finish before the ingest's body is complete.
    const aliveAfterSignal = srv.child.exitCode === null && srv.child.signalCode === null;
    const ingest = await upload.finish();
    const exported = await download.drain();
    const exit = await srv.exited;
    srv = undefined;

    expect(refused).toBe(true);
    expect(aliveAfterSignal).toBe(true);
    expect(ingest.status).toBe(202);
    expect(JSON.parse(ingest.text)).toEqual({ accepted: 50, duplicates: 0, rejected: [] });
    const lines = exported.split('\n').filter((l) => l !== '');
    for (const l of lines) JSON.parse(l);
    expect(exported.endsWith('\n')).toBe(true);
    expect(lines.length).toBeGreaterThanOrEqual(ITEMS);
    expect(exit).toEqual({ code: 0, signal: null });

    srv = await spawnServer(env);
    const counts = (await call(srv.url, 'GET', `/api/projects/${P}`, { key: ADMIN_KEY })).body.counts;
    expect(counts.items).toBe(ITEMS + 50);
    srv.kill('SIGTERM');
    const second = await srv.exited;
    srv = undefined;
    expect(second.code).toBe(0);
    printFigures('graceful-sigterm', {
      inFlightAtSignal: 2,
      completedAfterSignal: 2,
      exportLines: lines.length,
      exportBytes: Buffer.byteLength(exported),
      ingestAcceptedAcrossShutdown: 50,
      newConnectionsRefused: refused,
      requestsServedBetweenSignalAndRefusal: servedAfterSignal,
      exitCode: exit.code,
      itemsAfterRestart: counts.items,
    });
  }, 300_000);
});
