import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabaseUrl } from '../helpers.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');

/** The README's tour: the bash block between `<!-- tour:start` and `<!-- tour:end -->`. */
function tourBlock(): string {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const m = /<!-- tour:start[^>]*-->\s*```bash\n([\s\S]*?)```\s*<!-- tour:end -->/.exec(readme);
  if (!m) throw new Error('README.md has no bash block between <!-- tour:start --> and <!-- tour:end -->');
  return m[1];
}

/**
 * Runs the README's tour as a new user would: `npm start`'s entry point on a free port and a fresh database,
 * the admin key it printed, then the shell block with bash, unchanged.
 */
describe('the README tour runs as written', () => {
  let server: ChildProcess;
  let out = '';
  let base: string;
  let key: string;
  let dataDir: string;
  let db: Awaited<ReturnType<typeof freshDatabaseUrl>>;
  let script: string;

  beforeAll(async () => {
    script = tourBlock(); // before starting anything: a README without a tour fails at once
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'furrow-tour-'));
    db = await freshDatabaseUrl();
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PORT: '0',
      FURROW_DATA_DIR: dataDir,
      FURROW_DEMO: '0',
      FURROW_LOG_LEVEL: 'warn',
      FURROW_JOB_POLL_MS: '100',
    };
    delete env.FURROW_ADMIN_KEY;
    if (db.url) env.DATABASE_URL = db.url;
    else delete env.DATABASE_URL;
    server = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    server.stdout!.on('data', (d) => (out += d));
    server.stderr!.on('data', (d) => (out += d));
    await new Promise<void>((resolve, reject) => {
      const check = () => (/listening on (http:\/\/\S+) /.test(out) ? resolve() : undefined);
      server.stdout!.on('data', check);
      server.once('exit', (code) => reject(new Error(`the server exited (${code}):\n${out}`)));
    });
    base = /listening on (http:\/\/\S+) /.exec(out)![1];
    key = /Admin key \(shown once, store it now\): (\S+)/.exec(out)![1];
  }, 600_000);
  afterAll(async () => {
    if (server && server.exitCode === null) {
      const exited = new Promise((r) => server.once('exit', r));
      server.kill('SIGTERM');
      await exited;
    }
    await db?.cleanup();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('exits 0 and prints a trained model, its gold accuracy, a prediction and the export', async () => {
    const result = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const bash = spawn('bash', ['-e', '-o', 'pipefail', '-c', script], {
        cwd: dataDir,
        env: { ...process.env, BASE: base, KEY: key },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      bash.stdout.on('data', (d) => (stdout += d));
      bash.stderr.on('data', (d) => (stderr += d));
      bash.on('exit', (code) => resolve({ code, stdout, stderr }));
    });
    expect(result.code, `${result.stdout}\n${result.stderr}\n--- server ---\n${out}`).toBe(0);
    const lines = result.stdout.trim().split('\n');
    // Ingest: 10 items accepted.
    expect(JSON.parse(lines.find((l) => l.includes('"accepted"'))!)).toMatchObject({ accepted: 10, duplicates: 0, rejected: [] });
    // The eight pool items labelled (and any hidden gold checks the queue mixed in), both classes among them.
    const labels = lines.filter((l) => l === 'great' || l === 'other');
    expect(labels.length).toBeGreaterThanOrEqual(8);
    expect(labels.length).toBeLessThanOrEqual(10);
    expect(new Set(labels)).toEqual(new Set(['great', 'other']));
    expect(lines).toContain('training job: succeeded');
    const accuracy = Number(lines[lines.indexOf('training job: succeeded') + 1]);
    expect(accuracy).toBeGreaterThanOrEqual(0);
    expect(accuracy).toBeLessThanOrEqual(1);
    const counts = JSON.parse(lines[lines.indexOf('training job: succeeded') + 2]);
    expect(counts).toMatchObject({ human: 10, pending: 0 });
    const prediction = JSON.parse(lines[lines.indexOf('training job: succeeded') + 3]);
    expect(['great', 'other']).toContain(prediction.label);
    const exported = lines.slice(-3).map((l) => JSON.parse(l));
    expect(exported).toHaveLength(3);
    for (const row of exported) expect(row).toHaveProperty('label');
  }, 600_000);
});
