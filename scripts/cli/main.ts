/**
 * `furrow`: the command line over Furrow's HTTP API (FURROW_URL, FURROW_KEY), through the typed client.
 * `furrow --help` lists the commands; each prints JSON on stdout (or a table for `status`) and its progress
 * on stderr, so its output can be piped.
 */
import { createWriteStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import cliProgress from 'cli-progress';
import { Command, InvalidArgumentError, Option } from 'commander';
import { createFurrowClient, FurrowError, ok, type FurrowClient } from './client.ts';
import { countItems, csvItems, detectSource, folderItem, jsonlItems, readLabelStudio } from './import-files.ts';
import { simulate } from './simulate.ts';

interface Globals {
  url: string;
  key?: string;
}

function client(cmd: Command): FurrowClient {
  const g = cmd.optsWithGlobals() as Globals;
  if (!g.key) throw new FurrowError(0, 'no_key', 'Set FURROW_KEY (or --key) to an API key.');
  return createFurrowClient({ url: g.url, key: g.key });
}

function print(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive whole number');
  return n;
}

function bar(label: string, total: number): cliProgress.SingleBar {
  const b = new cliProgress.SingleBar(
    {
      format: `${label} [{bar}] {percentage}% | {value}/{total} | {eta_formatted} left | {extra}`,
      stream: process.stderr,
      noTTYOutput: true,
      notTTYSchedule: 5000,
      hideCursor: true,
    },
    cliProgress.Presets.shades_classic,
  );
  b.start(total, 0, { extra: '' });
  return b;
}

/** Sends items in batches under a byte budget; counts what the server stored, skipped as duplicates or refused. */
async function sendBatches(
  api: FurrowClient,
  projectId: string,
  items: AsyncIterable<Record<string, unknown>>,
  opts: { batch: number; partial: boolean; progress: cliProgress.SingleBar },
) {
  const totals = { accepted: 0, duplicates: 0, rejected: [] as { index: number; error: string }[] };
  let batch: Record<string, unknown>[] = [];
  let bytes = 0;
  let sent = 0;
  const flush = async () => {
    if (!batch.length) return;
    const res = ok(
      await api.POST('/api/projects/{id}/items', {
        params: { path: { id: projectId }, query: opts.partial ? { partial: 'true' } : {} },
        body: { items: batch },
      }),
    );
    totals.accepted += res.accepted;
    totals.duplicates += res.duplicates;
    totals.rejected.push(...res.rejected.map((r) => ({ index: r.index + sent, error: r.error })));
    sent += batch.length;
    opts.progress.increment(batch.length, { extra: `${totals.accepted} new, ${totals.duplicates} already there` });
    batch = [];
    bytes = 0;
  };
  for await (const item of items) {
    const size = JSON.stringify(item).length;
    if (batch.length && (batch.length >= opts.batch || bytes + size > 8 * 1024 * 1024)) await flush();
    batch.push(item);
    bytes += size;
  }
  await flush();
  return totals;
}

async function waitForJob(api: FurrowClient, jobId: string, label: string): Promise<{ status: string; error?: string | null; modelVersion?: number | null }> {
  const b = bar(label, 100);
  try {
    for (;;) {
      const job = ok(await api.GET('/api/jobs/{jobId}', { params: { path: { jobId } } })) as {
        status: string;
        progress: number;
        error?: string | null;
        modelVersion?: number | null;
      };
      b.update(Math.round(job.progress * 100), { extra: job.status });
      if (job.status === 'succeeded' || job.status === 'failed') return job;
      await new Promise((r) => setTimeout(r, 500));
    }
  } finally {
    b.stop();
  }
}

export function buildCli(): Command {
  const program = new Command('furrow')
    .description('Furrow from the terminal: projects, keys, import, training, export, status and simulations over the HTTP API.')
    .addOption(new Option('--url <url>', 'the Furrow server').env('FURROW_URL').default('http://127.0.0.1:8080'))
    .addOption(new Option('--key <key>', 'an API key (admin, or engineer of the project)').env('FURROW_KEY'))
    .showHelpAfterError();

  const projects = program.command('projects').description('list and create projects');
  projects
    .command('list')
    .description('the projects this key can see')
    .action(async (_o, cmd: Command) => print(ok(await client(cmd).GET('/api/projects', {}))));
  projects
    .command('create <name>')
    .description('create a project (admin key)')
    .requiredOption('--modality <modality>', 'image, text, vector or audio (audio: a transcription project)')
    .option('--labels <labels>', 'comma-separated class names (classification projects)')
    .option('--settings <json>', 'project settings as JSON', '{}')
    .action(async (name: string, o: { modality: 'image' | 'text' | 'vector' | 'audio'; labels?: string; settings: string }, cmd: Command) => {
      const labels = o.labels
        ?.split(',')
        .map((l) => l.trim())
        .filter(Boolean);
      const body = { name, modality: o.modality, ...(labels ? { labels } : {}), settings: JSON.parse(o.settings) };
      print(ok(await client(cmd).POST('/api/projects', { body })));
    });

  program
    .command('keys')
    .description('manage API keys')
    .command('create')
    .description('create a key for a project (admin key); the secret is printed once')
    .requiredOption('--project <id>', 'project id')
    .requiredOption('--role <role>', 'engineer, annotator or client')
    .requiredOption('--name <name>', 'who it is for')
    .action(async (o: { project: string; role: 'engineer' | 'annotator' | 'client'; name: string }, cmd: Command) =>
      print(ok(await client(cmd).POST('/api/projects/{id}/keys', { params: { path: { id: o.project } }, body: { role: o.role, name: o.name } }))),
    );

  program
    .command('import <path>')
    .description('import a folder of images or text files, a .jsonl/.csv of items, or a Label Studio .json export; run again to resume')
    .requiredOption('--project <id>', 'project id')
    .option('--batch <n>', 'items per request', positiveInt, 200)
    .option('--partial', 'store the valid items of a batch and report the others', false)
    .option('--labels-from-folders', "label each file with its folder's name (when it is one of the project's labels)", false)
    .action(async (p: string, o: { project: string; batch: number; partial: boolean; labelsFromFolders: boolean }, cmd: Command) => {
      const api = client(cmd);
      const src = await detectSource(p);
      const total = await countItems(src);
      const progress = bar('import', total);
      try {
        if (src.kind === 'label-studio') {
          const tasks = (await readLabelStudio(src.file)) as unknown[];
          const out = { tasks: 0, accepted: 0, duplicates: 0, labels: 0, rejected: [] as { index: number; error: string }[] };
          for (let i = 0; i < tasks.length; i += 2000) {
            const chunk = tasks.slice(i, i + 2000);
            const res = ok(
              await api.POST('/api/projects/{id}/label-studio/import', {
                params: { path: { id: o.project }, query: o.partial ? { partial: 'true' } : {} },
                body: chunk,
              }),
            );
            out.tasks += res.tasks;
            out.accepted += res.accepted;
            out.duplicates += res.duplicates;
            out.labels += res.labels;
            out.rejected.push(...res.rejected.map((r) => ({ index: r.index + i, error: r.error })));
            progress.increment(chunk.length, { extra: `${out.accepted} new, ${out.duplicates} already there` });
          }
          progress.stop();
          return print(out);
        }
        let items: AsyncIterable<Record<string, unknown>>;
        if (src.kind === 'folder') {
          const project = ok(await api.GET('/api/projects/{id}', { params: { path: { id: o.project } } })) as { labels: string[] };
          const labels = new Set(project.labels);
          items = (async function* () {
            for (const f of src.files) yield await folderItem(src.root, f, { labelsFromFolders: o.labelsFromFolders, labels });
          })();
        } else items = src.kind === 'jsonl' ? jsonlItems(src.file) : csvItems(src.file);
        const out = await sendBatches(api, o.project, items, { batch: o.batch, partial: o.partial, progress });
        progress.stop();
        print({ items: total, ...out });
      } catch (e) {
        progress.stop();
        throw e;
      }
    });

  program
    .command('export')
    .description("every item with its label: Furrow's JSONL/CSV, or Label Studio JSON, JSON-MIN or CSV")
    .requiredOption('--project <id>', 'project id')
    .addOption(
      new Option('--format <format>', 'output format').choices(['jsonl', 'csv', 'label-studio', 'label-studio-min', 'label-studio-csv']).default('jsonl'),
    )
    .option('-o, --output <file>', 'write to a file instead of stdout')
    .action(async (o: { project: string; format: string; output?: string }, cmd: Command) => {
      const api = client(cmd);
      const ls = o.format.startsWith('label-studio');
      const res = ls
        ? await api.GET('/api/projects/{id}/label-studio/export', {
            params: { path: { id: o.project }, query: { format: o.format === 'label-studio' ? 'json' : o.format === 'label-studio-min' ? 'json-min' : 'csv' } },
            parseAs: 'stream',
          })
        : await api.GET('/api/projects/{id}/export', {
            params: { path: { id: o.project }, query: { format: o.format as 'jsonl' | 'csv' } },
            parseAs: 'stream',
          });
      if (!res.response.ok || !res.data) ok({ ...res, data: undefined, error: await res.response.json().catch(() => undefined) });
      await pipeline(Readable.fromWeb(res.data as never), o.output ? createWriteStream(o.output) : process.stdout);
    });

  program
    .command('train')
    .description('train a new version now')
    .requiredOption('--project <id>', 'project id')
    .option('--wait', 'wait for the job and show its progress; exit 1 if it fails', false)
    .action(async (o: { project: string; wait: boolean }, cmd: Command) => {
      const api = client(cmd);
      const { jobId } = ok(await api.POST('/api/projects/{id}/train', { params: { path: { id: o.project } }, body: {} })) as { jobId: string };
      if (!o.wait) return print({ jobId });
      const job = await waitForJob(api, jobId, 'train');
      print({ jobId, ...job });
      if (job.status !== 'succeeded') process.exitCode = 1;
    });

  program
    .command('status')
    .description('counts, the active version and its held-out accuracy, running jobs')
    .requiredOption('--project <id>', 'project id')
    .option('--json', 'print JSON', false)
    .action(async (o: { project: string; json: boolean }, cmd: Command) => {
      const api = client(cmd);
      const path = { params: { path: { id: o.project } } };
      const project = ok(await api.GET('/api/projects/{id}', path)) as { name: string; modality: string; labels: string[]; counts: Record<string, number> };
      const metrics = ok(await api.GET('/api/projects/{id}/metrics', path)) as { modelVersion: number | null; gold?: { n: number; accuracy: number | null } };
      const jobs = (
        ok(await api.GET('/api/projects/{id}/jobs', path)) as { jobs: { id: string; kind: string; status: string; progress: number }[] }
      ).jobs.filter((j) => j.status === 'queued' || j.status === 'running');
      if (o.json) return print({ project, metrics, jobs });
      const lines = [
        `${project.name} (${project.modality}, ${project.labels.length} labels)`,
        `items ${project.counts.items}: ${project.counts.labeled} labelled by people, ${project.counts.autoLabeled} auto-labelled, ${project.counts.pending} to do`,
        metrics.modelVersion === null
          ? 'no model yet'
          : `model v${metrics.modelVersion}: held-out accuracy ${metrics.gold?.accuracy === null || metrics.gold?.accuracy === undefined ? 'n/a' : metrics.gold.accuracy.toFixed(3)} on ${metrics.gold?.n ?? 0} items`,
        jobs.length ? `jobs: ${jobs.map((j) => `${j.kind} ${j.status} ${Math.round(j.progress * 100)}%`).join(', ')}` : 'no job running',
      ];
      process.stdout.write(`${lines.join('\n')}\n`);
    });

  program
    .command('simulate <file>')
    .description(
      'what Furrow would save on your own labelled data: an active-learning run against random picks, labels answered from the file (.jsonl or .csv with a label column)',
    )
    .option('--budget <n>', 'human labels to spend', positiveInt, 300)
    .option('--step <n>', 'retrain every n labels', positiveInt, 50)
    .option('--batch <n>', 'items per queue request', positiveInt, 10)
    .option('--gold <n>', 'items held out to measure accuracy', positiveInt, 500)
    .option('--arms <arms>', 'comma-separated: furrow (the default queue), random', 'furrow,random')
    .option('--modality <m>', 'text, image or vector (default: from the first item)')
    .option('--model <name>', "the model of both arms: auto (chosen by cross-validation, a new project's default) or a candidate (docs/models.md)")
    .option('--seed <n>', 'seed of the split and the runs', positiveInt, 1)
    .option('--svg <file>', 'write the learning curves as an SVG plot')
    .option('--local', 'run on an in-process server with an in-memory database (the default when FURROW_URL is not set)')
    .action(async (file: string, o: Parameters<typeof simulate>[1], cmd: Command) => {
      const g = cmd.optsWithGlobals() as Globals;
      const local = o.local ?? !process.env.FURROW_URL;
      const result = await simulate(file, { ...o, local, url: g.url, key: g.key }, (line) => process.stderr.write(`${line}\n`));
      if (o.svg) await writeFile(o.svg, result.svg);
      print(result.summary);
    });

  return program;
}

export async function runCli(argv: string[]): Promise<void> {
  try {
    await buildCli().parseAsync(argv);
  } catch (e) {
    if (e instanceof FurrowError) {
      process.stderr.write(`furrow: ${e.message}${e.code ? ` (${e.code})` : ''}\n`);
      if (e.details) process.stderr.write(`${JSON.stringify(e.details, null, 2)}\n`);
    } else process.stderr.write(`furrow: ${(e as Error).message}\n`);
    process.exitCode = 1;
  }
}
