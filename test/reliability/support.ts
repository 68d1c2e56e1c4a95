/**
 * Shared pieces of the reliability suite: printing figures, checking the error shape, a loopback TCP proxy
 * that can cut the database off, and a server run as a child process (for SIGKILL and SIGTERM).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Prints one JSON line of a test's figures (docs/reliability.md quotes them). */
export function printFigures(test: string, figures: Record<string, unknown>): void {
  console.log(JSON.stringify({ test, driver: process.env.DATABASE_URL ? 'postgres' : 'pglite', ...figures }));
}

/** True when `body` is API.md's error shape: `{error: {code: snake_case, message: string, details?}}`. */
export function isErrorShape(body: unknown): boolean {
  if (!body || typeof body !== 'object') return false;
  const e = (body as { error?: unknown }).error;
  if (!e || typeof e !== 'object') return false;
  const { code, message, ...rest } = e as Record<string, unknown>;
  return (
    typeof code === 'string' &&
    /^[a-z][a-z0-9_]*$/.test(code) &&
    typeof message === 'string' &&
    message.length > 0 &&
    Object.keys(rest).every((k) => k === 'details')
  );
}

export function expectErrorShape(r: { status: number; body: unknown; text?: string }, status?: number, code?: string): void {
  if (status !== undefined) expect(r.status, r.text).toBe(status);
  expect(isErrorShape(r.body), r.text).toBe(true);
  if (code) expect((r.body as { error: { code: string } }).error.code).toBe(code);
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A small deterministic PRNG for simulations with fixed seeds. */
export { mulberry32 as prng } from '../../scripts/lib/sampling.ts';

export interface TcpProxy {
  port: number;
  /** Cuts every open connection and refuses new ones (connection refused) until up(). */
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
  /** Connections accepted so far. */
  accepted(): number;
}

/** A loopback TCP proxy to `target`: what a network partition or a stopped database server looks like to the app. */
export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const sockets = new Set<net.Socket>();
  let accepted = 0;
  let server: net.Server | undefined;
  let port = 0;
  const listen = async () => {
    server = net.createServer((client) => {
      accepted++;
      const upstream = net.connect(target.port, target.host);
      sockets.add(client).add(upstream);
      const drop = () => {
        client.destroy();
        upstream.destroy();
        sockets.delete(client);
        sockets.delete(upstream);
      };
      client.on('error', drop).on('close', drop);
      upstream.on('error', drop).on('close', drop);
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server!.once('error', reject);
      server!.listen(port, '127.0.0.1', () => resolve());
    });
    port = (server.address() as net.AddressInfo).port;
  };
  const stop = async () => {
    const s = server;
    server = undefined;
    for (const sock of sockets) sock.destroy();
    sockets.clear();
    if (s) await new Promise<void>((r) => s.close(() => r()));
  };
  await listen();
  return {
    get port() {
      return port;
    },
    down: stop,
    up: listen,
    close: stop,
    accepted: () => accepted,
  };
}

export interface ChildServer {
  url: string;
  child: ChildProcess;
  /** Everything the process wrote, stdout and stderr. */
  output(): string;
  /** Resolves with the exit code (or the signal) once the process group's leader has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends `signal` to the server process, or with `group` to its whole process group (as systemd does). */
  kill(signal: NodeJS.Signals, group?: boolean): void;
}

/**
 * Runs `node --import tsx server/main.ts` as a child process in its own process group with `env` on top of a
 * minimal environment, and waits for its "listening on" line.
 */
export async function spawnServer(env: Record<string, string>, timeoutMs = 90_000): Promise<ChildServer> {
  // As `npm start` runs it: node with tsx's loader, one process (the tsx CLI wrapper would SIGKILL a server
  // whose event loop is busy for 60 ms when a signal arrives, cutting graceful shutdown short).
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', PORT: '0', HOST: '127.0.0.1', FURROW_DEMO: '0', ...env },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const kill = (signal: NodeJS.Signals, group = false) => {
    try {
      process.kill(group ? -child.pid! : child.pid!, signal);
    } catch {
      // Already gone.
    }
  };
  const until = Date.now() + timeoutMs;
  for (;;) {
    const m = /Furrow is listening on (http:\/\/[^\s]+) /.exec(out);
    if (m) return { url: m[1], child, output: () => out, exited, kill };
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`server exited before listening:\n${out}`);
    if (Date.now() > until) {
      kill('SIGKILL');
      throw new Error(`server did not start in ${timeoutMs} ms:\n${out}`);
    }
    await sleep(100);
  }
}

/** fetch with a key and a JSON body; answers status, parsed body (if JSON), text and headers. */
export async function call(
  base: string,
  method: string,
  p: string,
  opts: { key?: string | null; body?: unknown; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: any; text: string; headers: Headers }> {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.key) headers.authorization = `Bearer ${opts.key}`;
  let body: string | undefined;
  if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers['content-type'] ??= 'application/json';
  }
  const res = await fetch(base + p, { method, headers, body });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: res.status, body: parsed, text, headers: res.headers };
}
