/**
 * The `furrow` command as a user runs it: the real bin in a child process against a test server.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, startTestServer, type TestServer } from '../helpers.ts';

const run = promisify(execFile);
const BIN = path.resolve(import.meta.dirname, '../../scripts/cli/furrow.mjs');

let s: TestServer;
let dir: string;

async function furrow(args: string[], key: string | null = ADMIN_KEY): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = { ...process.env, FURROW_URL: s.url, ...(key ? { FURROW_KEY: key } : {}) };
  if (!key) delete env.FURROW_KEY;
  try {
    const r = await run(process.execPath, [BIN, ...args], { env, maxBuffer: 64 * 1024 * 1024 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

async function png(file: string, shade: number): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const pixels = Buffer.alloc(28 * 28, shade);
  for (let i = 0; i < pixels.length; i += 7) pixels[i] = (shade + i) % 256;
  await writeFile(
    file,
    await sharp(pixels, { raw: { width: 28, height: 28, channels: 1 } })
      .png()
      .toBuffer(),
  );
}

beforeAll(async () => {
  s = await startTestServer();
  dir = await mkdtemp(path.join(tmpdir(), 'furrow-cli-'));
});
afterAll(async () => {
  await s?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('furrow CLI', () => {
  it('creates a project and a key, imports a folder with a progress bar, resumes without duplicates, trains and exports', async () => {
    const created = await furrow([
      'projects',
      'create',
      'photos',
      '--modality',
      'image',
      '--labels',
      'dark,light',
      '--settings',
      '{"goldFraction":0,"retrainEvery":0}',
    ]);
    expect(created.code).toBe(0);
    const project = JSON.parse(created.stdout);
    expect(project.labels).toEqual(['dark', 'light']);
    const key = JSON.parse((await furrow(['keys', 'create', '--project', project.id, '--role', 'engineer', '--name', 'cli'])).stdout).key;
    expect(key).toMatch(/^fw_/);

    const folder = path.join(dir, 'photos');
    for (let i = 0; i < 8; i++) {
      await png(path.join(folder, 'dark', `d${i}.png`), 10 + i);
      await png(path.join(folder, 'light', `l${i}.png`), 230 - i);
    }
    const first = await furrow(['import', folder, '--project', project.id, '--labels-from-folders', '--batch', '4'], key);
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({ items: 16, accepted: 16, duplicates: 0, rejected: [] });
    expect(first.stderr).toMatch(/import \[.*\] 100% \| 16\/16/);

    // The folder grew (an import that was cut off, run again): only the new files are stored.
    for (let i = 8; i < 12; i++) await png(path.join(folder, 'dark', `d${i}.png`), 10 + i);
    const again = await furrow(['import', folder, '--project', project.id, '--labels-from-folders'], key);
    expect(JSON.parse(again.stdout)).toMatchObject({ items: 20, accepted: 4, duplicates: 16 });

    const trained = await furrow(['train', '--project', project.id, '--wait'], key);
    expect(trained.code).toBe(0);
    expect(JSON.parse(trained.stdout)).toMatchObject({ status: 'succeeded', modelVersion: 1 });
    expect(trained.stderr).toMatch(/train \[/);

    const status = await furrow(['status', '--project', project.id], key);
    expect(status.stdout).toMatch(/photos \(image, 2 labels\)/);
    expect(status.stdout).toMatch(/items 20: 20 labelled by people/);
    expect(status.stdout).toMatch(/model v1/);

    const out = path.join(dir, 'export.jsonl');
    expect((await furrow(['export', '--project', project.id, '-o', out], key)).code).toBe(0);
    const rows = (await readFile(out, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(rows.map((r) => r.externalId).sort()).toContain('dark/d11.png');
    expect(rows).toHaveLength(20);
  });

  it('imports .jsonl, .csv and Label Studio files into a text project, and exports Label Studio JSON', async () => {
    const project = JSON.parse((await furrow(['projects', 'create', 'reviews', '--modality', 'text', '--labels', 'pos,neg'])).stdout);
    const jsonl = path.join(dir, 'reviews.jsonl');
    await writeFile(jsonl, ['{"text":"great","label":"pos"}', '', '{"text":"awful","label":"neg"}', '{"text":"fine","externalId":"r3"}'].join('\n'));
    expect(JSON.parse((await furrow(['import', jsonl, '--project', project.id])).stdout)).toMatchObject({ items: 3, accepted: 3 });
    expect(JSON.parse((await furrow(['import', jsonl, '--project', project.id])).stdout)).toMatchObject({ accepted: 0, duplicates: 3 });
    const csv = path.join(dir, 'more.csv');
    await writeFile(csv, 'text,label\n"lovely, really",pos\nhello,maybe\n');
    const bad = await furrow(['import', csv, '--project', project.id]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/invalid/);
    expect(bad.stderr).toMatch(/Unknown label .{1,3}maybe/);
    await writeFile(csv, 'text,label\n"lovely, really",pos\n"stale ""bread""",neg\n');
    expect(JSON.parse((await furrow(['import', csv, '--project', project.id])).stdout)).toMatchObject({ items: 2, accepted: 2 });
    const lsFile = path.join(dir, 'ls.json');
    await writeFile(
      lsFile,
      JSON.stringify([
        {
          id: 7,
          data: { text: 'meh' },
          annotations: [{ id: 1, result: [{ from_name: 'label', to_name: 'text', type: 'choices', value: { choices: ['neg'] } }] }],
        },
      ]),
    );
    expect(JSON.parse((await furrow(['import', lsFile, '--project', project.id])).stdout)).toMatchObject({ accepted: 1, labels: 1 });
    const ls = await furrow(['export', '--project', project.id, '--format', 'label-studio']);
    const tasks = JSON.parse(ls.stdout);
    expect(tasks).toHaveLength(6);
    expect(tasks.find((t: any) => t.id === 7).annotations[0].result[0].value.choices).toEqual(['neg']);
  });

  it('says what is wrong, with exit status 1', async () => {
    const noKey = await furrow(['projects', 'list'], null);
    expect(noKey.code).toBe(1);
    expect(noKey.stderr).toMatch(/FURROW_KEY/);
    const bad = await furrow(['projects', 'list'], 'fw_wrong_key_123456');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/unauthorized/);
    const missing = await furrow(['import', path.join(dir, 'nope.txt'), '--project', 'x']);
    expect(missing.stderr).toMatch(/no such file/);
  });

  it('simulates active learning on a labelled file with an in-process server', async () => {
    const words = { pos: ['lovely', 'great', 'tasty', 'fresh', 'superb'], neg: ['awful', 'stale', 'bland', 'rotten', 'soggy'] };
    const lines: string[] = [];
    for (let i = 0; i < 240; i++) {
      const label = i % 2 ? 'pos' : 'neg';
      const w = words[label];
      lines.push(JSON.stringify({ text: `${w[i % 5]} and ${w[(i * 3) % 5]} food number ${i}`, label }));
    }
    const file = path.join(dir, 'sim.jsonl');
    await writeFile(file, lines.join('\n'));
    const svg = path.join(dir, 'sim.svg');
    const env = { ...process.env };
    delete env.FURROW_URL;
    const r = await run(process.execPath, [BIN, 'simulate', file, '--budget', '20', '--step', '10', '--batch', '5', '--gold', '40', '--svg', svg], { env });
    const out = JSON.parse(r.stdout);
    expect(out.items).toBe(240);
    expect(out.gold).toBe(40);
    expect(out.curves.furrow.map((p: any) => p.labels)).toEqual([10, 20]);
    expect(out.curves.random.map((p: any) => p.labels)).toEqual([10, 20]);
    expect(out.curves.furrow[1].accuracy).toBeGreaterThan(0.8);
    expect(out.saving.baseline).toBe(20);
    expect(await readFile(svg, 'utf8')).toMatch(/^<svg/);
    expect(r.stderr).toMatch(/furrow: 20 labels, held-out accuracy/);
  }, 600_000);
});
