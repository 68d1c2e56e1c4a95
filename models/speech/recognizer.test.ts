import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SpeechModelError, TranscriptionError } from '../../core/errors.ts';
import { buildSpeechModel } from './adapt.ts';
import { speechEngineAvailable } from './native.ts';
import { createFakeRecognizer, createPocketsphinxPool, type PoolEvent, type Recognizer } from './recognizer.ts';
import { corpusWer } from './wer.ts';

/**
 * A stand-in worker speaking psworker's protocol, so the pool's isolation rules are tested without the engine.
 * Clip basenames choose its behaviour: crash-once-* (segfault the first time), crash-always, hang (idle forever),
 * spin (busy forever), bad, slow-*.
 * A model whose domain LM file says FAIL exits before it is ready.
 */
const FAKE_WORKER = `#!/usr/bin/env node
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
const args = process.argv.slice(2);
const lm2 = args.indexOf('-lm2');
if (lm2 >= 0 && readFileSync(args[lm2 + 1], 'utf8').includes('FAIL')) { console.error('psworker: cannot read language model'); process.exit(2); }
console.log(JSON.stringify({ ready: true }));
createInterface({ input: process.stdin }).on('line', (line) => {
  const { id, raw } = JSON.parse(line);
  const name = raw.split('/').pop();
  const answer = () => console.log(JSON.stringify({ id, text: name, confidence: 0.5, words: [{ word: name, start: 0, end: 1, confidence: 0.5 }], cpuMs: 1 }));
  if (name.startsWith('crash-once') && !existsSync(raw + '.crashed')) { writeFileSync(raw + '.crashed', ''); process.kill(process.pid, 'SIGSEGV'); }
  else if (name === 'crash-always') process.kill(process.pid, 'SIGSEGV');
  else if (name === 'hang') {}
  else if (name === 'spin') for (;;) {}
  else if (name === 'bad') console.log(JSON.stringify({ id, error: 'cannot open the audio file' }));
  else if (name.startsWith('slow')) setTimeout(answer, 300);
  else answer();
});
`;

describe('pocketsphinx pool: isolation and model swaps (fake worker)', () => {
  let dir: string;
  let binaryPath: string;
  let pool: Recognizer;
  const events: PoolEvent[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'furrow-pool-'));
    binaryPath = join(dir, 'fake-worker.mjs');
    writeFileSync(binaryPath, FAKE_WORKER);
    chmodSync(binaryPath, 0o755);
    pool = await createPocketsphinxPool({ size: 2, workDir: join(dir, 'models'), binaryPath, onEvent: (e) => events.push(e) });
  });
  afterAll(async () => {
    await pool?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers clips with the current model version', async () => {
    const t = await pool.transcribe(join(dir, 'hello'));
    expect(t).toMatchObject({ text: 'hello', confidence: 0.5, modelVersion: 0 });
    expect(pool.size).toBe(2);
  });

  it('restarts a worker that dies mid-clip and retries the clip once', async () => {
    const clip = join(dir, 'crash-once-a');
    const t = await pool.transcribe(clip, { durationMs: 1000 });
    expect(t.text).toBe('crash-once-a');
    expect(events).toContainEqual(expect.objectContaining({ type: 'exit', clip, signal: 'SIGSEGV', retry: true }));
    expect(events.filter((e) => e.type === 'dispatch' && e.clip === clip).map((e) => (e as { attempt: number }).attempt)).toEqual([1, 2]);
  });

  it('fails a clip that kills its worker twice with a typed error, and keeps serving', async () => {
    const err = await pool.transcribe(join(dir, 'crash-always')).catch((e) => e);
    expect(err).toBeInstanceOf(TranscriptionError);
    expect(err).toMatchObject({ reason: 'crashed', signal: 'SIGSEGV', exitCode: null, status: 500 });
    expect((await pool.transcribe(join(dir, 'after-crash'))).text).toBe('after-crash');
  });

  it('kills and restarts a worker whose clip overruns its timeout, twice → a timeout error', async () => {
    // Its own pool: a 200 ms clip may take 200 ms here, while the next clip claims a minute of audio.
    // The fake hangs without using CPU, so the wall-time cap (2 × the budget here) is what kills it.
    const quick = await createPocketsphinxPool({
      size: 1,
      workDir: join(dir, 'models-t'),
      binaryPath,
      timeoutFloorMs: 0,
      timeoutMsPerAudioSecond: 1000,
      timeoutWallFactor: 2,
    });
    try {
      const err = await quick.transcribe(join(dir, 'hang'), { durationMs: 200 }).catch((e) => e);
      expect(err).toBeInstanceOf(TranscriptionError);
      expect(err).toMatchObject({ reason: 'timeout', signal: 'SIGKILL' });
      expect(err.message).toMatch(/past its budget \(200 ms of CPU.*twice/);
      expect((await quick.transcribe(join(dir, 'after-hang'), { durationMs: 60_000 })).text).toBe('after-hang');
    } finally {
      await quick.close();
    }
  });

  it('a clip that burns CPU is killed on its CPU budget, long before the wall-time cap', async () => {
    const spin = await createPocketsphinxPool({
      size: 1,
      workDir: join(dir, 'models-s'),
      binaryPath,
      timeoutFloorMs: 0,
      timeoutMsPerAudioSecond: 1000,
      timeoutWallFactor: 10_000, // 50 minutes: only the CPU budget can end this within the test's time
    });
    try {
      await expect(spin.transcribe(join(dir, 'spin'), { durationMs: 300 })).rejects.toMatchObject({ reason: 'timeout', signal: 'SIGKILL' });
    } finally {
      await spin.close();
    }
  });

  it('passes a rejected file on as a 422 without retrying it', async () => {
    const before = events.filter((e) => e.type === 'exit').length;
    const err = await pool.transcribe(join(dir, 'bad')).catch((e) => e);
    expect(err).toMatchObject({ reason: 'rejected', status: 422 });
    expect(events.filter((e) => e.type === 'exit').length).toBe(before);
  });

  it('a model that fails to start rejects load and leaves the old model serving', async () => {
    const err = await pool.load({ version: 7, domainArpa: 'FAIL' }).catch((e) => e);
    expect(err).toBeInstanceOf(SpeechModelError);
    expect(err.message).toMatch(/cannot read language model/);
    expect(pool.modelVersion).toBe(0);
    expect(await pool.transcribe(join(dir, 'still-old'))).toMatchObject({ text: 'still-old', modelVersion: 0 });
  });

  it('swaps models without a gap: in-flight clips finish on the old model, new clips use the new one', async () => {
    const inFlight = pool.transcribe(join(dir, 'slow-1'));
    await pool.load({ version: 1, domainArpa: '\\data\\\n', extraDict: [['celeriac', 'S EH L IH R IY AE K']] });
    expect(pool.modelVersion).toBe(1);
    expect(readFileSync(join(dir, 'models', 'v1', 'extra.dict'), 'utf8')).toBe('celeriac S EH L IH R IY AE K\n');
    const next = await pool.transcribe(join(dir, 'new-model'));
    expect((await inFlight).modelVersion).toBe(0);
    expect(next.modelVersion).toBe(1);
  });

  it('refuses pronunciations outside the model phone set', async () => {
    await expect(pool.load({ version: 2, extraDict: [['x', 'S EH QQ']] })).rejects.toThrow(/ARPAbet/);
    expect(pool.modelVersion).toBe(1);
  });

  it('close rejects queued and later clips', async () => {
    let dispatched!: () => void;
    const started = new Promise<void>((res) => (dispatched = res));
    const small = await createPocketsphinxPool({ size: 1, workDir: join(dir, 'models2'), binaryPath, onEvent: (e) => e.type === 'dispatch' && dispatched() });
    const first = small.transcribe(join(dir, 'slow-2'));
    await started;
    const queued = small.transcribe(join(dir, 'queued')).catch((e) => e);
    await new Promise((res) => setTimeout(res, 20)); // usually long enough for it to reach the queue; 'closed' either way
    await small.close();
    expect(await queued).toMatchObject({ reason: 'closed' });
    await expect(first).resolves.toMatchObject({ text: 'slow-2' }); // in-flight clips finish
    await expect(small.transcribe(join(dir, 'late'))).rejects.toMatchObject({ reason: 'closed' });
  });
});

describe('createPocketsphinxPool start-up', () => {
  it('rejects with SpeechModelError when its first model cannot start, and leaves nothing running', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'furrow-pool-start-'));
    const events: PoolEvent[] = [];
    try {
      writeFileSync(join(dir, 'fake-worker.mjs'), FAKE_WORKER);
      chmodSync(join(dir, 'fake-worker.mjs'), 0o755);
      const err = await createPocketsphinxPool({
        size: 2,
        workDir: join(dir, 'models'),
        binaryPath: join(dir, 'fake-worker.mjs'),
        model: { version: 1, domainArpa: 'FAIL' },
        onEvent: (e) => events.push(e),
      }).catch((e) => e);
      expect(err).toBeInstanceOf(SpeechModelError);
      await new Promise((res) => setTimeout(res, 500)); // past the first restart back-off: none may happen
      expect(events.filter((e) => e.type === 'start')).toHaveLength(2);
      await expect(createPocketsphinxPool({ workDir: join(dir, 'm2'), binaryPath: join(dir, 'missing') })).rejects.toThrow(/ENOENT/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('createFakeRecognizer', () => {
  it('answers from its map, records loads and rejects on request', async () => {
    const fake = createFakeRecognizer({ transcripts: { '/a.raw': 'hello there', '/b.raw': '!reject' }, confidence: 0.8 });
    expect(await fake.transcribe('/a.raw')).toMatchObject({
      text: 'hello there',
      confidence: 0.8,
      modelVersion: 0,
      words: [{ word: 'hello' }, { word: 'there' }],
    });
    expect(await fake.transcribe('/unknown.raw')).toMatchObject({ text: '', confidence: 0, words: [] });
    await expect(fake.transcribe('/b.raw')).rejects.toBeInstanceOf(TranscriptionError);
    await fake.load({ version: 3 });
    expect(fake.modelVersion).toBe(3);
    expect(fake.loaded).toEqual([{ version: 3 }]);
  });
});

const hasTools = ['sox', 'flite'].every((t) => spawnSync(t, ['--version'], { stdio: 'ignore' }).error === undefined);
const LIBRIVOX = '/usr/share/pocketsphinx/test/data/librivox';

describe.skipIf(!speechEngineAvailable() || !hasTools || !existsSync(LIBRIVOX))('pocketsphinx pool (real engine)', () => {
  let dir: string;
  let pool: Recognizer;
  const events: PoolEvent[] = [];
  let hook: ((e: PoolEvent) => void) | undefined;
  const toRaw = (wav: string, raw: string) => {
    const r = spawnSync('sox', [wav, '-t', 'raw', '-r', '16000', '-c', '1', '-b', '16', '-e', 'signed-integer', raw]);
    if (r.status !== 0) throw new Error(`sox failed on ${wav}: ${r.stderr}`);
    return raw;
  };
  const synth = (text: string, name: string) => {
    const wav = join(dir, `${name}.wav`);
    const r = spawnSync('flite', ['-voice', 'slt', '-t', text, '-o', wav]);
    if (r.status !== 0) throw new Error(`flite failed: ${r.stderr}`);
    return toRaw(wav, join(dir, `${name}.raw`));
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'furrow-speech-'));
    const onEvent = (e: PoolEvent) => {
      events.push(e);
      hook?.(e);
    };
    pool = await createPocketsphinxPool({ size: 2, workDir: join(dir, 'models'), onEvent });
  });
  afterAll(async () => {
    await pool?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('canary: the 5 LibriVox clips decode at WER ≤ 0.32 with per-word posteriors (the study measured 0.268)', async () => {
    const refs = new Map<string, string>();
    for (const line of readFileSync(join(LIBRIVOX, 'transcription'), 'utf8').split('\n')) {
      const m = /^<s> (.*) <\/s> \((.*)\)$/.exec(line.trim());
      if (m) refs.set(m[2], m[1]);
    }
    expect(refs.size).toBe(5);
    const ids = [...refs.keys()];
    const out = await Promise.all(ids.map((id) => pool.transcribe(toRaw(join(LIBRIVOX, `${id}.wav`), join(dir, `${id}.raw`)))));
    const wer = corpusWer(ids.map((id, i) => ({ ref: refs.get(id)!, hyp: out[i].text })));
    expect(wer).toBeLessThanOrEqual(0.32);
    for (const t of out) {
      expect(t.modelVersion).toBe(0);
      expect(t.text).toBe(t.words.map((w) => w.word).join(' '));
      expect(t.words.every((w) => w.confidence >= 0 && w.confidence <= 1 && w.end > w.start && !/[<[(]/.test(w.word))).toBe(true);
      expect(t.confidence).toBeCloseTo(t.words.reduce((s, w) => s + w.confidence, 0) / t.words.length, 3);
      expect(new Set(t.words.map((w) => w.confidence)).size).toBeGreaterThan(1); // posteriors were computed, not all 1
    }
  });

  it('a bad file is answered with a typed rejection and the worker keeps serving', async () => {
    const exitsBefore = events.filter((e) => e.type === 'exit').length;
    await expect(pool.transcribe(join(dir, 'missing.raw'))).rejects.toMatchObject({ reason: 'rejected' });
    writeFileSync(join(dir, 'empty.raw'), '');
    await expect(pool.transcribe(join(dir, 'empty.raw'))).rejects.toMatchObject({ reason: 'rejected' });
    expect(events.filter((e) => e.type === 'exit')).toHaveLength(exitsBefore);
  });

  it('a worker killed with SIGKILL mid-clip is restarted and the clip answered', async () => {
    const clip = join(dir, `${basename(LIBRIVOX)}-0870.raw`);
    toRaw(join(LIBRIVOX, 'sense_and_sensibility_01_austen_64kb-0870.wav'), clip);
    hook = (e) => {
      if (e.type === 'dispatch' && e.clip === clip && e.attempt === 1 && e.pid) process.kill(e.pid, 'SIGKILL');
    };
    try {
      const t = await pool.transcribe(clip);
      expect(t.text).toMatch(/leisure to consider/);
    } finally {
      hook = undefined;
    }
    expect(events).toContainEqual(expect.objectContaining({ type: 'exit', clip, signal: 'SIGKILL', retry: true }));
  });

  it('a model whose LM is broken does not replace the stock model', async () => {
    await expect(pool.load({ version: 9, domainArpa: 'not an arpa file\n' })).rejects.toBeInstanceOf(SpeechModelError);
    expect(pool.modelVersion).toBe(0);
  });

  it('domain adaptation: a word cmudict lacks is never output by the stock model, and is after buildSpeechModel', async () => {
    expect(spawnSync('grep', ['-c', '^celeriac ', '/usr/share/pocketsphinx/model/en-us/cmudict-en-us.dict']).stdout.toString().trim()).toBe('0');
    const clips = [
      synth('please add four crates of celeriac', 'd1'),
      synth('send ten boxes of celeriac to the market', 'd2'),
      synth('we need more celeriac on friday', 'd3'),
    ];
    const before = await Promise.all(clips.map((c) => pool.transcribe(c)));
    expect(before.filter((t) => t.text.split(' ').includes('celeriac'))).toHaveLength(0);
    const model = await buildSpeechModel({
      version: 1,
      sentences: [
        'please add twelve crates of celeriac',
        'we need six boxes of celeriac for the bistro',
        'invoice the market for twenty pallets of celeriac',
        'send three cases of celeriac on monday',
        'celeriac is out of stock',
        'add two boxes of tatsoi to the order',
      ],
    });
    expect(model.extraDict?.map(([w]) => w).sort()).toEqual(['celeriac', 'tatsoi']);
    await pool.load(model);
    const after = await Promise.all(clips.map((c) => pool.transcribe(c)));
    expect(after.every((t) => t.modelVersion === 1)).toBe(true);
    expect(after.filter((t) => t.text.split(' ').includes('celeriac')).length).toBeGreaterThanOrEqual(2);
  });
});
