/**
 * The figures in docs/speech-engine.md: canary WER and decode cost, worker load time per model kind, G2P batch
 * cost, LM build time for 200 sentences. Run: npx tsx scripts/speech-engine-figures.ts
 * Times are process CPU where the engine reports it (the machine is shared), wall time otherwise.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSpeechModel } from '../models/speech/adapt.ts';
import { buildArpa } from '../models/speech/arpa.ts';
import { g2p } from '../models/speech/g2p.ts';
import { loadLexicon } from '../models/speech/lexicon.ts';
import { ensureWorkerBinary, STOCK_MODEL } from '../models/speech/native.ts';
import { createPocketsphinxPool } from '../models/speech/recognizer.ts';
import { corpusWer } from '../models/speech/wer.ts';

const LIBRIVOX = '/usr/share/pocketsphinx/test/data/librivox';
const dir = mkdtempSync(join(tmpdir(), 'furrow-speech-figures-'));
const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;
const toRaw = (wav: string, raw: string) => (execFileSync('sox', [wav, '-t', 'raw', '-r', '16000', '-c', '1', '-b', '16', '-e', 'signed-integer', raw]), raw);

// 200 domain sentences from templates (fixed order, no randomness), like the study's farm-produce orders.
const ITEMS = ['celeriac', 'romanesco', 'tatsoi', 'kohlrabi', 'sunchokes', 'shishito peppers', 'purslane', 'microgreens', 'butternut squash', 'leeks'];
const NUMS = ['two', 'three', 'five', 'twelve', 'twenty', 'forty'];
const UNITS = ['crates', 'boxes', 'pallets', 'cases'];
const WHO = ['riverside bistro', 'the corner market', 'green table cafe', 'harbor kitchen', 'the school canteen'];
const TEMPLATES = [
  (n: number) => `please add ${NUMS[n % 6]} ${UNITS[n % 4]} of ${ITEMS[n % 10]}`,
  (n: number) => `invoice ${WHO[n % 5]} for ${NUMS[(n + 1) % 6]} ${UNITS[(n + 2) % 4]} of ${ITEMS[(n + 3) % 10]}`,
  (n: number) => `send ${NUMS[(n + 2) % 6]} ${UNITS[(n + 1) % 4]} of ${ITEMS[(n + 7) % 10]} to ${WHO[(n + 1) % 5]} on monday`,
  (n: number) => `we are out of ${ITEMS[(n + 5) % 10]} until next week`,
];
// Sentence i uses template i % 4 with n = i / 4 (0..49), so every template meets every item.
const sentences = Array.from({ length: 200 }, (_, i) => TEMPLATES[i % 4](Math.floor(i / 4)));

async function workerLoadCpu(binary: string, args: string[]): Promise<number> {
  // The worker exits at EOF right after {"ready":true}; its CPU time is the model load.
  const r = spawnSync('/usr/bin/time', ['-f', '%U %S', binary, ...args], { input: '', encoding: 'utf8' });
  const [u, s] = r.stderr.trim().split('\n').pop()!.split(' ').map(Number);
  return (u + s) * 1000;
}

const out: Record<string, unknown> = {};
try {
  // LM build and G2P
  let t0 = process.hrtime.bigint();
  const arpa = buildArpa(sentences);
  out.arpa200Ms = ms(t0);
  t0 = process.hrtime.bigint();
  await loadLexicon();
  out.lexiconLoadMs = ms(t0);
  t0 = process.hrtime.bigint();
  const model = await buildSpeechModel({ version: 1, sentences });
  out.buildSpeechModel200Ms = ms(t0);
  out.extraWords = model.extraDict?.map(([w]) => w);
  const lex = [...(await loadLexicon())].filter((w) => /^[a-z]+$/.test(w)).slice(5000, 5100);
  t0 = process.hrtime.bigint();
  await g2p(['celeriac']);
  out.g2p1WordMs = ms(t0);
  t0 = process.hrtime.bigint();
  await g2p(lex);
  out.g2p100WordsBatchMs = ms(t0);
  t0 = process.hrtime.bigint();
  for (const w of lex.slice(0, 20)) await g2p([w]);
  out.g2p20SingleCallsMs = ms(t0);

  // Worker load (CPU) per model kind
  const binary = await ensureWorkerBinary();
  const base = ['-hmm', STOCK_MODEL.hmm, '-lm', STOCK_MODEL.lm, '-dict', STOCK_MODEL.dict];
  writeFileSync(join(dir, 'domain.lm'), arpa);
  writeFileSync(join(dir, 'extra.dict'), `${model.extraDict!.map(([w, p]) => `${w} ${p}`).join('\n')}\n`);
  writeFileSync(join(dir, 'full.dict'), `${readFileSync(STOCK_MODEL.dict, 'utf8')}${readFileSync(join(dir, 'extra.dict'), 'utf8')}`);
  const loads: Record<string, number[]> = { stock: [], mixXdict: [], mixFullDict: [] };
  for (let i = 0; i < 3; i++) {
    loads.stock.push(await workerLoadCpu(binary, base));
    loads.mixXdict.push(await workerLoadCpu(binary, [...base, '-lm2', join(dir, 'domain.lm'), '-w2', '0.5', '-xdict', join(dir, 'extra.dict')]));
    loads.mixFullDict.push(
      await workerLoadCpu(binary, [
        '-hmm',
        STOCK_MODEL.hmm,
        '-lm',
        STOCK_MODEL.lm,
        '-dict',
        join(dir, 'full.dict'),
        '-lm2',
        join(dir, 'domain.lm'),
        '-w2',
        '0.5',
      ]),
    );
  }
  out.workerLoadCpuMs = Object.fromEntries(Object.entries(loads).map(([k, v]) => [k, Math.min(...v)]));

  // Canary through the pool, stock then adapted (the adapted model must not hurt general speech much)
  const refs = new Map<string, string>();
  for (const line of readFileSync(join(LIBRIVOX, 'transcription'), 'utf8').split('\n')) {
    const m = /^<s> (.*) <\/s> \((.*)\)$/.exec(line.trim());
    if (m) refs.set(m[2], m[1]);
  }
  const raws = [...refs.keys()].map((id) => toRaw(join(LIBRIVOX, `${id}.wav`), join(dir, `${id}.raw`)));
  const audioS = raws.reduce((s, r) => s + statSync(r).size / 32000, 0);
  t0 = process.hrtime.bigint();
  const pool = await createPocketsphinxPool({ size: 2, workDir: join(dir, 'models') });
  out.poolStartWallMs = ms(t0);
  for (const m of [{ version: 0 }, model]) {
    if (m.version > 0) {
      t0 = process.hrtime.bigint();
      await pool.load(m);
      out.poolLoadAdaptedWallMs = ms(t0);
    }
    const res = await Promise.all(raws.map((r) => pool.transcribe(r)));
    out[`canaryV${m.version}`] = {
      wer: corpusWer([...refs.values()].map((ref, i) => ({ ref, hyp: res[i].text }))),
      cpuSecondsPerAudioSecond: res.reduce((s, r) => s + r.cpuMs, 0) / 1000 / audioS,
      audioSeconds: audioS,
    };
  }
  // Decode cost and recognition on synthetic domain clips, adapted model
  const clips = ['please add twelve crates of romanesco', 'invoice harbor kitchen for five boxes of tatsoi', 'we are out of kohlrabi until next week'].map(
    (text, i) => {
      execFileSync('flite', ['-voice', 'slt', '-t', text, '-o', join(dir, `d${i}.wav`)]);
      return { text, raw: toRaw(join(dir, `d${i}.wav`), join(dir, `d${i}.raw`)) };
    },
  );
  const dres = await Promise.all(clips.map((c) => pool.transcribe(c.raw)));
  out.domainClipsV1 = {
    wer: corpusWer(clips.map((c, i) => ({ ref: c.text, hyp: dres[i].text }))),
    cpuSecondsPerAudioSecond: dres.reduce((s, r) => s + r.cpuMs, 0) / 1000 / clips.reduce((s, c) => s + statSync(c.raw).size / 32000, 0),
    hyps: dres.map((r) => r.text),
  };
  // MLLR from 8 espeak clips (the voice furthest from the model), tested on 4 held-out espeak clips
  const speak = (text: string, name: string) => {
    execFileSync('espeak-ng', ['-v', 'en-us', '-s', '170', '-w', join(dir, `${name}.wav`), text]);
    return { text, rawPath: toRaw(join(dir, `${name}.wav`), join(dir, `${name}.raw`)) };
  };
  const train = [
    'please add twelve crates of celeriac',
    'we need six boxes of leeks for the bistro',
    'invoice the market for twenty pallets of celeriac',
    'send three cases of tatsoi on monday',
    'the kale is out of stock',
    'add two boxes of tatsoi to the order',
    'deliver forty crates of squash on friday',
    'we are out of celeriac until next week',
  ].map((t, i) => speak(t, `mt${i}`));
  const test = [
    'please add four crates of celeriac',
    'send ten boxes of leeks to the market',
    'we need more tatsoi on friday',
    'invoice the bistro for six cases of kale',
  ].map((t, i) => speak(t, `me${i}`));
  const espeakWer = async () => corpusWer(await Promise.all(test.map(async (c) => ({ ref: c.text, hyp: (await pool.transcribe(c.rawPath)).text }))));
  const trainText = train.map((c) => c.text);
  await pool.load(await buildSpeechModel({ version: 2, sentences: trainText }));
  const lmOnly = await espeakWer();
  t0 = process.hrtime.bigint();
  const withMllr = await buildSpeechModel({ version: 3, sentences: trainText, clips: train, workDir: join(dir, 'mllr') });
  const coldMs = ms(t0);
  t0 = process.hrtime.bigint();
  await buildSpeechModel({ version: 4, sentences: trainText, clips: train, workDir: join(dir, 'mllr') });
  const warmMs = ms(t0);
  await pool.load(withMllr);
  out.mllrEspeak = { werLmOnly: lmOnly, werLmPlusMllr: await espeakWer(), buildMsFirst: coldMs, buildMsAfter: warmMs };
  await pool.close();
  console.log(JSON.stringify(out, null, 2));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
