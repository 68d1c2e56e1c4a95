import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { freshDatabaseUrl } from '../helpers.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const run = promisify(execFile);

function sourceFiles(dir: string, out: string[] = []): string[] {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (e.name.startsWith('.') || e.name === 'node_modules' || e.name === 'data') continue;
    const p = path.join(dir, e.name);
    if (e.isDirectory()) sourceFiles(p, out);
    else if (/\.(ts|mts|js|mjs)$/.test(e.name)) out.push(p);
  }
  return out;
}

describe('code layout', () => {
  it('nothing outside scripts/ and test/ imports from scripts/', () => {
    const offenders: string[] = [];
    const scripts = path.join(ROOT, 'scripts') + path.sep;
    for (const file of sourceFiles(ROOT)) {
      const rel = path.relative(ROOT, file);
      if (rel.startsWith(`scripts${path.sep}`) || rel.startsWith(`test${path.sep}`)) continue;
      const text = fs.readFileSync(file, 'utf8');
      // Static imports and re-exports, dynamic import(), require().
      for (const m of text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+|\brequire\s*\(\s*)['"]([^'"]+)['"]/g)) {
        const spec = m[1];
        if (!spec.startsWith('.')) continue;
        if ((path.resolve(path.dirname(file), spec) + path.sep).startsWith(scripts)) offenders.push(`${rel}: ${spec}`);
      }
    }
    expect(offenders).toEqual([]);
  });

  it('every npm script that runs a file names one that exists', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    const missing = Object.entries(pkg.scripts).flatMap(([name, cmd]) =>
      [...cmd.matchAll(/(?:^|\s)([\w./-]+\.(?:ts|js|mjs))(?=\s|$)/g)]
        .map((m) => m[1])
        .filter((f) => !fs.existsSync(path.join(ROOT, f)))
        .map((f) => `${name}: ${f}`),
    );
    expect(missing).toEqual([]);
  });

  it('npm run migrate applies the migrations the server runs, and exits', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'furrow-migrate-'));
    const db = await freshDatabaseUrl();
    try {
      const env = { ...process.env, FURROW_DATA_DIR: dataDir, FURROW_LOG_LEVEL: 'silent', ...(db.url ? { DATABASE_URL: db.url } : { DATABASE_URL: '' }) };
      if (!db.url) delete (env as Record<string, string | undefined>).DATABASE_URL;
      const { stdout } = await run(process.execPath, ['--import', 'tsx', 'scripts/migrate.ts'], { cwd: ROOT, env });
      expect(stdout).toContain('Migrations applied');
      const journal = JSON.parse(fs.readFileSync(path.join(ROOT, 'db/migrations/meta/_journal.json'), 'utf8')) as { entries: unknown[] };
      let applied: number;
      if (db.url) {
        const { default: postgres } = await import('postgres');
        const client = postgres(db.url, { max: 1, onnotice: () => {} });
        applied = Number((await client`select count(*)::int as n from drizzle.__drizzle_migrations`)[0].n);
        await client.end();
      } else {
        const { PGlite } = await import('@electric-sql/pglite');
        const client = new PGlite(path.join(dataDir, 'pg'));
        applied = (await client.query<{ n: number }>('select count(*)::int as n from drizzle.__drizzle_migrations')).rows[0].n;
        await client.close();
      }
      expect(applied).toBe(journal.entries.length);
    } finally {
      await db.cleanup();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
