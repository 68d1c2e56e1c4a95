/**
 * The speech-recogniser seam: the rest of Furrow sees text, confidences and model versions, never the engine.
 * The production implementation is a pool of pocketsphinx worker processes (psworker.c): a process per core,
 * each decoding one clip at a time from a shared FIFO. Workers are processes, not an N-API binding, because
 * pocketsphinx 5prealpha segfaults on some inputs (transcription.md §1): a crash costs one restart, not the server.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { SpeechModelError, TranscriptionError, type TranscriptionFailure, ValidationError } from '../../core/errors.ts';
import { ensureWorkerBinary, STOCK_MODEL } from './native.ts';

/** One recognised word; times in seconds from the start of the clip, confidence = word posterior in [0, 1]. */
export interface TranscribedWord {
  word: string;
  start: number;
  end: number;
  confidence: number;
}

/** A clip's transcript: `text` is the words joined by spaces, `confidence` their mean posterior (0 when none). */
export interface Transcription {
  text: string;
  confidence: number;
  words: TranscribedWord[];
  /** Decoder CPU time for this clip in milliseconds. */
  cpuMs: number;
  /** The SpeechModel version that produced it. */
  modelVersion: number;
}

/**
 * A recogniser model. Version 0 with no domain LM is the stock model. `domainArpa` is ARPA text interpolated
 * with the stock general LM at `lmWeight` (default 0.5); `extraDict` adds [word, "PH PH ..."] ARPAbet
 * pronunciations for words the stock dictionary lacks; `mllr` is an mllr_solve transform of the acoustic model.
 */
export interface SpeechModel {
  version: number;
  domainArpa?: string;
  extraDict?: [word: string, phones: string][];
  lmWeight?: number;
  mllr?: string;
}

/** `durationMs` (the clip's length) sets the timeout; without it the length is read from the file's size. */
export interface TranscribeOptions {
  durationMs?: number;
}

export interface Recognizer {
  /** Transcribes a 16 kHz mono signed 16-bit little-endian raw PCM file. Rejects with TranscriptionError. */
  transcribe(rawPath: string, opts?: TranscribeOptions): Promise<Transcription>;
  /**
   * Switches to `model` without a gap: new workers start with it, then the old ones finish their clips and stop.
   * Rejects with SpeechModelError (and keeps the previous model) when the new workers do not start.
   */
  load(model: SpeechModel): Promise<void>;
  /** Stops the workers after their current clips; queued and later calls reject with TranscriptionError 'closed'. */
  close(): Promise<void>;
  /** How many clips can be decoded at once. */
  readonly size: number;
  /** Version of the model new clips are decoded with. */
  readonly modelVersion: number;
}

/** The 39 ARPAbet phones of the en-us acoustic model (its mdef, without SIL). */
export const ARPABET_PHONES: ReadonlySet<string> = new Set(
  'AA AE AH AO AW AY B CH D DH EH ER EY F G HH IH IY JH K L M N NG OW OY P R S SH T TH UH UW V W Y Z ZH'.split(' '),
);

export interface PocketsphinxPoolOptions {
  /** Worker processes (default: one per core). Each holds ~110 MB (~175 MB with a domain LM). */
  size?: number;
  /** Where each model's files are written, `<workDir>/v<version>/`. */
  workDir: string;
  /** The model to start with (default: the stock model, version 0). */
  model?: SpeechModel;
  /**
   * A clip may use this much of its worker's CPU time per second of audio before the worker is killed (default
   * 10,000 ms, ~30× the measured cost).
   */
  timeoutMsPerAudioSecond?: number;
  /** ... but never less than this (default 30,000 ms): short clips still pay the search's fixed costs. */
  timeoutFloorMs?: number;
  /** ... and at most this multiple of that budget in wall time, for a worker that waits instead of working (default 10). */
  timeoutWallFactor?: number;
  /** A worker must print `{"ready":true}` within this long (default 60,000 ms). */
  startTimeoutMs?: number;
  /** A prebuilt worker binary; by default it is built by native.ts into `binaryCacheDir`. */
  binaryPath?: string;
  /** Where native.ts caches the built worker (default `<os.tmpdir()>/furrow-speech`). */
  binaryCacheDir?: string;
  /** Extra arguments for every worker (pocketsphinx flags, e.g. ['-beam', '1e-60']). */
  workerArgs?: string[];
  /** Told of worker starts, clip hand-outs and exits (for logs and metrics; pipelines pass their logger). */
  onEvent?: (event: PoolEvent) => void;
}

/** What the pool tells `onEvent`. `clip` is the raw path; `retry` says whether a dead worker's clip is queued again. */
export type PoolEvent =
  | { type: 'start'; pid: number | undefined; version: number }
  | { type: 'dispatch'; pid: number | undefined; clip: string; attempt: number }
  | { type: 'exit'; pid: number | undefined; version: number; code: number | null; signal: string | null; clip?: string; retry: boolean };

interface Job {
  id: string;
  rawPath: string;
  timeoutMs: number;
  attempts: number;
  resolve: (t: Transcription) => void;
  reject: (err: Error) => void;
}

interface Generation {
  version: number;
  args: string[];
  workers: Set<Worker>;
  /** Workers of this generation that died before becoming ready, in a row. */
  startFailures: number;
}

interface Worker {
  child: ChildProcessWithoutNullStreams;
  gen: Generation;
  ready: Promise<void>;
  isReady: boolean;
  job: Job | null;
  timer?: NodeJS.Timeout;
  timedOut: boolean;
  retiring: boolean;
  stderrTail: string;
}

const MAX_START_FAILURES = 3;

/**
 * Starts a pool of pocketsphinx workers with `opts.model` and resolves once they are all ready. A worker that
 * dies (crash, kill) or overruns its clip's timeout is restarted and the clip retried once; a clip that kills
 * its worker twice rejects with TranscriptionError (reason 'crashed' or 'timeout', with the exit code/signal).
 */
export async function createPocketsphinxPool(opts: PocketsphinxPoolOptions): Promise<Recognizer> {
  const size = Math.max(1, opts.size ?? cpus().length);
  const perSecond = opts.timeoutMsPerAudioSecond ?? 10_000;
  const floor = opts.timeoutFloorMs ?? 30_000;
  const startTimeout = opts.startTimeoutMs ?? 60_000;
  const wallFactor = opts.timeoutWallFactor ?? 10;
  const binary = opts.binaryPath ?? (await ensureWorkerBinary({ cacheDir: opts.binaryCacheDir }));
  const queue: Job[] = [];
  const live = new Set<Worker>();
  let nextId = 0;
  let closed = false;
  let loading: Promise<void> = Promise.resolve();
  const emit = (event: PoolEvent) => opts.onEvent?.(event);

  const startWorker = (gen: Generation): Worker => {
    const child = spawn(binary, gen.args, { stdio: ['pipe', 'pipe', 'pipe'] });
    emit({ type: 'start', pid: child.pid, version: gen.version });
    let markReady!: () => void;
    let failStart!: (err: Error) => void;
    const w: Worker = {
      child,
      gen,
      isReady: false,
      job: null,
      timedOut: false,
      retiring: false,
      stderrTail: '',
      ready: new Promise<void>((res, rej) => {
        markReady = res;
        failStart = rej;
      }),
    };
    w.ready.catch(() => {}); // observed by load(); a restart's failure is handled in onExit
    live.add(w);
    gen.workers.add(w);
    const startTimer = setTimeout(() => child.kill('SIGKILL'), startTimeout);
    child.stdin.on('error', () => {}); // EPIPE when it died; 'close' reports it
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      // pocketsphinx logs INFO lines by the hundred; keep only what explains a failure.
      const useful = d.split('\n').filter((l) => /ERROR|FATAL|psworker|Segmentation|Assertion/.test(l));
      if (useful.length > 0) w.stderrTail = `${w.stderrTail}\n${useful.join('\n')}`.slice(-1500);
    });
    createInterface({ input: child.stdout }).on('line', (line) => onLine(w, line, () => (clearTimeout(startTimer), markReady())));
    let done = false;
    const finish = (code: number | null, signal: string | null) => {
      if (done) return;
      done = true;
      clearTimeout(startTimer);
      if (!w.isReady) failStart(new Error(`exit ${code ?? signal}${w.stderrTail ? `: ${w.stderrTail.trim()}` : ''}`));
      onExit(w, code, signal);
    };
    child.on('error', (err) => {
      w.stderrTail += `\n${err.message}`;
      finish(null, null);
    });
    child.on('close', finish);
    return w;
  };

  const onLine = (w: Worker, line: string, ready: () => void) => {
    let msg: { ready?: boolean; id?: string; error?: string } & Partial<Transcription>;
    try {
      msg = JSON.parse(line);
    } catch {
      return; // not ours (a library writing to stdout); the clip's timeout still guards it
    }
    if (msg.ready) {
      w.isReady = true;
      w.gen.startFailures = 0;
      ready();
      dispatch();
      return;
    }
    const job = w.job;
    if (!job || msg.id !== job.id) return;
    clearTimeout(w.timer);
    w.job = null;
    if (msg.error !== undefined) job.reject(new TranscriptionError(`The recogniser rejected ${job.rawPath}: ${msg.error}`, 'rejected'));
    else
      job.resolve({
        text: msg.text ?? '',
        confidence: msg.confidence ?? 0,
        words: msg.words ?? [],
        cpuMs: msg.cpuMs ?? 0,
        modelVersion: w.gen.version,
      });
    if (w.retiring || closed) w.child.stdin.end();
    dispatch();
  };

  const onExit = (w: Worker, code: number | null, signal: string | null) => {
    live.delete(w);
    w.gen.workers.delete(w);
    clearTimeout(w.timer);
    if (!w.isReady) w.gen.startFailures++;
    const job = w.job;
    const retry = !!job && !closed && job.attempts === 0;
    emit({ type: 'exit', pid: w.child.pid, version: w.gen.version, code, signal, clip: job?.rawPath, retry });
    if (job) {
      w.job = null;
      job.attempts++;
      const reason: TranscriptionFailure = w.timedOut ? 'timeout' : 'crashed';
      if (closed) job.reject(new TranscriptionError('The recogniser was closed.', 'closed'));
      else if (job.attempts >= 2) {
        const how = w.timedOut
          ? `ran past its budget (${job.timeoutMs} ms of CPU, or ${wallFactor}× that in wall time)`
          : `killed the worker (exit ${code ?? signal})`;
        job.reject(new TranscriptionError(`${job.rawPath} ${how} twice${w.stderrTail ? `: ${w.stderrTail.trim()}` : ''}`, reason, code, signal));
      } else queue.unshift(job);
    }
    if (w.gen === current && !closed) replenish();
    dispatch();
  };

  /** Restarts missing workers of the current model, backing off and giving up after repeated start failures. */
  const replenish = () => {
    const gen = current;
    if (gen.startFailures >= MAX_START_FAILURES) {
      if (gen.workers.size === 0) {
        for (const job of queue.splice(0)) job.reject(new TranscriptionError("The recogniser's workers do not start.", 'crashed'));
      }
      return;
    }
    const delay = gen.startFailures === 0 ? 0 : 200 * 2 ** gen.startFailures;
    setTimeout(() => {
      while (gen === current && !closed && gen.workers.size < size) startWorker(gen);
    }, delay).unref();
  };

  const dispatch = () => {
    if (closed) return;
    for (const w of current.workers) {
      if (queue.length === 0) return;
      if (!w.isReady || w.job || w.retiring) continue;
      const job = queue.shift()!;
      w.job = job;
      w.timedOut = false;
      watch(w, job.timeoutMs);
      emit({ type: 'dispatch', pid: w.child.pid, clip: job.rawPath, attempt: job.attempts + 1 });
      w.child.stdin.write(`${JSON.stringify({ id: job.id, raw: job.rawPath })}\n`);
    }
  };

  /**
   * Kills `w` once its clip has used `budgetMs` of the worker's CPU time, or `wallFactor` × budget of wall time.
   * CPU, not wall time, because on a shared machine a starved worker is slow without being stuck: a decoder
   * that loops burns CPU and is caught, one that waits forever is caught by the wall-time cap.
   */
  const watch = (w: Worker, budgetMs: number) => {
    const pid = w.child.pid;
    const cpu0 = processCpuMs(pid);
    const wall0 = Date.now();
    const check = () => {
      const used = cpu0 === null ? Date.now() - wall0 : (processCpuMs(pid) ?? Number.POSITIVE_INFINITY) - cpu0;
      if (used >= budgetMs || Date.now() - wall0 >= budgetMs * wallFactor) {
        w.timedOut = true;
        w.child.kill('SIGKILL');
      } else w.timer = setTimeout(check, Math.max(100, budgetMs - used));
    };
    w.timer = setTimeout(check, budgetMs);
  };

  const newGeneration = async (model: SpeechModel): Promise<Generation> => ({
    version: model.version,
    args: await writeModelFiles(opts.workDir, model, opts.workerArgs ?? []),
    workers: new Set(),
    startFailures: 0,
  });

  /** Starts `size` workers for `gen`; on any failure stops them and rejects with SpeechModelError. */
  const startGeneration = async (gen: Generation) => {
    const workers = Array.from({ length: size }, () => startWorker(gen));
    try {
      await Promise.all(workers.map((w) => w.ready));
    } catch (err) {
      for (const w of workers) w.child.kill('SIGKILL');
      throw new SpeechModelError(`Speech model v${gen.version} did not start: ${(err as Error).message}`, { version: gen.version });
    }
  };

  let current: Generation = await newGeneration(opts.model ?? { version: 0 });
  try {
    await startGeneration(current);
  } catch (err) {
    closed = true; // no pool to hand back: nothing may restart its workers
    throw err;
  }

  return {
    size,
    get modelVersion() {
      return current.version;
    },
    async transcribe(rawPath, topts = {}) {
      if (closed) throw new TranscriptionError('The recogniser was closed.', 'closed');
      const durationMs =
        topts.durationMs ??
        (await stat(rawPath).then(
          (s) => s.size / 32,
          () => 0,
        ));
      const timeoutMs = Math.max(floor, (durationMs / 1000) * perSecond);
      if (closed) throw new TranscriptionError('The recogniser was closed.', 'closed');
      if (current.workers.size === 0 && current.startFailures >= MAX_START_FAILURES) {
        current.startFailures = 0; // a new request tries the workers again
        replenish();
      }
      return new Promise<Transcription>((resolve, reject) => {
        queue.push({ id: String(++nextId), rawPath, timeoutMs, attempts: 0, resolve, reject });
        dispatch();
      });
    },
    load(model) {
      const step = loading.then(async () => {
        if (closed) throw new TranscriptionError('The recogniser was closed.', 'closed');
        const gen = await newGeneration(model);
        await startGeneration(gen);
        if (closed) {
          for (const w of gen.workers) w.child.kill('SIGKILL');
          throw new TranscriptionError('The recogniser was closed.', 'closed');
        }
        const old = current;
        current = gen;
        for (const w of old.workers) {
          w.retiring = true;
          if (!w.job) w.child.stdin.end();
        }
        dispatch();
      });
      loading = step.catch(() => {});
      return step;
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const job of queue.splice(0)) job.reject(new TranscriptionError('The recogniser was closed.', 'closed'));
      const exits = [...live].map(
        (w) => new Promise<void>((res) => (w.child.exitCode !== null || w.child.signalCode !== null ? res() : w.child.once('close', () => res()))),
      );
      for (const w of live) if (!w.job) w.child.stdin.end();
      const force = setTimeout(() => {
        for (const w of live) w.child.kill('SIGKILL');
      }, 10_000);
      await Promise.all(exits);
      clearTimeout(force);
    },
  };
}

/** CPU time (user + system) of a process in ms from /proc, or null where /proc is not readable. */
function processCpuMs(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    // Fields after the parenthesised command name: state is field 3, utime 14 and stime 15, in clock ticks (100/s).
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return null;
  }
}

/** Writes a model's files to `<workDir>/v<version>/` and returns the worker arguments that load it. */
async function writeModelFiles(workDir: string, model: SpeechModel, extra: string[]): Promise<string[]> {
  if (!Number.isInteger(model.version) || model.version < 0)
    throw new ValidationError(`A speech model version must be a whole number ≥ 0, not ${model.version}.`);
  const weight = model.lmWeight ?? 0.5;
  if (!(weight > 0 && weight < 1)) throw new ValidationError(`lmWeight must lie strictly between 0 and 1, not ${weight}.`);
  const args = ['-hmm', STOCK_MODEL.hmm, '-lm', STOCK_MODEL.lm, '-dict', STOCK_MODEL.dict, ...extra];
  if (!model.domainArpa && !model.extraDict?.length && !model.mllr) return args;
  const dir = join(workDir, `v${model.version}`);
  await mkdir(dir, { recursive: true });
  if (model.domainArpa) {
    // ".lm" makes sphinxbase read it as ARPA text.
    await writeFile(join(dir, 'domain.lm'), model.domainArpa);
    args.push('-lm2', join(dir, 'domain.lm'), '-w2', String(weight));
  }
  if (model.extraDict?.length) {
    const lines = model.extraDict.map(([word, phones]) => {
      const ph = phones.trim().split(/\s+/);
      if (!/^[a-z']+$/.test(word) || ph.some((p) => !ARPABET_PHONES.has(p))) {
        throw new ValidationError(`Bad pronunciation for ${JSON.stringify(word)}: ${JSON.stringify(phones)} (ARPAbet phones of the en-us model).`);
      }
      return `${word} ${ph.join(' ')}`;
    });
    await writeFile(join(dir, 'extra.dict'), `${lines.join('\n')}\n`);
    args.push('-xdict', join(dir, 'extra.dict'));
  }
  if (model.mllr) {
    await writeFile(join(dir, 'mllr_matrix'), model.mllr);
    args.push('-mllr', join(dir, 'mllr_matrix'));
  }
  return args;
}

/** Options of the test fake: `transcripts` maps a clip path to its text; others get `fallback` (default ''). */
export interface FakeRecognizerOptions {
  transcripts: ReadonlyMap<string, string> | Readonly<Record<string, string>>;
  fallback?: string;
  /** Every word's confidence (default 0.9). */
  confidence?: number;
  size?: number;
}

/**
 * A deterministic Recognizer for pipeline tests: text from the map, one word per 0.5 s, fixed confidence.
 * `load` records the model version (see `loaded`); a path mapped to the string "!reject" rejects like bad audio.
 */
export function createFakeRecognizer(opts: FakeRecognizerOptions): Recognizer & { loaded: SpeechModel[] } {
  const map: ReadonlyMap<string, string> =
    opts.transcripts instanceof Map ? opts.transcripts : new Map(Object.entries(opts.transcripts as Record<string, string>));
  const confidence = opts.confidence ?? 0.9;
  const loaded: SpeechModel[] = [];
  let version = 0;
  let closed = false;
  return {
    size: opts.size ?? 1,
    loaded,
    get modelVersion() {
      return version;
    },
    async transcribe(rawPath) {
      if (closed) throw new TranscriptionError('The recogniser was closed.', 'closed');
      const text = map.get(rawPath) ?? opts.fallback ?? '';
      if (text === '!reject') throw new TranscriptionError(`The recogniser rejected ${rawPath}: fake rejection`, 'rejected');
      const words = text
        .split(' ')
        .filter((w) => w !== '')
        .map((word, i) => ({ word, start: i * 0.5, end: i * 0.5 + 0.5, confidence }));
      return { text: words.map((w) => w.word).join(' '), confidence: words.length > 0 ? confidence : 0, words, cpuMs: 0, modelVersion: version };
    },
    async load(model) {
      loaded.push(model);
      version = model.version;
    },
    async close() {
      closed = true;
    },
  };
}
