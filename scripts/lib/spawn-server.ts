/**
 * Runs Furrow server processes as children (`node --import tsx server/main.ts`), for benchmarks that need
 * several processes on one database. Waits for the "listening on" line (or, for a worker, its ready line).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface ServerProcess {
  url: string;
  child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

export async function spawnFurrow(env: Record<string, string>, timeoutMs = 120_000): Promise<ServerProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', PORT: '0', HOST: '127.0.0.1', FURROW_DEMO: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const until = Date.now() + timeoutMs;
  for (;;) {
    const m = /Furrow is listening on (http:\/\/[^\s]+) /.exec(out);
    if (m)
      return {
        url: m[1],
        child,
        output: () => out,
        stop: async () => {
          child.kill('SIGTERM');
          await exited;
        },
      };
    if (child.exitCode !== null) throw new Error(`server exited before listening:\n${out}`);
    if (Date.now() > until) {
      child.kill('SIGKILL');
      throw new Error(`server did not start in ${timeoutMs} ms:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** fetch with a bearer key and a JSON body; answers status and parsed body. */
export async function callJson(base: string, method: string, p: string, key: string, body?: unknown): Promise<{ status: number; body: any; text: string }> {
  const res = await fetch(base + p, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: res.status, body: parsed, text };
}
