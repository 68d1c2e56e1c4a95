import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { addWhiteNoise, clipSeed, parseVoice, SAMPLE_RATE, speechToolsAvailable, synthesizeClip } from './synthesize.ts';
import { encodeWav, readWav } from './wav.ts';

const tools = await speechToolsAvailable();
const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'furrow-synth-'));
afterAll(() => fs.rm(dir, { recursive: true, force: true }));

describe('parseVoice', () => {
  it('reads flite and espeak-ng ids and refuses others', () => {
    expect(parseVoice('flite:slt')).toEqual({ engine: 'flite', name: 'slt' });
    expect(parseVoice('espeak-ng:en-us+f3:150')).toEqual({ engine: 'espeak-ng', name: 'en-us+f3', wpm: 150 });
    expect(parseVoice('espeak-ng:en-gb')).toEqual({ engine: 'espeak-ng', name: 'en-gb' });
    for (const bad of ['say:alex', 'flite', 'flite:slt:150', 'espeak-ng:en-us:fast', 'espeak-ng:en-us:20', 'flite:a b']) {
      expect(() => parseVoice(bad), bad).toThrow(/bad voice/);
    }
  });
});

describe('addWhiteNoise', () => {
  const tone = new Int16Array(16_000);
  for (let i = 4000; i < 12_000; i++) tone[i] = Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / 16_000));
  const pcm = { sampleRate: 16_000, channels: 1, samples: tone };

  it('hits the requested SNR over the signal span and is seeded', () => {
    const noisy = addWhiteNoise(pcm, 20, 7, 4000, 12_000);
    let noise = 0;
    for (let i = 0; i < tone.length; i++) noise += (noisy.samples[i] - tone[i]) ** 2;
    noise /= tone.length;
    const signal = 8000 ** 2 / 2;
    expect(10 * Math.log10(signal / noise)).toBeCloseTo(20, 0);
    expect(addWhiteNoise(pcm, 20, 7, 4000, 12_000).samples).toEqual(noisy.samples);
    expect(addWhiteNoise(pcm, 20, 8, 4000, 12_000).samples).not.toEqual(noisy.samples);
    expect(tone[0]).toBe(0); // the input is not modified
  });

  it('seeds differ by text, voice and SNR', () => {
    const a = clipSeed('two crates of tatsoi', 'flite:slt', 25);
    expect(clipSeed('two crates of tatsoi', 'flite:slt', 25)).toBe(a);
    expect(
      new Set([
        a,
        clipSeed('two crates of tatsoi', 'flite:rms', 25),
        clipSeed('two crates of tatsoi', 'flite:slt', 30),
        clipSeed('two crates of tatsol', 'flite:slt', 25),
      ]).size,
    ).toBe(4);
  });
});

describe('readWav / encodeWav', () => {
  it('round-trips and skips unknown chunks', () => {
    const samples = Int16Array.from([0, 1, -1, 32767, -32768, 1234]);
    const wav = encodeWav({ sampleRate: 16_000, channels: 1, samples });
    expect(wav.length).toBe(44 + 12);
    expect(readWav(wav)).toEqual({ sampleRate: 16_000, channels: 1, samples });
    // A LIST chunk of odd length (padded) between fmt and data, as some tools write.
    const list = Buffer.concat([Buffer.from('LIST'), Buffer.from([3, 0, 0, 0]), Buffer.from('abc\0')]);
    const withList = Buffer.concat([wav.subarray(0, 36), list, wav.subarray(36)]);
    expect(readWav(withList).samples).toEqual(samples);
    expect(() => readWav(Buffer.from('RIFF....WAVX'))).toThrow(/RIFF/);
  });
});

describe.skipIf(!tools.flite || !tools.sox)('synthesizeClip (flite + sox)', () => {
  it('writes 16 kHz mono 16-bit WAV, byte-identical on a second run, noise included', async () => {
    const text = 'please add twelve crates of celeriac';
    for (const noiseDb of [undefined, 25]) {
      const a = path.join(dir, `a-${noiseDb}.wav`);
      const b = path.join(dir, `b-${noiseDb}.wav`);
      const clip = await synthesizeClip({ text, voice: 'flite:slt', noiseDb, outPath: a });
      await synthesizeClip({ text, voice: 'flite:slt', noiseDb, outPath: b });
      const bytes = await fs.readFile(a);
      expect(bytes.equals(await fs.readFile(b))).toBe(true);
      const pcm = readWav(bytes);
      expect(pcm.sampleRate).toBe(SAMPLE_RATE);
      expect(pcm.channels).toBe(1);
      expect(bytes.readUInt16LE(34)).toBe(16);
      expect(clip.samples).toBe(pcm.samples.length);
      expect(clip.durationMs).toBeGreaterThan(1500); // six words and two 0.3 s pads
      expect(clip.durationMs).toBeLessThan(6000);
      // The pads are digital silence without noise, and not with it.
      const head = pcm.samples.subarray(0, 4000);
      expect(head.some((s) => s !== 0)).toBe(noiseDb !== undefined);
    }
    const clean = await fs.readFile(path.join(dir, 'a-undefined.wav'));
    const noisy = await fs.readFile(path.join(dir, 'a-25.wav'));
    expect(clean.length).toBe(noisy.length);
    expect(clean.equals(noisy)).toBe(false);
    expect((await fs.readdir(dir)).filter((f) => f.includes('.tts.') || f.includes('.sox.'))).toEqual([]);
  });

  it('different voices give different audio', async () => {
    const a = await synthesizeClip({ text: 'two boxes of tatsoi', voice: 'flite:slt', outPath: path.join(dir, 'v1.wav') });
    const b = await synthesizeClip({ text: 'two boxes of tatsoi', voice: 'flite:awb', outPath: path.join(dir, 'v2.wav') });
    expect((await fs.readFile(a.path)).equals(await fs.readFile(b.path))).toBe(false);
  });
});

describe.skipIf(!tools.espeak || !tools.sox)('synthesizeClip (espeak-ng + sox)', () => {
  it('resamples espeak-ng 22.05 kHz output to 16 kHz, deterministically', async () => {
    const a = await synthesizeClip({ text: 'refill lisinopril ten milligrams', voice: 'espeak-ng:en-us+f3:150', outPath: path.join(dir, 'e1.wav') });
    const b = await synthesizeClip({ text: 'refill lisinopril ten milligrams', voice: 'espeak-ng:en-us+f3:150', outPath: path.join(dir, 'e2.wav') });
    const bytes = await fs.readFile(a.path);
    expect(bytes.equals(await fs.readFile(b.path))).toBe(true);
    expect(readWav(bytes).sampleRate).toBe(SAMPLE_RATE);
  });
});
