/**
 * Audio items: reading a clip (base64 in JSON, a multipart file, an NDJSON line) into the one format the
 * recogniser takes and the review page plays, 16 kHz mono 16-bit PCM WAV, with `sox` (Debian's sox +
 * libsox-fmt-all: WAV, FLAC, Ogg Vorbis, MP3, AIFF and more). The converted WAV is what is stored (content
 * addressed, like pictures); the original is not kept.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, unlink, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { ValidationError } from '../../core/errors.ts';
import type { PipelineContext } from '../context.ts';
import type { PendingMedia } from '../media.ts';
import { pcmToRaw, readWav } from './wav.ts';

const run = promisify(execFile);

/** The sample rate every stored clip has (pocketsphinx's en-us model is trained at 16 kHz). */
export const SAMPLE_RATE = 16_000;
/** Shortest clip accepted: shorter than this holds no word. */
export const MIN_CLIP_MS = 100;
/** A clip whose loudest sample is below this share of full scale (-60 dBFS) is silence. */
export const SILENCE_PEAK = 0.001;
/** sox gets this long to read or convert one clip before it is taken to be stuck. */
const SOX_TIMEOUT_MS = 60_000;

/** Where an audio item's clip comes from. */
export type AudioSource =
  | { kind: 'fields'; raw: Record<string, unknown> }
  /** A file on disk (a multipart part), with the name it came under (for error messages). */
  | { kind: 'file'; path: string; name: string; temp?: boolean };

/** The formats told apart by their first bytes: sox is told the type, since temp files have no extension. */
function soxTypeOf(head: Buffer): string | null {
  const ascii = (a: number, b: number) => head.subarray(a, b).toString('latin1');
  if (ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WAVE') return 'wav';
  if (ascii(0, 4) === 'fLaC') return 'flac';
  if (ascii(0, 4) === 'OggS') return 'ogg';
  if (ascii(0, 4) === 'FORM' && (ascii(8, 12) === 'AIFF' || ascii(8, 12) === 'AIFC')) return 'aiff';
  if (ascii(0, 3) === 'ID3' || (head[0] === 0xff && (head[1] & 0xe0) === 0xe0)) return 'mp3';
  return null;
}

const NOT_AUDIO = 'Not an audio file: send WAV, FLAC, Ogg Vorbis, MP3 or AIFF.';

function invalid(message: string, reason: string, extra?: Record<string, unknown>): ValidationError {
  return new ValidationError(message, { reason, ...extra }, 'invalid_audio');
}

/** The bytes of an `{audio}` field: base64, a `data:audio/...;base64,` URL allowed. */
export function decodeBase64Audio(value: unknown): Buffer {
  if (typeof value !== 'string' || value.length === 0)
    throw invalid('"audio" must be a base64 string (a data: URL allowed).', value === undefined ? 'missing_input' : 'not_base64');
  const comma = value.startsWith('data:') ? value.indexOf(',') : -1;
  const b64 = comma >= 0 ? value.slice(comma + 1) : value;
  if (!/^[A-Za-z0-9+/\s]*={0,2}\s*$/.test(b64)) throw invalid('"audio" is not valid base64.', 'not_base64');
  return Buffer.from(b64, 'base64');
}

/** The raw PCM (16-bit little-endian) of a stored clip, for the recogniser. */
export function pcmOf(wav: Buffer): Buffer {
  return pcmToRaw(readWav(wav));
}

async function soxDuration(path: string, type: string): Promise<number | null> {
  try {
    const { stdout } = await run('soxi', ['-t', type, '-D', path], { timeout: SOX_TIMEOUT_MS });
    const s = Number(stdout.trim());
    return Number.isFinite(s) && s > 0 ? s : null;
  } catch {
    return null;
  }
}

/**
 * Reads one audio item's clip and converts it (nothing is stored yet). Refused with `invalid_audio` (400):
 * bytes that are not audio, a clip longer than `maxClipSeconds` (checked before converting, so a 2-hour file
 * costs nothing), shorter than 0.1 s, or silent. Any sample rate, channel count or bit depth is converted.
 */
export async function prepareAudio(ctx: Pick<PipelineContext, 'media'>, source: AudioSource, opts: { maxClipSeconds: number }): Promise<PendingMedia> {
  try {
    return await prepare(ctx, source, opts);
  } catch (e) {
    if (source.kind === 'file' && e instanceof ValidationError) throw new ValidationError(`"${source.name}": ${e.message}`, e.details, e.code);
    throw e;
  }
}

async function prepare(ctx: Pick<PipelineContext, 'media'>, source: AudioSource, opts: { maxClipSeconds: number }): Promise<PendingMedia> {
  const temps: string[] = [];
  const cleanup = async () => {
    await Promise.all(temps.map((f) => unlink(f).catch(() => {})));
  };
  try {
    let input: string;
    if (source.kind === 'fields') {
      const bytes = decodeBase64Audio(source.raw.audio);
      const t = await ctx.media.tempFile();
      temps.push(t.path);
      await writeFile(t.path, bytes);
      input = t.path;
    } else {
      input = source.path;
      if (source.temp) temps.push(source.path);
    }
    const fd = await readFile(input);
    const type = soxTypeOf(fd.subarray(0, 16));
    if (!type) throw invalid(NOT_AUDIO, 'unsupported_format');
    const seconds = await soxDuration(input, type);
    if (seconds !== null && seconds > opts.maxClipSeconds)
      throw invalid(
        `The clip lasts ${Math.round(seconds)} s; this project takes clips of at most ${opts.maxClipSeconds} s (settings.transcription.maxClipSeconds). Split long recordings into utterances.`,
        'too_long',
        { seconds: Math.round(seconds), maxSeconds: opts.maxClipSeconds },
      );
    const out = await ctx.media.tempFile();
    temps.push(out.path);
    try {
      await run('sox', ['-V1', '-t', type, input, '-t', 'wav', '-r', String(SAMPLE_RATE), '-c', '1', '-b', '16', '-e', 'signed-integer', out.path], {
        timeout: SOX_TIMEOUT_MS,
      });
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      if (code === 'ENOENT') throw new Error('sox is not installed (Debian: apt-get install sox libsox-fmt-all)');
      throw invalid(`${NOT_AUDIO} (sox could not read it as ${type})`, 'unreadable');
    }
    const wav = await readFile(out.path);
    const { samples } = readWav(wav);
    const durationMs = Math.round((samples.length / SAMPLE_RATE) * 1000);
    // soxi cannot always tell an MP3's length without decoding: the converted length decides too.
    if (durationMs > opts.maxClipSeconds * 1000)
      throw invalid(`The clip lasts ${Math.round(durationMs / 1000)} s; this project takes clips of at most ${opts.maxClipSeconds} s.`, 'too_long', {
        seconds: Math.round(durationMs / 1000),
        maxSeconds: opts.maxClipSeconds,
      });
    if (durationMs < MIN_CLIP_MS) throw invalid(`The clip lasts ${durationMs} ms, too short to hold a word.`, 'too_short');
    let peak = 0;
    for (let i = 0; i < samples.length; i++) {
      const a = Math.abs(samples[i]);
      if (a > peak) peak = a;
    }
    if (peak / 32768 < SILENCE_PEAK) throw invalid('The clip is silent (its loudest sample is below -60 dBFS).', 'silent');
    const sha = createHash('sha256').update(wav).digest('hex');
    return {
      ref: { id: sha, type: 'audio/wav', width: 0, height: 0, preview: false, thumb: false, durationMs },
      input: new Uint8Array(0),
      original: { path: out.path },
      cleanup,
    };
  } catch (e) {
    await cleanup();
    throw e;
  }
}
