/**
 * Builds the transcription benchmark's audio from text, offline, with Debian's flite, espeak-ng and sox
 * (pipelines/speech/synthesize.ts): per domain a pool of clips to "correct" and a gold set of 100 sentences × 3
 * voice conditions (espeak-ng, clean flite, noisy flite), 70 sentences from the pool's templates and 30 from
 * templates the pool never uses. Writes
 *   ${FURROW_BENCH_DATA:-/var/tmp/furrow-bench-data}/speech/<domain>/{pool,gold}/<id>.wav
 *   ${FURROW_BENCH_DATA:-/var/tmp/furrow-bench-data}/speech/<domain>/manifest.jsonl
 * and prints a JSON summary. Idempotent: a clip whose file exists and whose manifest line has the same text,
 * voice and noise is not synthesised again; files no longer in the plan are removed. Nothing is downloaded.
 *
 *   apt-get install -y flite espeak-ng sox        # once, as root
 *   npm run bench:speech-data                     # both domains
 *   npm run bench:speech-data -- --domains pharmacy --pool 300
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { type ClipPlan, domainVocabulary, findDomain, planDomainClips, SPEECH_DOMAINS } from '../pipelines/speech/corpora.ts';
import { speechToolsAvailable, synthesizeClip } from '../pipelines/speech/synthesize.ts';
import { readWav, pcmDurationMs } from '../pipelines/speech/wav.ts';
import { benchDataDir } from './lib/bench-tasks.ts';
import { childCpuSeconds, type SpeechManifestRow, speechDomainDir } from './lib/speech-manifest.ts';

const { values: args } = parseArgs({
  options: {
    domains: { type: 'string', default: Object.keys(SPEECH_DOMAINS).join(',') },
    out: { type: 'string' },
    seed: { type: 'string', default: '11' },
    pool: { type: 'string', default: '240' },
    'gold-seen': { type: 'string', default: '70' },
    'gold-unseen': { type: 'string', default: '30' },
    concurrency: { type: 'string', default: '2' },
  },
});
const ROOT = args.out ?? benchDataDir();
const log = (m: string) => process.stderr.write(m + '\n');

const sameClip = (a: SpeechManifestRow | undefined, c: ClipPlan) =>
  a !== undefined && a.text === c.text && a.voice === c.voice && a.noiseDb === (c.noiseDb ?? null);

async function buildDomain(name: string) {
  const domain = findDomain(name);
  const dir = speechDomainDir(name, ROOT);
  const plan = planDomainClips(domain, {
    pool: Number(args.pool),
    goldSeen: Number(args['gold-seen']),
    goldUnseen: Number(args['gold-unseen']),
    seed: Number(args.seed),
  });
  for (const split of ['pool', 'gold']) fs.mkdirSync(path.join(dir, split), { recursive: true });
  const manifestPath = path.join(dir, 'manifest.jsonl');
  const previous = new Map<string, SpeechManifestRow>();
  if (fs.existsSync(manifestPath)) {
    for (const line of fs.readFileSync(manifestPath, 'utf8').split('\n').filter(Boolean)) {
      const row = JSON.parse(line) as SpeechManifestRow;
      previous.set(row.id, row);
    }
  }
  const rows: SpeechManifestRow[] = new Array(plan.length);
  let built = 0;
  let skipped = 0;
  let next = 0;
  const started = Date.now();
  const worker = async () => {
    while (next < plan.length) {
      const i = next++;
      const c = plan[i];
      const rel = path.join(c.split, `${c.id}.wav`);
      const abs = path.join(dir, rel);
      let durationMs: number;
      if (sameClip(previous.get(c.id), c) && fs.existsSync(abs)) {
        durationMs = pcmDurationMs(readWav(fs.readFileSync(abs)));
        skipped++;
      } else {
        durationMs = (await synthesizeClip({ text: c.text, voice: c.voice, noiseDb: c.noiseDb, outPath: abs })).durationMs;
        built++;
        if (built % 100 === 0) log(`${name}: ${built} clips synthesised (${((Date.now() - started) / 1000).toFixed(0)} s)`);
      }
      rows[i] = {
        id: c.id,
        path: rel,
        text: c.text,
        voice: c.voice,
        noiseDb: c.noiseDb ?? null,
        condition: c.condition,
        template: c.template,
        heldOut: c.heldOut,
        split: c.split,
        durationMs: Math.round(durationMs),
      };
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Number(args.concurrency)) }, worker));
  // Files of an older plan (other sizes or seed) would otherwise sit beside the manifest and confuse a reader.
  const keep = new Set(rows.map((r) => r.path));
  let removed = 0;
  for (const split of ['pool', 'gold']) {
    for (const f of fs.readdirSync(path.join(dir, split))) {
      if (!keep.has(path.join(split, f))) fs.rmSync(path.join(dir, split, f)), removed++;
    }
  }
  fs.writeFileSync(manifestPath, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  const splitStats = (split: 'pool' | 'gold') => {
    const of = rows.filter((r) => r.split === split);
    const byCondition: Record<string, number> = {};
    for (const r of of) byCondition[r.condition] = (byCondition[r.condition] ?? 0) + 1;
    return {
      clips: of.length,
      sentences: new Set(of.map((r) => r.text)).size,
      heldOutTemplateClips: of.filter((r) => r.heldOut).length,
      audioMinutes: Number((of.reduce((s, r) => s + r.durationMs, 0) / 60_000).toFixed(1)),
      byCondition,
    };
  };
  const vocab = domainVocabulary(domain);
  return {
    domain: name,
    dir,
    built,
    skipped,
    removed,
    vocabulary: vocab.length,
    rareWords: domain.rareWords.length,
    pool: splitStats('pool'),
    gold: splitStats('gold'),
  };
}

async function main() {
  const tools = await speechToolsAvailable();
  const missing = Object.entries(tools)
    .filter(([, ok]) => !ok)
    .map(([t]) => t);
  if (missing.length) throw new Error(`missing ${missing.join(', ')}: apt-get install -y flite espeak-ng sox`);
  const t0 = Date.now();
  const cpu0 = process.cpuUsage();
  const child0 = childCpuSeconds();
  const domains = [];
  for (const name of args.domains.split(',').filter(Boolean)) domains.push(await buildDomain(name));
  const cpu = process.cpuUsage(cpu0);
  const summary = {
    root: ROOT,
    seed: Number(args.seed),
    domains,
    wallSeconds: Number(((Date.now() - t0) / 1000).toFixed(1)),
    cpuSeconds: { node: Number(((cpu.user + cpu.system) / 1e6).toFixed(1)), tools: Number((childCpuSeconds() - child0).toFixed(1)) },
  };
  process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
}

main().catch((e) => {
  log(e instanceof Error ? e.message : String(e));
  process.exit(1);
});
