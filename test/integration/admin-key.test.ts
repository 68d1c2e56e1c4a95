import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../core/config.ts';
import { silentLogger } from '../../core/logger.ts';
import { startServer } from '../../server/main.ts';
import { freshDatabaseUrl } from '../helpers.ts';

const run = promisify(execFile);
const KEY_LINE = /Admin key \(shown once, store it now\): (\S+)/;

describe('the admin key survives a failed first start', () => {
  let dataDir: string;
  let db: Awaited<ReturnType<typeof freshDatabaseUrl>>;
  let env: Record<string, string>;
  beforeAll(async () => {
    // A database that outlives one server: a PGlite folder, or a fresh PostgreSQL database.
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'furrow-admin-'));
    db = await freshDatabaseUrl();
    env = { FURROW_DATA_DIR: dataDir, FURROW_DEMO: '0', FURROW_LOG_LEVEL: 'silent', ...(db.url ? { DATABASE_URL: db.url } : {}) };
  });
  afterAll(async () => {
    await db.cleanup();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  const start = (extra: Record<string, string>, lines: string[] = []) =>
    startServer(loadConfig({ ...env, PORT: '0', ...extra }), { logger: silentLogger, announce: (l) => lines.push(...l) });
  const status = (url: string, key: string) => fetch(`${url}/api/projects`, { headers: { authorization: `Bearer ${key}` } }).then((r) => r.status);

  let firstKey: string;
  it('prints the generated key even when the port is taken, and the key works on the next start', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const taken = (blocker.address() as net.AddressInfo).port;
    const lines: string[] = [];
    try {
      await expect(start({ PORT: String(taken) }, lines)).rejects.toMatchObject({ code: 'EADDRINUSE' });
    } finally {
      await new Promise((r) => blocker.close(r));
    }
    firstKey = KEY_LINE.exec(lines.join('\n'))?.[1] ?? '';
    expect(firstKey).toMatch(/^fw_/);
    const again: string[] = [];
    const srv = await start({}, again);
    try {
      expect(await status(srv.url, firstKey)).toBe(200);
      expect(again.join('\n')).not.toMatch(KEY_LINE); // shown once
    } finally {
      await srv.close();
    }
  });

  it('FURROW_ADMIN_KEY adds that admin key on a database that already has one', async () => {
    const chosen = 'fw_operator_chosen_key_0123456789';
    const srv = await start({ FURROW_ADMIN_KEY: chosen });
    try {
      expect(await status(srv.url, chosen)).toBe(200);
      expect(await status(srv.url, firstKey)).toBe(200);
    } finally {
      await srv.close();
    }
  });

  it('npm run admin-key -- --reset prints a new admin key and revokes the others', async () => {
    const root = path.resolve(import.meta.dirname, '../..');
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'scripts/admin-key.ts', '--reset'], { cwd: root, env: { ...process.env, ...env } });
    const fresh = KEY_LINE.exec(stdout)?.[1] ?? '';
    expect(fresh).toMatch(/^fw_/);
    expect(stdout).toContain('Revoked 2 other admin key(s).');
    const srv = await start({});
    try {
      expect(await status(srv.url, fresh)).toBe(200);
      expect(await status(srv.url, firstKey)).toBe(401);
    } finally {
      await srv.close();
    }
  });
});
