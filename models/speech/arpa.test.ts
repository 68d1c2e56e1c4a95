import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../core/errors.ts';
import { arpaLogProb, buildArpa, readArpa } from './arpa.ts';

const SENTENCES = [
  'please add twelve crates of celeriac',
  'invoice riverside bistro for twenty pallets of celeriac',
  'please add two boxes of tatsoi',
  'add twelve crates of tatsoi please',
  'please add two boxes of romanesco for the market',
];

const hasConverter = spawnSync('sphinx_lm_convert', ['-help', 'yes'], { stdio: 'ignore' }).error === undefined;

describe('buildArpa', () => {
  const text = buildArpa(SENTENCES);
  const model = readArpa(text);

  it('declares counts that match its sections and lists <s>, </s> and <unk>', () => {
    for (const n of [1, 2, 3]) {
      const declared = Number(new RegExp(`ngram ${n}=(\\d+)`).exec(text)![1]);
      const section = text.split(`\\${n}-grams:\n`)[1].split('\n\n')[0].split('\n');
      expect(section.length).toBe(declared);
    }
    expect(model.prob.get('<s>')).toBe(-99);
    expect(model.vocab).toEqual(expect.arrayContaining(['</s>', '<unk>', 'celeriac', 'tatsoi']));
  });

  it('normalises: P(· | history) sums to 1 over the vocabulary for seen, unseen and partly seen histories', () => {
    const histories = [[], ['<s>'], ['of'], ['add', 'twelve'], ['crates', 'of'], ['<s>', 'please'], ['zebra', 'of'], ['of', 'zebra'], ['celeriac']];
    for (const h of histories) {
      let sum = 0;
      for (const w of model.vocab) sum += 10 ** arpaLogProb(model, h, w);
      expect(Math.abs(sum - 1), `history ${h.join(' ')}`).toBeLessThan(1e-6);
    }
  });

  it('prefers what it saw: the seen continuation beats an unseen one', () => {
    expect(arpaLogProb(model, ['crates', 'of'], 'celeriac')).toBeGreaterThan(arpaLogProb(model, ['crates', 'of'], 'romanesco'));
    expect(arpaLogProb(model, ['boxes', 'of'], 'tatsoi')).toBeGreaterThan(arpaLogProb(model, ['boxes', 'of'], 'celeriac'));
  });

  it('refuses a corpus with no words', () => {
    expect(() => buildArpa(['', ' . '])).toThrow(ValidationError);
  });

  it.skipIf(!hasConverter)('is accepted by sphinx_lm_convert', () => {
    const dir = mkdtempSync(join(tmpdir(), 'furrow-arpa-'));
    try {
      writeFileSync(join(dir, 'x.arpa'), text);
      execFileSync('sphinx_lm_convert', ['-i', join(dir, 'x.arpa'), '-ifmt', 'arpa', '-o', join(dir, 'x.lm.bin')], { stdio: 'pipe' });
      expect(statSync(join(dir, 'x.lm.bin')).size).toBeGreaterThan(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
