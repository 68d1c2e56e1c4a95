/**
 * The transcription benchmark: does the recogniser get better from corrected transcripts, and which clips are
 * worth correcting? For each domain built by `npm run bench:speech-data`:
 *  1. decode the gold set (and the 5 real LibriVox clips, the canary) with the stock model;
 *  2. for N corrected pool clips drawn at random (seeded), build a model from their reference texts
 *     (models/speech/adapt.ts: domain LM interpolated with the general LM + espeak-ng pronunciations), load it,
 *     decode the gold set and the canary again: the learning curve;
 *  3. the same with the N clips chosen by lowest stock confidence and by the coverage rule
 *     (pipelines/speech/selection.ts): the selection comparison.
 * Runs go in priority order (stock, the curve with the first seed, then selection and the other seeds) and the
 * JSON is rewritten after every run, so a run cut short keeps what it measured.
 *
 *   npm run bench:transcribe                          # default plan: 26 decodes of 90 gold clips + the pool, ≈ 35 min on 2 idle cores (estimated), 2-3× that at load 10
 *   npm run bench:transcribe -- --quick               # smoke run, a few minutes
 *   npm run bench:transcribe -- --domains pharmacy --gold-sentences 100 --sizes 50,200 --selection-sizes ''
 *
 * Options: --domains, --sizes (random curve, first seed), --seeds, --seed-sizes (sizes also run with the other
 * seeds), --selection-sizes, --strategies, --gold-sentences (of the gold set's 100; 3 clips each; 0 = all),
 * --report <result.json> (print its tables as Markdown, run nothing), --pool-limit (0 = all), --selection-pool (how many pool clips the confidence-based rules choose from, the first
 * ones of the shuffled pool; 0 = all; decoding them is the rules' cost), --workers, --data, --out, --quick. Output: bench/results/transcribe-<date>.json.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { buildSpeechModel } from '../models/speech/adapt.ts';
import { loadLexicon } from '../models/speech/lexicon.ts';
import { createPocketsphinxPool, type Recognizer, type Transcription } from '../models/speech/recognizer.ts';
import { tokens } from '../models/speech/text.ts';
import { cer } from '../models/speech/wer.ts';
import { speechEngineAvailable } from '../models/speech/native.ts';
import { type CorrectionStrategy, selectForCorrection } from '../pipelines/speech/selection.ts';
import { pcmDurationMs, pcmToRaw, readWav } from '../pipelines/speech/wav.ts';
import { benchDataDir } from './lib/bench-tasks.ts';
import { transcribeReport } from './lib/transcribe-report.ts';
import { readSpeechManifest, type SpeechManifestRow, speechDomainDir } from './lib/speech-manifest.ts';
import { bootstrapInterval, corpusWordErrorRate, errorCapture, type ScoredClip, alignTokens, wordConfidenceAuc, wordRecall } from './lib/transcribe-metrics.ts';

const { values: args } = parseArgs({
  options: {
    domains: { type: 'string', default: 'produce,pharmacy' },
    sizes: { type: 'string', default: '25,50,100,200' },
    seeds: { type: 'string', default: '1,2,3' },
    'seed-sizes': { type: 'string', default: '50,100' },
    'selection-sizes': { type: 'string', default: '50,100' },
    strategies: { type: 'string', default: 'lowest-confidence,coverage' },
    'gold-sentences': { type: 'string', default: '30' },
    'pool-limit': { type: 'string', default: '0' },
    'selection-pool': { type: 'string', default: '0' },
    workers: { type: 'string', default: '2' },
    'lm-weight': { type: 'string', default: '0.5' },
    data: { type: 'string' },
    out: { type: 'string', default: 'bench/results' },
    quick: { type: 'boolean', default: false },
    'skip-stock': { type: 'boolean', default: false },
    report: { type: 'string' },
  },
});
const list = (s: string) => s.split(',').filter(Boolean);
const nums = (s: string) => list(s).map(Number);
const Q = args.quick;
const OPT = {
  domains: list(args.domains),
  sizes: Q ? [10, 20] : nums(args.sizes),
  seeds: Q ? [1, 2] : nums(args.seeds),
  seedSizes: Q ? [20] : nums(args['seed-sizes']),
  selectionSizes: Q ? [20] : nums(args['selection-sizes']),
  strategies: list(args.strategies) as CorrectionStrategy[],
  goldSentences: Q ? 5 : Number(args['gold-sentences']),
  poolLimit: Q ? 40 : Number(args['pool-limit']),
  selectionPool: Number(args['selection-pool']),
  workers: Number(args.workers),
  /** Weight of the domain LM against the general one (settings.transcription.lmWeight). */
  lmWeight: Number(args['lm-weight']),
};
const DATA = args.data ?? benchDataDir();
const CANARY_DIR = '/usr/share/pocketsphinx/test/data/librivox';
const log = (m: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${m}\n`);
const r4 = (x: number) => (Number.isFinite(x) ? Math.round(x * 1e4) / 1e4 : null);

interface Clip {
  id: string;
  raw: string;
  text: string;
  durationMs: number;
  row?: SpeechManifestRow;
}

interface Decoded {
  clip: Clip;
  t: Transcription | null;
}

/** Writes each clip's headerless PCM once into `dir` (the worker reads raw s16le). */
function toRaw(dir: string, id: string, wavPath: string): { raw: string; durationMs: number } {
  const pcm = readWav(fs.readFileSync(wavPath));
  if (pcm.sampleRate !== 16_000 || pcm.channels !== 1) throw new Error(`${wavPath}: expected 16 kHz mono, got ${pcm.sampleRate} Hz × ${pcm.channels}`);
  const raw = path.join(dir, `${id}.raw`);
  fs.writeFileSync(raw, pcmToRaw(pcm));
  return { raw, durationMs: pcmDurationMs(pcm) };
}

/** The first k gold sentences keeping the set's seen/held-out mix (70/30), all three clips of each. */
function goldSubset(rows: SpeechManifestRow[], k: number): SpeechManifestRow[] {
  const gold = rows.filter((r) => r.split === 'gold');
  if (!k) return gold;
  const sentences: SpeechManifestRow[][] = [];
  for (const r of gold) {
    const last = sentences.at(-1);
    if (last && last[0].text === r.text) last.push(r);
    else sentences.push([r]);
  }
  const unseenWanted = Math.round(k * (sentences.filter((s) => s[0].heldOut).length / sentences.length));
  const seen = sentences.filter((s) => !s[0].heldOut).slice(0, k - unseenWanted);
  const unseen = sentences.filter((s) => s[0].heldOut).slice(0, unseenWanted);
  return [...seen, ...unseen].flat();
}

function readCanary(dir: string): Clip[] {
  const file = path.join(CANARY_DIR, 'transcription');
  if (!fs.existsSync(file)) return [];
  const clips: Clip[] = [];
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const m = line.match(/^<s>\s*(.*?)\s*<\/s>\s*\(([^)]+)\)/);
    if (!m) continue;
    const wav = path.join(CANARY_DIR, `${m[2]}.wav`);
    if (!fs.existsSync(wav)) continue;
    clips.push({ id: `canary-${m[2]}`, text: m[1], ...toRaw(dir, `canary-${m[2]}`, wav) });
  }
  return clips;
}

async function decodeAll(rec: Recognizer, clips: Clip[]): Promise<Decoded[]> {
  return Promise.all(
    clips.map(async (clip) => {
      try {
        return { clip, t: await rec.transcribe(clip.raw, { durationMs: clip.durationMs }) };
      } catch (err) {
        log(`${clip.id}: ${err instanceof Error ? err.message : err}`);
        return { clip, t: null };
      }
    }),
  );
}

function scored(d: Decoded): ScoredClip {
  const ref = tokens(d.clip.text);
  const hypText = d.t?.text ?? '';
  const refChars = ref.join(' ').length;
  return {
    ref,
    hyp: tokens(hypText),
    hypConfidence: d.t?.words.map((w) => w.confidence) ?? [],
    confidence: d.t?.confidence ?? 0,
    charErrors: Math.round(cer(d.clip.text, hypText) * Math.max(1, refChars)),
    refChars,
  };
}

/** Everything measured on one decode of the gold set. */
function goldReport(decoded: Decoded[], rare: ReadonlySet<string>, taught: ReadonlySet<string>) {
  const clips = decoded.map(scored);
  const counts = clips.map((c) => ({ e: alignTokens(c.ref, c.hyp).errors, n: c.ref.length, ce: c.charErrors, cn: c.refChars }));
  const rate = (s: readonly { e: number; n: number }[]) =>
    s.reduce((a, x) => a + x.e, 0) /
    Math.max(
      1,
      s.reduce((a, x) => a + x.n, 0),
    );
  const crate = (s: readonly { ce: number; cn: number }[]) =>
    s.reduce((a, x) => a + x.ce, 0) /
    Math.max(
      1,
      s.reduce((a, x) => a + x.cn, 0),
    );
  const subset = (pred: (r: SpeechManifestRow) => boolean) => r4(corpusWordErrorRate(clips.filter((_, i) => pred(decoded[i].clip.row!))));
  const cpuMs = decoded.reduce((s, d) => s + (d.t?.cpuMs ?? 0), 0);
  const audioMs = decoded.reduce((s, d) => s + d.clip.durationMs, 0);
  const capture = errorCapture(clips, 0.2);
  const untaught = new Set([...rare].filter((w) => !taught.has(w)));
  return {
    clips: clips.length,
    refWords: counts.reduce((s, c) => s + c.n, 0),
    failed: decoded.filter((d) => !d.t).length,
    wer: r4(rate(counts)),
    werCi95: bootstrapInterval(counts, rate, 1000, 7).map(r4),
    cer: r4(crate(counts)),
    cerCi95: bootstrapInterval(counts, crate, 1000, 7).map(r4),
    werByCondition: {
      espeak: subset((r) => r.condition === 'espeak'),
      flite: subset((r) => r.condition === 'flite'),
      fliteNoisy: subset((r) => r.condition === 'flite-noisy'),
    },
    werSeenTemplates: subset((r) => !r.heldOut),
    werHeldOutTemplates: subset((r) => r.heldOut),
    rareWordRecall: { ...wordRecall(clips, rare), recall: r4(wordRecall(clips, rare).recall) },
    rareWordRecallTaught: r4(wordRecall(clips, new Set([...rare].filter((w) => taught.has(w)))).recall),
    rareWordRecallNotTaught: r4(wordRecall(clips, untaught).recall),
    errorsInLeastConfident20: { lowestConfidence: r4(capture.lowestConfidence), random: r4(capture.random), oracle: r4(capture.oracle) },
    wordAuc: r4(wordConfidenceAuc(clips)),
    decodeCpuSeconds: r4(cpuMs / 1000),
    audioSeconds: r4(audioMs / 1000),
    cpuPerAudioSecond: r4(cpuMs / Math.max(1, audioMs)),
  };
}

function canaryReport(decoded: Decoded[]) {
  if (!decoded.length) return null;
  const clips = decoded.map(scored);
  return { clips: clips.length, refWords: clips.reduce((s, c) => s + c.ref.length, 0), wer: r4(corpusWordErrorRate(clips)) };
}

type Arm = 'stock' | 'random' | CorrectionStrategy;
interface Job {
  tier: number;
  domain: string;
  arm: Arm;
  n: number;
  seed: number | null;
}

function plan(): Job[] {
  const jobs: Job[] = [];
  const [first, ...others] = OPT.seeds;
  if (!args['skip-stock']) for (const domain of OPT.domains) jobs.push({ tier: 0, domain, arm: 'stock', n: 0, seed: null });
  for (const n of OPT.sizes) for (const domain of OPT.domains) jobs.push({ tier: 1, domain, arm: 'random', n, seed: first });
  const tier2 = [...new Set([...OPT.selectionSizes, ...OPT.seedSizes])];
  for (const n of tier2) {
    for (const domain of OPT.domains) {
      if (OPT.selectionSizes.includes(n)) for (const s of OPT.strategies) jobs.push({ tier: 2, domain, arm: s, n, seed: null });
      if (OPT.seedSizes.includes(n)) for (const seed of others) jobs.push({ tier: 2, domain, arm: 'random', n, seed });
    }
  }
  return jobs;
}

async function main() {
  if (!speechEngineAvailable())
    throw new Error('the speech engine is not available: apt-get install -y gcc pkg-config libpocketsphinx-dev libsphinxbase-dev pocketsphinx-en-us');
  const started = new Date();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'furrow-bench-transcribe-'));
  const outFile = path.join(args.out, `transcribe-${started.toISOString().slice(0, 10)}${Q ? '-quick' : ''}.json`);
  let commit = '?';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {}
  const lexicon = await loadLexicon();
  const canary = readCanary(tmp);
  const domains: Record<string, { gold: Clip[]; pool: Clip[]; rare: Set<string> }> = {};
  for (const name of OPT.domains) {
    const rows = readSpeechManifest(name, DATA);
    const dir = speechDomainDir(name, DATA);
    const asClip = (r: SpeechManifestRow): Clip => ({ id: r.id, text: r.text, row: r, ...toRaw(tmp, r.id, path.join(dir, r.path)) });
    const gold = goldSubset(rows, OPT.goldSentences).map(asClip);
    const poolRows = rows.filter((r) => r.split === 'pool');
    const pool = (OPT.poolLimit ? poolRows.slice(0, OPT.poolLimit) : poolRows).map(asClip);
    const rare = new Set(gold.flatMap((c) => tokens(c.text)).filter((w) => !lexicon.has(w)));
    domains[name] = { gold, pool, rare };
    log(
      `${name}: ${gold.length} gold clips (${(gold.reduce((s, c) => s + c.durationMs, 0) / 60_000).toFixed(1)} min), ${pool.length} pool clips, ${rare.size} gold words missing from cmudict`,
    );
  }
  const result: any = {
    benchmark: 'transcribe',
    command: `npm run bench:transcribe -- ${process.argv.slice(2).join(' ')}`.trim(),
    commit,
    started: started.toISOString(),
    options: OPT,
    host: { cpus: os.cpus().length, loadAverageAtStart: os.loadavg().map((x) => r4(x)) },
    runs: [] as unknown[],
    poolStock: {} as Record<string, unknown>,
  };
  const save = () => {
    fs.mkdirSync(path.dirname(outFile), { recursive: true });
    fs.writeFileSync(outFile, JSON.stringify(result, null, 2) + '\n');
  };
  const rec = await createPocketsphinxPool({ size: OPT.workers, workDir: path.join(tmp, 'models') });
  const stockWer: Record<string, number> = {};
  const poolDecoded: Record<string, Decoded[]> = {};
  let version = 0;
  try {
    for (const job of plan()) {
      const d = domains[job.domain];
      const t0 = Date.now();
      let corrected: Clip[] = [];
      let retrain: Record<string, unknown> | null = null;
      if (job.arm === 'stock') {
        if (rec.modelVersion !== 0) await rec.load({ version: 0 });
      } else {
        let ids: string[];
        if (job.arm === 'random') {
          // One permutation per seed, so the seed's N = 25 clips are among its N = 50: a curve, not unrelated draws.
          ids = selectForCorrection(
            d.pool.map((c) => ({ id: c.id, confidence: 0, words: [] })),
            job.n,
            'random',
            { seed: job.seed ?? 1 },
          );
        } else {
          if (!poolDecoded[job.domain]) {
            if (rec.modelVersion !== 0) await rec.load({ version: 0 });
            log(`${job.domain}: decoding the pool with the stock model for selection`);
            // A random sample of the pool (the manifest's pool order is a seeded shuffle): random draws from the
            // whole pool and rule-based picks from this sample face the same population.
            poolDecoded[job.domain] = await decodeAll(rec, OPT.selectionPool ? d.pool.slice(0, OPT.selectionPool) : d.pool);
            const ps = poolDecoded[job.domain].map(scored);
            result.poolStock[job.domain] = {
              clips: ps.length,
              wer: r4(corpusWordErrorRate(ps)),
              errorsInLeastConfident20: errorCapture(ps, 0.2),
              cpuPerAudioSecond: r4(
                poolDecoded[job.domain].reduce((s, x) => s + (x.t?.cpuMs ?? 0), 0) / poolDecoded[job.domain].reduce((s, x) => s + x.clip.durationMs, 0),
              ),
            };
          }
          const candidates = poolDecoded[job.domain].map(({ clip, t }) => ({
            id: clip.id,
            confidence: t?.confidence ?? 0,
            words: t?.words.map((w) => ({ word: w.word, confidence: w.confidence })) ?? [],
          }));
          ids = selectForCorrection(candidates, job.n, job.arm);
        }
        const byId = new Map(d.pool.map((c) => [c.id, c]));
        corrected = ids.map((id) => byId.get(id)!);
        const cpu0 = process.cpuUsage();
        const b0 = Date.now();
        const model = await buildSpeechModel({ version: ++version, sentences: corrected.map((c) => c.text), lmWeight: OPT.lmWeight });
        const buildMs = Date.now() - b0;
        const cpu = process.cpuUsage(cpu0);
        const l0 = Date.now();
        await rec.load(model);
        retrain = {
          sentences: corrected.length,
          extraWords: model.extraDict?.length ?? 0,
          buildSeconds: r4(buildMs / 1000),
          buildNodeCpuSeconds: r4((cpu.user + cpu.system) / 1e6),
          loadSeconds: r4((Date.now() - l0) / 1000),
          totalSeconds: r4((Date.now() - b0) / 1000),
        };
      }
      const taught = new Set(corrected.flatMap((c) => tokens(c.text)).filter((w) => d.rare.has(w)));
      const gold = goldReport(await decodeAll(rec, d.gold), d.rare, taught);
      const can = canaryReport(await decodeAll(rec, canary));
      if (job.arm === 'stock') stockWer[job.domain] = gold.wer ?? Number.NaN;
      const run = {
        domain: job.domain,
        arm: job.arm,
        n: job.n,
        seed: job.seed,
        tier: job.tier,
        correctedTemplates: new Set(corrected.map((c) => c.row!.template)).size,
        correctedConditions: Object.fromEntries(['espeak', 'flite', 'flite-noisy'].map((k) => [k, corrected.filter((c) => c.row!.condition === k).length])),
        goldRareWordsTaught: `${taught.size}/${d.rare.size}`,
        relativeWerReduction: job.arm === 'stock' || !(job.domain in stockWer) ? null : r4(1 - (gold.wer ?? 0) / stockWer[job.domain]),
        gold,
        canary: can,
        retrain,
        wallSeconds: r4((Date.now() - t0) / 1000),
      };
      result.runs.push(run);
      result.finished = new Date().toISOString();
      save();
      log(
        `${job.domain} ${job.arm} N=${job.n}${job.seed ? ` seed ${job.seed}` : ''}: WER ${gold.wer} [${gold.werCi95.join(', ')}], rare recall ${gold.rareWordRecall.recall}, ` +
          `canary ${can?.wer ?? '-'}, ${gold.cpuPerAudioSecond} CPU-s/audio-s, ${run.wallSeconds} s`,
      );
    }
  } finally {
    await rec.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  process.stdout.write(JSON.stringify({ out: outFile, runs: result.runs.length }, null, 2) + '\n');
}

if (args.report) process.stdout.write(transcribeReport(JSON.parse(fs.readFileSync(args.report, 'utf8'))) + '\n');
else
  main().catch((e) => {
    log(e instanceof Error ? (e.stack ?? e.message) : String(e));
    process.exit(1);
  });
