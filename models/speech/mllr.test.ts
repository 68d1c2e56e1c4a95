import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSpeechModel } from './adapt.ts';
import { mllrAvailable, sendumpToMixw } from './mllr.ts';
import { speechEngineAvailable } from './native.ts';
import { createPocketsphinxPool, type Recognizer } from './recognizer.ts';
import { corpusWer } from './wer.ts';

/** A sendump as pocketsphinx writes it: length-prefixed strings, a 0, #codewords, #pdfs, then bytes [feature][codeword][pdf]. */
function fakeSendump(features: number, codewords: number, senones: number, bytes: number[]): Buffer {
  const parts: Buffer[] = [];
  const u32 = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(n);
    parts.push(b);
  };
  for (const s of ['BEGIN FILE FORMAT DESCRIPTION', 'cluster_count 0', `feature_count ${features}`, 'mixw_shift 10']) {
    u32(s.length + 1);
    parts.push(Buffer.from(`${s}\0`, 'latin1'));
  }
  u32(0);
  u32(codewords);
  u32(senones);
  parts.push(Buffer.from(bytes));
  return Buffer.concat(parts);
}

describe('sendumpToMixw', () => {
  it('writes an s3 mixture-weight file, untransposed to [senone][feature][codeword], weight 1.0001^-(b<<10)', () => {
    // 2 features × 2 codewords × 3 senones; byte value = 10·feature + 3·codeword + senone
    const bytes: number[] = [];
    for (let f = 0; f < 2; f++) for (let c = 0; c < 2; c++) for (let s = 0; s < 3; s++) bytes.push(10 * f + 3 * c + s);
    const out = sendumpToMixw(fakeSendump(2, 2, 3, bytes));
    const end = out.indexOf('endhdr\n') + 7;
    expect(out.subarray(0, end).toString('latin1')).toMatch(/^s3\nversion 1\.0\n *endhdr\n$/);
    expect(end % 4).toBe(0);
    expect(out.readInt32LE(end)).toBe(0x11223344);
    expect([0, 1, 2, 3].map((i) => out.readUInt32LE(end + 4 + 4 * i))).toEqual([3, 2, 2, 12]);
    const at = (s: number, f: number, c: number) => out.readFloatLE(end + 20 + 4 * ((s * 2 + f) * 2 + c));
    for (let s = 0; s < 3; s++)
      for (let f = 0; f < 2; f++) for (let c = 0; c < 2; c++) expect(at(s, f, c)).toBeCloseTo(1.0001 ** -((10 * f + 3 * c + s) << 10), 6);
    expect(out.length).toBe(end + 20 + 12 * 4);
  });

  it('refuses a truncated file', () => {
    expect(() => sendumpToMixw(fakeSendump(2, 2, 3, [1, 2, 3]))).toThrow(/truncated/);
  });
});

const hasTools = ['sox', 'espeak-ng'].every((t) => spawnSync(t, ['--version'], { stdio: 'ignore' }).error === undefined);

describe.skipIf(!speechEngineAvailable() || !mllrAvailable() || !hasTools)('MLLR adaptation (sphinxtrain)', () => {
  let dir: string;
  let pool: Recognizer;
  // espeak's formant voice is far from the model's training speech: the case where one global transform helps most.
  const speak = (text: string, name: string) => {
    const wav = join(dir, `${name}.wav`);
    execFileSync('espeak-ng', ['-v', 'en-us', '-s', '170', '-w', wav, text]);
    execFileSync('sox', [wav, '-t', 'raw', '-r', '16000', '-c', '1', '-b', '16', '-e', 'signed-integer', join(dir, `${name}.raw`)]);
    return { rawPath: join(dir, `${name}.raw`), text };
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'furrow-mllr-'));
    pool = await createPocketsphinxPool({ size: 1, workDir: join(dir, 'models') }); // one worker: each load costs one model load of CPU
  });
  afterAll(async () => {
    await pool?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a transform from corrected clips lowers WER on held-out clips of the same voice', async () => {
    const train = [
      'please add twelve crates of celeriac',
      'we need six boxes of leeks for the bistro',
      'invoice the market for twenty pallets of celeriac',
      'send three cases of tatsoi on monday',
      'the kale is out of stock',
      'deliver forty crates of squash on friday',
    ].map((t, i) => speak(t, `train${i}`));
    const test = ['please add four crates of celeriac', 'send ten boxes of leeks to the market', 'we need more tatsoi on friday'].map((t, i) =>
      speak(t, `test${i}`),
    );
    const sentences = train.map((c) => c.text);
    const decode = async () => corpusWer(await Promise.all(test.map(async (c) => ({ ref: c.text, hyp: (await pool.transcribe(c.rawPath)).text }))));

    await pool.load(await buildSpeechModel({ version: 1, sentences }));
    const lmOnly = await decode();
    const model = await buildSpeechModel({ version: 2, sentences, clips: train, workDir: join(dir, 'mllr') });
    expect(model.mllr).toMatch(/^1\n3\n13\n/); // one class, three streams of 13
    await pool.load(model);
    const withMllr = await decode();
    expect(withMllr).toBeLessThan(lmOnly);
  });
});
