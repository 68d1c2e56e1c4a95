/**
 * Deterministic synthetic speech for tests, the demo and the transcription benchmark: text → a TTS voice
 * (Debian's flite or espeak-ng) → sox to 16 kHz mono 16-bit with 0.3 s of silence at each end → optional white
 * noise at a chosen signal-to-noise ratio. The same text, voice and SNR give a byte-identical file on the same
 * installed packages (see {@link synthesizeClip} for how each step is pinned).
 *
 * Needs `apt-get install -y flite espeak-ng sox` (docs/benchmarks-transcription.md).
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import { promisify } from 'node:util';
import { createPrng } from '../../models/prng.ts';
import { encodeWav, type Pcm16, pcmDurationMs, readWav } from './wav.ts';

const run = promisify(execFile);

/** The sample rate every clip is converted to: the pocketsphinx en-us acoustic model's. */
export const SAMPLE_RATE = 16_000;
/** Silence added before and after the speech, in seconds (the study's `pad 0.3 0.3`). */
export const PAD_SECONDS = 0.3;

/** flite's 16 kHz voices (flite 2.2 in Debian also has `kal`, an 8 kHz diphone voice, left out on purpose). */
export const FLITE_VOICES = ['flite:slt', 'flite:rms', 'flite:awb', 'flite:kal16'] as const;
/** espeak-ng formant voices as `espeak-ng:<voice>:<words per minute>`, the study's four. */
export const ESPEAK_VOICES = ['espeak-ng:en-us:140', 'espeak-ng:en-us:170', 'espeak-ng:en-gb:155', 'espeak-ng:en-us+f3:150'] as const;

/** A voice id parsed: `flite:<voice>` or `espeak-ng:<voice>[:<wpm>]`. */
export interface VoiceSpec {
  engine: 'flite' | 'espeak-ng';
  name: string;
  /** espeak-ng's speaking rate in words per minute (its default is 175). */
  wpm?: number;
}

/** @throws Error for an id that names neither engine or has a malformed rate. */
export function parseVoice(id: string): VoiceSpec {
  const [engine, name, wpm, ...rest] = id.split(':');
  if (rest.length || !name || !/^[A-Za-z0-9+_-]+$/.test(name)) throw new Error(`bad voice id ${JSON.stringify(id)}`);
  if (engine === 'flite' && wpm === undefined) return { engine, name };
  if (engine === 'espeak-ng') {
    if (wpm === undefined) return { engine, name };
    if (/^\d+$/.test(wpm) && Number(wpm) >= 80 && Number(wpm) <= 450) return { engine, name, wpm: Number(wpm) };
  }
  throw new Error(`bad voice id ${JSON.stringify(id)}: expected flite:<voice> or espeak-ng:<voice>[:<wpm 80-450>]`);
}

/** What {@link synthesizeClip} needs. */
export interface SynthesizeRequest {
  /** What to say: lower case words (anything the TTS engine reads aloud is accepted). */
  text: string;
  /** A voice id, e.g. `flite:slt` or `espeak-ng:en-us+f3:150` ({@link parseVoice}). */
  voice: string;
  /** Adds white Gaussian noise at this SNR in dB (relative to the mean power of the speech, pads excluded). */
  noiseDb?: number;
  /** The WAV file to write; its directory must exist. Written through a temporary file and a rename. */
  outPath: string;
}

/** The clip written. */
export interface SynthesizedClip {
  path: string;
  /** Length in milliseconds, pads included. */
  durationMs: number;
  /** Number of 16 kHz samples. */
  samples: number;
}

/**
 * 32-bit FNV-1a of the text, voice and SNR: the noise seed, so a clip's noise depends on nothing but what the
 * clip is (not on the order clips are built in, nor on a global seed).
 */
export function clipSeed(text: string, voice: string, noiseDb: number | undefined): number {
  let h = 0x811c9dc5;
  for (const ch of `${voice}\u0000${noiseDb ?? ''}\u0000${text}`) {
    h ^= ch.codePointAt(0)!;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/**
 * Mixes white Gaussian noise into `pcm` at `snrDb`, the signal power measured over samples
 * [signalStart, signalEnd) (the speech without its pads) and the noise spread over the whole clip.
 * Deterministic: the noise comes from a seeded mulberry32 stream (models/prng.ts), and sums are rounded and
 * clipped to 16 bits in one fixed order. Returns a new Pcm16; a silent signal is returned unchanged.
 */
export function addWhiteNoise(pcm: Pcm16, snrDb: number, seed: number, signalStart = 0, signalEnd = pcm.samples.length): Pcm16 {
  let power = 0;
  const from = Math.max(0, signalStart);
  const to = Math.min(pcm.samples.length, signalEnd);
  for (let i = from; i < to; i++) power += pcm.samples[i] * pcm.samples[i];
  power /= Math.max(1, to - from);
  const out = new Int16Array(pcm.samples.length);
  if (power === 0) {
    out.set(pcm.samples);
    return { ...pcm, samples: out };
  }
  const sd = Math.sqrt(power / 10 ** (snrDb / 10));
  const prng = createPrng(seed);
  for (let i = 0; i < out.length; i++) {
    const v = Math.round(pcm.samples[i] + sd * prng.normal());
    out[i] = Math.min(32767, Math.max(-32768, v)); // an Int16Array store wraps; clip instead
  }
  return { ...pcm, samples: out };
}

/**
 * Speaks `text` with `voice` into a 16 kHz mono 16-bit WAV with 0.3 s pads, optionally with noise.
 *
 * Why the output is byte-identical from run to run (the unit test writes a clip twice and compares bytes):
 * - flite and espeak-ng are deterministic for a given text and voice (no randomness in either synthesiser);
 * - sox runs with `-R` (repeatable mode): without it, the dither sox adds when it requantises after `rate`
 *   is seeded from the clock, and two runs differ in their least significant bits;
 * - noise is generated here from a seed derived from the clip itself ({@link clipSeed}, {@link addWhiteNoise}),
 *   not with sox's `synth whitenoise`, so the SNR can be set relative to the measured speech power;
 * - the file is rewritten with a canonical 44-byte header ({@link encodeWav}), whatever chunks sox wrote.
 */
export async function synthesizeClip(req: SynthesizeRequest): Promise<SynthesizedClip> {
  const voice = parseVoice(req.voice);
  const text = req.text.trim();
  if (!text) throw new Error('synthesizeClip: empty text');
  const stem = `${req.outPath}.${process.pid}.${Math.random().toString(36).slice(2, 8)}`;
  const ttsPath = `${stem}.tts.wav`;
  const soxPath = `${stem}.sox.wav`;
  try {
    if (voice.engine === 'flite') {
      await run('flite', ['-voice', voice.name, '-t', text, '-o', ttsPath]);
    } else {
      const rate = voice.wpm === undefined ? [] : ['-s', String(voice.wpm)];
      // `--` keeps a text that starts with '-' from being read as an option.
      await run('espeak-ng', ['-v', voice.name, ...rate, '-w', ttsPath, '--', text]);
    }
    await run('sox', ['-R', ttsPath, '-r', String(SAMPLE_RATE), '-c', '1', '-b', '16', soxPath, 'pad', String(PAD_SECONDS), String(PAD_SECONDS)]);
    let pcm = readWav(await fs.readFile(soxPath));
    if (pcm.sampleRate !== SAMPLE_RATE || pcm.channels !== 1) throw new Error(`sox wrote ${pcm.sampleRate} Hz, ${pcm.channels} channels`);
    if (req.noiseDb !== undefined) {
      const pad = Math.round(PAD_SECONDS * SAMPLE_RATE);
      pcm = addWhiteNoise(pcm, req.noiseDb, clipSeed(text, req.voice, req.noiseDb), pad, pcm.samples.length - pad);
    }
    const tmp = `${stem}.out.wav`;
    await fs.writeFile(tmp, encodeWav(pcm));
    await fs.rename(tmp, req.outPath);
    return { path: req.outPath, durationMs: pcmDurationMs(pcm), samples: pcm.samples.length };
  } finally {
    await Promise.all([ttsPath, soxPath, `${stem}.out.wav`].map((p) => fs.rm(p, { force: true })));
  }
}

/** Which of the tools {@link synthesizeClip} runs are on PATH (tests skip without them). */
export async function speechToolsAvailable(): Promise<{ flite: boolean; espeak: boolean; sox: boolean }> {
  const has = async (cmd: string, args: string[]) =>
    run(cmd, args).then(
      () => true,
      () => false,
    );
  const [flite, espeak, sox] = await Promise.all([has('flite', ['-lv']), has('espeak-ng', ['--version']), has('sox', ['--version'])]);
  return { flite, espeak, sox };
}
